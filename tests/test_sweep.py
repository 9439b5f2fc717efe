"""Parameter sweeps: labelled results, identical locally, on processes and on a Dask cluster."""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
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


# --------------------------------------------------------------------------------------------
# Faults on executors and clusters (issue 14, item 8). In-process Dask clusters (threads, no
# worker processes) keep these at a second or two each.
# --------------------------------------------------------------------------------------------


def product(a: int, b: int) -> int:
    return a * b


def fail_at_two(a: int, b: int) -> int:
    # One failing point only: on a cluster the first failure to arrive is the one reported.
    if a == 2 and b == 3:
        raise ValueError("boom")
    return a * b


def in_process_cluster(n_workers: int = 1) -> tuple[object, object]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=2,
        processes=False,
        dashboard_address=None,
    )
    return cluster, distributed.Client(cluster)


REPEATED = {"a": [1, 1, 2, 1], "b": [3, 3]}
REPEATED_PRODUCT = [[3, 3], [3, 3], [6, 6], [3, 3]]


def test_repeated_grid_points_on_dask_each_get_their_result() -> None:
    cluster, client = in_process_cluster()
    with cluster, client:  # type: ignore[attr-defined]
        result = yuma.sweep(product, REPEATED, executor=client, progress=False)
    assert result["value"].dtype.kind == "i"  # no None slot turned the array into objects
    np.testing.assert_array_equal(result["value"], REPEATED_PRODUCT)


def test_repeated_grid_points_locally_and_on_threads() -> None:
    np.testing.assert_array_equal(
        yuma.sweep(product, REPEATED, progress=False)["value"], REPEATED_PRODUCT
    )
    with ThreadPoolExecutor(2) as pool:
        threaded = yuma.sweep(product, REPEATED, executor=pool, progress=False)
    np.testing.assert_array_equal(threaded["value"], REPEATED_PRODUCT)


def assert_names_the_point(info: pytest.ExceptionInfo[ValueError]) -> None:
    assert str(info.value) == "boom"  # fn's own error, its type kept
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "'a': 2" in notes and "'b': 3" in notes, notes
    assert "grid point 2 of 4" in notes, notes  # (a=2, b=3) is point 2 of the 2 x 2 grid


GRID_2x2 = {"a": [1, 2], "b": [3, 4]}


def test_an_error_names_the_failing_point_locally_and_on_threads() -> None:
    with pytest.raises(ValueError, match="boom") as info:
        yuma.sweep(fail_at_two, GRID_2x2, progress=False)
    assert_names_the_point(info)
    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="boom") as info:
        yuma.sweep(fail_at_two, GRID_2x2, executor=pool, progress=False)
    assert_names_the_point(info)


def test_an_error_names_the_failing_point_on_dask() -> None:
    cluster, client = in_process_cluster()
    with cluster, client, pytest.raises(ValueError, match="boom") as info:  # type: ignore[attr-defined]
        yuma.sweep(fail_at_two, GRID_2x2, executor=client, progress=False)
    assert_names_the_point(info)


def test_a_cluster_without_workers_times_out_instead_of_hanging() -> None:
    cluster, client = in_process_cluster()
    with cluster, client:  # type: ignore[attr-defined]
        cluster.scale(0)  # type: ignore[attr-defined]
        for _ in range(200):  # until the scheduler has seen the worker go (at most 10 s)
            if not client.scheduler_info()["workers"]:  # type: ignore[attr-defined]
                break
            time.sleep(0.05)
        assert not client.scheduler_info()["workers"]  # type: ignore[attr-defined]
        with pytest.raises(TimeoutError, match=r"no grid point finished in 0.5 s \(0 of 4 done"):
            yuma.sweep(product, GRID_2x2, executor=client, progress=False, timeout=0.5)


def test_a_stalled_executor_times_out_and_a_finished_one_does_not() -> None:
    release = threading.Event()

    def stuck(a: int, b: int) -> int:
        if a == 2:
            release.wait()
        return a * b

    with ThreadPoolExecutor(4) as pool:
        try:
            with pytest.raises(TimeoutError, match=r"\(2 of 4 done\)"):
                yuma.sweep(stuck, GRID_2x2, executor=pool, progress=False, timeout=0.5)
        finally:
            release.set()
        # A generous timeout on a healthy sweep changes nothing.
        ok = yuma.sweep(stuck, GRID_2x2, executor=pool, progress=False, timeout=60)
    np.testing.assert_array_equal(ok["value"], [[3, 4], [6, 8]])


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "1", True])
def test_a_bad_timeout_is_refused(timeout: object) -> None:
    with pytest.raises(ValueError, match="timeout must be"):
        yuma.sweep(product, GRID_2x2, progress=False, timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_reruns_points_and_the_result_is_right() -> None:
    """A pure function survives a killed worker: its tasks rerun elsewhere (the docstring says
    points may run twice); every point still gets its own right answer."""
    distributed = pytest.importorskip("distributed")
    # A lambda travels by value (a test module's function would need importing on workers).
    slow_product = lambda a, b: (time.sleep(0.2), a * b)[1]  # noqa: E731
    grid = {"a": list(range(10)), "b": [1, 2]}
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
        client.wait_for_workers(2)
        victim = next(iter(client.run(os.getpid).values()))

        def kill_soon() -> None:
            time.sleep(0.8)
            os.kill(victim, signal.SIGKILL)  # the worker process dies without a goodbye

        killer = threading.Thread(target=kill_soon)
        killer.start()
        try:
            result = yuma.sweep(slow_product, grid, executor=client, progress=False, timeout=60)
        finally:
            killer.join()
        assert victim not in client.run(os.getpid).values()  # it really died (and was replaced)
    np.testing.assert_array_equal(result["value"], np.outer(range(10), [1, 2]))
