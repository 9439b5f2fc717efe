"""``arithmetic="float"``: a snapshot through the float core :func:`yuma.epoch`.

The snapshot's chain state becomes the core's inputs exactly as the chain derives them (the
same masks and stake terms as the exact path), the core runs in float64, and its results are
quantised like the chain stores them: u16 = ``floor(x · 65535)``, u64 = ``floor(x · E)``.
Expect agreement with the exact path within one u16 unit (and 1e-6 · E for amounts) except where
a cumulative stake lands exactly on κ (a median tie; see the tests).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma.chain import ops
from yuma.chain.exact import masks, stake_terms
from yuma.chain.fixedpoint import U16_MAX, U64_MAX
from yuma.chain.ops import SparseRows
from yuma.chain.output import ChainEpochOutput
from yuma.chain.snapshot import SubnetSnapshot

__all__ = ["epoch_float", "float_inputs"]


def _matrix(m: SparseRows, n: int, scale: float, sparse: bool) -> Any:
    """u16 rows as a float (n, n) matrix: CSR with stored zeros (sparse) or dense."""
    rows = m.row_ids()
    if not sparse:
        return m.to_dense(n).astype(np.float64) / scale
    # a repeated column keeps its last stored value
    keys, vals = ops._last_by_key(rows * n + m.indices, m.data)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys // n, minlength=n), out=indptr[1:])
    data = vals.astype(np.float64) / scale
    return sp.csr_array((data, keys % n, indptr), shape=(n, n))


def float_inputs(s: SubnetSnapshot) -> dict[str, Any]:
    """Keyword arguments of :func:`yuma.epoch` for snapshot ``s`` (plus ``params``)."""
    from yuma.params import YumaParams

    hp = s.hyperparameters
    n = s.n
    sparse = s.path == "sparse"
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
    outdated = mk.last_update[:, None] <= mk.block_at_registration[None, :]
    params = YumaParams.from_chain(
        kappa=hp.kappa,
        bonds_moving_average=min(hp.bonds_moving_average, 1_000_000),
        bonds_penalty=hp.bonds_penalty,
        yuma3_enabled=hp.yuma3_enabled,
        liquid_alpha_enabled=hp.liquid_alpha_enabled,
        alpha_low=hp.alpha_low,
        alpha_high=max(hp.alpha_high, hp.alpha_low),
        alpha_sigmoid_steepness=hp.alpha_sigmoid_steepness,
        max_allowed_validators=hp.max_allowed_validators,
    )
    return {
        "weights": _matrix(weights, n, 1.0, sparse),
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
    v = np.floor(np.asarray(x, dtype=np.float64) * float(emission))
    return tuple(min(max(int(q), 0), U64_MAX) for q in np.nan_to_num(v))


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
        k = len(s.validator_permit)
        old_rows = s.bonds.to_rows()
        rows_out: list[list[list[int]]] = []
        for i in range(n):
            if i < k and new_permits[i]:
                rows_out.append([[j, int(q[i, j])] for j in range(n)])
            elif i < k and s.validator_permit[i]:
                rows_out.append([])
            else:
                rows_out.append(old_rows[i])
        bonds = SparseRows.from_rows(rows_out)

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
