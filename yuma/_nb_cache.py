"""numba's on-disk cache kept consistent across yuma's kernel modules.

numba caches a compiled kernel next to its source (``__pycache__/<module>.<function>-<line>.
py311.nbi`` and ``.nbc``) and reuses it while *that* source file is unchanged. A kernel whose
callees live in another module (``numba_batch`` calls ``numba_dense`` and ``_nb_common``) keeps
its old compiled body when only a callee's file changed: after a ``git pull`` or an edit, an
editable install would silently run old code. (A ``pip install`` writes every file anew, so
every cached kernel is invalid there anyway.)

So every kernel module imports this one first. It hashes the sources of all kernel modules
together and compares the digest with the one recorded in each cache directory; on a mismatch
it deletes that directory's cached kernels of these modules and records the new digest. numba
then compiles afresh, once. The check costs about a millisecond per process.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["KERNEL_SOURCES", "cache_dirs", "refresh", "sources_digest"]

_ROOT = Path(__file__).resolve().parent

#: Every module of yuma that compiles numba kernels, relative to the package.
KERNEL_SOURCES = (
    "_sparse_kernels.py",
    "backends/_aligned.py",
    "backends/_nb_common.py",
    "backends/_nb_consensus.py",
    "backends/numba_batch.py",
    "backends/numba_dense.py",
    "backends/numba_scan.py",
    "backends/numba_sparse.py",
    "chain/_parallel.py",
    "chain/fixedpoint.py",
    "chain/ops.py",
)

#: The file in each cache directory that records the digest its kernels were compiled from.
MARKER = "yuma-kernel-sources.sha256"


def sources_digest(root: Path = _ROOT, sources: Iterable[str] = KERNEL_SOURCES) -> str:
    """SHA-256 over the kernel modules' names and contents (hex)."""
    digest = hashlib.sha256()
    for name in sources:
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


def cache_dirs(
    root: Path = _ROOT, sources: Iterable[str] = KERNEL_SOURCES
) -> dict[Path, list[str]]:
    """``{cache directory: [module stems cached there]}``, where numba writes these modules'
    kernels: ``__pycache__`` beside each source, or the mirror under ``NUMBA_CACHE_DIR``."""
    user_dir = os.environ.get("NUMBA_CACHE_DIR", "")
    found: dict[Path, list[str]] = {}
    for name in sources:
        source = root / name
        if user_dir:
            # numba mirrors the source's absolute directory under the user's cache directory
            where = Path(user_dir) / str(source.parent).lstrip(os.sep)
        else:
            where = source.parent / "__pycache__"
        found.setdefault(where, []).append(source.stem)
    return found


def refresh(root: Path = _ROOT, sources: Iterable[str] = KERNEL_SOURCES) -> list[Path]:
    """Delete cached kernels compiled from other sources than today's; returns the deleted.

    A directory numba cannot write to is left alone (numba then caches elsewhere, or not at
    all), and so is any error: a failed check costs a recompilation at worst, never the import.
    """
    sources = tuple(sources)
    try:
        digest = sources_digest(root, sources)
    except OSError:
        return []
    deleted: list[Path] = []
    for where, stems in cache_dirs(root, sources).items():
        marker = where / MARKER
        try:
            if marker.is_file() and marker.read_text().strip() == digest:
                continue
            where.mkdir(parents=True, exist_ok=True)  # numba would create it on its first write
            for entry in where.iterdir():
                if entry.suffix in (".nbi", ".nbc") and entry.name.split(".", 1)[0] in stems:
                    entry.unlink(missing_ok=True)
                    deleted.append(entry)
            temporary = where / f"{MARKER}.{os.getpid()}"
            temporary.write_text(digest + "\n")
            temporary.replace(marker)  # atomic: a concurrent process reads one digest or the other
        except OSError:
            continue
    return deleted


refresh()
