"""Batch benchmark (issue 4): 1000 independent epochs at n = 64 in one call, every backend.

Every epoch of the batch has its own random weights and stake (a sweep over subnets), and every
uid may validate. ``YUMA_BENCH_SMALL=1`` runs 10 epochs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bench_inputs import BATCH, all_validators, backends

import yuma


def _batch_inputs() -> tuple[Any, Any]:
    b, n = BATCH
    rng = np.random.default_rng(64)
    w = rng.integers(0, 65536, (b, n, n)).astype(np.float64) * (rng.random((b, n, n)) < 0.7)
    return w, rng.lognormal(0.0, 2.0, (b, n))


@pytest.mark.parametrize("backend", [*backends("numpy", "numba", "jax"), "numba:1"])
def test_batch_epochs(benchmark: Any, backend: str) -> None:
    _time_batch(benchmark, backend, keep_matrices=True)


@pytest.mark.parametrize("backend", [*backends("numba"), "numba:1"])
def test_batch_epochs_vectors_only(benchmark: Any, backend: str) -> None:
    """``keep_matrices=False``: a sweep that reads the vectors only (case ``batch_vectors``)."""
    import inspect

    if "keep_matrices" not in inspect.signature(yuma.epoch_batch).parameters:
        pytest.skip("this yuma's epoch_batch has no keep_matrices (an older checkout)")
    _time_batch(benchmark, backend, keep_matrices=False)


def _time_batch(benchmark: Any, backend: str, *, keep_matrices: bool) -> None:
    w, stake = _batch_inputs()
    b, n = BATCH
    params = all_validators(n)
    name, _, threads = backend.partition(":")

    # the argument only when it is not the default: older checkouts lack it (before/after)
    extra = {} if keep_matrices else {"keep_matrices": False}

    def once() -> Any:
        return yuma.epoch_batch(w, stake, params=params, backend=name, **extra)

    def run() -> Any:
        if not threads:
            return once()
        import numba

        previous = numba.get_num_threads()
        numba.set_num_threads(int(threads))
        try:
            return once()
        finally:
            numba.set_num_threads(previous)

    run()  # compile outside the timing
    rounds = 1 if name == "numpy" else 5
    case = "batch" if keep_matrices else "batch_vectors"
    benchmark.extra_info.update(case=case, n=n, batch=b, backend=backend)
    result = benchmark.pedantic(run, rounds=rounds, iterations=1)
    if result is not None:
        assert len(result) == b
