"""The chain's dense epoch (``epoch_dense_mechanism``) as numba kernels.

Same semantics as :func:`yuma.epoch._dense_epoch` (the numpy reference): masks, consensus,
clipping, both bond branches, liquid alpha, the dense bond-storage rule and the emission split.

Layout of the work (``W`` is ``(R, C)``, C-contiguous, float64):

1. ``_rows_weights``: the check of the raw values, permit, self-weight and outdated masks and
   the row normalisation, fused in one pass per row (the row stays in cache between its sum
   and its scaling by the sum's reciprocal).
2. ``_cols_consensus``: the stake-weighted median of every column over the voters (rows with
   positive active stake). From 17 to 1024 voters (:func:`~yuma.backends._nb_consensus.
   takes_rows`) the first steps of every column's search run on the row-major matrix for all
   columns at once (:func:`~yuma.backends._nb_consensus.consensus_rows`: passes over whole
   voter rows, four pivots per column and pass). Otherwise 8 columns at a time (one cache
   line of each voter row, read as 8 named values) are copied into a column-major scratch
   block, and each column's median is found there by
   :func:`~yuma.backends._nb_common.wmedian_sweep` (vectorised sweeps with four pivots each,
   evenly spaced in value; then the few scores left in the bracket are copied out, through a
   bit per score, and a fixed-width selection finishes). Both finish a column the same way.
   This pass dominates when every row votes (see benchmarks/RESULTS.md).
3. ``_rows_clip_ema``: clipping, validator trust, rank partial sums, the bonds penalty and the bond
   EMA (Yuma3), or the column sums the original Yuma needs, fused in one pass per row (Yuma3
   without liquid alpha, the chain's default: one loop per row, ``_rows_clip_plain_ema``, which
   also checks the previous bonds' values as it reads them).
4. ``_rows_yuma2_ema`` (original Yuma only): the EMA of the column-normalised matrices.
5. ``_rows_dividends``: dividends from the column-normalised EMA (one product per cell with the
   column factors ``I_j / s_j`` of ``_dividend_factors``), and the dense storage rule written
   in place into the bond buffer.

Every kernel works on a row (or column) range and is serial; the ``*_par`` drivers split the
range into chunks under ``prange`` (one chunk per thread), and column reductions (ranks, EMA
column sums) use one partial row per chunk, so no two threads write the same cell.
One driver, :func:`_epoch_passes`, runs the passes over ``chunks`` ranges; it is compiled
twice, serial (:data:`epoch_serial`, the body of the batch and scan loops) and parallel
(:data:`epoch_parallel`). Its arguments are grouped: :class:`DenseIn`, :class:`DenseParams`,
:class:`DenseOut`.
"""

from __future__ import annotations

import functools
import types
from typing import Any, NamedTuple

import numba
import numpy as np
from numba import literal_unroll, njit, prange
from numba import types as nb_types
from numba.extending import overload

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)
from yuma._threads import numba_parallel_guard
from yuma.backends._aligned import aligned_matrices
from yuma.backends._nb_common import (
    MEDIAN_METHOD,
    PRANGE_ONLY,
    SAFE_SUM,
    SHRINK,
    alpha_sigmoid,
    as_c_float,
    chunk_bounds,
    emission_into,
    majority_stake,
    normalize_vec,
    stake_prelude,
    sweep_scratch,
    wmedian,
    wmedian_sweep,
)
from yuma.backends._nb_consensus import consensus_rows, takes_rows
from yuma.inputs import EpochInputs
from yuma.params import YumaParams
from yuma.result import _BOOL_FIELD, _FIELD_AXES, _FIELDS, EpochResult, result_fields

__all__ = [
    "DenseIn",
    "DenseOut",
    "DenseParams",
    "allocate",
    "dense_params",
    "epoch_dense",
    "epoch_parallel",
    "epoch_serial",
    "out_status",
    "outputs_of",
    "result_of",
]

#: Below this many cells the whole epoch runs in one serial call. A parallel region costs a few
#: microseconds on an idle machine but milliseconds when another process holds a core (the
#: region waits for its slowest thread to be scheduled), so small epochs stay serial.
PARALLEL_MIN_CELLS = 512 * 512


# --------------------------------------------------------------------------------------------
# Row / column range kernels (serial)
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _sum(x: Any) -> float:
    """``Σ x`` of a row, reassociated (vectorised): equal to a sequential sum up to round-off."""
    total = 0.0
    for j in range(x.shape[0]):
        total += x[j]
    return total


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _colnorm_dot(e: Any, col_sum: Any, incentive: Any) -> float:
    """``Σ_j colnorm(e)_j · I_j`` of one row (``e_j / s_j``, or ``e_j`` where ``s_j`` is 0)."""
    acc = 0.0
    for j in range(e.shape[0]):
        x = e[j]
        s = col_sum[j]
        acc += (x / s if s != 0.0 else x) * incentive[j]
    return acc


@njit(cache=True, nogil=True)
def _dividend_factors(col_sum: Any, incentive: Any) -> Any:
    """``I_j / s_j`` (``I_j`` where ``s_j`` is 0), so that a row's :func:`_colnorm_dot` is one
    product per cell instead of a division; an empty array when a factor overflows (a
    subnormal column sum), where the rows must divide."""
    n_cols = col_sum.shape[0]
    factor = np.empty(n_cols)
    for j in range(n_cols):
        s = col_sum[j]
        f = incentive[j] / s if s != 0.0 else incentive[j]
        if not f <= _FINITE_MAX:
            return np.empty(0)
        factor[j] = f
    return factor


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _dot(e: Any, factor: Any) -> float:
    """``Σ_j e_j · f_j``: :func:`_colnorm_dot` with the factors of :func:`_dividend_factors`
    (the same sum up to round-off; the reference's own is a matrix product)."""
    acc = 0.0
    for j in range(e.shape[0]):
        acc += e[j] * factor[j]
    return acc


@njit(cache=True, nogil=True, inline="always")
def _penalised(x: float, cl: float, beta: float) -> float:
    """Bonds penalty: β = 0 and β = 1 are exact copies of the weight or its clip, as in the
    reference; otherwise ``x + β (cl − x)``.

    One select, no branch, so a loop calling it still vectorises: β = 1 needs its case
    (``x + (cl − x)`` is not always ``cl`` in floating point), β = 0 does not (``x + 0·(cl − x)``
    is ``x``, as ``x`` is non-negative)."""
    return cl if beta == 1.0 else x + beta * (cl - x)


#: What :func:`values_status` finds in an input's values (a larger code wins: the reference
#: refuses a NaN or infinity before a negative value).
VALUES_OK, VALUES_NEGATIVE, VALUES_NOT_FINITE = 0, 1, 2

_FINITE_MAX = float(np.finfo(np.float64).max)
_EXPONENT_ONE = np.uint64(1 << 52)
_SIGN_BIT = np.uint64(1 << 63)
_EXPONENT_MASK = np.uint64(0x7FF << 52)


@njit(cache=True, nogil=True, inline="always")
def _flag(flags: Any, bits: Any) -> Any:
    """:func:`values_status`'s running flags with one more bit pattern taken in: the sign bit
    of ``b | (b + 2**52)`` is set when ``b`` has its own (a negative value, -0.0 included) or
    an exponent of all ones (an infinity or NaN: adding one to that exponent carries into the
    sign bit); a finite, non-negative value sets neither."""
    return flags | bits | (bits + _EXPONENT_ONE)


@njit(cache=True, nogil=True)
def values_status(bits: Any) -> int:
    """:data:`VALUES_OK` when every value of a row is finite and non-negative (the check of
    :func:`yuma._validate.check_values`, which the compiled epochs make as they read their
    inputs, the row then in cache), else :data:`VALUES_NOT_FINITE` or :data:`VALUES_NEGATIVE`.

    ``bits``: the row's bit patterns, a ``uint64`` view (the caller views its matrix once; a
    view per row costs more than checking a 64-value row)."""
    # One OR per value (:func:`_flag`); only a row flagged so is looked at again, -0.0 (the
    # sign bit alone) being fine.
    flags = np.uint64(0)
    for j in range(bits.shape[0]):
        flags = _flag(flags, bits[j])
    if flags < _SIGN_BIT:
        return VALUES_OK
    for j in range(bits.shape[0]):
        if bits[j] & _EXPONENT_MASK == _EXPONENT_MASK:
            return VALUES_NOT_FINITE
    for j in range(bits.shape[0]):
        if bits[j] > _SIGN_BIT:
            return VALUES_NEGATIVE
    return VALUES_OK


def raise_for_status(status: Any) -> None:
    """Refuse an epoch whose kernel found bad input values: ``status`` ``(..., 2)`` holds the
    weights' and the bonds' :func:`values_status`, any leading axes (a batch) included."""
    if not status.any():
        return
    for k, name in enumerate(("weights", "bonds")):
        found = int(np.max(status[..., k]))
        if found == VALUES_NOT_FINITE:
            raise ValueError(f"{name} must be finite (found NaN or infinity)")
        if found == VALUES_NEGATIVE:
            raise ValueError(f"{name} must be non-negative (found a negative value)")


@njit(cache=True, nogil=True)
def _rows_weights(
    W: Any, permit: Any, square: bool, outdated: Any, w: Any, r0: int, r1: int, check: bool
) -> int:
    """Masked, row-normalised weights for rows ``[r0, r1)`` (reference steps 4.6 a–e).

    Returns the rows' :func:`values_status` when ``check`` (every raw value is checked, masked
    ones too), else :data:`VALUES_OK`."""
    n_cols = W.shape[1]
    has_outdated = outdated.shape[0] > 0
    W_bits = W.view(np.uint64)
    status = VALUES_OK
    for i in range(r0, r1):
        row_bits = W_bits[i]
        if not permit[i]:
            if check:
                status = max(status, values_status(row_bits))
            for j in range(n_cols):
                w[i, j] = 0.0
            continue
        # ``+ 0.0`` turns a -0.0 weight (it passes the non-negative check) into 0.0: the
        # median orders scores by their bit patterns, and no sign may leak into consensus.
        # The copy also takes values_status's flags (one pass over the row, not two); a
        # flagged row is looked at again.
        flags = np.uint64(0)
        if has_outdated:
            for j in range(n_cols):
                flags = _flag(flags, row_bits[j])
                x = 0.0 if outdated[i, j] else W[i, j] + 0.0
                w[i, j] = x
        else:
            for j in range(n_cols):
                flags = _flag(flags, row_bits[j])
                w[i, j] = W[i, j] + 0.0
        if check and flags >= _SIGN_BIT:
            status = max(status, values_status(row_bits))
        if square and i < n_cols:
            w[i, i] = 0.0
        total = _sum(w[i])
        # The reference scales a row whose largest weight exceeds SAFE_SUM / n (its sum could
        # overflow); such a row's sum exceeds that bound too, so only then look at the peak.
        if not total <= SAFE_SUM / n_cols:
            peak = 0.0
            for j in range(n_cols):
                peak = max(peak, w[i, j])
            if peak > SAFE_SUM / n_cols:
                for j in range(n_cols):
                    w[i, j] = (w[i, j] * SHRINK) / (peak * SHRINK)
                total = _sum(w[i])
        if total > 0.0:
            # One product per weight instead of a division (the row sum already differs
            # from the reference's pairwise one in its last bits); a subnormal sum, whose
            # reciprocal overflows, divides.
            inverse = 1.0 / total
            if inverse <= _FINITE_MAX:
                for j in range(n_cols):
                    w[i, j] = w[i, j] * inverse
            else:
                for j in range(n_cols):
                    w[i, j] = w[i, j] / total
    return status


@njit(cache=True, nogil=True)
def _cols_consensus(
    w: Any, voters: Any, u: Any, minority: float, out: Any, c0: int, c1: int, method: int
) -> None:
    """Consensus of columns ``[c0, c1)``: the weighted median over the voter rows.

    ``method`` 0 (the sweep) with 17 to 1024 voters: on the rows
    (:func:`~yuma.backends._nb_consensus.consensus_rows`); otherwise :func:`_cols_gathered`.
    """
    if method == 0 and takes_rows(voters.shape[0]):
        consensus_rows(w, voters, u, minority, out, c0, c1, 0)
    else:
        _cols_gathered(w, voters, u, minority, out, c0, c1, method)


@njit(cache=True, nogil=True)
def _cols_gathered(
    w: Any, voters: Any, u: Any, minority: float, out: Any, c0: int, c1: int, method: int
) -> None:
    """:func:`_cols_consensus` column by column: columns are gathered 8 at a time (one 64-byte
    line of each voter row) into a column-major scratch block (reading a whole line per row
    and writing 8 sequential streams is much cheaper than 8 separate strided walks down the
    matrix, each missing L1 on every row), and each column's median is found there
    (``method``: 0 :func:`~yuma.backends._nb_common.wmedian_sweep`, else
    :func:`~yuma.backends._nb_common.wmedian`'s)."""
    n_voters = voters.shape[0]
    block = np.empty((8, n_voters))
    stakes = np.empty(n_voters)
    n_float, n_int = sweep_scratch(n_voters)
    scratch_v = np.empty(n_float)
    scratch_s = np.empty(n_float)
    scratch_i = np.empty(n_int, dtype=np.int64)
    for j0 in range(c0, c1, 8):
        width = min(8, c1 - j0)
        if width == 8:
            # Eight named streams and a fixed-width row read: unrolled, about 2x the
            # throughput of the general loop below.
            b0, b1, b2, b3 = block[0], block[1], block[2], block[3]
            b4, b5, b6, b7 = block[4], block[5], block[6], block[7]
            for k in range(n_voters):
                line = w[voters[k], j0 : j0 + 8]
                b0[k] = line[0]
                b1[k] = line[1]
                b2[k] = line[2]
                b3[k] = line[3]
                b4[k] = line[4]
                b5[k] = line[5]
                b6[k] = line[6]
                b7[k] = line[7]
        else:
            for k in range(n_voters):
                row = voters[k]
                for jj in range(width):
                    block[jj, k] = w[row, j0 + jj]
        for jj in range(width):
            if method == 0:
                out[j0 + jj] = wmedian_sweep(
                    block[jj], u, n_voters, minority, scratch_v, scratch_s, scratch_i
                )
            else:
                stakes[:] = u
                out[j0 + jj] = wmedian(block[jj], stakes, n_voters, minority, method)


@njit(cache=True, nogil=True)
def _rows_clip_plain_ema(
    w: Any,
    consensus: Any,
    active_stake: Any,
    bonds: Any,
    recent: Any,
    beta: float,
    rate: float,
    clipped: Any,
    ema: Any,
    vtrust: Any,
    ranks_part: Any,
    sum1_part: Any,
    r0: int,
    r1: int,
    check: bool,
) -> int:
    """:func:`_rows_clip_ema` for Yuma3 without liquid alpha: each row in one vectorised loop
    (its weights and previous bonds read once), cell for cell the reference's arithmetic.

    A function of its own, though its row set-up repeats :func:`_rows_clip_ema`'s: the same
    loop inside that function's row loop compiled to 5 % more instructions per epoch
    (callgrind, 256², one thread, at 16a8f8e: 3.63 M against 3.46 M)."""
    n_cols = w.shape[1]
    bonds_bits = bonds.view(np.uint64)
    # The previous bond enters as ``retain_j · B_ij``: the reference's
    # ``(1 − rate) · (0 if recent_j else B_ij)`` to the bit (``1 · B = B``; a recent column's
    # ``0 · B`` is ±0, and ``rate · wb + ±0`` is ``rate · wb``, a non-negative sum), without
    # a masked load of ``recent`` per cell (46 k fewer instructions per 256² epoch, callgrind).
    # A bad bond makes ``0 · B`` NaN, but then ``check`` has flagged the row and the epoch
    # is refused.
    retain = np.empty(n_cols)
    for j in range(n_cols):
        retain[j] = 0.0 if recent[j] else 1.0 - rate
    status = VALUES_OK
    for i in range(r0, r1):
        a = active_stake[i]
        w_row = w[i]
        cl_row = clipped[i]
        b_row = bonds[i]
        b_bits = bonds_bits[i]
        e_row = ema[i]
        # values_status's flags, taken in this loop as it reads the bonds (a pass of its own
        # over the row cost 56 k more instructions per 256² epoch, callgrind); a flagged row
        # is looked at again.
        flags = np.uint64(0)
        for j in range(n_cols):
            x = w_row[j]
            c = consensus[j]
            cl = x if x <= c else c
            cl_row[j] = cl
            ranks_part[j] += a * cl
            wb = _penalised(x, cl, beta)
            flags = _flag(flags, b_bits[j])
            e = rate * wb + retain[j] * b_row[j]
            e_row[j] = e
            sum1_part[j] += e
        if check and flags >= _SIGN_BIT:
            status = max(status, values_status(b_bits))
        vtrust[i] = _sum(cl_row)
    return status


@njit(cache=True, nogil=True)
def _rows_clip_ema(
    w: Any,
    consensus: Any,
    active_stake: Any,
    bonds: Any,
    recent: Any,
    beta: float,
    rate: float,
    yuma3: bool,
    liquid: bool,
    lo: float,
    hi: float,
    steep: float,
    clipped: Any,
    ema: Any,
    vtrust: Any,
    ranks_part: Any,
    sum1_part: Any,
    sum2_part: Any,
    r0: int,
    r1: int,
    check: bool,
) -> int:
    """Clip, validator trust, rank partials and the first bond pass for rows ``[r0, r1)``;
    returns the previous bonds' :func:`values_status` over those rows when ``check``.

    Yuma3: writes the EMA into ``ema`` and its column sums into ``sum1_part``.
    Original Yuma: accumulates ``Σ_i a_i·WB_ij`` into ``sum1_part`` and ``Σ_i B_ij`` (the masked
    previous bonds) into ``sum2_part``; the EMA itself needs both and is the next pass.
    """
    if yuma3 and not liquid:
        return _rows_clip_plain_ema(
            w, consensus, active_stake, bonds, recent, beta, rate, clipped, ema, vtrust,
            ranks_part, sum1_part, r0, r1, check,
        )  # fmt: skip
    n_cols = w.shape[1]
    bonds_bits = bonds.view(np.uint64)
    # Liquid alpha and the original Yuma: short single-purpose loops over the row, with the
    # same arithmetic per cell as the reference.
    status = VALUES_OK
    for i in range(r0, r1):
        a = active_stake[i]
        w_row = w[i]
        cl_row = clipped[i]
        b_row = bonds[i]
        if check:
            status = max(status, values_status(bonds_bits[i]))
        for j in range(n_cols):
            x = w_row[j]
            c = consensus[j]
            cl_row[j] = x if x <= c else c
        for j in range(n_cols):
            ranks_part[j] += a * cl_row[j]
        vtrust[i] = _sum(cl_row)
        for j in range(n_cols):
            x = w_row[j]
            cl = cl_row[j]
            wb = _penalised(x, cl, beta)
            prev = 0.0 if recent[j] else b_row[j]
            if yuma3:
                al = alpha_sigmoid(consensus[j], wb, prev, lo, hi, steep)
                e = min(1.0, (1.0 - al) * prev + max(0.0, al * wb))
                ema[i, j] = e
                sum1_part[j] += e
            else:
                sum1_part[j] += wb * a
                sum2_part[j] += prev
    return status


@njit(cache=True, nogil=True)
def _rows_yuma2_ema(
    w: Any,
    consensus: Any,
    active_stake: Any,
    bonds: Any,
    recent: Any,
    beta: float,
    rate: float,
    delta_sum: Any,
    prev_sum: Any,
    ema: Any,
    sum_part: Any,
    max_part: Any,
    r0: int,
    r1: int,
) -> None:
    """Original Yuma: ``max(0, α·colnorm(WB·a) + (1 − α)·colnorm(B))`` for rows ``[r0, r1)``.

    Also accumulates the column sums and column maxima of the result (for its column
    normalisation and the column-max upscale of the stored bonds).
    """
    n_cols = w.shape[1]
    for i in range(r0, r1):
        a = active_stake[i]
        for j in range(n_cols):
            x = w[i, j]
            c = consensus[j]
            cl = x if x <= c else c
            if beta == 0.0:
                wb = x
            elif beta == 1.0:
                wb = cl
            else:
                wb = x + beta * (cl - x)
            d = wb * a
            if delta_sum[j] != 0.0:
                d = d / delta_sum[j]
            prev = 0.0 if recent[j] else bonds[i, j]
            if prev_sum[j] != 0.0:
                prev = prev / prev_sum[j]
            e = max(rate * d + (1.0 - rate) * prev, 0.0)
            ema[i, j] = e
            sum_part[j] += e
            if e > max_part[j]:
                max_part[j] = e


@njit(cache=True, nogil=True)
def _rows_dividends(
    ema: Any,
    incentive: Any,
    col_sum: Any,
    col_max: Any,
    yuma3: bool,
    bonds: Any,
    old_permit: Any,
    new_permit: Any,
    raw_dividends: Any,
    r0: int,
    r1: int,
    factor: Any,
) -> None:
    """Raw dividends and the stored bonds for rows ``[r0, r1)``, in place in ``ema``;
    ``factor``: :func:`_dividend_factors` (empty: divide cell by cell).

    Yuma3: ``d_i = Σ_j colnorm(EMA)_ij · I_j`` (the caller weights by active stake); the EMA is
    stored as is. Original Yuma: the EMA is column-normalised first, ``d_i = Σ_j EMA_ij · I_j``,
    and stored column-max-upscaled. Dense storage: rows with a new permit get the new row, rows
    that lost their permit are emptied, the others keep their previous bonds.
    """
    n_cols = ema.shape[1]
    for i in range(r0, r1):
        store = new_permit[i]
        if factor.shape[0] == n_cols:
            acc = _dot(ema[i], factor)
        else:
            acc = _colnorm_dot(ema[i], col_sum, incentive)
        if not yuma3 and store:
            for j in range(n_cols):
                e = ema[i, j]
                s = col_sum[j]
                en = e / s if s != 0.0 else e
                mx = col_max[j] / s if s != 0.0 else col_max[j]
                ema[i, j] = en / mx if mx != 0.0 else en
        raw_dividends[i] = acc
        if not store:
            if old_permit[i]:
                for j in range(n_cols):
                    ema[i, j] = 0.0
            else:
                for j in range(n_cols):
                    ema[i, j] = bonds[i, j]


# --------------------------------------------------------------------------------------------
# The epoch driver: written once, compiled serial and parallel
# --------------------------------------------------------------------------------------------


class DenseIn(NamedTuple):
    """One epoch's inputs (as :class:`yuma.inputs.EpochInputs`): W (R, C) float64 C-order,
    stake (R,), bonds (R, C), old_permit (R,) or (0,) for the default (the new permits),
    active (R,), outdated (R, C) bool or (0, 0) for none, recent (C,) recently registered."""

    W: Any
    stake: Any
    bonds: Any
    old_permit: Any
    active: Any
    outdated: Any
    recent: Any


class DenseParams(NamedTuple):
    """The hyperparameters and the specialisation (``yuma3``: the bonds/dividends rules;
    ``liquid``: liquid alpha v2 requested) the kernel runs with, and which input values it
    checks as it reads them (``check_weights``, ``check_bonds``)."""

    square: bool
    kappa: float
    beta: float
    rate: float
    yuma3: bool
    liquid: bool
    lo: float
    hi: float
    steep: float
    max_validators: int
    check_weights: bool  # check the weights' values (False: the caller checked them)
    check_bonds: bool  # the same for the previous bonds


class DenseOut(NamedTuple):
    """Preallocated outputs, the :class:`yuma.result.EpochResult` fields (``bonds`` doubles as
    the EMA buffer), and ``status``: the epoch checks its weights and previous bonds as it
    reads them, and stops after the pass that finds a bad value (the caller then raises)."""

    stake: Any
    active_stake: Any
    w: Any
    consensus: Any
    clipped: Any
    vtrust: Any
    ranks: Any
    incentive: Any
    bonds: Any
    dividends: Any
    permit: Any
    server: Any
    validator: Any
    combined: Any
    status: Any  # (2,) int8: the weights' and the bonds' values_status (see raise_for_status)


def _epoch_passes(x: DenseIn, p: DenseParams, o: DenseOut, chunks: int) -> None:
    """One dense epoch: the five passes, each over ``chunks`` row (or column) ranges.

    With ``chunks == 1`` this is the serial epoch (the body of the batch and scan loops);
    compiled parallel (:data:`~yuma.backends._nb_common.PRANGE_ONLY`: only the ``prange`` loops
    over the ranges) the ranges run on numba's threads, and column reductions use one partial
    row per chunk, so no two threads write the same cell.
    """
    n_rows, n_cols = x.W.shape
    stake_prelude(
        x.stake, x.active, x.old_permit, p.max_validators, -1, o.stake, o.active_stake, o.permit
    )
    # none given: the default, this stake's new permits
    old_permit = x.old_permit if x.old_permit.shape[0] == n_rows else o.permit
    status_part = np.zeros(chunks, dtype=np.int8)
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        status_part[t] = _rows_weights(
            x.W, old_permit, p.square, x.outdated, o.w, r0, r1, p.check_weights
        )
    o.status[0] = status_part.max()
    o.status[1] = VALUES_OK
    if o.status[0] != VALUES_OK:
        return  # refused by the caller; the median must not see a negative or NaN score
    voters, u, minority = majority_stake(o.active_stake, p.kappa)
    if voters.shape[0] == 0:
        o.consensus[:] = 0.0
    else:
        # The gather path's columns are cheap to imbalance (selection time varies): more,
        # smaller column chunks. The row-major path pays a fixed cost per row and pass, so
        # one wide chunk per thread (at 1024 voters, 64-column chunks took 1.5x the time).
        col_chunks = 1
        if chunks > 1:
            col_chunks = min(n_cols, chunks if takes_rows(voters.shape[0]) else 8 * chunks)
        for t in prange(col_chunks):
            c0, c1 = chunk_bounds(n_cols, col_chunks, t)
            _cols_consensus(o.w, voters, u, minority, o.consensus, c0, c1, MEDIAN_METHOD)
    liquid = False
    if p.yuma3 and p.liquid:
        for j in range(n_cols):
            if o.consensus[j] != 0.0:
                liquid = True
                break
    ranks_part = np.zeros((chunks, n_cols))
    sum1_part = np.zeros((chunks, n_cols))
    sum2_part = np.zeros((chunks, n_cols))
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        status_part[t] = _rows_clip_ema(
            o.w, o.consensus, o.active_stake, x.bonds, x.recent, p.beta, p.rate, p.yuma3,
            liquid, p.lo, p.hi, p.steep, o.clipped, o.bonds, o.vtrust, ranks_part[t],
            sum1_part[t], sum2_part[t], r0, r1, p.check_bonds,
        )  # fmt: skip
    o.status[1] = status_part.max()
    if o.status[1] != VALUES_OK:
        return
    ranks = ranks_part.sum(axis=0)
    o.ranks[:] = ranks
    sum1 = sum1_part.sum(axis=0)
    col_sum = sum1
    col_max = np.zeros(n_cols)
    if not p.yuma3:
        sum2 = sum2_part.sum(axis=0)
        sum_part = np.zeros((chunks, n_cols))
        max_part = np.zeros((chunks, n_cols))
        for t in prange(chunks):
            r0, r1 = chunk_bounds(n_rows, chunks, t)
            _rows_yuma2_ema(
                o.w, o.consensus, o.active_stake, x.bonds, x.recent, p.beta, p.rate, sum1,
                sum2, o.bonds, sum_part[t], max_part[t], r0, r1,
            )  # fmt: skip
        col_sum = sum_part.sum(axis=0)
        for t in range(chunks):
            for j in range(n_cols):
                if max_part[t, j] > col_max[j]:
                    col_max[j] = max_part[t, j]
    inc = normalize_vec(ranks)
    o.incentive[:] = inc
    raw = np.empty(n_rows)
    factor = _dividend_factors(col_sum, inc)
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        _rows_dividends(
            o.bonds, inc, col_sum, col_max, p.yuma3, x.bonds, old_permit, o.permit, raw, r0, r1,
            factor,
        )  # fmt: skip
    if p.yuma3:
        for i in range(n_rows):
            raw[i] = raw[i] * o.active_stake[i]
    o.dividends[:] = normalize_vec(raw)
    emission_into(
        inc, o.dividends, o.stake, o.active_stake, p.square, o.server, o.validator, o.combined
    )


def _compiled(parallel: bool) -> Any:
    # Two dispatchers of one Python function; distinct qualified names keep their on-disk
    # cache entries apart.
    fn = types.FunctionType(
        _epoch_passes.__code__, _epoch_passes.__globals__, "_epoch_passes", None, None
    )
    fn.__qualname__ = "_epoch_passes_parallel" if parallel else "_epoch_passes_serial"
    fn.__doc__ = _epoch_passes.__doc__
    if parallel:
        return njit(cache=True, parallel=PRANGE_ONLY)(fn)
    return njit(cache=True, nogil=True)(fn)


#: The serial epoch (``chunks`` = 1); callable from other jitted loops (batch, scan).
epoch_serial = _compiled(parallel=False)
#: The same epoch with its passes parallel over row/column chunks.
epoch_parallel = _compiled(parallel=True)


# Entry points from Python. They take plain tuples and build the named ones inside: numba
# types a plain tuple of arrays in its C dispatcher, a NamedTuple in Python (about 7 µs more
# per call, a tenth of a 64 x 64 epoch).
# Each returns whether a bad input value was found (then ``status`` says which).
@njit(cache=True, nogil=True)
def _serial_entry(x: Any, p: Any, o: Any) -> bool:
    out = DenseOut(*o)
    epoch_serial(DenseIn(*x), DenseParams(*p), out, 1)
    return bool(out.status[0] != VALUES_OK or out.status[1] != VALUES_OK)


@njit(cache=True)
def _parallel_entry(x: Any, p: Any, o: Any, chunks: int) -> bool:
    out = DenseOut(*o)
    epoch_parallel(DenseIn(*x), DenseParams(*p), out, chunks)
    return bool(out.status[0] != VALUES_OK or out.status[1] != VALUES_OK)


# --------------------------------------------------------------------------------------------
# Python entry point
# --------------------------------------------------------------------------------------------


# The kernel's "none given" arguments: empty (so never written), shared by every call.
#: ``old_permit`` for "the default": the kernels then use the new permits they compute.
_NO_PERMIT = np.zeros(0, dtype=np.bool_)
#: ``outdated`` for "none".
_NO_OUTDATED = np.zeros((0, 0), dtype=np.bool_)


def _dense_arrays(inputs: EpochInputs) -> tuple[Any, Any, Any]:
    """(W, bonds, outdated) as the kernels take them; never copies what is already right."""
    W = as_c_float(inputs.weights)
    bonds_in = as_c_float(inputs.bonds)
    if inputs.outdated is None:
        outdated = _NO_OUTDATED
    else:
        mask = inputs.outdated
        dense = mask.toarray() if hasattr(mask, "toarray") else mask
        outdated = np.ascontiguousarray(dense, dtype=np.bool_)
    return W, bonds_in, outdated


def dense_params(
    params: YumaParams,
    *,
    square: bool,
    yuma3: bool,
    liquid: bool,
    check_weights: bool = True,
    check_bonds: bool = True,
) -> DenseParams:
    """The kernel's parameters for ``params`` and a specialisation (see :mod:`.kernels`);
    ``check_*`` False where the caller has already checked those values."""
    return DenseParams(
        bool(square),
        float(params.kappa),
        float(params.bonds_penalty),
        float(params.bonds_ema_rate),
        bool(yuma3),
        bool(liquid),
        float(params.alpha_low),
        float(params.alpha_high),
        float(params.alpha_sigmoid_steepness),
        int(params.max_allowed_validators),
        bool(check_weights),
        bool(check_bonds),
    )


@functools.lru_cache(maxsize=64)
def _params_tuple(
    params: YumaParams, square: bool, yuma3: bool, liquid: bool, check: bool
) -> tuple[Any, ...]:
    # What epoch_dense passes: a plain tuple (the type its compiled entries were built for).
    # Cached: YumaParams is frozen, and the conversions counted 11.2 k instructions per call
    # against 5.4 k for the lookup (callgrind, the measuring loop's 3 k included in both).
    return tuple(
        dense_params(
            params, square=square, yuma3=yuma3, liquid=liquid, check_weights=check,
            check_bonds=check,
        )
    )  # fmt: skip


def allocate(
    n_rows: int, n_cols: int, square: bool, lead: tuple[int, ...] = (), matrices: bool = True
) -> DenseOut:
    """Uninitialised outputs, with optional leading (batch) dimensions; ``matrices`` False
    gives the one-axis batch empty ``(0, R, C)`` matrix stacks (none kept)."""
    combined = n_cols if square else n_rows + n_cols
    r, c = (*lead, n_rows), (*lead, n_cols)
    m = (*lead, n_rows, n_cols) if matrices else (0, n_rows, n_cols)
    # the three matrices cache-line aligned and apart (see yuma.backends._aligned)
    w, clipped, bonds = aligned_matrices(m)
    return DenseOut(
        np.empty(r), np.empty(r), w, np.empty(c), clipped, np.empty(r),
        np.empty(c), np.empty(c), bonds, np.empty(r), np.empty(r, dtype=np.bool_),
        np.empty(c), np.empty(r), np.empty((*lead, combined)),
        np.zeros((*lead, 2), dtype=np.int8),
    )  # fmt: skip


def outputs_of(out: EpochResult) -> DenseOut:
    """An earlier dense result's arrays as the kernel's outputs (``epoch(..., out=out)``;
    :func:`yuma._outputs.check_out` has checked them), with a fresh ``status``."""
    return DenseOut._make((*result_fields(out), np.zeros(2, dtype=np.int8)))


@njit(cache=True, nogil=True)
def _extent(a: Any) -> tuple[Any, Any]:
    # [first byte, one past the last byte] of an array's elements, whatever its strides
    lo = np.int64(a.ctypes.data)
    hi = lo
    for k in range(a.ndim):
        span = np.int64(a.shape[k] - 1) * np.int64(a.strides[k])
        if span < 0:
            lo += span
        else:
            hi += span
    return lo, hi + a.itemsize


def _writable_kind(a: Any) -> int:
    """1 for a C-contiguous, aligned, writeable float64 array, 2 for such a bool array, else 0
    (read from the numba type, so a constant in compiled code)."""
    raise NotImplementedError("compiled only")


@overload(_writable_kind)
def _writable_kind_typed(a: Any) -> Any:
    code = 0
    if isinstance(a, nb_types.Array) and a.layout == "C" and a.mutable and a.aligned:
        code = {nb_types.float64: 1, nb_types.boolean: 2}.get(a.dtype, 0)

    def impl(a: Any) -> int:
        return code

    return impl


#: Per :class:`EpochResult` field, in order: the dtype (:func:`_writable_kind`'s 1 float64,
#: 2 bool) and the axes (``yuma.result._FIELD_AXES``).
_OUT_KINDS = tuple(2 if name == _BOOL_FIELD else 1 for name in _FIELDS)
_OUT_AXES = _FIELD_AXES


@njit(cache=True, nogil=True)
def out_status(outs: Any, ins: Any, rows: int, cols: int, combined: int) -> tuple[int, int, int]:
    """Whether ``outs`` (an :class:`EpochResult`'s fields, in order) can take a dense epoch's
    outputs: ``(0, -1, -1)`` when so; ``(1, i, -1)`` when field ``i`` has the wrong dtype,
    layout or shape, or is read-only; ``(2, i, j)`` when field ``i``'s memory overlaps field
    ``j`` (``j < len(outs)``) or input ``j - len(outs)`` of ``ins``. Spans, not elements, are
    compared (as ``np.may_share_memory``); empty arrays overlap nothing. Compiled: written in
    Python these checks counted 100 k instructions per call (callgrind, the measuring loop's
    own 3 k taken out), where the whole compiled check counts 32 k and the allocation it
    saves 35 k."""
    n_out = len(outs)
    n = n_out + len(ins)
    lo = np.zeros(n, dtype=np.int64)
    hi = np.zeros(n, dtype=np.int64)
    k = 0
    for a in literal_unroll(outs):
        axes = _OUT_AXES[k]
        first = (rows, cols, rows, combined)[axes]
        ndim = 2 if axes == 2 else 1
        if (
            _writable_kind(a) != _OUT_KINDS[k]
            or a.ndim != ndim
            or a.shape[0] != first
            or a.shape[a.ndim - 1] != (cols if ndim == 2 else first)
        ):
            return 1, k, -1
        if a.size > 0:
            lo[k], hi[k] = _extent(a)
        k += 1
    for a in literal_unroll(ins):
        if a.size > 0:
            lo[k], hi[k] = _extent(a)
        k += 1
    for i in range(n_out):
        for j in range(i + 1, n):
            if lo[i] < hi[j] and lo[j] < hi[i]:
                return 2, i, j
    return 0, -1, -1


def result_of(o: DenseOut) -> EpochResult:
    """The :class:`EpochResult` over the kernel's output arrays (``DenseOut`` lists them in
    the result's field order, then ``status``)."""
    return EpochResult._of(*o[:-1])


def epoch_dense(
    inputs: EpochInputs,
    params: YumaParams,
    *,
    yuma3: bool,
    liquid: bool,
    out: EpochResult | None = None,
) -> EpochResult:
    """The dense epoch on validated inputs, numba-compiled (same result as the reference).

    ``yuma3``/``liquid`` are the specialisation the pipeline's declared rules select
    (:func:`yuma.backends.kernels.match`). Small matrices run serially; from
    :data:`PARALLEL_MIN_CELLS` cells on, the passes run on every numba thread. ``out``: an
    earlier result, checked by :func:`yuma._outputs.check_out`, whose arrays are written and
    which is returned.
    """
    W, bonds_in, outdated = _dense_arrays(inputs)
    n_rows, n_cols = W.shape
    permit = _NO_PERMIT if inputs.given_permit is None else inputs.given_permit
    x = (W, inputs.stake, bonds_in, permit, inputs.active, outdated, inputs.recently_registered)
    # unchecked values are left to the kernel; else prepare_inputs has checked them
    p = _params_tuple(params, inputs.square, yuma3, liquid, not inputs.values_checked)
    o = allocate(n_rows, n_cols, inputs.square) if out is None else outputs_of(out)
    threads = 1 if n_rows * n_cols < PARALLEL_MIN_CELLS else numba.get_num_threads()
    if threads == 1:
        refused = _serial_entry(x, p, tuple(o))
    else:
        with numba_parallel_guard():
            refused = _parallel_entry(x, p, tuple(o), threads)
    if refused:
        raise_for_status(o.status)
    return result_of(o) if out is None else out
