"""The column median kernels: the dense epoch's multi-pivot sweep (``wmedian_sweep``), the
weighted quickselect (the sweep's fallback) and the sort-based one (issue 4 asks to measure both).

Every call sees a different column (random scores and stakes), as in an epoch: repeating one
column would let the branch predictor learn the data and flatter branchy code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bench_inputs import SMALL

SIZES = [64] if SMALL else [64, 256, 4096]
COLUMNS = 64 if SMALL else 2048


@pytest.mark.parametrize("method", ["sweep", "select", "sort"])
@pytest.mark.parametrize("size", SIZES)
def test_median_kernel(benchmark: Any, size: int, method: str) -> None:
    from numba import njit

    from yuma.backends import _nb_common as nb

    if not hasattr(nb, "wmedian_sweep"):
        pytest.skip("this checkout predates wmedian_sweep (an older commit, timed to compare)")

    @njit(cache=False)
    def columns(scores: Any, stakes: Any, minority: float, code: int) -> float:
        n = scores.shape[1]
        v = np.empty(n)
        s = np.empty(n)
        n_float, n_int = nb.sweep_scratch(n)
        bv = np.empty(n_float)
        bs = np.empty(n_float)
        idx = np.empty(n_int, dtype=np.int64)
        acc = 0.0
        for k in range(scores.shape[0]):
            v[:] = scores[k]
            s[:] = stakes[k]
            if code == 2:
                acc += nb.wmedian_sweep(v, s, n, minority, bv, bs, idx)
            else:
                acc += nb.wmedian(v, s, n, minority, code)
        return acc

    rng = np.random.default_rng(size)
    scores = rng.random((COLUMNS, size))
    stakes = rng.random((COLUMNS, size))
    stakes /= stakes.sum(axis=1, keepdims=True)
    code = {"select": 0, "sort": 1, "sweep": 2}[method]
    columns(scores[:1], stakes[:1], 0.5, code)
    benchmark.extra_info.update(case="median", n=size, method=method, columns=COLUMNS)
    benchmark.pedantic(columns, args=(scores, stakes, 0.5, code), rounds=5, iterations=1)


CONSENSUS_SIZES = [64] if SMALL else [64, 256, 1024, 4096]


@pytest.mark.parametrize("path", ["rows", "gathered"])
@pytest.mark.parametrize("span", ["all", "half"])
@pytest.mark.parametrize("size", CONSENSUS_SIZES)
def test_consensus_paths(benchmark: Any, size: int, span: str, path: str) -> None:
    """The consensus of a ``size x size`` matrix (every row a voter), one thread: on the rows
    (``_nb_consensus.consensus_rows``, what the dense epoch runs from 17 to 1024 voters) and
    column by column from gathered blocks (``numba_dense._cols_gathered``, the sweep). ``span``
    "half": the first half of the columns only, what each of two threads takes in the
    parallel epoch (from 512 x 512 on; timed from 1024 on)."""
    from yuma.backends import numba_dense as nd

    if not hasattr(nd, "_cols_gathered"):
        pytest.skip("this checkout predates the row-major consensus (an older commit)")
    if span == "half" and size < 1024:
        pytest.skip("serial below the parallel cut-off")
    from yuma.backends._nb_consensus import consensus_rows

    rng = np.random.default_rng(size)
    w = rng.integers(0, 65536, (size, size)) * (rng.random((size, size)) < 0.7)
    w = np.ascontiguousarray(w / w.sum(axis=1, keepdims=True))
    u = rng.lognormal(0.0, 2.0, size)
    u /= u.sum()
    voters = np.arange(size, dtype=np.int64)
    out = np.empty(size)
    fn = consensus_rows if path == "rows" else nd._cols_gathered
    args = (w, voters, u, 0.5, out, 0, size if span == "all" else size // 2, 0)
    fn(*args)
    benchmark.extra_info.update(case="consensus", n=size, path=path, span=span)
    rounds = max(5, min(200, int(2e7 // size**2)))
    benchmark.pedantic(fn, args=args, rounds=rounds, iterations=1)
