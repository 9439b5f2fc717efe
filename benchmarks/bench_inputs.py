"""Shared inputs and size selection for the epoch benchmarks (imported by the test_bench_* files).

Sizes: the full sizes of issue 4 by default; ``YUMA_BENCH_SMALL=1`` keeps only the smallest of
each family (what CI runs, with ``--benchmark-disable``, so the benchmarks never rot).

Inputs are cached per size, so the epochs and the ``np.sort`` / ``W.sum()`` baselines of one run
see the very same matrix in the same process.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

SMALL = os.environ.get("YUMA_BENCH_SMALL", "") not in ("", "0")

DENSE_SIZES = [64] if SMALL else [64, 256, 1024, 4096]
SPARSE_SIZES = [4096] if SMALL else [4096, 16384, 65536]
SPARSE_DENSITY = 0.005
BATCH = (10, 64) if SMALL else (1000, 64)

REPO_ROOT = Path(__file__).resolve().parent.parent
SN15 = Path(os.environ.get("YUMA_SHARED", REPO_ROOT.parent / "shared")) / "data"
SN15 = SN15 / "sn15_block4769998_metagraph.npz"

requires_sn15 = pytest.mark.skipif(
    not SN15.is_file(),
    reason=f"real-subnet data {SN15} is absent (clone-only checkout without ../shared)",
)


def backends(*names: str) -> list[Any]:
    """``names`` as pytest params, skipping those whose package is not installed."""
    out = []
    for name in names:
        missing = name != "numpy" and importlib.util.find_spec(name) is None
        marks = pytest.mark.skipif(missing, reason=f"{name} is not installed")
        out.append(pytest.param(name, marks=marks))
    return out


def rounds_for(cells: float, backend: str) -> int:
    """Rounds that keep each benchmark to a few seconds (at least one)."""
    per_cell = {"numpy": 4e-7, "jax": 2e-7, "numba": 2e-8}.get(backend, 1e-7)
    return int(max(1, min(200, 2.0 / max(cells * per_cell, 1e-9))))


@functools.lru_cache(maxsize=4)
def dense_inputs(n: int) -> tuple[Any, Any, Any]:
    """A dense ``(n, n)`` subnet: u16 weights (30 % zeros), lognormal stake, steady-state bonds.

    The bonds are the output of one epoch on the same weights, so the benchmarked epoch is a
    steady-state one (bonds present, every branch doing real work).
    """
    import yuma

    rng = np.random.default_rng(n)
    w = rng.integers(0, 65536, (n, n)).astype(np.float64) * (rng.random((n, n)) < 0.7)
    stake = rng.lognormal(0.0, 2.0, n)
    bonds = yuma.epoch(w, stake, params=all_validators(n), backend="numba").bonds
    return w, stake, bonds


@functools.lru_cache(maxsize=4)
def sparse_inputs(n: int) -> tuple[Any, Any, Any]:
    """A CSR subnet at about 0.5 % density, lognormal stake, steady-state bonds.

    Structured like a live subnet rather than uniform noise (where no miner would reach a
    majority and every consensus would be 0, leaving clipped weights and bonds empty): each row
    weights about 80 % of a shared set of ``0.005 n`` popular miners, which therefore reach
    consensus, and spends the rest of its ``0.005 n`` entries on random miners.
    """
    import yuma

    rng = np.random.default_rng(n)
    per_row = max(1, int(SPARSE_DENSITY * n))
    popular = rng.choice(n, per_row, replace=False)
    picks = rng.random((n, per_row)) < 0.8
    rows_p, idx = np.nonzero(picks)
    n_random = per_row - picks.sum(axis=1)
    rows_r = np.repeat(np.arange(n), n_random)
    rows = np.concatenate((rows_p, rows_r))
    cols = np.concatenate((popular[idx], rng.integers(0, n, rows_r.size)))
    data = rng.integers(1, 65536, rows.size).astype(np.float64)
    w = sp.csr_array((data, (rows, cols)), shape=(n, n))
    w.sum_duplicates()
    # 32-bit indices, as scipy picks for most constructors when nnz < 2**31.
    w = sp.csr_array((w.data, w.indices.astype(np.int32), w.indptr.astype(np.int32)), shape=(n, n))
    stake = rng.lognormal(0.0, 2.0, n)
    bonds = yuma.epoch(w, stake, params=all_validators(n), backend="numba").bonds
    return w, stake, bonds


@functools.lru_cache(maxsize=1)
def sn15_inputs() -> tuple[Any, Any]:
    """The real subnet 15 metagraph as CSR weights (256 uids) and stake."""
    data = np.load(SN15)
    w = sp.csr_array(np.asarray(data["W"], dtype=np.float64))
    return w, np.asarray(data["S"], dtype=np.float64)


def all_validators(n: int) -> Any:
    """Default hyperparameters with every uid allowed a permit (every row votes: worst case)."""
    import yuma

    return yuma.YumaParams(max_allowed_validators=n)
