"""``arithmetic="float"``: a snapshot through the float core :func:`yuma.epoch`.

The snapshot's chain state becomes the core's inputs exactly as the chain derives them (the
same masks and stake terms as the exact path), the core runs in float64, and its results are
quantised like the chain stores them: u16 = ``floor(x · 65535)``, u64 = ``floor(x · E)``.
Expect agreement with the exact path within one u16 unit (and 1e-6 · E for amounts) except where
a cumulative stake lands exactly on κ (a median tie; see the tests) and where the chain's
resolution decides (:data:`FLOAT_DOMAIN`).

Hyperparameters are mapped as the chain uses them: ``alpha_low > alpha_high`` gives the chain's
``clamp_value(α, low, high) = low`` for every pair, which the float core reproduces with
``alpha_high = alpha_low``; a ``bonds_moving_average`` above 1 000 000 (root only) is refused by
both arithmetics (:func:`yuma.chain.exact.check_epoch_domain`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma.chain import ops
from yuma.chain.exact import check_epoch_domain, masks, stake_terms
from yuma.chain.fixedpoint import U16_MAX
from yuma.chain.ops import SparseRows
from yuma.chain.output import ChainEpochOutput
from yuma.chain.snapshot import SubnetSnapshot

__all__ = ["FLOAT_DOMAIN", "epoch_float", "float_inputs"]

#: Where float mode can differ from exact by more than one u16 unit, besides median ties.
FLOAT_DOMAIN = (
    "float64 has no I32F32 resolution: every chain product is floored to a multiple of 2^-32, "
    "so a quantity that is later normalised carries a relative error of about (terms + 1) / S, "
    "S being its raw sum (the real sum times 2^32). Two normalisations expose it. (1) Original "
    "Yuma (yuma3_enabled=False) column-normalises dB = W_b * a: bond column j of float mode "
    "may differ by up to 1 + 2^17 (1 + rows_j) / S_j u16 units, S_j the raw column sum of dB "
    "and rows_j its non-zero entries; if every product of a column floors to 0 while some "
    "w > 0 and a > 0, the chain's column is empty and float's is not (any difference). (2) The "
    "final dividends normalisation: dividends may differ by up to 1 + 2^17 (1 + n) / D units, D "
    "the raw sum of the dividends before it (ChainEpochOutput.dividends_raw), plus the bond "
    "error of (1) weighted by incentive. Both need tiny products: weights under 256 (u16) with "
    "stake ratios over 100, or an EMA rate that leaves bonds of a few 2^-32. Elsewhere float "
    "agrees within one unit (tests/test_chain_properties.py)."
)


def _matrix(m: SparseRows, n: int, scale: float, sparse: bool) -> Any:
    """u16 rows as a float (n, n) matrix: CSR with stored zeros (sparse) or dense."""
    if not sparse:
        return m.to_dense(n).astype(np.float64) / scale
    # a repeated column keeps its last stored value
    keys, vals = ops._last_by_key(m.row_ids() * n + m.indices, m.data)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys // n, minlength=n), out=indptr[1:])
    data = vals.astype(np.float64) / scale
    return sp.csr_array((data, keys % n, indptr), shape=(n, n))


def _outdated_sparse(w: Any, last_update: Any, registration: Any) -> Any:
    """The outdated mask ``LU_i ≤ reg_j`` on the stored entries of ``w`` only (CSR, O(nnz)):
    the core drops exactly the stored entries the mask marks."""
    rows = np.repeat(np.arange(w.shape[0], dtype=np.int64), np.diff(w.indptr))
    marked = last_update[rows] <= registration[w.indices]
    r, c = rows[marked], w.indices[marked]
    return sp.csr_array((np.ones(r.size, dtype=np.bool_), (r, c)), shape=w.shape)


def float_inputs(s: SubnetSnapshot) -> dict[str, Any]:
    """Keyword arguments of :func:`yuma.epoch` for snapshot ``s`` (plus ``params``)."""
    from yuma.params import YumaParams

    hp = s.hyperparameters
    n = s.n
    sparse = s.path == "sparse"
    # the same refusals as the exact path (dense size, BMA past 1e6)
    check_epoch_domain(s)
    mk = masks(s)
    st = stake_terms(s)
    # threshold-filtered stake (owner exempt on the sparse path); the core normalises it
    stake = np.array([float(v) for v in st.filtered], dtype=np.float64) / 2.0**64
    owner = s.owner_uid if sparse else None

    permits = np.zeros(n, dtype=np.bool_)
    permits[: len(s.validator_permit)] = s.validator_permit
    if owner is not None and owner < len(s.validator_permit):
        permits[owner] = True
    weights = s.weights
    if len(s.validator_permit) == 0:
        # the chain's mask helpers read an empty permit vector differently: the active-stake
        # mask is skipped while every weight row is masked
        permits[:] = True
        weights = SparseRows.empty(n)

    bond_scale = float(U16_MAX) if hp.yuma3_enabled else 1.0
    w = _matrix(weights, n, 1.0, sparse)
    if sparse:
        outdated = _outdated_sparse(w, mk.last_update, mk.block_at_registration)
    else:
        outdated = mk.last_update[:, None] <= mk.block_at_registration[None, :]
    params = YumaParams.from_chain(
        kappa=hp.kappa,
        bonds_moving_average=hp.bonds_moving_average,
        bonds_penalty=hp.bonds_penalty,
        yuma3_enabled=hp.yuma3_enabled,
        liquid_alpha_enabled=hp.liquid_alpha_enabled,
        alpha_low=hp.alpha_low,
        # the chain clamps α to [low, high] with min then max: low > high gives low everywhere
        alpha_high=max(hp.alpha_high, hp.alpha_low),
        alpha_sigmoid_steepness=hp.alpha_sigmoid_steepness,
        max_allowed_validators=hp.max_allowed_validators,
    )
    return {
        "weights": w,
        "stake": stake,
        "bonds": _matrix(s.bonds, n, bond_scale, sparse),
        "params": params,
        "validator_permit": permits,
        "active": mk.active,
        "outdated": outdated,
        "recently_registered": mk.recently_registered,
        "owner_uid": owner,
        "layout": "uid",
    }


def _u16(x: Any) -> tuple[int, ...]:
    v = np.floor(np.asarray(x, dtype=np.float64) * U16_MAX)
    return tuple(int(q) for q in np.clip(np.nan_to_num(v), 0, U16_MAX))


def _u64(x: Any, emission: int) -> tuple[int, ...]:
    """``floor(x_i · E)`` in exact integer arithmetic (a float64 product near E = u64::MAX rounds
    up to 2^64), the shares clipped to [0, 1]; if float rounding makes the amounts sum past E,
    the excess (a few units of ``n · 2^-53 · E``) is taken from the largest amounts, so the
    payout never exceeds E, like the chain's."""
    e = int(emission)
    shares = np.clip(np.nan_to_num(np.asarray(x, dtype=np.float64).ravel()), 0.0, 1.0)
    amounts = []
    for q in shares.tolist():
        num, den = float(q).as_integer_ratio()
        amounts.append((num * e) // den)
    excess = sum(amounts) - e
    if excess > 0:
        for i in sorted(range(len(amounts)), key=lambda k: -amounts[k]):
            take = min(excess, amounts[i])
            amounts[i] -= take
            excess -= take
            if excess == 0:
                break
    return tuple(amounts)


def epoch_float(s: SubnetSnapshot) -> ChainEpochOutput:
    """Run ``s`` through the float core and quantise like the chain."""
    import yuma

    n = s.n
    kw = float_inputs(s)
    # the numpy reference backend: the float arithmetic this path documents, on any machine
    res = yuma.epoch(**kw, backend="numpy")
    sparse = s.path == "sparse"
    new_permits = np.asarray(res.validator_permit, dtype=np.bool_)

    if sparse:
        b = sp.csr_array(res.bonds)
        b.sort_indices()
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(b.indptr))
        q = np.clip(np.floor(b.data * U16_MAX), 0, U16_MAX).astype(np.int64)
        keep = new_permits[rows] & (b.data > 0)
        bonds = SparseRows.from_entries(n, rows[keep], b.indices[keep].astype(np.int64), q[keep])
    else:
        dense = np.asarray(res.dense("bonds"), dtype=np.float64)
        q = np.clip(np.floor(dense * U16_MAX), 0, U16_MAX).astype(np.int64)
        # the dense storage rule (spec §6.6), as on the exact path
        k = len(s.validator_permit)
        full = np.zeros(n, dtype=np.bool_)
        full[:k] = new_permits[:k]
        emptied = np.zeros(n, dtype=np.bool_)
        emptied[:k] = ~new_permits[:k] & np.array(s.validator_permit, dtype=np.bool_)
        bonds = ops.dense_bond_storage(q, full, emptied, s.bonds)

    e = s.emission
    return ChainEpochOutput(
        incentive=_u16(res.incentive),
        dividends=_u16(res.dividends),
        consensus=_u16(res.consensus),
        validator_trust=_u16(res.validator_trust),
        stake_weight=_u16(res.stake),
        emission=_u64(res.combined_emission, e),
        server_emission=_u64(res.server_emission, e),
        validator_emission=_u64(res.validator_emission, e),
        active=tuple(bool(a) for a in kw["active"]),
        new_validator_permit=tuple(bool(p) for p in new_permits),
        bonds=bonds,
        stake=tuple(stake_terms(s).raw_stake),
    )
