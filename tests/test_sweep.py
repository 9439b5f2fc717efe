"""Parameter sweeps: labelled results, identical locally, on processes and on a Dask cluster."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import yuma
from yuma.attacks import cabal

SMALL = {"n": 24, "validators": 6}


def small_grid() -> dict[str, list[float]]:
    return {"honest_stake": [0.55, 0.8], "honest_utility": [0.5, 1.0], "cabal_self_weight": [1.0]}


def test_sweep_labels_and_shapes() -> None:
    result = yuma.sweep(cabal, small_grid(), progress=False, **SMALL)
    assert result.shape == (2, 2, 1)
    assert list(result.axes) == ["honest_stake", "honest_utility", "cabal_self_weight"]
    emission = result["honest_emission"]
    assert emission.shape == (2, 2, 1)
    for i, s in enumerate(result.axes["honest_stake"]):
        for j, u in enumerate(result.axes["honest_utility"]):
            expected = cabal(float(s), float(u), 1.0, **SMALL).honest_emission  # type: ignore[arg-type]
            assert emission[i, j, 0] == expected
    records = result.to_records()
    assert len(records) == 4 and records[0]["honest_stake"] == 0.55
    assert records[0]["honest_emission"] == emission[0, 0, 0]


def test_sweep_of_a_scalar_and_an_array_function() -> None:
    result = yuma.sweep(lambda a, b: a * b, {"a": [1, 2, 3], "b": [10, 20]}, progress=False)
    np.testing.assert_array_equal(result["value"], [[10, 20], [20, 40], [30, 60]])
    result = yuma.sweep(lambda k: np.arange(3) * k, {"k": [1, 2]}, progress=False)
    assert result["value"].shape == (2, 3)


def test_sweep_rejects_a_bad_grid_or_executor() -> None:
    with pytest.raises(ValueError, match="at least one axis"):
        yuma.sweep(abs, {})
    with pytest.raises(ValueError, match="'x' has no values"):
        yuma.sweep(abs, {"x": []})
    with pytest.raises(ValueError, match="executor must be"):
        yuma.sweep(abs, {"x": [1, 2]}, executor="cluster", progress=False)


def test_sweep_on_threads_and_processes_equals_local() -> None:
    fn = functools.partial(cabal, **SMALL)
    local = yuma.sweep(fn, small_grid(), progress=False)
    with ThreadPoolExecutor(2) as pool:
        threaded = yuma.sweep(fn, small_grid(), executor=pool, progress=False)
    processes = yuma.sweep(fn, small_grid(), executor="process", progress=False)
    for other in (threaded, processes):
        for name, values in local.data.items():
            np.testing.assert_array_equal(other[name], values)


def test_sweep_on_a_dask_cluster_equals_local() -> None:
    distributed = pytest.importorskip("distributed")
    local = yuma.sweep(cabal, small_grid(), progress=False, **SMALL)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = yuma.sweep(cabal, small_grid(), executor=client, progress=True, **SMALL)
    for name, values in local.data.items():
        np.testing.assert_array_equal(remote[name], values)
