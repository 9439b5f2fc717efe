"""Calling numba's parallel kernels from several Python threads safely."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["numba_parallel_guard"]

_LOCK = threading.Lock()


def _workqueue() -> bool:
    try:
        import numba

        layer = getattr(numba.config, "THREADING_LAYER", "default")
        if layer == "workqueue":
            return True
        try:
            return bool(numba.threading_layer() == "workqueue")  # type: ignore[attr-defined]
        except ValueError:  # no parallel region has run yet: the layer is not chosen
            return False
    except ImportError:  # pragma: no cover
        return False


@contextlib.contextmanager
def numba_parallel_guard() -> Iterator[None]:
    """Serialise parallel numba regions when the threading layer is ``workqueue`` (which is not
    thread-safe: concurrent regions abort the process); a no-op under OpenMP or TBB."""
    if _workqueue():
        with _LOCK:
            yield
    else:
        yield
