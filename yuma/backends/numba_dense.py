"""The chain's dense epoch (``epoch_dense_mechanism``) as numba kernels.

Same semantics as :func:`yuma.epoch._dense_epoch` (the numpy reference): masks, consensus,
clipping, both bond branches, liquid alpha, the dense bond-storage rule and the emission split.

Layout of the work (``W`` is ``(R, C)``, C-contiguous, float64):

1. ``_rows_weights``: permit, self-weight and outdated masks and the row normalisation, fused in
   one pass per row (the row stays in cache between its sum and its division).
2. ``_cols_consensus``: the stake-weighted median of every column over the voters (rows with
   positive active stake): 8 columns at a time (one cache line of each voter row) are copied
   into a column-major scratch block, and each column's median is found there by
   :func:`~yuma.backends._nb_common.wmedian_bracket` (vectorised sweeps over sampled pivots,
   then a branch-free selection among the few scores in the bracket). This pass dominates
   when every row votes (see benchmarks/RESULTS.md).
3. ``_rows_clip_ema``: clipping, validator trust, rank partial sums, the bonds penalty and the bond
   EMA (Yuma3), or the column sums the original Yuma needs, fused in one pass per row.
4. ``_rows_yuma2_ema`` (original Yuma only): the EMA of the column-normalised matrices.
5. ``_rows_dividends``: dividends from the column-normalised EMA, and the dense storage rule
   written in place into the bond buffer.

Every kernel works on a row (or column) range and is serial; the ``*_par`` drivers split the
range into chunks under ``prange`` (one chunk per thread), and column reductions (ranks, EMA
column sums) use one partial row per chunk, so no two threads write the same cell.
:func:`epoch_dense_into` runs the whole epoch serially, which is what the batched driver
parallelises over the batch.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import njit, prange

from yuma.backends._nb_common import (
    MEDIAN_METHOD,
    alpha_sigmoid,
    as_c_float,
    chunk_bounds,
    emission_into,
    majority_stake,
    normalize_vec,
    stake_prelude,
    wmedian,
    wmedian_bracket,
)
from yuma.inputs import EpochInputs
from yuma.params import YumaParams
from yuma.result import EpochResult

__all__ = ["epoch_dense", "epoch_dense_into"]

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


@njit(cache=True, nogil=True, inline="always")
def _penalised(x: float, cl: float, beta: float) -> float:
    """Bonds penalty: β = 0 and β = 1 are exact copies of the weight or its clip, as in the
    reference; otherwise ``x + β (cl − x)``."""
    if beta == 0.0:
        return x
    if beta == 1.0:
        return cl
    return x + beta * (cl - x)


@njit(cache=True, nogil=True)
def _rows_weights(
    W: Any, permit: Any, square: bool, outdated: Any, w: Any, r0: int, r1: int
) -> None:
    """Masked, row-normalised weights for rows ``[r0, r1)`` (reference steps 4.6 a–e)."""
    n_cols = W.shape[1]
    has_outdated = outdated.shape[0] > 0
    for i in range(r0, r1):
        if not permit[i]:
            for j in range(n_cols):
                w[i, j] = 0.0
            continue
        if has_outdated:
            for j in range(n_cols):
                x = 0.0 if outdated[i, j] else W[i, j]
                w[i, j] = x
        else:
            for j in range(n_cols):
                w[i, j] = W[i, j]
        if square and i < n_cols:
            w[i, i] = 0.0
        total = _sum(w[i])
        if total > 0.0:
            for j in range(n_cols):
                w[i, j] = w[i, j] / total


@njit(cache=True, nogil=True)
def _cols_consensus(
    w: Any, voters: Any, u: Any, minority: float, out: Any, c0: int, c1: int, method: int
) -> None:
    """Consensus of columns ``[c0, c1)``: the weighted median over the voter rows.

    Columns are gathered 8 at a time (one 64-byte line of each voter row) into a column-major
    scratch block: reading a whole line per row and writing 8 sequential streams is much
    cheaper than 8 separate strided walks down the matrix, each missing L1 on every row.
    """
    n_voters = voters.shape[0]
    block = np.empty((8, n_voters))
    stakes = np.empty(n_voters)
    scratch_v = np.empty(3 * n_voters)
    scratch_s = np.empty(3 * n_voters)
    for j0 in range(c0, c1, 8):
        width = min(8, c1 - j0)
        for k in range(n_voters):
            row = voters[k]
            for jj in range(width):
                block[jj, k] = w[row, j0 + jj]
        for jj in range(width):
            if method == 0:
                out[j0 + jj] = wmedian_bracket(
                    block[jj], u, n_voters, minority, scratch_v, scratch_s
                )
            else:
                stakes[:] = u
                out[j0 + jj] = wmedian(block[jj], stakes, n_voters, minority, method)


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
) -> None:
    """Clip, validator trust, rank partials and the first bond pass for rows ``[r0, r1)``.

    Yuma3: writes the EMA into ``ema`` and its column sums into ``sum1_part``.
    Original Yuma: accumulates ``Σ_i a_i·WB_ij`` into ``sum1_part`` and ``Σ_i B_ij`` (the masked
    previous bonds) into ``sum2_part``; the EMA itself needs both and is the next pass.
    """
    n_cols = w.shape[1]
    # Short single-purpose loops over the row (each vectorises; one loop doing everything
    # does not), with the same arithmetic per cell as the reference.
    plain_ema = yuma3 and not liquid
    for i in range(r0, r1):
        a = active_stake[i]
        w_row = w[i]
        cl_row = clipped[i]
        b_row = bonds[i]
        for j in range(n_cols):
            x = w_row[j]
            c = consensus[j]
            cl_row[j] = x if x <= c else c
        for j in range(n_cols):
            ranks_part[j] += a * cl_row[j]
        vtrust[i] = _sum(cl_row)
        if plain_ema:
            e_row = ema[i]
            for j in range(n_cols):
                wb = _penalised(w_row[j], cl_row[j], beta)
                prev = 0.0 if recent[j] else b_row[j]
                e_row[j] = rate * wb + (1.0 - rate) * prev
            for j in range(n_cols):
                sum1_part[j] += e_row[j]
            continue
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
) -> None:
    """Raw dividends and the stored bonds for rows ``[r0, r1)``, in place in ``ema``.

    Yuma3: ``d_i = Σ_j colnorm(EMA)_ij · I_j`` (the caller weights by active stake); the EMA is
    stored as is. Original Yuma: the EMA is column-normalised first, ``d_i = Σ_j EMA_ij · I_j``,
    and stored column-max-upscaled. Dense storage: rows with a new permit get the new row, rows
    that lost their permit are emptied, the others keep their previous bonds.
    """
    n_cols = ema.shape[1]
    for i in range(r0, r1):
        store = new_permit[i]
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
# Whole epoch, serial (also the body of the batched driver)
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def epoch_dense_into(
    W: Any,
    raw_stake: Any,
    bonds_in: Any,
    old_permit: Any,
    active: Any,
    outdated: Any,
    recent: Any,
    square: bool,
    kappa: float,
    beta: float,
    rate: float,
    yuma3: bool,
    liquid_on: bool,
    lo: float,
    hi: float,
    steep: float,
    max_validators: int,
    stake: Any,
    active_stake: Any,
    w: Any,
    consensus: Any,
    clipped: Any,
    vtrust: Any,
    ranks: Any,
    incentive: Any,
    bonds: Any,
    dividends: Any,
    permit: Any,
    server: Any,
    validator: Any,
    combined: Any,
) -> None:
    """One dense epoch, serially, written into the given output arrays.

    Inputs as in :class:`yuma.inputs.EpochInputs` (``outdated`` is ``(R, C)`` bool or ``(0, 0)``
    for none; ``recent`` is ``recently_registered``). Outputs are the fields of
    :class:`yuma.result.EpochResult`, preallocated by the caller (``bonds`` doubles as the EMA
    buffer).
    """
    n_rows, n_cols = W.shape
    stake_prelude(raw_stake, active, old_permit, max_validators, -1, stake, active_stake, permit)
    _rows_weights(W, old_permit, square, outdated, w, 0, n_rows)
    voters, u, minority = majority_stake(active_stake, kappa)
    if voters.shape[0] == 0:
        consensus[:] = 0.0
    else:
        _cols_consensus(w, voters, u, minority, consensus, 0, n_cols, MEDIAN_METHOD)
    liquid = False
    if yuma3 and liquid_on:
        for j in range(n_cols):
            if consensus[j] != 0.0:
                liquid = True
                break
    ranks[:] = 0.0
    sum1 = np.zeros(n_cols)
    sum2 = np.zeros(n_cols)
    _rows_clip_ema(
        w, consensus, active_stake, bonds_in, recent, beta, rate, yuma3, liquid, lo, hi, steep,
        clipped, bonds, vtrust, ranks, sum1, sum2, 0, n_rows,
    )  # fmt: skip
    col_max = np.zeros(n_cols)
    col_sum = sum1
    if not yuma3:
        col_sum = np.zeros(n_cols)
        _rows_yuma2_ema(
            w, consensus, active_stake, bonds_in, recent, beta, rate, sum1, sum2, bonds,
            col_sum, col_max, 0, n_rows,
        )  # fmt: skip
    inc = normalize_vec(ranks)
    incentive[:] = inc
    raw = np.empty(n_rows)
    _rows_dividends(
        bonds, inc, col_sum, col_max, yuma3, bonds_in, old_permit, permit, raw, 0, n_rows
    )
    if yuma3:
        for i in range(n_rows):
            raw[i] = raw[i] * active_stake[i]
    dividends[:] = normalize_vec(raw)
    emission_into(inc, dividends, stake, active_stake, square, server, validator, combined)


# --------------------------------------------------------------------------------------------
# Parallel drivers (one epoch, large matrices)
# --------------------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def _weights_par(W: Any, permit: Any, square: bool, outdated: Any, w: Any, chunks: int) -> None:
    for t in prange(chunks):
        r0, r1 = chunk_bounds(W.shape[0], chunks, t)
        _rows_weights(W, permit, square, outdated, w, r0, r1)


@njit(cache=True, parallel=True)
def _consensus_par(
    w: Any, voters: Any, u: Any, minority: float, out: Any, chunks: int, method: int
) -> None:
    for t in prange(chunks):
        c0, c1 = chunk_bounds(w.shape[1], chunks, t)
        _cols_consensus(w, voters, u, minority, out, c0, c1, method)


@njit(cache=True, parallel=True)
def _clip_ema_par(
    w: Any,
    consensus: Any,
    active_stake: Any,
    bonds_in: Any,
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
    chunks: int,
) -> tuple[Any, Any, Any]:
    n_rows, n_cols = w.shape
    ranks_part = np.zeros((chunks, n_cols))
    sum1_part = np.zeros((chunks, n_cols))
    sum2_part = np.zeros((chunks, n_cols))
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        _rows_clip_ema(
            w, consensus, active_stake, bonds_in, recent, beta, rate, yuma3, liquid, lo, hi,
            steep, clipped, ema, vtrust, ranks_part[t], sum1_part[t], sum2_part[t], r0, r1,
        )  # fmt: skip
    return ranks_part.sum(axis=0), sum1_part.sum(axis=0), sum2_part.sum(axis=0)


@njit(cache=True, parallel=True)
def _yuma2_ema_par(
    w: Any,
    consensus: Any,
    active_stake: Any,
    bonds_in: Any,
    recent: Any,
    beta: float,
    rate: float,
    delta_sum: Any,
    prev_sum: Any,
    ema: Any,
    chunks: int,
) -> tuple[Any, Any]:
    n_rows, n_cols = w.shape
    sum_part = np.zeros((chunks, n_cols))
    max_part = np.zeros((chunks, n_cols))
    for t in prange(chunks):
        r0, r1 = chunk_bounds(n_rows, chunks, t)
        _rows_yuma2_ema(
            w, consensus, active_stake, bonds_in, recent, beta, rate, delta_sum, prev_sum, ema,
            sum_part[t], max_part[t], r0, r1,
        )  # fmt: skip
    col_max = np.zeros(n_cols)
    for t in range(chunks):
        for j in range(n_cols):
            if max_part[t, j] > col_max[j]:
                col_max[j] = max_part[t, j]
    return sum_part.sum(axis=0), col_max


@njit(cache=True, parallel=True)
def _dividends_par(
    ema: Any,
    incentive: Any,
    col_sum: Any,
    col_max: Any,
    yuma3: bool,
    bonds_in: Any,
    old_permit: Any,
    new_permit: Any,
    raw: Any,
    chunks: int,
) -> None:
    for t in prange(chunks):
        r0, r1 = chunk_bounds(ema.shape[0], chunks, t)
        _rows_dividends(
            ema, incentive, col_sum, col_max, yuma3, bonds_in, old_permit, new_permit, raw, r0, r1
        )


# --------------------------------------------------------------------------------------------
# Python entry point
# --------------------------------------------------------------------------------------------


def _dense_arrays(inputs: EpochInputs) -> tuple[Any, Any, Any]:
    """(W, bonds, outdated) as the kernels take them; never copies what is already right."""
    W = as_c_float(inputs.weights)
    bonds_in = as_c_float(inputs.bonds)
    if inputs.outdated is None:
        outdated = np.zeros((0, 0), dtype=np.bool_)
    else:
        mask = inputs.outdated
        dense = mask.toarray() if hasattr(mask, "toarray") else mask
        outdated = np.ascontiguousarray(dense, dtype=np.bool_)
    return W, bonds_in, outdated


def epoch_dense(inputs: EpochInputs, params: YumaParams) -> EpochResult:
    """The dense epoch on validated inputs, numba-compiled (same result as the reference).

    Small matrices run in one serial compiled call; from :data:`PARALLEL_MIN_CELLS` cells on,
    each pass runs in parallel over row (or column) chunks, one per numba thread.
    """
    W, bonds_in, outdated = _dense_arrays(inputs)
    n_rows, n_cols = W.shape
    stake = np.empty(n_rows)
    active_stake = np.empty(n_rows)
    permit = np.empty(n_rows, dtype=np.bool_)
    w = np.empty((n_rows, n_cols))
    consensus = np.empty(n_cols)
    clipped = np.empty((n_rows, n_cols))
    vtrust = np.empty(n_rows)
    ranks = np.empty(n_cols)
    incentive = np.empty(n_cols)
    bonds = np.empty((n_rows, n_cols))
    dividends = np.empty(n_rows)
    server = np.empty(n_cols)
    validator = np.empty(n_rows)
    combined = np.empty(n_cols if inputs.square else n_rows + n_cols)
    args = (
        params.kappa,
        params.bonds_penalty,
        params.bonds_ema_rate,
        params.yuma3,
        params.liquid_alpha,
        params.alpha_low,
        params.alpha_high,
        params.alpha_sigmoid_steepness,
    )
    if n_rows * n_cols < PARALLEL_MIN_CELLS:
        epoch_dense_into(
            W, inputs.stake, bonds_in, inputs.old_permit, inputs.active, outdated,
            inputs.recently_registered, inputs.square, *args, params.max_allowed_validators,
            stake, active_stake, w, consensus, clipped, vtrust, ranks, incentive, bonds,
            dividends, permit, server, validator, combined,
        )  # fmt: skip
    else:
        _epoch_dense_parallel(
            W, inputs, bonds_in, outdated, params, stake, active_stake, permit, w, consensus,
            clipped, vtrust, ranks, incentive, bonds, dividends, server, validator, combined,
        )  # fmt: skip
    return EpochResult(
        stake=stake,
        active_stake=active_stake,
        weights=w,
        consensus=consensus,
        clipped_weights=clipped,
        validator_trust=vtrust,
        ranks=ranks,
        incentive=incentive,
        bonds=bonds,
        dividends=dividends,
        validator_permit=permit,
        server_emission=server,
        validator_emission=validator,
        combined_emission=combined,
    )


def _epoch_dense_parallel(
    W: Any,
    inputs: EpochInputs,
    bonds_in: Any,
    outdated: Any,
    params: YumaParams,
    stake: Any,
    active_stake: Any,
    permit: Any,
    w: Any,
    consensus: Any,
    clipped: Any,
    vtrust: Any,
    ranks: Any,
    incentive: Any,
    bonds: Any,
    dividends: Any,
    server: Any,
    validator: Any,
    combined: Any,
) -> None:
    """The passes of :func:`epoch_dense_into`, each parallel over chunks."""
    chunks = numba.get_num_threads()
    # Columns are cheap to imbalance (quickselect time varies): more, smaller column chunks.
    col_chunks = min(W.shape[1], 8 * chunks)
    stake_prelude(
        inputs.stake, inputs.active, inputs.old_permit, params.max_allowed_validators, -1,
        stake, active_stake, permit,
    )  # fmt: skip
    _weights_par(W, inputs.old_permit, inputs.square, outdated, w, chunks)
    voters, u, minority = majority_stake(active_stake, params.kappa)
    if voters.shape[0] == 0:
        consensus[:] = 0.0
    else:
        _consensus_par(w, voters, u, minority, consensus, col_chunks, MEDIAN_METHOD)
    liquid = bool(params.yuma3 and params.liquid_alpha and np.any(consensus != 0))
    rank_sum, sum1, sum2 = _clip_ema_par(
        w, consensus, active_stake, bonds_in, inputs.recently_registered, params.bonds_penalty,
        params.bonds_ema_rate, params.yuma3, liquid, params.alpha_low, params.alpha_high,
        params.alpha_sigmoid_steepness, clipped, bonds, vtrust, chunks,
    )  # fmt: skip
    ranks[:] = rank_sum
    if params.yuma3:
        col_sum, col_max = sum1, np.zeros(W.shape[1])
    else:
        col_sum, col_max = _yuma2_ema_par(
            w, consensus, active_stake, bonds_in, inputs.recently_registered,
            params.bonds_penalty, params.bonds_ema_rate, sum1, sum2, bonds, chunks,
        )  # fmt: skip
    inc = normalize_vec(ranks)
    incentive[:] = inc
    raw = np.empty(W.shape[0])
    _dividends_par(
        bonds, inc, col_sum, col_max, params.yuma3, bonds_in, inputs.old_permit, permit, raw,
        chunks,
    )  # fmt: skip
    if params.yuma3:
        raw = raw * active_stake
    dividends[:] = normalize_vec(raw)
    emission_into(inc, dividends, stake, active_stake, inputs.square, server, validator, combined)
