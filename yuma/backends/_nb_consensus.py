"""The consensus of many columns at once, read row by row (numba).

The dense epoch's consensus is, per miner column, the stake-weighted median of the voters'
weights (:func:`yuma.median.weighted_median`; the chain's ``weighted_median_col``).
:func:`~yuma.backends._nb_common.wmedian_sweep` finds one column's median on a contiguous copy
of it (the gather path of :func:`yuma.backends.numba_dense._cols_consensus`). Here the first,
widest steps of that search run on the row-major weight matrix itself, for a range of columns
at once: every pass streams the voters' rows, and each vector operation serves several columns,
so no column is gathered.

1. The smallest and largest score of every column (one pass).
2. :func:`~yuma.backends._nb_common._first_rounds` rounds of four pivots per column (the first
   on the column's smallest score, three evenly in its range; then four evenly inside the
   bracket): one pass per round sums, for every column and pivot, the stake at or below the
   pivot, and each column's bracket ``(lo, hi]`` shrinks to the fifth that crosses the
   minority, as :func:`~yuma.backends._nb_common._bracket` decides.
3. A pass that counts each column's scores inside its bracket and copies the first
   :data:`CAP`, in voter order, to the column's row of a pool (a column with more, ties or a
   cluster, reads them from its column again: one strided walk, rare).
4. Per column, :func:`~yuma.backends._nb_common.finish_bracket` on its copied entries, as
   :func:`~yuma.backends._nb_common.wmedian_sweep` finishes: the same rule, the same answer.

:data:`ROWS_MIN` and :data:`ROWS_MAX` bound the voter counts this path serves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)
from yuma.backends._nb_common import (
    FEW,
    FEW_SHORT,
    FEW_SHORT_N,
    LARGEST,
    NARROWED,
    _first_rounds,
    bracket_round,
    decided_at_once,
    finish_bracket,
    first_pivots,
    inner_pivots,
    sweep_scratch,
)

__all__ = ["BLOCK", "CAP", "ROWS_MAX", "ROWS_MIN", "consensus_rows", "takes_rows"]

#: Voter counts this path serves (:func:`takes_rows`). Fewer than ``ROWS_MIN``: the gather path
#: finishes a column directly. Against the gather path, one thread, every row a voter
#: (``benchmarks/test_bench_median.py::test_consensus_paths``, benchmarks/RESULTS.md): 0.54x at
#: 64², 0.69x at 256², 0.71x at 1024²; on half the columns (each of two threads' share in the
#: parallel epoch) 0.79x at 1024² but 1.10x at 4096², where every pass streams the matrix from
#: memory and the gather reads it once.
ROWS_MIN = FEW + 1
ROWS_MAX = 1024
#: Scores per column the copy pass keeps; a column with more in its bracket (ties, or a
#: cluster) reads them from its column again.
CAP = 32
#: Columns per block: the passes' cost per row is mostly fixed, so wide blocks are fastest (at
#: 1024 voters, 64-column ranges took 1.5x the time of 512-column ones); 4096 keeps the
#: scratch (pool, pivots, sums) to about 2.5 MiB however many columns a matrix has.
BLOCK = 4096


@njit(cache=True, nogil=True)
def takes_rows(n_voters: int) -> bool:
    """Whether the dense consensus runs :func:`consensus_rows` for this many voters."""
    return ROWS_MIN <= n_voters <= ROWS_MAX


@njit(cache=True, nogil=True, fastmath=True)
def _extremes(w: Any, voters: Any, c0: int, width: int, mn: Any, mx: Any) -> None:
    # Scores are finite and non-negative here, so fastmath's min/max are exact.
    first = w[voters[0], c0 : c0 + width]
    for j in range(width):
        mn[j] = first[j]
        mx[j] = first[j]
    for k in range(1, voters.shape[0]):
        row = w[voters[k], c0 : c0 + width]
        for j in range(width):
            x = row[j]
            mn[j] = min(mn[j], x)
            mx[j] = max(mx[j], x)


@njit(cache=True, nogil=True, fastmath=True)
def _stake_at_or_below_rows(
    w: Any, voters: Any, u: Any, c0: int, width: int, piv: Any, acc: Any
) -> None:
    """``acc[t, j]``: the stake of the voters whose score in column ``c0 + j`` is at or below
    ``piv[t, j]`` (four pivots per column). Four rows per step, so each column's four running
    sums are loaded and stored once per four rows (the loop vectorises across columns)."""
    p0, p1, p2, p3 = piv[0], piv[1], piv[2], piv[3]
    a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
    for j in range(width):
        a0[j] = 0.0
        a1[j] = 0.0
        a2[j] = 0.0
        a3[j] = 0.0
    n = voters.shape[0]
    k = 0
    while k + 4 <= n:
        ra = w[voters[k], c0 : c0 + width]
        rb = w[voters[k + 1], c0 : c0 + width]
        rc = w[voters[k + 2], c0 : c0 + width]
        rd = w[voters[k + 3], c0 : c0 + width]
        ua, ub, uc, ud = u[k], u[k + 1], u[k + 2], u[k + 3]
        for j in range(width):
            xa, xb, xc, xd = ra[j], rb[j], rc[j], rd[j]
            q = p0[j]
            a0[j] += ua * (xa <= q) + ub * (xb <= q) + uc * (xc <= q) + ud * (xd <= q)
            q = p1[j]
            a1[j] += ua * (xa <= q) + ub * (xb <= q) + uc * (xc <= q) + ud * (xd <= q)
            q = p2[j]
            a2[j] += ua * (xa <= q) + ub * (xb <= q) + uc * (xc <= q) + ud * (xd <= q)
            q = p3[j]
            a3[j] += ua * (xa <= q) + ub * (xb <= q) + uc * (xc <= q) + ud * (xd <= q)
        k += 4
    while k < n:
        ra = w[voters[k], c0 : c0 + width]
        ua = u[k]
        for j in range(width):
            xa = ra[j]
            a0[j] += ua * (xa <= p0[j])
            a1[j] += ua * (xa <= p1[j])
            a2[j] += ua * (xa <= p2[j])
            a3[j] += ua * (xa <= p3[j])
        k += 1


@njit(cache=True, nogil=True)
def _copy_inside(
    w: Any,
    voters: Any,
    u: Any,
    c0: int,
    width: int,
    lo: Any,
    hi: Any,
    cnt: Any,
    pool_v: Any,
    pool_s: Any,
    flags: Any,
) -> None:
    """Count each column's scores inside its bracket ``(lo, hi]`` into ``cnt`` and copy the
    first ``CAP`` (with their stakes) to the column's row of the pools, in voter order. A
    bracket holds a few of a column's scores, so each voter row is first tested into a byte
    per column (one vectorised pass; ``flags``: ``width`` rounded up to 8 bytes at least),
    then only the non-zero bytes are visited, 8 at a time through a ``uint64`` view."""
    cap = pool_v.shape[1]
    words = (width + 7) // 8
    for j in range(width, 8 * words):
        flags[j] = 0
    for j in range(width):
        cnt[j] = 0
    flag_words = flags[: 8 * words].view(np.uint64)
    for k in range(voters.shape[0]):
        row = w[voters[k], c0 : c0 + width]
        uk = u[k]
        for j in range(width):
            x = row[j]
            flags[j] = np.uint8(x > lo[j]) & np.uint8(x <= hi[j])
        for q in range(words):
            bits = flag_words[q]
            while bits != 0:
                j = 8 * q + (trailing_zeros(bits) >> 3)  # type: ignore[call-arg]  # numba intrinsic
                c = cnt[j]
                if c < cap:
                    pool_v[j, c] = row[j]
                    pool_s[j, c] = uk
                cnt[j] = c + 1
                bits &= bits - np.uint64(1)


@njit(cache=True, nogil=True)
def _column_inside(
    w: Any, voters: Any, u: Any, j: int, lo: float, hi: float, bv: Any, bs: Any
) -> int:
    # A column whose bracket overflowed the pool: its scores in (lo, hi], in voter order.
    m = 0
    for k in range(voters.shape[0]):
        x = w[voters[k], j]
        if x > lo and x <= hi:
            bv[m] = x
            bs[m] = u[k]
            m += 1
    return m


@njit(cache=True, nogil=True)
def consensus_rows(
    w: Any, voters: Any, u: Any, minority: float, out: Any, c0: int, c1: int, block: int
) -> None:
    """``out[j]`` for ``j`` in ``[c0, c1)``: the weighted median of column ``j`` of ``w`` over
    the rows ``voters`` (``V > FEW``) with stakes ``u``, as
    :func:`~yuma.backends._nb_common.wmedian_sweep` finds it (the smallest score whose stake at
    or below exceeds ``minority``; the largest when none does). ``w``: ``(R, C)`` float64,
    C-contiguous, finite and non-negative without ``-0.0``. ``block``: columns per block (0:
    :data:`BLOCK`; tests set it). Scratch: about 0.6 KiB per column of a block, and the
    sweep's ``4 V`` scores and stakes."""
    nv = voters.shape[0]
    few = FEW_SHORT if nv <= FEW_SHORT_N else FEW
    rounds = _first_rounds(nv, few)
    if block <= 0:
        block = BLOCK
    block = max(1, min(block, c1 - c0))
    cap = min(CAP, nv)  # a column holds at most nv scores
    mn = np.empty(block)
    mx = np.empty(block)
    lo = np.empty(block)
    hi = np.empty(block)
    low = np.empty(block)
    done = np.empty(block, dtype=np.bool_)
    piv = np.empty((4, block))
    acc = np.empty((4, block))
    cnt = np.empty(block, dtype=np.int64)
    pool_v = np.empty((block, cap))
    pool_s = np.empty((block, cap))
    flags = np.empty(8 * ((block + 7) // 8), dtype=np.uint8)
    n_float, n_int = sweep_scratch(nv)
    bv = np.empty(n_float)
    bs = np.empty(n_float)
    ints = np.empty(n_int, dtype=np.int64)
    for b0 in range(c0, c1, block):
        width = min(block, c1 - b0)
        _extremes(w, voters, b0, width, mn, mx)
        for j in range(width):
            v_min = mn[j]
            done[j] = decided_at_once(0.0, minority, v_min, mx[j])
            # a decided column's bracket is empty, (v, v]; its answer is written now
            lo[j] = v_min
            hi[j] = v_min if done[j] else mx[j]
            low[j] = 0.0
            out[b0 + j] = v_min
            piv[0, j], piv[1, j], piv[2, j], piv[3, j] = first_pivots(v_min, mx[j])
        for r in range(rounds):
            _stake_at_or_below_rows(w, voters, u, b0, width, piv, acc)
            for j in range(width):
                if done[j]:
                    continue
                outcome, _, a, b, c = bracket_round(
                    r,
                    (piv[0, j], piv[1, j], piv[2, j], piv[3, j]),
                    (acc[0, j], acc[1, j], acc[2, j], acc[3, j]),
                    0.0,
                    minority,
                    lo[j],
                    hi[j],
                    low[j],
                )
                if outcome != NARROWED:
                    done[j] = True
                    if outcome == LARGEST:
                        out[b0 + j] = b
                    lo[j] = b  # empty: nothing to copy
                    hi[j] = b
                    continue
                lo[j], hi[j], low[j] = a, b, c
                piv[0, j], piv[1, j], piv[2, j], piv[3, j] = inner_pivots(a, b)
        _copy_inside(w, voters, u, b0, width, lo, hi, cnt, pool_v, pool_s, flags)
        for j in range(width):
            if done[j]:
                continue
            m = cnt[j]
            if m <= cap:
                for t in range(m):
                    bv[t] = pool_v[j, t]
                    bs[t] = pool_s[j, t]
            else:
                m = _column_inside(w, voters, u, b0 + j, lo[j], hi[j], bv, bs)
            out[b0 + j] = finish_bracket(bv, bs, m, low[j], minority, few, m, ints)
