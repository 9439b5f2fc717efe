"""Sphinx configuration for the yuma documentation site."""

from __future__ import annotations

import shutil
from pathlib import Path

import yuma

ROOT = Path(__file__).resolve().parent.parent

project = "yuma"
author = "the yuma developers"
copyright = "2026, the yuma developers"
release = yuma.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

# Every page with code cells is executed at build time, so the docs cannot drift from the code.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_execution_show_tb = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
}
# No network in CI: intersphinx must not fetch.
intersphinx_disabled_reftypes = ["*"]
intersphinx_mapping = {}

html_theme = "pydata_sphinx_theme"
html_title = "yuma"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
templates_path: list[str] = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "jupyter_execute"]
suppress_warnings = ["mystnb.unknown_mime_type"]


def _copy_notebooks(_app: object) -> None:
    """The gallery renders the project's notebooks (run small) from a generated copy."""
    target = Path(__file__).parent / "gallery"
    target.mkdir(exist_ok=True)
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        shutil.copy2(nb, target / nb.name)


def setup(app: object) -> None:
    app.connect("builder-inited", _copy_notebooks)  # type: ignore[attr-defined]


# The gallery's notebooks run at their small size unless asked otherwise.
import os  # noqa: E402

os.environ.setdefault("YUMA_NOTEBOOK_SIZE", "small")
os.environ.setdefault("MPLBACKEND", "Agg")
