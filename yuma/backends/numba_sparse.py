"""The chain's sparse epoch (``epoch_mechanism``) as numba kernels on CSR, never densified.

Same semantics as :func:`yuma.epoch._sparse_epoch` (the numpy reference): stored entries,
explicit zeros included, are present and absent entries are absent; clipping to a zero consensus
removes an entry; with Yuma3 and liquid alpha a bond with no weight entry is dropped; rows
without a new permit store no bonds.

Memory. Beyond its outputs (the masked weights, the clipped weights and the bonds, each a CSR
matrix) the epoch keeps O(R + C) vectors and one temporary copy of the voters' entries:

* CSR outputs are built in two passes (count per row, then fill), so nothing is over-allocated.
* The consensus needs columns: one streaming pass copies the voters' entries (value, column
  offset, row) into a few hundred column buckets of about :data:`BUCKET_ENTRIES` entries each,
  and each bucket, small enough to stay in cache, is sorted by column and its columns' weighted
  medians selected. That copy (14 bytes per voter entry) is the only O(nnz) temporary, and it
  is freed before the clipped weights are built. No CSC copy of the matrix is made.
* The weights used for bonds (bonds penalty), the masked previous bonds and the EMA are never
  stored: each is recomputed from the weights, the consensus and the previous bonds when a pass
  needs it. One pass counts the EMA's entries and sums its columns, the next computes dividends
  and writes the stored rows.
* Passes over the masked weights: the mask (count, fill) and the consensus buckets (count,
  copy), then the clip and the EMA. The original Yuma's EMA needs the column sums of the
  stake-weighted weights for bonds, so it clips first, in passes of its own (count; fill with
  validator trust, ranks and those sums), then runs the EMA's two. Yuma3's EMA needs only the
  consensus, so its two passes clip the weights on their way: the count pass also counts the
  clipped weights and sums validator trust and ranks, and the fill pass, once the incentive is
  known, writes the clipped weights next to the bonds (two reads of the weights instead of four).

Every pass over rows runs in parallel over row chunks (``prange``), with one partial row per
chunk for column sums; the medians run in parallel over buckets. Large arrays are allocated with
numpy between a counting and a filling kernel: numpy asks the OS for huge pages, and first-touch
page faults on fresh memory otherwise cost more than the kernels' own work.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import njit, prange

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)
from yuma._sparse import as_csr, csr_from_parts
from yuma.backends._nb_common import (
    MEDIAN_METHOD,
    PRANGE_ONLY,
    SAFE_SUM,
    SHRINK,
    alpha_sigmoid,
    chunk_bounds,
    emission_into,
    normalize_vec,
    stake_prelude,
    sweep_scratch,
    wmedian,
    wmedian_sweep,
)
from yuma.inputs import EpochInputs
from yuma.params import YumaParams
from yuma.result import EpochResult

__all__ = ["epoch_sparse"]

_EMPTY_F = np.empty(0)

#: Target number of voter entries per column bucket of the consensus (cache-resident).
BUCKET_ENTRIES = 1 << 17


# --------------------------------------------------------------------------------------------
# Masks and row normalisation
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _normalize_range(x: Any, lo: int, hi: int, total: float, peak: float) -> None:
    """Divide ``x[lo:hi]`` by its sum ``total`` when positive; entries that could sum past the
    float64 range are first scaled by their maximum ``peak`` (as the reference's
    ``row_normalize``). The caller takes ``total`` and ``peak`` while it writes the entries."""
    n = hi - lo
    if n == 0:
        return
    if peak > SAFE_SUM / n:
        total = 0.0
        for k in range(lo, hi):
            x[k] = (x[k] * SHRINK) / (peak * SHRINK)
            total += x[k]
    if total > 0.0:
        for k in range(lo, hi):
            x[k] = x[k] / total


@njit(cache=True, nogil=True)
def _first_at_least(indices: Any, lo: int, hi: int, j: int) -> int:
    """First position in the sorted ``indices[lo:hi]`` whose column is >= ``j``."""
    while lo < hi:
        mid = (lo + hi) // 2
        if indices[mid] < j:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def _keep_weight(
    i: int,
    j: int,
    square: bool,
    owner: int,
    out_mode: int,
    out_dense: Any,
    out_indices: Any,
    out_indptr: Any,
    out_cursor: int,
) -> tuple[bool, int]:
    """Whether entry (i, j) survives the self-weight and outdated masks; advances the cursor.

    ``out_mode``: 0 no outdated mask, 1 a dense bool mask, 2 a CSR mask (its stored non-zero
    entries are True) merged along the row with ``out_cursor``.
    """
    if square and i == j and i != owner:
        return False, out_cursor
    if out_mode == 1:
        return not out_dense[i, j], out_cursor
    if out_mode == 2:
        end = out_indptr[i + 1]
        while out_cursor < end and out_indices[out_cursor] < j:
            out_cursor += 1
        if out_cursor < end and out_indices[out_cursor] == j:
            return False, out_cursor
    return True, out_cursor


@njit(cache=True, nogil=True)
def _mask_rows(
    data: Any,
    indices: Any,
    indptr: Any,
    permit: Any,
    square: bool,
    owner: int,
    out_mode: int,
    out_dense: Any,
    out_indices: Any,
    out_indptr: Any,
    fill: bool,
    counts: Any,
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    r0: int,
    r1: int,
) -> None:
    """Masks (4.6 a–c) and row normalisation (4.6 e) of rows ``[r0, r1)``.

    First call (``fill=False``) counts the kept entries per row into ``counts``; the second writes
    them at ``w_indptr`` and divides each row by its sum (explicit zeros stay).
    """
    for i in range(r0, r1):
        if not permit[i]:
            if not fill:
                counts[i] = 0
            continue
        start = indptr[i]
        end = indptr[i + 1]
        pos = w_indptr[i] if fill else 0
        if out_mode == 0:
            # Fast path (no outdated mask): at most the diagonal entry goes, found by bisection.
            drop = -1
            if square and i != owner:
                p = _first_at_least(indices, start, end, i)
                if p < end and indices[p] == i:
                    drop = p
            if not fill:
                counts[i] = end - start - (1 if drop >= 0 else 0)
                continue
            total = 0.0
            peak = 0.0
            q = pos
            for k in range(start, end):
                if k != drop:
                    w_data[q] = data[k] + 0.0  # -0.0 becomes 0.0 (no sign into the median)
                    w_indices[q] = indices[k]
                    total += data[k]
                    peak = max(peak, data[k])
                    q += 1
            _normalize_range(w_data, pos, q, total, peak)
            continue
        cursor = out_indptr[i] if out_mode == 2 else 0
        total = 0.0
        peak = 0.0
        kept = 0
        for k in range(start, end):
            j = indices[k]
            keep, cursor = _keep_weight(
                i, j, square, owner, out_mode, out_dense, out_indices, out_indptr, cursor
            )
            if keep:
                if fill:
                    w_data[pos + kept] = data[k] + 0.0  # as above
                    w_indices[pos + kept] = j
                    total += data[k]
                    peak = max(peak, data[k])
                kept += 1
        if not fill:
            counts[i] = kept
        else:
            _normalize_range(w_data, pos, pos + kept, total, peak)


@njit(cache=True, parallel=PRANGE_ONLY)
def _mask_par(
    data: Any,
    indices: Any,
    indptr: Any,
    permit: Any,
    square: bool,
    owner: int,
    out_mode: int,
    out_dense: Any,
    out_indices: Any,
    out_indptr: Any,
    fill: bool,
    counts: Any,
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    chunks: int,
) -> None:
    """:func:`_mask_rows` over row chunks in parallel (count, or fill)."""
    n_rows = indptr.shape[0] - 1
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        _mask_rows(
            data, indices, indptr, permit, square, owner, out_mode, out_dense, out_indices,
            out_indptr, fill, counts, w_data, w_indices, w_indptr, r0, r1,
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Consensus: column blocks gathered from the voters' rows
# --------------------------------------------------------------------------------------------


@njit(cache=True, parallel=PRANGE_ONLY)
def _bucket_count_par(
    w_indices: Any, w_indptr: Any, u_row: Any, shift: int, n_buckets: int, chunks: int
) -> Any:
    """Entries of voter rows per (row chunk, column bucket): ``(chunks, n_buckets)``."""
    n_rows = w_indptr.shape[0] - 1
    counts = np.zeros((chunks, n_buckets), dtype=np.int64)
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        for i in range(r0, r1):
            if u_row[i] > 0.0:
                for k in range(w_indptr[i], w_indptr[i + 1]):
                    counts[t, w_indices[k] >> shift] += 1
    return counts


@njit(cache=True, parallel=PRANGE_ONLY)
def _bucket_scatter_par(
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    u_row: Any,
    shift: int,
    offsets: Any,
    vals: Any,
    cols: Any,
    rows: Any,
    chunks: int,
) -> None:
    """Copy the voters' entries bucket by bucket (``offsets``: ``(chunks, n_buckets)`` starts).

    One streaming pass: each chunk appends to one write position per bucket, so the writes are
    a few hundred sequential streams instead of a scatter over the whole matrix.
    """
    n_rows = w_indptr.shape[0] - 1
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        pos = offsets[t].copy()
        for i in range(r0, r1):
            if u_row[i] > 0.0:
                for k in range(w_indptr[i], w_indptr[i + 1]):
                    b = w_indices[k] >> shift
                    q = pos[b]
                    vals[q] = w_data[k]
                    # The column's offset in its bucket (< 2**16): 2 bytes instead of 4 or 8.
                    cols[q] = w_indices[k] - (b << shift)
                    rows[q] = i
                    pos[b] = q + 1


@njit(cache=True, parallel=PRANGE_ONLY)
def _bucket_medians_par(
    vals: Any,
    cols: Any,
    rows: Any,
    starts: Any,
    u_row: Any,
    total: float,
    minority: float,
    shift: int,
    out: Any,
    method: int,
) -> None:
    """Consensus of every column, one column bucket at a time (spec §4.7 on sparse input).

    Inside a bucket (a few tens of thousands of entries, cache-resident) the entries are sorted
    by column with a counting sort; each column's median then runs over its voters' entries plus
    one score-0 element carrying the stake of the voters without an entry there.
    """
    n_cols = out.shape[0]
    width = 1 << shift
    n_buckets = starts.shape[0] - 1
    for b in prange(n_buckets):
        lo = starts[b]
        hi = starts[b + 1]
        c0 = b << shift
        nc = min(width, n_cols - c0)
        counts = np.zeros(nc + 1, dtype=np.int64)
        for q in range(lo, hi):
            counts[cols[q] + 1] += 1
        for t in range(nc):
            counts[t + 1] += counts[t]
        n = hi - lo
        bv = np.empty(n + nc)
        bs = np.empty(n + nc)
        fill = counts[:nc].copy()
        for q in range(lo, hi):
            col = int(cols[q])
            # + col leaves one free slot per column for the absent mass.
            dst = fill[col] + col
            bv[dst] = vals[q]
            bs[dst] = u_row[rows[q]]
            fill[col] += 1
        longest = 0
        for c in range(nc):
            longest = max(longest, counts[c + 1] - counts[c] + 1)
        n_float, n_int = sweep_scratch(longest)
        scratch_v = np.empty(n_float)
        scratch_s = np.empty(n_float)
        scratch_i = np.empty(n_int, dtype=np.int64)
        for c in range(nc):
            start = counts[c] + c
            stop = counts[c + 1] + c
            present = 0.0
            for q in range(start, stop):
                present += bs[q]
            bv[stop] = 0.0
            bs[stop] = total - present
            m = stop + 1 - start
            if method == 0:
                out[c0 + c] = wmedian_sweep(
                    bv[start : stop + 1], bs[start : stop + 1], m, minority,
                    scratch_v, scratch_s, scratch_i,
                )  # fmt: skip
            else:
                out[c0 + c] = wmedian(bv[start : stop + 1], bs[start : stop + 1], m, minority, 1)


def _consensus(
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    u_row: Any,
    total: float,
    minority: float,
    n_cols: int,
    chunks: int,
) -> Any:
    """Consensus of a CSR matrix: bucket the voters' entries by column range, then select.

    Temporary memory: one copy of the voters' entries (value, column, row), freed on return.
    """
    n_voter_entries = int(np.diff(w_indptr)[u_row > 0].sum())
    target = max(1, n_voter_entries // BUCKET_ENTRIES)
    width = min(max(1, n_cols // target), 1 << 16)
    shift = max(0, int(width).bit_length() - 1)
    n_buckets = max(1, (n_cols + (1 << shift) - 1) >> shift)
    counts = _bucket_count_par(w_indices, w_indptr, u_row, shift, n_buckets, chunks)
    # Bucket-major offsets: bucket b's entries from chunk 0, then chunk 1, ... (row order).
    flat = counts.T.ravel()
    offsets = np.zeros(flat.size, dtype=np.int64)
    np.cumsum(flat[:-1], out=offsets[1:])
    starts = np.append(offsets.reshape(n_buckets, chunks)[:, 0], n_voter_entries)
    vals = np.empty(n_voter_entries)
    cols = np.empty(n_voter_entries, dtype=np.uint16)
    rows = np.empty(n_voter_entries, dtype=np.int32 if u_row.size < 2**31 else np.int64)
    _bucket_scatter_par(
        w_data, w_indices, w_indptr, u_row, shift,
        np.ascontiguousarray(offsets.reshape(n_buckets, chunks).T), vals, cols, rows, chunks,
    )  # fmt: skip
    consensus = np.zeros(n_cols)
    _bucket_medians_par(
        vals, cols, rows, starts, u_row, total, minority, shift, consensus, MEDIAN_METHOD
    )
    return consensus


# --------------------------------------------------------------------------------------------
# Clipping, validator trust, ranks (and the original Yuma's column sums)
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _bond_weight(x: float, c: float, beta: float) -> tuple[float, float, bool, bool]:
    """Clipped weight, weight for bonds, and their presence for one stored weight ``x``.

    Returns ``(clipped, wb, clipped_present, wb_present)`` (4.8 and 4.10): an entry above a zero
    consensus is removed by the clip; β = 0 and β = 1 copy the weights or the clipped weights
    with their entries, any other β keeps only positive interpolated values.
    """
    removed = c < x and c <= 0.0
    cl = 0.0 if removed else (c if c < x else x)
    if beta == 0.0:
        return cl, x, not removed, True
    if beta == 1.0:
        return cl, cl, not removed, not removed
    v = x + (cl - x) * beta
    return cl, v, not removed, v > 0.0


@njit(cache=True, nogil=True)
def _clip_rows(
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    consensus: Any,
    active_stake: Any,
    beta: float,
    fill: bool,
    counts: Any,
    c_data: Any,
    c_indices: Any,
    c_indptr: Any,
    vtrust: Any,
    ranks_part: Any,
    delta_part: Any,
    r0: int,
    r1: int,
) -> None:
    """Clip rows ``[r0, r1)``: count (``fill=False``), or write them with trust and rank partials.

    The fill pass also accumulates ``Σ_i a_i·WB_ij`` into ``delta_part`` (the original Yuma's
    column sums of the stake-weighted weights for bonds; unused by Yuma3).
    """
    # Yuma3 needs no column sums of the stake-weighted weights (an empty ``delta_part``).
    with_delta = delta_part.shape[0] > 0
    for i in range(r0, r1):
        a = active_stake[i]
        pos = c_indptr[i] if fill else 0
        kept = 0
        vt = 0.0
        for k in range(w_indptr[i], w_indptr[i + 1]):
            j = w_indices[k]
            cl, wb, keep, _ = _bond_weight(w_data[k], consensus[j], beta)
            if fill and with_delta:
                delta_part[j] += wb * a
            if keep:
                if fill:
                    c_data[pos + kept] = cl
                    c_indices[pos + kept] = j
                    vt += cl
                    ranks_part[j] += a * cl
                kept += 1
        if fill:
            vtrust[i] = vt
        else:
            counts[i] = kept


@njit(cache=True, parallel=PRANGE_ONLY)
def _clip_par(
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    consensus: Any,
    active_stake: Any,
    beta: float,
    fill: bool,
    counts: Any,
    c_data: Any,
    c_indices: Any,
    c_indptr: Any,
    vtrust: Any,
    ranks_part: Any,
    delta_part: Any,
    chunks: int,
) -> None:
    """:func:`_clip_rows` over row chunks in parallel (count, or fill with partial sums)."""
    n_rows = w_indptr.shape[0] - 1
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        _clip_rows(
            w_data, w_indices, w_indptr, consensus, active_stake, beta, fill, counts, c_data,
            c_indices, c_indptr, vtrust, ranks_part[t], delta_part[t], r0, r1,
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Bonds: EMA (counted, then recomputed and written), dividends
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _bond_row(
    i: int,
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    b_data: Any,
    b_indices: Any,
    b_indptr: Any,
    consensus: Any,
    recent: Any,
    a: float,
    ema: tuple[float, float, bool, bool, float, float, float],
    delta_sum: Any,
    prev_sum: Any,
    col_sum: Any,
    col_max: Any,
    incentive: Any,
    phase: int,
    sum_part: Any,
    max_part: Any,
    out_data: Any,
    out_indices: Any,
    pos: int,
    clip: bool,
    ranks_part: Any,
    c_data: Any,
    c_indices: Any,
    c_pos: int,
) -> tuple[int, float, int, float]:
    """The EMA of row ``i``, merged column by column from the weights and the previous bonds.

    phase 1: count the stored entries (EMA > 0) and accumulate column sums (and maxima for the
    original Yuma) into ``sum_part`` / ``max_part``. phase 2: write the entries at ``pos`` (when
    ``out_data`` is not empty: rows with a new permit) in the stored form, and return the raw
    dividend ``Σ_j EMAn_ij · I_j`` (for Yuma3 the caller passes ``I_j / colsum_j`` as
    ``incentive``).

    With ``clip`` (Yuma3) the row is also clipped, as :func:`_clip_rows` does it: phase 1 adds
    ``a·clipped`` into ``ranks_part`` and sums the row's clipped weights (its validator trust),
    phase 2 writes the clipped weights at ``c_pos``. Returns ``(entries, raw dividend, clipped
    entries, validator trust)``.

    Inlined where it is called, with literal ``phase`` and ``clip``, so that each copy keeps
    only its own branches. ``ema`` is ``(beta, rate, yuma3, liquid, lo, hi, steep)`` as one
    argument: Python compiles a call of more than 30 arguments as ``f(*args)``, which numba
    does not inline.

    Yuma3, fixed α: ``α·WB + (1 − α)·B`` over the union of entries. Yuma3, liquid α: only the
    entries of WB, ``min(1, (1 − α_ij)·B + max(0, α_ij·WB))``. Original Yuma:
    ``α·colnorm(a·WB) + (1 − α)·colnorm(B)`` over the union, then column-normalised, and stored
    column-max-upscaled. B is the previous bonds without the recently registered columns.
    """
    beta, rate, yuma3, liquid, lo, hi, steep = ema
    write = out_data.shape[0] > 0
    kw = w_indptr[i]
    kw_end = w_indptr[i + 1]
    kb = b_indptr[i]
    kb_end = b_indptr[i + 1]
    count = 0
    acc = 0.0
    kept = 0
    vt = 0.0
    while kw < kw_end or kb < kb_end:
        jw = w_indices[kw] if kw < kw_end else -1
        jb = b_indices[kb] if kb < kb_end else -1
        # Skip bonds of recently registered columns: they are discarded before the EMA.
        if jb >= 0 and recent[jb]:
            kb += 1
            continue
        if jw >= 0 and (jb < 0 or jw <= jb):
            j = jw
            cl, wb, keep, wb_present = _bond_weight(w_data[kw], consensus[j], beta)
            kw += 1
            has_w = True
            if clip and keep:
                if phase == 1:
                    vt += cl
                    ranks_part[j] += a * cl
                else:
                    c_data[c_pos + kept] = cl
                    c_indices[c_pos + kept] = j
                kept += 1
        else:
            j = jb
            wb = 0.0
            wb_present = False
            has_w = False
        prev = 0.0
        if jb == j:
            prev = b_data[kb]
            kb += 1
        if yuma3:
            if liquid:
                if not (has_w and wb_present):
                    continue
                al = alpha_sigmoid(consensus[j], wb, prev, lo, hi, steep)
                e = min(1.0, (1.0 - al) * prev + max(0.0, al * wb))
            elif has_w and jb == j:
                e = wb * rate + prev * (1.0 - rate)
            elif has_w:
                e = wb * rate
            else:
                e = prev * (1.0 - rate)
        else:
            d = wb * a if has_w else 0.0
            if delta_sum[j] != 0.0:
                d = d / delta_sum[j]
            pn = prev / prev_sum[j] if prev_sum[j] != 0.0 else prev
            if has_w and jb == j:
                e = d * rate + pn * (1.0 - rate)
            elif has_w:
                e = d * rate
            else:
                e = pn * (1.0 - rate)
        if not e > 0.0:
            continue
        if phase == 1:
            sum_part[j] += e
            if not yuma3 and e > max_part[j]:
                max_part[j] = e
        elif yuma3:
            # ``incentive`` holds I_j / colsum_j here (one lookup per entry, no division).
            acc += e * incentive[j]
            if write:
                out_data[pos + count] = e
                out_indices[pos + count] = j
        else:
            s = col_sum[j]
            en = e / s if s != 0.0 else e
            acc += en * incentive[j]
            if write:
                mx = col_max[j] / s if s != 0.0 else col_max[j]
                out_data[pos + count] = en / mx if mx != 0.0 else en
                out_indices[pos + count] = j
        count += 1
    return count, acc, kept, vt


@njit(cache=True, nogil=True)
def _bond_count_rows(
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    b_data: Any,
    b_indices: Any,
    b_indptr: Any,
    consensus: Any,
    recent: Any,
    active_stake: Any,
    new_permit: Any,
    ema: Any,
    delta_sum: Any,
    prev_sum: Any,
    counts: Any,
    clip: bool,
    clip_counts: Any,
    vtrust: Any,
    sum_part: Any,
    max_part: Any,
    ranks_part: Any,
    r0: int,
    r1: int,
) -> None:
    """Phase 1 of :func:`_bond_row` over rows ``[r0, r1)``, into one chunk's partial rows."""
    empty_d = np.empty(0)
    empty_i = np.empty(0, dtype=w_indices.dtype)
    for i in range(r0, r1):
        a = active_stake[i]
        # Literal ``clip`` (see ``_bond_row``): passed at run time, the flag's branches cost
        # the original Yuma's epoch 8 % more instructions, though it never clips here.
        if clip:
            n, _, kept, vt = _bond_row(
                i, w_data, w_indices, w_indptr, b_data, b_indices, b_indptr, consensus, recent,
                a, ema, delta_sum, prev_sum, prev_sum, prev_sum, prev_sum, 1, sum_part, max_part,
                empty_d, empty_i, 0, True, ranks_part, empty_d, empty_i, 0,
            )  # fmt: skip
            clip_counts[i] = kept
            vtrust[i] = vt
        else:
            n, _, _, _ = _bond_row(
                i, w_data, w_indices, w_indptr, b_data, b_indices, b_indptr, consensus, recent,
                a, ema, delta_sum, prev_sum, prev_sum, prev_sum, prev_sum, 1, sum_part, max_part,
                empty_d, empty_i, 0, False, ranks_part, empty_d, empty_i, 0,
            )  # fmt: skip
        counts[i] = n if new_permit[i] else 0


@njit(cache=True, parallel=PRANGE_ONLY)
def _bonds_count_par(
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    b_data: Any,
    b_indices: Any,
    b_indptr: Any,
    consensus: Any,
    recent: Any,
    active_stake: Any,
    new_permit: Any,
    ema: Any,
    delta_sum: Any,
    counts: Any,
    clip: bool,
    clip_counts: Any,
    vtrust: Any,
    ranks_part: Any,
    chunks: int,
) -> tuple[Any, Any, Any]:
    """First EMA pass: stored entries per row (0 without a new permit), column sums, maxima.

    With ``clip`` (Yuma3, whose EMA needs only the consensus) it is also the clip's first pass:
    the clipped weights per row into ``clip_counts``, validator trust and ranks' partial rows
    (untouched without ``clip``). Returns ``(col_sum, col_max, prev_sum)``; ``prev_sum`` is the
    original Yuma's column sums of the masked previous bonds (zeros for Yuma3).
    """
    n_rows = w_indptr.shape[0] - 1
    n_cols = consensus.shape[0]
    prev_part = np.zeros((chunks, n_cols))
    if not ema[2]:  # the original Yuma
        for t in prange(chunks):
            r0, r1 = chunk_bounds(n_rows, chunks, t)
            for k in range(b_indptr[r0], b_indptr[r1]):
                j = b_indices[k]
                if not recent[j]:
                    prev_part[t, j] += b_data[k]
    prev_sum = prev_part.sum(axis=0)
    sum_part = np.zeros((chunks, n_cols))
    max_part = np.zeros((chunks, n_cols))
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        _bond_count_rows(
            w_data, w_indices, w_indptr, b_data, b_indices, b_indptr, consensus, recent,
            active_stake, new_permit, ema, delta_sum,
            prev_sum, counts, clip, clip_counts, vtrust, sum_part[t], max_part[t], ranks_part[t],
            r0, r1,
        )  # fmt: skip
    col_max = np.zeros(n_cols)
    for t in range(chunks):
        for j in range(n_cols):
            if max_part[t, j] > col_max[j]:
                col_max[j] = max_part[t, j]
    return sum_part.sum(axis=0), col_max, prev_sum


@njit(cache=True, nogil=True)
def _bond_fill_rows(
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    b_data: Any,
    b_indices: Any,
    b_indptr: Any,
    consensus: Any,
    recent: Any,
    active_stake: Any,
    new_permit: Any,
    ema: Any,
    delta_sum: Any,
    prev_sum: Any,
    col_sum: Any,
    col_max: Any,
    incentive: Any,
    out_data: Any,
    out_indices: Any,
    out_indptr: Any,
    clip: bool,
    c_data: Any,
    c_indices: Any,
    c_indptr: Any,
    raw: Any,
    r0: int,
    r1: int,
) -> None:
    """Phase 2 of :func:`_bond_row` over rows ``[r0, r1)``: raw dividends into ``raw``."""
    empty_d = np.empty(0)
    yuma3 = ema[2]
    for i in range(r0, r1):
        a = active_stake[i]
        # Yuma3 dividends are weighted by active stake: rows without any get none, and are
        # skipped unless they have clipped weights to write.
        paid = not (yuma3 and a == 0.0 and not new_permit[i])
        if not paid and not (clip and c_indptr[i + 1] > c_indptr[i]):
            continue
        target = out_data if new_permit[i] else empty_d
        # Literal ``clip`` and ``phase``, as in :func:`_bond_count_rows`.
        if clip:
            _, d, _, _ = _bond_row(
                i, w_data, w_indices, w_indptr, b_data, b_indices, b_indptr, consensus, recent,
                a, ema, delta_sum, prev_sum, col_sum, col_max, incentive, 2, col_sum, col_max,
                target, out_indices, out_indptr[i], True, empty_d, c_data, c_indices, c_indptr[i],
            )  # fmt: skip
        else:
            _, d, _, _ = _bond_row(
                i, w_data, w_indices, w_indptr, b_data, b_indices, b_indptr, consensus, recent,
                a, ema, delta_sum, prev_sum, col_sum, col_max, incentive, 2, col_sum, col_max,
                target, out_indices, out_indptr[i], False, empty_d, c_data, c_indices, 0,
            )  # fmt: skip
        if paid:
            raw[i] = d * a if yuma3 else d


@njit(cache=True, parallel=PRANGE_ONLY)
def _bonds_fill_par(
    w_data: Any,
    w_indices: Any,
    w_indptr: Any,
    b_data: Any,
    b_indices: Any,
    b_indptr: Any,
    consensus: Any,
    recent: Any,
    active_stake: Any,
    new_permit: Any,
    ema: Any,
    delta_sum: Any,
    prev_sum: Any,
    col_sum: Any,
    col_max: Any,
    incentive: Any,
    out_data: Any,
    out_indices: Any,
    out_indptr: Any,
    clip: bool,
    c_data: Any,
    c_indices: Any,
    c_indptr: Any,
    chunks: int,
) -> Any:
    """Second EMA pass: raw dividends, and the stored bonds of rows with a new permit.

    With ``clip`` (Yuma3) it also writes the clipped weights at ``c_indptr``.
    """
    n_rows = w_indptr.shape[0] - 1
    raw = np.zeros(n_rows)
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        _bond_fill_rows(
            w_data, w_indices, w_indptr, b_data, b_indices, b_indptr, consensus, recent,
            active_stake, new_permit, ema, delta_sum,
            prev_sum, col_sum, col_max, incentive, out_data, out_indices, out_indptr, clip,
            c_data, c_indices, c_indptr, raw, r0, r1,
        )  # fmt: skip
    return raw


# --------------------------------------------------------------------------------------------
# Python entry point
# --------------------------------------------------------------------------------------------


def _outdated_arrays(inputs: EpochInputs) -> tuple[int, Any, Any, Any]:
    """The outdated mask as the kernels take it: (mode, dense, CSR indices, CSR indptr)."""
    none_d = np.zeros((0, 0), dtype=np.bool_)
    none_i = np.zeros(0, dtype=np.int64)
    mask = inputs.outdated
    if mask is None:
        return 0, none_d, none_i, np.zeros(1, dtype=np.int64)
    if hasattr(mask, "toarray"):
        csr = as_csr(mask)
        # Only stored non-zero cells are True (reference: ``mask_matrix_sparse``).
        csr.eliminate_zeros()
        return 2, none_d, csr.indices.astype(np.int64), csr.indptr.astype(np.int64)
    return 1, np.ascontiguousarray(mask, dtype=np.bool_), none_i, np.zeros(1, dtype=np.int64)


#: Below this many stored weights the sparse epoch runs on one thread: a parallel region costs
#: milliseconds when another process holds a core (it waits for its slowest thread).
PARALLEL_MIN_ENTRIES = 1 << 18


def epoch_sparse(inputs: EpochInputs, params: YumaParams) -> EpochResult:
    """The sparse epoch on validated inputs (canonical CSR), numba-compiled."""
    nnz = int(inputs.weights.nnz)  # type: ignore[union-attr]
    if nnz >= PARALLEL_MIN_ENTRIES or numba.get_num_threads() == 1:
        return _epoch_sparse(inputs, params)
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return _epoch_sparse(inputs, params)
    finally:
        numba.set_num_threads(previous)


def _epoch_sparse(inputs: EpochInputs, params: YumaParams) -> EpochResult:
    W: Any = inputs.weights
    B: Any = inputs.bonds
    n_rows, n_cols = inputs.shape
    chunks = max(1, min(numba.get_num_threads(), n_rows))
    owner = -1 if inputs.owner_uid is None else int(inputs.owner_uid)
    stake = np.empty(n_rows)
    active_stake = np.empty(n_rows)
    permit = np.empty(n_rows, dtype=np.bool_)
    # none given: the default, this stake's new permits (the kernel computes them)
    given = inputs.given_permit
    stake_prelude(
        inputs.stake, inputs.active, permit[:0] if given is None else given,
        params.max_allowed_validators, owner, stake, active_stake, permit,
    )  # fmt: skip
    old_permit = permit if given is None else given
    mode, out_dense, out_indices, out_indptr = _outdated_arrays(inputs)
    # Every large array is allocated here with numpy (huge pages where the OS offers them: page
    # faults on fresh memory cost more than the kernels' work) and filled by the kernels.
    counts = np.zeros(n_rows, dtype=np.int64)
    w_indptr: Any = np.zeros(n_rows + 1, dtype=W.indptr.dtype)
    mask_args = (W.data, W.indices, W.indptr, old_permit, inputs.square, owner, mode,
                 out_dense, out_indices, out_indptr)  # fmt: skip
    _mask_par(*mask_args, False, counts, _EMPTY_F, W.indices[:0], w_indptr, chunks)
    np.cumsum(counts, out=w_indptr[1:])
    w_data = np.empty(int(w_indptr[-1]))
    w_indices: Any = np.empty(int(w_indptr[-1]), dtype=W.indices.dtype)
    _mask_par(*mask_args, True, counts, w_data, w_indices, w_indptr, chunks)

    # Voters and the median's minority, exactly as the reference's ``_majority_stake``.
    u_row = np.where(active_stake > 0, active_stake, 0.0)
    total = u_row.sum()
    if total > 0:
        u_row = u_row / total
    u_total = float(u_row.sum())
    if u_total != 0 and n_cols > 0:
        consensus = _consensus(
            w_data, w_indices, w_indptr, u_row, u_total, u_total - params.kappa, n_cols, chunks
        )
    else:
        consensus = np.zeros(n_cols)

    liquid = bool(params.yuma3 and params.liquid_alpha and np.any(consensus != 0))
    delta_sum = np.zeros(n_cols)
    # The EMA's settings as one argument, as :func:`_bond_row` takes them.
    ema = (
        float(params.bonds_penalty), float(params.bonds_ema_rate), bool(params.yuma3), liquid,
        float(params.alpha_low), float(params.alpha_high), float(params.alpha_sigmoid_steepness),
    )  # fmt: skip
    bond_args = (
        w_data, w_indices, w_indptr, B.data, B.indices, B.indptr, consensus,
        inputs.recently_registered, active_stake, permit, ema, delta_sum,
    )  # fmt: skip
    c_indptr: Any = np.zeros(n_rows + 1, dtype=w_indptr.dtype)
    vtrust = np.zeros(n_rows)
    ranks_part = np.zeros((chunks, n_cols))
    if params.yuma3:
        # Yuma3's EMA needs neither the incentive nor the clip's column sums (``delta_sum`` stays
        # 0): the EMA's two passes clip the weights on their way (the same operations in the
        # same order as ``_clip_par``), so the weights are read twice here instead of four times.
        clip_counts = np.zeros(n_rows, dtype=np.int64)
        col_sum, col_max, prev_sum = _bonds_count_par(
            *bond_args, counts, True, clip_counts, vtrust, ranks_part, chunks
        )
        np.cumsum(clip_counts, out=c_indptr[1:])
        c_data = np.empty(int(c_indptr[-1]))
        c_indices: Any = np.empty(int(c_indptr[-1]), dtype=w_indices.dtype)
    else:
        # The original Yuma's EMA normalises ``a·WB`` by its column sums, taken by the clip fill.
        delta_part = np.zeros((chunks, n_cols))
        clip_args = (w_data, w_indices, w_indptr, consensus, active_stake, params.bonds_penalty)
        _clip_par(*clip_args, False, counts, _EMPTY_F, w_indices[:0], c_indptr, vtrust,
                  ranks_part, delta_part, chunks)  # fmt: skip
        np.cumsum(counts, out=c_indptr[1:])
        c_data = np.empty(int(c_indptr[-1]))
        c_indices = np.empty(int(c_indptr[-1]), dtype=w_indices.dtype)
        _clip_par(*clip_args, True, counts, c_data, c_indices, c_indptr, vtrust, ranks_part,
                  delta_part, chunks)  # fmt: skip
        delta_sum[:] = delta_part.sum(axis=0)
        col_sum, col_max, prev_sum = _bonds_count_par(
            *bond_args, counts, False, counts[:0], vtrust, ranks_part, chunks
        )
    ranks = ranks_part.sum(axis=0)
    incentive = normalize_vec(ranks)
    b_indptr: Any = np.zeros(n_rows + 1, dtype=w_indptr.dtype)
    np.cumsum(counts, out=b_indptr[1:])
    b_data = np.empty(int(b_indptr[-1]))
    b_indices: Any = np.empty(int(b_indptr[-1]), dtype=w_indices.dtype)
    # Yuma3 dividends: Σ_j EMA_ij · I_j / colsum_j, with the per-column factor taken once.
    factor = incentive
    if params.yuma3:
        with np.errstate(over="ignore"):
            factor = np.divide(incentive, col_sum, out=incentive.copy(), where=col_sum != 0)
        if not np.all(np.isfinite(factor)):
            # A subnormal column sum overflows I/colsum; dividends are normalised, so every
            # factor may be scaled by one exact power of two instead.
            scaled = col_sum * 2.0**600
            factor = np.divide(incentive, scaled, out=incentive * 2.0**-600, where=col_sum != 0)
    raw = _bonds_fill_par(
        *bond_args, prev_sum, col_sum, col_max, factor, b_data, b_indices, b_indptr,
        params.yuma3, c_data, c_indices, c_indptr, chunks,
    )  # fmt: skip
    dividends = normalize_vec(raw)
    server = np.empty(n_cols)
    validator = np.empty(n_rows)
    combined = np.empty(n_cols if inputs.square else n_rows + n_cols)
    emission_into(
        incentive, dividends, stake, active_stake, inputs.square, server, validator, combined
    )
    shape = (n_rows, n_cols)
    return EpochResult(
        stake=stake,
        active_stake=active_stake,
        weights=csr_from_parts(w_data, w_indices, w_indptr, shape),
        consensus=consensus,
        clipped_weights=csr_from_parts(c_data, c_indices, c_indptr, shape),
        validator_trust=vtrust,
        ranks=ranks,
        incentive=incentive,
        bonds=csr_from_parts(b_data, b_indices, b_indptr, shape),
        dividends=dividends,
        validator_permit=permit,
        server_emission=server,
        validator_emission=validator,
        combined_emission=combined,
    )
