"""Parameter sweeps: evaluate a function over a labelled grid, locally or on a Dask cluster."""

from __future__ import annotations

import dataclasses
import itertools
import math
import multiprocessing
import os
import queue
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SweepResult", "sweep"]


@dataclass(frozen=True)
class SweepResult:
    """A function's outputs over a grid.

    axes : ``{name: (k,) values}`` in grid order. data : ``{variable: array}``, each of shape
    ``(k_1, …, k_d) + output shape``; a scalar-valued function gives one variable, ``"value"``,
    and a function returning a dict gives one variable per key.
    """

    axes: dict[str, np.ndarray[Any, Any]]
    data: dict[str, np.ndarray[Any, Any]]

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid's shape, one length per axis."""
        return tuple(len(v) for v in self.axes.values())

    def __getitem__(self, variable: str) -> np.ndarray[Any, Any]:
        return self.data[variable]

    def to_xarray(self) -> Any:
        """An ``xarray.Dataset`` with the axes as coordinates (needs xarray)."""
        try:
            import xarray as xr
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("SweepResult.to_xarray needs xarray: pip install xarray") from exc
        dims = list(self.axes)
        variables = {}
        for name, values in self.data.items():
            extra = [f"{name}_dim{k}" for k in range(values.ndim - len(dims))]
            variables[name] = (dims + extra, values)
        return xr.Dataset(variables, coords=self.axes)

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per grid point: the axis values and the scalar variables (tidy form)."""
        records = []
        for index in np.ndindex(*self.shape):
            row: dict[str, Any] = {
                name: values[i].item()
                for (name, values), i in zip(self.axes.items(), index, strict=True)
            }
            for name, values in self.data.items():
                cell = values[index]
                row[name] = cell.item() if np.ndim(cell) == 0 else cell
            records.append(row)
        return records

    def to_pandas(self) -> Any:
        """A tidy ``pandas.DataFrame``, one row per grid point (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("SweepResult.to_pandas needs pandas: pip install pandas") from exc
        return pd.DataFrame.from_records(self.to_records())


def _points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]


class _Call:
    """``fn(**point, **fixed)`` as a picklable callable, for process pools and Dask workers."""

    def __init__(self, fn: Callable[..., Any], fixed: Mapping[str, Any]) -> None:
        self.fn = fn
        self.fixed = dict(fixed)

    def __call__(self, point: Mapping[str, Any]) -> Any:
        return self.fn(**point, **self.fixed)


def _is_dask_client(executor: Any) -> bool:
    return type(executor).__module__.startswith("distributed") and hasattr(executor, "gather")


def _progress(items: Iterator[Any], total: int, enabled: bool) -> Iterator[Any]:
    if not enabled or total < 2:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dev dependency
        return items
    return iter(tqdm(items, total=total, desc="sweep", leave=False))


def _with_point(exc: BaseException, k: int, points: list[dict[str, Any]]) -> BaseException:
    """``exc`` (its own type kept, so callers can still catch it) with a note naming the point."""
    exc.add_note(f"in yuma.sweep at grid point {k} of {len(points)}: {points[k]!r}")
    return exc


def _stall_error(timeout: float, done: int, total: int, workers: str) -> TimeoutError:
    return TimeoutError(
        f"sweep: no grid point finished in {timeout:g} s ({done} of {total} done{workers}); "
        "the cluster may have lost its workers"
    )


def _dask_workers(client: Any) -> str:
    try:
        n = len(client.scheduler_info().get("workers", {}))
    except Exception:  # only decorates a message: never let it replace the timeout
        return ""
    return f", {n} worker{'s' if n != 1 else ''} connected"


def _local(call: _Call, points: list[dict[str, Any]], progress: bool) -> list[Any]:
    out = []
    for k in _progress(iter(range(len(points))), len(points), progress):
        try:
            out.append(call(points[k]))
        except Exception as exc:
            raise _with_point(exc, k, points) from None
    return out


def _on_futures(
    futures: list[Any],
    points: list[dict[str, Any]],
    timeout: float | None,
    progress: bool,
    on_stall: Callable[[int], TimeoutError],
) -> list[Any]:
    """Collect ``futures`` (concurrent.futures or Dask, one per point in point order) as they
    complete.

    Each future reports to a queue when done, so collecting is O(points) and ``timeout``
    bounds the wait for the *next* point (no progress): a long sweep is not cut off, while a
    sweep whose workers are all gone does not hang.
    """
    finished: queue.SimpleQueue[int] = queue.SimpleQueue()
    for k, future in enumerate(futures):
        future.add_done_callback(lambda _f, k=k: finished.put(k))
    out: list[Any] = [None] * len(points)
    remaining = set(range(len(points)))
    bar = _progress(iter(range(len(points))), len(points), progress)
    try:
        while remaining:
            try:
                k = finished.get(timeout=timeout)
            except queue.Empty:
                raise on_stall(len(points) - len(remaining)) from None
            try:
                out[k] = futures[k].result()
            except Exception as exc:
                raise _with_point(exc, k, points) from None
            remaining.discard(k)
            next(bar, None)
    finally:
        for k in remaining:
            futures[k].cancel()
    return out


def _run(
    call: _Call,
    points: list[dict[str, Any]],
    executor: Any,
    progress: bool,
    timeout: float | None,
) -> list[Any]:
    if executor is None:
        return _local(call, points, progress)
    if executor == "process":
        # Spawned, not forked: forking a process that runs JAX or numba threads can deadlock.
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=context)
        finished = False
        try:
            out = _run(call, points, pool, progress, timeout)
            finished = True
            return out
        finally:
            # After a failure or a timeout do not wait for points still running (one may hang).
            pool.shutdown(wait=finished, cancel_futures=True)
    if _is_dask_client(executor):
        # One key per grid point: the default (pure) keys hash the arguments, so repeated
        # points would share one task and one future, and all but one slot come back empty.
        token = uuid.uuid4().hex
        keys = [f"yuma-sweep-{token}-{k}" for k in range(len(points))]
        futures = executor.map(call, points, key=keys, pure=False)
        return _on_futures(
            futures,
            points,
            timeout,
            progress,
            lambda done: _stall_error(timeout or 0.0, done, len(points), _dask_workers(executor)),
        )
    if isinstance(executor, Executor):
        futures = [executor.submit(call, p) for p in points]
        return _on_futures(
            futures,
            points,
            timeout,
            progress,
            lambda done: _stall_error(timeout or 0.0, done, len(points), ""),
        )
    raise ValueError(
        "executor must be None, 'process', a concurrent.futures.Executor or a "
        f"dask.distributed.Client, got {type(executor).__name__}"
    )


def _as_variables(result: Any) -> Any:
    """A dataclass result becomes a dict of its fields, so each field is a variable."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    return result


def sweep(
    fn: Callable[..., Any],
    grid: Mapping[str, Sequence[Any]],
    executor: Any = None,
    progress: bool = True,
    timeout: float | None = None,
    **fixed: Any,
) -> SweepResult:
    """Evaluate ``fn(**point, **fixed)`` at every point of the cartesian product of ``grid``.

    Parameters
    ----------
    fn : callable
        Returns a number, an array, a dict of them, or a dataclass (one variable per field).
        Must be picklable (a module-level function or a ``functools.partial``) to run on
        processes or a cluster.
    grid : {name: values}
        The axes, in order; the result's arrays have one dimension per axis.
    executor : None, "process", concurrent.futures.Executor, or dask.distributed.Client
        None runs in this process; "process" on a local process pool; an ``Executor`` or a Dask
        ``Client`` on it. The same call scales from a laptop to a cluster.
    progress : bool
        Show a progress bar (tqdm) while points complete.
    timeout : float, optional
        Seconds to wait for the *next* grid point to finish on an executor or cluster before
        giving up with ``TimeoutError`` (the unfinished points are cancelled). It bounds a
        stall, not the whole sweep: set it above the slowest single point. A cluster that lost
        all its workers otherwise waits for new ones for ever. Ignored when ``executor`` is
        None (a call in this process cannot be interrupted). A name in ``grid`` or ``fixed``
        cannot be ``timeout``, ``executor`` or ``progress``.

    Returns
    -------
    SweepResult
        Labelled outputs: ``.data``, ``.axes``, ``.to_xarray()``, ``.to_pandas()``.

    Raises
    ------
    Exception
        Whatever ``fn`` raised at a grid point, its own type kept, with a note
        (``exc.__notes__``, shown in the traceback) naming the point's index and parameters.
        The first failure to arrive ends the sweep and cancels the points not yet run.
    TimeoutError
        When ``timeout`` passed without any point finishing.

    Notes
    -----
    Every grid point is one task, also when points repeat. On a Dask cluster, a worker that
    dies mid-sweep has its tasks rerun elsewhere, so some points may be evaluated twice. The
    result is still right provided ``fn`` is pure (no side effects, the same output for the
    same arguments), as the library's functions are; a function with side effects (writing
    files, counting calls) may see them repeated.
    """
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ValueError(f"timeout must be a number of seconds or None, got {timeout!r}")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        timeout = float(timeout)
    if not grid:
        raise ValueError("grid must name at least one axis")
    for name, values in grid.items():
        if len(values) == 0:
            raise ValueError(f"grid axis {name!r} has no values")
    points = _points(grid)
    results = [
        _as_variables(r) for r in _run(_Call(fn, fixed), points, executor, progress, timeout)
    ]
    axes = {name: np.asarray(list(values)) for name, values in grid.items()}
    shape = tuple(len(v) for v in axes.values())
    if isinstance(results[0], Mapping):
        keys = list(results[0])
        data = {
            k: np.asarray([r[k] for r in results]).reshape(shape + np.shape(results[0][k]))
            for k in keys
        }
    else:
        data = {"value": np.asarray(results).reshape(shape + np.shape(results[0]))}
    return SweepResult(axes=axes, data=data)
