"""numba's on-disk cache is dropped when any kernel module's source changes (yuma._nb_cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from yuma import _nb_cache

PACKAGE = Path(_nb_cache.__file__).resolve().parent


def test_every_kernel_module_is_hashed_and_imports_the_guard() -> None:
    compiling = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "cache=True" in path.read_text() and path.name != "_nb_cache.py"
    }
    assert compiling == set(_nb_cache.KERNEL_SOURCES)
    for name in _nb_cache.KERNEL_SOURCES:
        assert "from yuma import _nb_cache" in (PACKAGE / name).read_text(), name


def _tree(tmp_path: Path) -> tuple[Path, tuple[str, ...], Path]:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "kern.py").write_text("def f(): pass\n")
    (root / "sub" / "calls.py").write_text("def g(): pass\n")
    cache = root / "__pycache__"
    cache.mkdir()
    return root, ("kern.py", "sub/calls.py"), cache


def _fill(cache: Path) -> dict[str, Path]:
    files = {
        "index": cache / "kern.f-1.py311.nbi",
        "body": cache / "kern.f-1.py311.1.nbc",
        "bytecode": cache / "kern.cpython-311.pyc",
        "foreign": cache / "other.h-3.py311.nbi",
    }
    for path in files.values():
        path.write_bytes(b"x")
    return files


def test_refresh_drops_only_the_kernel_caches_of_changed_sources(tmp_path: Path) -> None:
    root, sources, cache = _tree(tmp_path)
    files = _fill(cache)
    # No record yet: caches of unknown origin are dropped once, the digest recorded.
    deleted = set(_nb_cache.refresh(root, sources))
    assert deleted == {files["index"], files["body"]}
    assert files["bytecode"].exists() and files["foreign"].exists()
    assert (cache / _nb_cache.MARKER).read_text().strip() == _nb_cache.sources_digest(root, sources)
    assert (root / "sub" / "__pycache__" / _nb_cache.MARKER).is_file()

    # Same sources: numba's fresh caches are kept.
    files = _fill(cache)
    assert _nb_cache.refresh(root, sources) == []
    assert files["index"].exists() and files["body"].exists()

    # Another module changed (a callee): the caller's compiled kernels go too.
    (root / "sub" / "calls.py").write_text("def g(): return 1\n")
    assert set(_nb_cache.refresh(root, sources)) == {files["index"], files["body"]}
    assert _nb_cache.refresh(root, sources) == []


def test_a_user_cache_directory_is_where_the_kernels_are_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, sources, _ = _tree(tmp_path)
    user = tmp_path / "numba-cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(user))
    mirrored = user / str(root).lstrip("/")
    assert set(_nb_cache.cache_dirs(root, sources)) == {mirrored, mirrored / "sub"}
    mirrored.mkdir(parents=True)
    files = _fill(mirrored)
    assert set(_nb_cache.refresh(root, sources)) == {files["index"], files["body"]}


def test_an_unreadable_source_never_breaks_the_import(tmp_path: Path) -> None:
    root, _, cache = _tree(tmp_path)
    files = _fill(cache)
    assert _nb_cache.refresh(root, ("kern.py", "missing.py")) == []
    assert files["index"].exists()
