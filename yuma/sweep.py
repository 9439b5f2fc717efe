"""Parameter sweeps: evaluate a function over a labelled grid, locally or on a Dask cluster."""

from __future__ import annotations

import dataclasses
import itertools
import multiprocessing
import os
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


def _run(call: _Call, points: list[dict[str, Any]], executor: Any, progress: bool) -> list[Any]:
    if executor is None:
        return list(_progress((call(p) for p in points), len(points), progress))
    if executor == "process":
        # Spawned, not forked: forking a process that runs JAX or numba threads can deadlock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=context) as pool:
            return list(_progress(pool.map(call, points), len(points), progress))
    if _is_dask_client(executor):
        import distributed

        as_completed: Any = distributed.as_completed
        futures = executor.map(call, points, pure=True)
        order = {f.key: k for k, f in enumerate(futures)}
        out: list[Any] = [None] * len(points)
        for future in _progress(as_completed(futures), len(points), progress):
            out[order[future.key]] = future.result()
        return out
    if isinstance(executor, Executor):
        return list(_progress(executor.map(call, points), len(points), progress))
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

    Returns
    -------
    SweepResult
        Labelled outputs: ``.data``, ``.axes``, ``.to_xarray()``, ``.to_pandas()``.
    """
    if not grid:
        raise ValueError("grid must name at least one axis")
    for name, values in grid.items():
        if len(values) == 0:
            raise ValueError(f"grid axis {name!r} has no values")
    points = _points(grid)
    results = [_as_variables(r) for r in _run(_Call(fn, fixed), points, executor, progress)]
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
