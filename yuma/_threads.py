"""Calling the numba backend from several Python threads safely (`numba_parallel_guard`).

numba runs ``parallel=True`` kernels on one of three threading layers, chosen once per process
(``NUMBA_THREADING_LAYER``; by default the first that loads of TBB, OpenMP, workqueue). TBB and
OpenMP accept parallel launches from several threads at once. The fallback, ``workqueue`` (used
when neither TBB nor OpenMP is installed), does not: a second concurrent launch makes numba
print "Concurrent access has been detected" and **abort the process**. Under that layer every
guarded call here takes one process-wide lock, so concurrent calls run one after another; under
the other layers the guard costs a function call and locks nothing.

The lock is the one piece of process-wide state in the library, and it has to be: the threading
layer it protects is itself process-wide. It is re-entrant, so a guarded call made inside
another (an epoch inside a simulation) does not deadlock. Parallel numba code of your own that
runs at the same time under workqueue is not covered: guard it with the same context manager.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "UNSAFE_LAYERS",
    "check_threads",
    "numba_parallel_guard",
    "numba_threads",
    "serialised",
    "threading_layer",
    "threading_layer_is_threadsafe",
]

#: numba threading layers that abort on concurrent parallel launches from several threads.
UNSAFE_LAYERS = frozenset({"workqueue"})

#: Serialises parallel numba launches under an unsafe layer (see the module docstring).
_LAUNCH_LOCK = threading.RLock()

F = TypeVar("F", bound=Callable[..., Any])


def threading_layer() -> str | None:
    """The threading layer numba uses in this process ("tbb", "omp" or "workqueue"), or None
    when numba is not installed.

    numba picks the layer lazily, at the first parallel launch; this starts it the way that
    launch would (``numba.get_num_threads()`` initialises the layer, once per process, under
    numba's own lock) and then asks ``numba.threading_layer()``, so the answer is the layer
    the kernels will really run on, not a guess from ``NUMBA_THREADING_LAYER``.
    """
    return _started_layer()


@functools.cache
def _started_layer() -> str | None:
    # Asked once: a process's layer never changes once started, and asking costs microseconds
    # on every guarded call (a tenth of a small sparse epoch).
    if importlib.util.find_spec("numba") is None:
        return None
    import numba

    numba.get_num_threads()
    layer: Any = getattr(numba, "threading_layer")  # noqa: B009 - not in numba's stubs' exports
    return str(layer())


def threading_layer_is_threadsafe() -> bool:
    """False when the active numba layer aborts on concurrent launches (workqueue)."""
    return threading_layer() not in UNSAFE_LAYERS


@contextmanager
def numba_parallel_guard() -> Iterator[None]:
    """Context manager around a call that may launch numba parallel kernels.

    Under the workqueue layer it holds a process-wide re-entrant lock for the duration (calls
    from other threads wait their turn); under TBB or OpenMP, or without numba, it does
    nothing. Results are the same either way: the lock only orders whole calls.

    >>> with numba_parallel_guard():
    ...     result = yuma.epoch(W, S, backend="numba")  # doctest: +SKIP
    """
    if threading_layer_is_threadsafe():
        yield
        return
    with _LAUNCH_LOCK:
        yield


def check_threads(threads: Any) -> int | None:
    """``threads`` as given to :func:`yuma.epoch` and :func:`yuma.epoch_batch`: None, or an
    int from 1 to numba's maximum (``NUMBA_NUM_THREADS``, the machine's cores by default)."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    most = _most_threads()
    if not 1 <= int(threads) <= most:
        raise ValueError(f"threads must be between 1 and {most} (NUMBA_NUM_THREADS), got {threads}")
    return int(threads)


def _most_threads() -> int:
    if importlib.util.find_spec("numba") is None:
        return 1 << 16  # nothing runs threads: any positive count is harmless
    import numba

    return int(getattr(numba.config, "NUMBA_NUM_THREADS"))  # noqa: B009 - not in the stubs


@contextmanager
def numba_threads(threads: int | None) -> Iterator[None]:
    """Run the numba calls inside on at most ``threads`` threads (None: numba's own setting).

    ``numba.set_num_threads`` is per calling thread, so this changes nothing for other Python
    threads, and the previous count comes back on exit.
    """
    if threads is None:
        yield
        return
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def serialised(fn: F) -> F:
    """Decorator form of :func:`numba_parallel_guard`: every call of ``fn`` runs guarded."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with numba_parallel_guard():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
