"""Epoch benchmarks (issue 4): dense, sparse, the real subnet, and their physical baselines.

Each case is timed for every backend, next to one ``np.sort(W, axis=0)`` and one ``W.sum()`` of
the same matrix in the same process (for CSR: one ``np.sort`` of the stored values and their
sum), which ``benchmarks/run.py`` turns into ratios.

Two permit settings: ``all`` lets every uid hold a permit (``max_allowed_validators = n``:
every row votes in every column's median, the worst case) and ``chain`` keeps the chain's
default of 128 validators.

Run: ``python -m pytest benchmarks/test_bench_epoch.py`` (add ``--benchmark-disable`` and
``YUMA_BENCH_SMALL=1`` for a quick smoke run).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bench_inputs import (
    DENSE_SIZES,
    SPARSE_SIZES,
    all_validators,
    backends,
    dense_inputs,
    requires_sn15,
    rounds_for,
    sn15_inputs,
    sparse_inputs,
)

import yuma


def _params(n: int, permits: str) -> yuma.YumaParams:
    return all_validators(n) if permits == "all" else yuma.YumaParams()


def _time_epoch(benchmark: Any, backend: str, w: Any, stake: Any, bonds: Any, params: Any) -> None:
    name, _, threads = backend.partition(":")

    def run() -> Any:
        if not threads:
            return yuma.epoch(w, stake, bonds, params, backend=name)
        # "numba:1": the same kernels on one thread (what a core shared with another process
        # makes of the parallel regions is seen by comparing with "numba").
        import numba

        previous = numba.get_num_threads()
        numba.set_num_threads(int(threads))
        try:
            return yuma.epoch(w, stake, bonds, params, backend=name)
        finally:
            numba.set_num_threads(previous)

    run()  # compile / warm up outside the timing
    cells = w.nnz if hasattr(w, "nnz") else w.size
    result = benchmark.pedantic(run, rounds=rounds_for(cells, backend), iterations=1)
    if result is not None:
        assert result.consensus.shape == (w.shape[1],)


@pytest.mark.parametrize("permits", ["all", "chain"])
@pytest.mark.parametrize("backend", [*backends("numpy", "numba", "jax"), "numba:1"])
@pytest.mark.parametrize("n", DENSE_SIZES)
def test_dense_epoch(benchmark: Any, n: int, backend: str, permits: str) -> None:
    if permits == "chain" and not backend.startswith("numba"):
        pytest.skip("the chain-default permit setting is timed on numba only")
    w, stake, bonds = dense_inputs(n)
    benchmark.extra_info.update(case="dense", n=n, backend=backend, permits=permits)
    _time_epoch(benchmark, backend, w, stake, bonds, _params(n, permits))


@pytest.mark.parametrize("permits", ["all", "chain"])
@pytest.mark.parametrize("n", DENSE_SIZES)
def test_dense_epoch_out(benchmark: Any, n: int, permits: str) -> None:
    """A loop's epoch: ``out=`` an earlier result, alternating two (no fresh matrices)."""
    w, stake, bonds = dense_inputs(n)
    params = _params(n, permits)
    pair = [yuma.epoch(w, stake, bonds, params), yuma.epoch(w, stake, bonds, params)]

    def run() -> Any:
        pair.reverse()
        return yuma.epoch(w, stake, bonds, params, backend="numba", out=pair[0])

    run()
    benchmark.extra_info.update(case="dense", n=n, backend="numba, out=", permits=permits)
    result = benchmark.pedantic(run, rounds=rounds_for(w.size, "numba"), iterations=1)
    assert result is pair[0]


@pytest.mark.parametrize("baseline", ["sort", "sum"])
@pytest.mark.parametrize("n", DENSE_SIZES)
def test_dense_baseline(benchmark: Any, n: int, baseline: str) -> None:
    w, _, _ = dense_inputs(n)
    benchmark.extra_info.update(case="dense", n=n, baseline=baseline)
    fn = (lambda: np.sort(w, axis=0)) if baseline == "sort" else w.sum
    benchmark.pedantic(fn, rounds=rounds_for(w.size, "numba") if baseline == "sum" else 3)


@pytest.mark.parametrize("backend", [*backends("numpy", "numba"), "numba:1"])
@pytest.mark.parametrize("n", SPARSE_SIZES)
def test_sparse_epoch(benchmark: Any, n: int, backend: str) -> None:
    w, stake, bonds = sparse_inputs(n)
    assert bonds.nnz > 0, "degenerate benchmark: no miner reached consensus"
    benchmark.extra_info.update(case="sparse", n=n, backend=backend, nnz=int(w.nnz))
    _time_epoch(benchmark, backend, w, stake, bonds, all_validators(n))


@pytest.mark.parametrize("baseline", ["sort", "sum"])
@pytest.mark.parametrize("n", SPARSE_SIZES)
def test_sparse_baseline(benchmark: Any, n: int, baseline: str) -> None:
    w, _, _ = sparse_inputs(n)
    benchmark.extra_info.update(case="sparse", n=n, baseline=baseline)
    data = w.data
    fn = (lambda: np.sort(data)) if baseline == "sort" else data.sum
    benchmark.pedantic(fn, rounds=5)


@requires_sn15
@pytest.mark.parametrize("backend", backends("numpy", "numba"))
def test_real_subnet_epoch(benchmark: Any, backend: str) -> None:
    w, stake = sn15_inputs()
    params = yuma.YumaParams(max_allowed_validators=64)
    bonds = yuma.epoch(w, stake, None, params, backend="numba").bonds
    benchmark.extra_info.update(case="sn15", n=int(w.shape[0]), backend=backend, nnz=int(w.nnz))
    _time_epoch(benchmark, backend, w, stake, bonds, params)


@requires_sn15
@pytest.mark.parametrize("baseline", ["sort", "sum"])
def test_real_subnet_baseline(benchmark: Any, baseline: str) -> None:
    w, _ = sn15_inputs()
    benchmark.extra_info.update(case="sn15", n=int(w.shape[0]), baseline=baseline)
    data = w.data
    fn = (lambda: np.sort(data)) if baseline == "sort" else data.sum
    benchmark.pedantic(fn, rounds=50)
