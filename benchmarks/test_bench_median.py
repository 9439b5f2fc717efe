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
