"""Where the numba kernels should go parallel: serial against all threads, per size.

Times the dense epoch's serial and parallel compiled drivers directly (bypassing the cut-off,
``yuma.backends.numba_dense.PARALLEL_MIN_CELLS``) and the sparse epoch on one thread and on
all (``yuma.backends.numba_sparse.PARALLEL_MIN_ENTRIES``), alternating the two in each round so
a drift of the machine's speed hits both; prints the best of the rounds and the ratios of the
best and of the median rounds (on a shared machine they can disagree: a parallel region waits
for its slowest thread; the cut-off should win on both).

Run: ``python benchmarks/cutoff.py`` (on an otherwise idle machine; about three minutes).
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np
from bench_inputs import all_validators, dense_inputs

import yuma
from yuma.backends import numba_dense as nd
from yuma.backends import numba_sparse as ns
from yuma.inputs import prepare_inputs

#: Rounds of each measurement (each round times both sides, alternating).
ROUNDS = 15


def _pair(a: Any, b: Any, rounds: int, calls: int) -> tuple[float, float, float, float]:
    """Best and median seconds per call of ``a`` and ``b``: (best a, best b, median a, median
    b). The best shows what the machine can do; the median what a caller meets on a shared
    machine, where a parallel region waits for its slowest thread to be scheduled."""
    ta, tb = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            a()
        ta.append((time.perf_counter() - t) / calls)
        t = time.perf_counter()
        for _ in range(calls):
            b()
        tb.append((time.perf_counter() - t) / calls)
    return min(ta), min(tb), float(np.median(ta)), float(np.median(tb))


def dense(n: int, threads: int) -> tuple[float, float, float, float]:
    rng = np.random.default_rng(n)
    if n in (64, 256, 1024, 4096):
        w, stake, bonds = dense_inputs(n)
    else:
        w = rng.integers(0, 65536, (n, n)).astype(np.float64) * (rng.random((n, n)) < 0.7)
        stake = rng.lognormal(0.0, 2.0, n)
        bonds = yuma.epoch(w, stake, params=all_validators(n), backend="numba").bonds
    inputs, params = prepare_inputs(w, stake, bonds, all_validators(n))
    W, b_in, outdated = nd._dense_arrays(inputs)
    x = (W, inputs.stake, b_in, nd._NO_PERMIT, inputs.active, outdated, inputs.recently_registered)
    p = tuple(nd.dense_params(params, square=True, yuma3=True, liquid=False))
    o = tuple(nd.allocate(n, n, True))
    serial = lambda: nd._serial_entry(x, p, o)  # noqa: E731
    parallel = lambda: nd._parallel_entry(x, p, o, threads)  # noqa: E731
    serial(), parallel()
    calls = max(1, int(2e6 / n**2))
    return _pair(serial, parallel, ROUNDS, calls)


def sparse(n: int, per_row: int, threads: int) -> tuple[int, float, float, float, float]:
    import scipy.sparse as sp

    rng = np.random.default_rng(n + per_row)
    popular = rng.choice(n, per_row, replace=False)
    rows = np.repeat(np.arange(n), per_row)
    cols = np.where(rng.random(rows.size) < 0.8, popular[rng.integers(0, per_row, rows.size)],
                    rng.integers(0, n, rows.size))  # fmt: skip
    w = sp.csr_array((rng.integers(1, 65536, rows.size).astype(float), (rows, cols)), (n, n))
    w.sum_duplicates()
    stake = rng.lognormal(0.0, 2.0, n)
    bonds = yuma.epoch(w, stake, params=all_validators(n), backend="numba").bonds
    inputs, params = prepare_inputs(w, stake, bonds, all_validators(n))

    def on(k: int) -> Any:
        def run() -> None:
            numba.set_num_threads(k)
            try:
                ns._epoch_sparse(inputs, params)
            finally:
                numba.set_num_threads(threads)

        return run

    on(1)(), on(threads)()
    calls = max(1, int(2e6 / max(w.nnz, 1)))
    return (int(w.nnz), *_pair(on(1), on(threads), ROUNDS, calls))


def table() -> list[str]:
    """The measurements as markdown lines."""
    threads = numba.get_num_threads()
    lines = [
        f"numba threads: {threads}; cut-offs now: dense {nd.PARALLEL_MIN_CELLS} cells, sparse "
        f"{ns.PARALLEL_MIN_ENTRIES} stored entries. Serial and parallel compiled drivers called "
        f"directly (no cut-off), alternating, {ROUNDS} rounds: the best round of each and the "
        "ratio of the best and of the median rounds (`python benchmarks/cutoff.py`).",
        "",
        "| dense n | cells | serial | parallel | parallel / serial, best | median |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in (128, 192, 256, 384, 512, 768, 1024):
        t1, tk, m1, mk = dense(n, threads)
        lines.append(
            f"| {n} | {n * n} | {t1 * 1e3:.3f} ms | {tk * 1e3:.3f} ms | {tk / t1:.2f} "
            f"| {mk / m1:.2f} |"
        )
    lines += [
        "",
        "| sparse n | nnz | 1 thread | all | all / 1, best | median |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n, per_row in ((2048, 16), (4096, 20), (8192, 24), (16384, 24), (32768, 24)):
        nnz, t1, tk, m1, mk = sparse(n, per_row, threads)
        lines.append(
            f"| {n} | {nnz} | {t1 * 1e3:.3f} ms | {tk * 1e3:.3f} ms | {tk / t1:.2f} "
            f"| {mk / m1:.2f} |"
        )
    return lines


if __name__ == "__main__":
    print("\n".join(table()))
