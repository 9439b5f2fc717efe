"""The chain's sparse epoch (``epoch_mechanism``) on CSR matrices: the numpy reference.

Same step names as the dense pipeline (:data:`yuma.pipeline.STEP_NAMES`), in the same order;
the sparse path has code of its own because presence differs (spec §6): absent entries are
absent, the owner keeps its self-weight and a permit, a Yuma3 liquid-alpha bond without a weight
entry is dropped, and storage empties every row without a new permit. The numba twin is
:mod:`yuma.backends.numba_sparse`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from yuma._sparse import as_csr, keep_entries, lookup, row_of_entries, with_data
from yuma._types import BoolArray, FloatArray
from yuma._xp import np_xp

# The building blocks' bodies on inputs checked once, by prepare_inputs: their public forms
# validate every argument in O(nnz), which cost more than the arithmetic at the size of a real
# subnet. Everything a step builds is canonical float64 CSR of finite non-negative values.
from yuma.clip import _col_clip_csr
from yuma.ema import _mat_ema_alpha_csr, _mat_ema_csr
from yuma.emission import emission_shares
from yuma.inputs import EpochInputs
from yuma.interpolate import _interpolate_csr
from yuma.liquid_alpha import alpha_sigmoid
from yuma.masks import (
    mask_cols_sparse,
    mask_diag_sparse,
    mask_matrix_sparse,
    mask_rows_sparse,
)
from yuma.median import _median_col_csr
from yuma.normalize import (
    _col_max_upscale_csr,
    _col_normalize_csr,
    _row_normalize_csr,
    normalize,
)
from yuma.params import YumaParams
from yuma.permits import is_topk_nonzero
from yuma.result import EpochResult

__all__ = ["sparse_epoch"]


def sparse_epoch(inputs: EpochInputs, params: YumaParams) -> EpochResult:
    """One sparse epoch on validated inputs (``inputs.sparse``)."""
    # stake, permits (the owner always holds one), active_stake
    stake = normalize(inputs.stake, xp=np_xp)
    new_permit = np.asarray(is_topk_nonzero(stake, params.max_allowed_validators, xp=np_xp))
    if inputs.owner_uid is not None:
        new_permit = new_permit.copy()
        new_permit[inputs.owner_uid] = True
    # None given: the default permits are these very new ones (``EpochInputs.old_permit``
    # would compute them a second time).
    old_permit = new_permit if inputs.given_permit is None else inputs.given_permit
    active_stake = normalize(np.where(inputs.active & old_permit, stake, 0.0), xp=np_xp)
    return _sparse_epoch(inputs, params, stake, active_stake, new_permit, old_permit)


def _sparse_epoch(
    inputs: EpochInputs,
    params: YumaParams,
    stake: FloatArray,
    active_stake: FloatArray,
    new_permit: BoolArray,
    old_permit: BoolArray,
) -> EpochResult:
    # weights
    w = mask_rows_sparse(~old_permit, inputs.weights)
    if inputs.square:
        w = mask_diag_sparse(w, except_index=inputs.owner_uid)
    if inputs.outdated is not None:
        w = mask_matrix_sparse(inputs.outdated, w)
    w = _row_normalize_csr(w)

    # consensus, clip, incentive
    consensus = _median_col_csr(active_stake, w, params.kappa)
    clipped = _col_clip_csr(w, consensus)
    validator_trust = clipped.sum(axis=1)
    ranks = clipped.T @ active_stake
    incentive = normalize(ranks, xp=np_xp)

    # bonds_penalty, masked_bonds, ema_rate, bonds, dividends
    weights_for_bonds = _interpolate_csr(w, clipped, params.bonds_penalty)
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
                xp=np_xp,
            )
            ema = _mat_ema_alpha_csr(weights_for_bonds, previous, alpha)
        else:
            ema = _mat_ema_csr(weights_for_bonds, previous, params.bonds_ema_rate)
        dividends = normalize((_col_normalize_csr(ema) @ incentive) * active_stake, xp=np_xp)
        stored = ema
    else:
        rows = row_of_entries(weights_for_bonds)
        delta = _col_normalize_csr(
            with_data(weights_for_bonds, weights_for_bonds.data * active_stake[rows])
        )
        ema = _col_normalize_csr(
            _mat_ema_csr(delta, _col_normalize_csr(previous), params.bonds_ema_rate)
        )
        dividends = normalize(ema @ incentive, xp=np_xp)
        stored = _col_max_upscale_csr(ema)

    # storage: sparse storage rewrites every row: rows without a new permit are emptied.
    bonds = keep_entries(stored, new_permit[row_of_entries(stored)])
    server, validator, combined = emission_shares(
        incentive, dividends, stake, active_stake, square=inputs.square, xp=np_xp
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
