"""One Yuma Consensus epoch in float64: the numpy reference (`epoch`).

The steps follow the chain's ``epoch_mechanism`` (sparse input) and ``epoch_dense_mechanism``
(dense input) in order; each step is a public function of its own module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma._sparse import as_csr, is_sparse, keep_entries, lookup, row_of_entries, with_data
from yuma._types import BoolArray, FloatArray
from yuma.clip import col_clip, col_clip_sparse
from yuma.ema import mat_ema, mat_ema_alpha, mat_ema_alpha_sparse, mat_ema_sparse
from yuma.emission import emission_shares
from yuma.inputs import EpochInputs, Layout, prepare_inputs
from yuma.interpolate import interpolate, interpolate_sparse
from yuma.liquid_alpha import alpha_sigmoid
from yuma.masks import (
    mask_cols,
    mask_cols_sparse,
    mask_diag,
    mask_diag_sparse,
    mask_matrix,
    mask_matrix_sparse,
    mask_rows,
    mask_rows_sparse,
)
from yuma.median import weighted_median_col, weighted_median_col_sparse
from yuma.normalize import (
    col_max_upscale,
    col_max_upscale_sparse,
    col_normalize,
    col_normalize_sparse,
    normalize,
    row_normalize,
    row_normalize_sparse,
)
from yuma.params import YumaParams
from yuma.permits import is_topk_nonzero
from yuma.result import EpochResult

__all__ = ["epoch", "epoch_reference"]


def epoch(
    weights: Any,
    stake: Any,
    bonds: Any = None,
    params: YumaParams | None = None,
    *,
    validator_permit: Any = None,
    active: Any = None,
    outdated: Any = None,
    recently_registered: Any = None,
    owner_uid: int | None = None,
    layout: Layout = "auto",
    backend: str | None = None,
) -> EpochResult:
    """Run one Yuma Consensus epoch, as the chain does, in float64.

    Parameters
    ----------
    weights : (R, C) array or scipy.sparse matrix
        Raw non-negative weights, rows normalised inside (u16 values are fine). Either the chain's
        ``(n, n)`` uid matrix or ``(V, N)`` validators x miners. A **dense** array runs the chain's
        dense epoch (``epoch_dense_mechanism``); a **sparse** matrix runs its sparse epoch
        (``epoch_mechanism``, what the chain runs), where stored entries, explicit zeros
        included, are present and absent entries are absent.
    stake : (R,)
        Non-negative stake of each row (any unit; it is normalised).
    bonds : (R, C), optional
        The previous epoch's ``EpochResult.bonds`` (Yuma3: proportions; original Yuma: any scale,
        as it is column-normalised). None means no bonds.
    params : YumaParams, optional
        Hyperparameters; the chain's defaults when None.
    validator_permit : (R,) bool, optional
        The permits this epoch uses (the chain's stored permits from the previous epoch). Default:
        the top ``max_allowed_validators`` non-zero stakes.
    active : (R,) bool, optional
        Rows that updated their weights within the activity cutoff. Default: all.
    outdated : (R, C) bool, dense or sparse, optional
        Weights to drop because they predate the miner's registration (chain: ``LU_i <= reg_j``).
    recently_registered : (C,) bool, optional
        Miners registered since the last epoch; their bond column is discarded before the EMA.
    owner_uid : int, optional
        The subnet owner's uid. On the sparse path its self-weight is kept and it always holds a
        permit; the chain's dense path has no owner rules, so it has no effect there.
    layout : {"auto", "uid", "bipartite"}
        "uid": the chain's square matrix (self-weights masked, emission per uid). "bipartite":
        validators x miners (no self-weights; emission shares per side). "auto": "uid" when
        square.
    backend : {"numpy", "numba", "jax"}, optional
        Which implementation runs the epoch (:mod:`yuma.backends`): "numpy" is this reference,
        "numba" the compiled kernels (dense and sparse), "jax" a jit-compiled dense epoch. None
        picks the fastest available for the input. All agree with the reference to 1e-9.

    Returns
    -------
    EpochResult
        Every quantity of the epoch; sparse matrices out for sparse input.

    Notes
    -----
    Where the chain's two paths differ (spec §6), each is followed: on the sparse path with Yuma3
    and liquid alpha, a bond whose weight entry is absent (never set, clipped to a zero consensus,
    or interpolated to 0) is **dropped**; on the dense path it decays by ``1 − α``. Dense bond
    storage rewrites only rows with a new permit, empties rows that lost theirs, and leaves other
    rows as they were; the sparse path empties every row without a new permit. The sparse path
    keeps the owner's self-weight and forces the owner's permits; the dense path does neither.
    """
    inputs, params = prepare_inputs(
        weights,
        stake,
        bonds,
        params,
        validator_permit=validator_permit,
        active=active,
        outdated=outdated,
        recently_registered=recently_registered,
        owner_uid=owner_uid,
        layout=layout,
    )
    if backend == "numpy":
        return epoch_reference(inputs, params)
    from yuma.backends import run_epoch

    return run_epoch(inputs, params, backend)


def epoch_reference(inputs: EpochInputs, params: YumaParams) -> EpochResult:
    """The numpy reference epoch on validated inputs (see :func:`epoch`)."""
    stake = normalize(inputs.stake)
    new_permit = is_topk_nonzero(stake, params.max_allowed_validators)
    if inputs.sparse and inputs.owner_uid is not None:
        new_permit[inputs.owner_uid] = True
    active_stake = normalize(np.where(inputs.active & inputs.old_permit, stake, 0.0))
    if inputs.sparse:
        return _sparse_epoch(inputs, params, stake, active_stake, new_permit)
    return _dense_epoch(inputs, params, stake, active_stake, new_permit)


def _dense_epoch(
    inputs: EpochInputs,
    params: YumaParams,
    stake: FloatArray,
    active_stake: FloatArray,
    new_permit: BoolArray,
) -> EpochResult:
    w = mask_rows(~inputs.old_permit, inputs.weights)
    if inputs.square:
        # The dense path masks every self-weight, the owner's included (spec §6.2).
        w = mask_diag(w)
    if inputs.outdated is not None:
        outdated = inputs.outdated
        w = mask_matrix(outdated.toarray() if is_sparse(outdated) else outdated, w)
    w = row_normalize(w)

    consensus = weighted_median_col(active_stake, w, params.kappa)
    clipped = col_clip(w, consensus)
    validator_trust = clipped.sum(axis=1)
    ranks = active_stake @ clipped
    incentive = normalize(ranks)

    weights_for_bonds = interpolate(w, clipped, params.bonds_penalty)
    previous = mask_cols(inputs.recently_registered, inputs.bonds)
    if params.yuma3:
        if params.liquid_alpha and np.any(consensus != 0):
            alpha = alpha_sigmoid(
                consensus[None, :],
                weights_for_bonds,
                previous,
                params.alpha_low,
                params.alpha_high,
                params.alpha_sigmoid_steepness,
            )
            ema = mat_ema_alpha(weights_for_bonds, previous, alpha)
        else:
            ema = mat_ema(weights_for_bonds, previous, params.bonds_ema_rate)
        dividends = normalize((col_normalize(ema) @ incentive) * active_stake)
        stored = ema
    else:
        delta = col_normalize(weights_for_bonds * active_stake[:, None])
        ema = col_normalize(
            np.maximum(mat_ema(delta, col_normalize(previous), params.bonds_ema_rate), 0.0)
        )
        dividends = normalize(ema @ incentive)
        stored = col_max_upscale(ema)

    # Dense storage: rows with a new permit are rewritten, rows that lost one are emptied, and
    # the others keep their previous value.
    lost = inputs.old_permit & ~new_permit
    previous_bonds = np.asarray(inputs.bonds, dtype=np.float64)
    bonds = np.where(new_permit[:, None], stored, np.where(lost[:, None], 0.0, previous_bonds))
    server, validator, combined = emission_shares(
        incentive, dividends, stake, active_stake, square=inputs.square
    )
    return EpochResult(
        stake=stake,
        active_stake=active_stake,
        weights=w,
        consensus=consensus,
        clipped_weights=clipped,
        validator_trust=validator_trust,
        ranks=ranks,
        incentive=incentive,
        bonds=bonds,
        dividends=dividends,
        validator_permit=new_permit,
        server_emission=server,
        validator_emission=validator,
        combined_emission=combined,
    )


def _sparse_epoch(
    inputs: EpochInputs,
    params: YumaParams,
    stake: FloatArray,
    active_stake: FloatArray,
    new_permit: BoolArray,
) -> EpochResult:
    w = mask_rows_sparse(~inputs.old_permit, inputs.weights)
    if inputs.square:
        w = mask_diag_sparse(w, except_index=inputs.owner_uid)
    if inputs.outdated is not None:
        w = mask_matrix_sparse(inputs.outdated, w)
    w = row_normalize_sparse(w)

    consensus = weighted_median_col_sparse(active_stake, w, params.kappa)
    clipped = col_clip_sparse(w, consensus)
    validator_trust = clipped.sum(axis=1)
    ranks = clipped.T @ active_stake
    incentive = normalize(ranks)

    weights_for_bonds = interpolate_sparse(w, clipped, params.bonds_penalty)
    previous = mask_cols_sparse(inputs.recently_registered, inputs.bonds)
    ema: sp.csr_array
    if params.yuma3:
        if params.liquid_alpha and np.any(consensus != 0):
            rows = row_of_entries(weights_for_bonds)
            cols = weights_for_bonds.indices
            alpha = alpha_sigmoid(
                consensus[cols],
                weights_for_bonds.data,
                lookup(previous, rows, cols),
                params.alpha_low,
                params.alpha_high,
                params.alpha_sigmoid_steepness,
            )
            ema = mat_ema_alpha_sparse(weights_for_bonds, previous, alpha)
        else:
            ema = mat_ema_sparse(weights_for_bonds, previous, params.bonds_ema_rate)
        dividends = normalize((col_normalize_sparse(ema) @ incentive) * active_stake)
        stored = ema
    else:
        rows = row_of_entries(weights_for_bonds)
        delta = col_normalize_sparse(
            with_data(weights_for_bonds, weights_for_bonds.data * active_stake[rows])
        )
        ema = col_normalize_sparse(
            mat_ema_sparse(delta, col_normalize_sparse(previous), params.bonds_ema_rate)
        )
        dividends = normalize(ema @ incentive)
        stored = col_max_upscale_sparse(ema)

    # Sparse storage rewrites every row: rows without a new permit are emptied.
    bonds = keep_entries(stored, new_permit[row_of_entries(stored)])
    server, validator, combined = emission_shares(
        incentive, dividends, stake, active_stake, square=inputs.square
    )
    return EpochResult(
        stake=stake,
        active_stake=active_stake,
        weights=w,
        consensus=consensus,
        clipped_weights=clipped,
        validator_trust=np.asarray(validator_trust, dtype=np.float64),
        ranks=np.asarray(ranks, dtype=np.float64),
        incentive=incentive,
        bonds=as_csr(bonds),
        dividends=dividends,
        validator_permit=new_permit,
        server_emission=server,
        validator_emission=validator,
        combined_emission=combined,
    )
