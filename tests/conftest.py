"""Shared fixtures: where the project's known-answer data lives."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path | None:
    """The ``shared/`` folder beside the repository (or ``$YUMA_SHARED``), if present."""
    env = os.environ.get("YUMA_SHARED")
    candidate = Path(env) if env else REPO_ROOT.parent / "shared"
    return candidate if candidate.is_dir() else None


SHARED = shared_dir()
requires_shared = pytest.mark.skipif(
    SHARED is None,
    reason="../shared (known-answer vectors and data) is absent: clone-only checkout",
)


def load_json(relative: str) -> Any:
    """Load ``shared/<relative>`` as JSON (callers are marked ``requires_shared``)."""
    assert SHARED is not None
    with open(SHARED / relative, encoding="utf-8") as fh:
        return json.load(fh)


def vector_files(kind: str) -> list[str]:
    """Relative paths of the vector files of ``kind`` ("math" or "epochs"); [] without shared/."""
    if SHARED is None:
        return []
    index = load_json("vectors/index.json")
    return [entry["file"] for entry in index[kind]]
