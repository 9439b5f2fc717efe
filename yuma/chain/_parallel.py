"""Multi-threaded twins of the exact sparse epoch's hot kernels (:mod:`yuma.chain.ops`).

Each kernel here runs the same per-row (or, for the median, per-column) code as its serial
twin in ``ops`` — the row helpers are shared, not copied — over a few contiguous chunks of
rows or columns, one chunk a thread (``numba.prange``). The results are the serial kernels',
bit for bit:

* rows and columns are independent, so a chunk computes exactly what the serial loop computes
  for its rows;
* variable-length output goes where the serial kernel puts it: the weights count their kept
  entries first (each chunk then starts at the count of the chunks before it); the EMA, whose
  count would cost as much as the EMA itself, is written at an upper bound of each chunk's
  start and the chunks are then moved down into place;
* the column sums (``ranks`` and the EMA's) are wrapping ``int64`` sums (``ops._wadd``): the
  serial kernel's result is the sum modulo 2**64 in any order, so one partial row per chunk,
  added afterwards with the same wrapping add, gives the same bits. No saturating sum is split.

:func:`chunks_for` decides between the two: below :data:`PARALLEL_MIN_ENTRIES` entries, or when
numba may use one thread (``numba.set_num_threads``, :func:`yuma._threads.numba_threads`,
``run_epoch(threads=1)``), the serial kernel runs, unchanged.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)
from yuma.backends._nb_common import PRANGE_ONLY
from yuma.chain import ops
from yuma.chain.fixedpoint import I64Array

__all__ = [
    "PARALLEL_MIN_ENTRIES",
    "chunks_for",
    "clip_ema",
    "dot_u16",
    "epoch_weights",
    "median_sorted",
    "split_evenly",
]

#: Below this many entries the serial kernels run (2**22: a full 2048-uid subnet's weights).
#: Measured on a 2-core VM (best of 7, one and two threads interleaved in one process): the
#: n² worst case (4096 uids, 16.7 M entries) took 0.42 s on two threads against 0.66 s on one
#: with both cores free. While other processes held the cores, a parallel region waited for its
#: slowest thread and two threads were 1.1-1.5x slower from 0.5 M to 16.7 M entries (a 1 M-entry
#: epoch, 256 validators x 4096 uids: 60 ms -> 130 ms). So the chain's usual subnets (<= 256
#: validators: <= 1 M weights at 4096 uids) stay on the serial kernels, and only epochs whose
#: passes take tens of milliseconds get threads; ``threads=1`` keeps any epoch serial.
PARALLEL_MIN_ENTRIES = 1 << 22


def chunks_for(entries: int) -> int:
    """How many chunks a kernel over ``entries`` entries runs in: numba's thread count (what
    ``numba.set_num_threads`` allows this thread) from :data:`PARALLEL_MIN_ENTRIES` on, else 1
    (the serial kernel)."""
    if entries < PARALLEL_MIN_ENTRIES:
        return 1
    return max(1, int(nb.get_num_threads()))


def split_evenly(cum: I64Array, chunks: int) -> I64Array:
    """Bounds ``(chunks + 1,)`` of ``chunks`` contiguous ranges of ``range(cum.size - 1)`` with
    near-equal shares of the cumulative counts ``cum`` (non-decreasing, like an ``indptr``)."""
    items = cum.size - 1
    lo, hi = int(cum[0]), int(cum[-1])
    targets = lo + (hi - lo) * np.arange(chunks + 1, dtype=np.int64) // chunks
    bounds = np.searchsorted(cum, targets, side="left").astype(np.int64)
    bounds[0] = 0
    bounds[-1] = items
    return np.minimum(bounds, items)


# ------------------------------------------------------------------------------------------------
# Weights (ops._epoch_weights_sparse_kernel)


@nb.njit(cache=True, parallel=PRANGE_ONLY)
def _epoch_weights_kernel(
    indptr: Any,
    indices: Any,
    data: Any,
    row_masked: Any,
    owner: int,
    lu: Any,
    reg: Any,
    bounds: Any,
    ptr: Any,
    idx: Any,
    val: Any,
) -> tuple[int, bool]:
    """``ops._epoch_weights_sparse_kernel`` over the row chunks ``bounds``: a count pass, then
    each chunk fills its rows from the entries kept before it."""
    chunks = bounds.size - 1
    starts = np.zeros(chunks + 1, dtype=np.int64)
    for t in nb.prange(chunks):
        kept = 0
        for i in range(bounds[t], bounds[t + 1]):
            kept += ops._weights_row_kept(i, indptr, indices, row_masked, owner, lu, reg)
        starts[t + 1] = kept
    for t in range(chunks):
        starts[t + 1] += starts[t]
    ascending = np.ones(chunks, dtype=np.bool_)
    for t in nb.prange(chunks):
        k = starts[t]
        for i in range(bounds[t], bounds[t + 1]):
            k, row_ascending = ops._weights_row(
                i, indptr, indices, data, row_masked, owner, lu, reg, idx, val, k
            )
            if not row_ascending:
                ascending[t] = False
            ptr[i + 1] = k
    return starts[chunks], bool(ascending.all())


def epoch_weights(
    indptr: I64Array,
    indices: I64Array,
    data: I64Array,
    row_masked: Any,
    owner: int,
    lu: Any,
    reg: Any,
    ptr: I64Array,
    idx: I64Array,
    val: I64Array,
    chunks: int,
) -> tuple[int, bool]:
    """The parallel ``ops._epoch_weights_sparse_kernel`` (same arguments, same writes)."""
    bounds = split_evenly(indptr, chunks)
    k, ascending = _epoch_weights_kernel(
        indptr, indices, data, row_masked, owner, lu, reg, bounds, ptr, idx, val
    )
    return int(k), bool(ascending)


# ------------------------------------------------------------------------------------------------
# Consensus (ops._median_sparse_sorted_kernel)


@nb.njit(cache=True, parallel=PRANGE_ONLY)
def _median_sorted_kernel(
    u: Any,
    slot: Any,
    indptr: Any,
    cols: Any,
    data: Any,
    columns: int,
    minority: int,
    out: Any,
    chunks: int,
) -> None:
    """``ops._median_sparse_sorted_kernel`` over ``chunks`` ranges of columns: each chunk finds
    its first column in every used row (the rows are strictly ascending) and runs the serial
    block loop on its own buffers. A column's median depends on its own cells only."""
    cur, end, wt, used, m = ops._median_sorted_rows(u, slot, indptr)
    first = np.empty((chunks, used), dtype=np.int64)
    for t in nb.prange(chunks):
        c_lo = columns * t // chunks
        c_hi = columns * (t + 1) // chunks
        mine = first[t]
        for s in range(used):
            mine[s] = cur[s] + np.searchsorted(cols[cur[s] : end[s]], c_lo)
        ops._median_sorted_columns(c_lo, c_hi, mine, end, wt, m, cols, data, minority, out)


def median_sorted(
    u: I64Array,
    slot: I64Array,
    indptr: I64Array,
    cols: I64Array,
    data: I64Array,
    columns: int,
    minority: int,
    out: I64Array,
    chunks: int,
) -> None:
    """The parallel ``ops._median_sparse_sorted_kernel`` (same arguments, same writes)."""
    _median_sorted_kernel(u, slot, indptr, cols, data, columns, minority, out, chunks)


# ------------------------------------------------------------------------------------------------
# Clip and bonds EMA (ops._clip_ema_kernel)


@nb.njit(cache=True, parallel=PRANGE_ONLY)
def _clip_ema_kernel(
    w_ptr: Any,
    w_idx: Any,
    w_val: Any,
    th: Any,
    x: Any,
    columns: int,
    b_ptr: Any,
    b_idx: Any,
    b_val: Any,
    scalar: Any,
    reg: Any,
    alpha: int,
    oma: int,
    trust: Any,
    ranks: Any,
    ptr: Any,
    oc: Any,
    ov: Any,
    sums: Any,
    bounds: Any,
    starts: Any,
) -> int:
    """``ops._clip_ema_kernel`` over the row chunks ``bounds``. Chunk ``t`` writes its EMA
    entries from ``starts[t]`` (at least the entries the chunks before it can produce) and its
    column sums into a partial row of its own; then the chunks move down to close the gaps
    (each moves below the end of the one before, so in chunk order nothing is overwritten
    unread) and the partial sums are added, wrapping, into ``ranks`` and ``sums``."""
    chunks = bounds.size - 1
    ranks_part = np.zeros((chunks, ranks.size), dtype=np.int64)
    sums_part = np.zeros((chunks, sums.size), dtype=np.int64)
    ends = np.zeros(chunks, dtype=np.int64)
    for t in nb.prange(chunks):
        q = starts[t]
        part_ranks = ranks_part[t]
        part_sums = sums_part[t]
        for i in range(bounds[t], bounds[t + 1]):
            q, total = ops._clip_ema_row(
                i, q, w_ptr, w_idx, w_val, th, x, columns, b_ptr, b_idx, b_val, scalar, reg,
                alpha, oma, part_ranks, oc, ov, part_sums,
            )  # fmt: skip
            trust[i] = total
            ptr[i + 1] = q
        ends[t] = q
    k = 0
    for t in range(chunks):
        src = starts[t]
        count = ends[t] - src
        if src != k:
            for e in range(count):
                oc[k + e] = oc[src + e]
                ov[k + e] = ov[src + e]
            for i in range(bounds[t], bounds[t + 1]):
                ptr[i + 1] -= src - k
        k += count
    for t in range(chunks):
        for j in range(ranks.size):
            ranks[j] = ops._wadd(ranks[j], ranks_part[t, j])
        for j in range(sums.size):
            sums[j] = ops._wadd(sums[j], sums_part[t, j])
    return k


def clip_ema_bounds(
    w_ptr: I64Array, b_ptr: I64Array, n: int, chunks: int
) -> tuple[I64Array, I64Array, int]:
    """Row chunks of ``clip_ema`` and where each starts writing: row ``i`` of the EMA has at
    most ``min(|w_i| + |b_i|, n)`` entries (the union of two strictly ascending rows, columns
    below ``n``). Returns ``(bounds, starts, capacity)``."""
    lw = np.diff(w_ptr[: n + 1])
    b_rows = min(n, b_ptr.size - 1)
    lb = np.zeros(n, dtype=np.int64)
    lb[:b_rows] = np.diff(b_ptr[: b_rows + 1])
    cap = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.minimum(lw + lb, n), out=cap[1:])
    bounds = split_evenly(cap, chunks)
    return bounds, cap[bounds[:-1]], int(cap[-1])


def clip_ema(*args: Any, bounds: I64Array, starts: I64Array) -> int:
    """The parallel ``ops._clip_ema_kernel`` (same arguments, same writes; ``oc`` / ``ov`` of
    the capacity :func:`clip_ema_bounds` returns)."""
    return int(_clip_ema_kernel(*(*args, bounds, starts)))


# ------------------------------------------------------------------------------------------------
# Dividend terms and u16 bonds (ops._dot_u16_kernel)


@nb.njit(cache=True, parallel=PRANGE_ONLY)
def _dot_u16_kernel(
    indptr: Any, indices: Any, data: Any, sums: Any, x: Any, tb: Any, u16: Any, bounds: Any
) -> None:
    """``ops._dot_u16_kernel`` over the row chunks ``bounds``."""
    inv = ops._column_recips(sums)
    for t in nb.prange(bounds.size - 1):
        for i in range(bounds[t], bounds[t + 1]):
            tb[i] = ops._dot_u16_row(i, indptr, indices, data, sums, inv, x, u16)


def dot_u16(
    indptr: I64Array,
    indices: I64Array,
    data: I64Array,
    sums: I64Array,
    x: I64Array,
    tb: I64Array,
    u16: I64Array,
    chunks: int,
) -> None:
    """The parallel ``ops._dot_u16_kernel`` (same arguments, same writes)."""
    _dot_u16_kernel(indptr, indices, data, sums, x, tb, u16, split_evenly(indptr, chunks))
