"""The chain's epoch in its own fixed-point arithmetic, bit for bit (sparse and dense paths).

``epoch_exact(snapshot)`` follows ``epoch_mechanism`` (``path="sparse"``) or
``epoch_dense_mechanism`` (``path="dense"``) of ``pallets/subtensor/src/epoch/run_epoch.rs``
step by step, in the chain's order, with the helpers of :mod:`yuma.chain.ops`. Section numbers
refer to the spec (``shared/spec/yuma-epoch.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from yuma.chain import fixedpoint as fp
from yuma.chain import ops
from yuma.chain.fixedpoint import ONE, BoolArray, I64Array
from yuma.chain.output import ChainEpochOutput
from yuma.chain.snapshot import SubnetSnapshot

__all__ = [
    "DENSE_MAX_N",
    "Masks",
    "StakeTerms",
    "check_dense_size",
    "check_epoch_domain",
    "epoch_exact",
    "masks",
    "stake_terms",
]

#: Largest ``n`` the dense path runs: it materialises several (n, n) int64 matrices like the
#: chain's ``epoch_dense_mechanism`` (512 MiB each at this size). The sparse path, which is what
#: the chain runs, is O(nnz) and takes any legal n.
DENSE_MAX_N = 8192


def check_epoch_domain(s: SubnetSnapshot) -> None:
    """What both arithmetics refuse, before allocating anything.

    * a dense-path snapshot whose (n, n) matrices would not fit (:data:`DENSE_MAX_N`);
    * ``bonds_moving_average > 1_000_000``: only root can set it (subnet owners are capped at
      975 000), and the chain's EMA rate ``1 − BMA/1e6`` is then negative: bonds extrapolate
      away from the weights, dividends go negative and the epoch can pay out more than E (on
      the Yuma3 path a BMA past 2^31 · 1e6 even panics in ``I32F32::from_num``).
    """
    if s.hyperparameters.bonds_moving_average > 1_000_000:
        raise ValueError(
            "hyperparameters.bonds_moving_average must be <= 1000000, got "
            f"{s.hyperparameters.bonds_moving_average}: above it the chain's EMA rate "
            "1 - BMA/1e6 is negative and its epoch can pay out more than the emission"
        )
    check_dense_size(s)


def check_dense_size(s: SubnetSnapshot) -> None:
    """Refuse a dense-path snapshot whose (n, n) matrices would not fit, before allocating."""
    if s.path == "dense" and s.n > DENSE_MAX_N:
        gib = 8 * s.n * s.n / 2**30
        raise ValueError(
            f"path='dense' materialises (n, n) matrices: n = {s.n} needs {gib:.1f} GiB for each "
            f"(limit n <= {DENSE_MAX_N}); use path='sparse', the chain's O(nnz) epoch"
        )


@dataclass(frozen=True)
class StakeTerms:
    """Stake quantities of §4.3–4.4 (shared by both arithmetics).

    Attributes
    ----------
    total : (n,) list of int
        ``total_i = I64F64(α_i) + I64F64(τ_i) ⊗ tw`` as raw I64F64.
    raw_stake : (n,) list of int
        ``floor(total_i)`` (u64, unfiltered).
    filtered : (n,) list of int
        Raw I64F64 stake after the threshold filter (owner exempt on the sparse path).
    stake : (n,) int64
        Normalised I32F32 stake (``StakeWeight`` before quantisation).
    """

    total: list[int]
    raw_stake: list[int]
    filtered: list[int]
    stake: I64Array


def stake_terms(s: SubnetSnapshot) -> StakeTerms:
    """§4.3: total stake, threshold filter, I64F64 normalisation, conversion to I32F32."""
    hp = s.hyperparameters
    # TaoWeight / u64::MAX as U96F32 (safe_div truncates), widened to I64F64
    tw64 = ((hp.tao_weight_raw << 32) // fp.U64_MAX) << 32
    total = []
    for a, t in zip(s.alpha_stake, s.tao_stake or (0,) * s.n, strict=True):
        # I64F64::saturating_from_num(u64) clamps at 2^63 (the type's integer range)
        ar = min(a << 64, fp.I64F64_MAX)
        tr = min(t << 64, fp.I64F64_MAX)
        total.append(min(ar + fp.wide_saturating_mul(tr, tw64, 64), fp.I64F64_MAX))
    raw_stake = [fp.fixed64_to_u64(v) for v in total]
    owner = s.owner_uid if s.path == "sparse" else None
    filtered = [
        0 if (uid != owner and (v >> 64) < hp.stake_threshold) else v for uid, v in enumerate(total)
    ]
    # inplace_normalize_64 sums with a plain I64F64 add (substrate-fixed's Sum folds with Add),
    # which a release runtime wraps. No reachable chain state gets there (the total issuance is
    # far below 2^63 rao); a wrapped sum would pay more than E or nothing, so refuse instead.
    ssum = sum(filtered)
    if ssum > fp.I64F64_MAX:
        raise ValueError(
            "alpha_stake/tao_stake: the filtered total stake "
            f"{ssum >> 64} rao reaches 2^63, where the chain's I64F64 stake sum overflows "
            "(a release runtime wraps it); no reachable chain state has such stakes"
        )
    norm = _norm64(filtered, ssum)
    stake = np.array([fp.fixed64_to_fixed32(v) for v in norm], dtype=np.int64)
    return StakeTerms(total, raw_stake, filtered, stake)


def _norm64(x: list[int], s: int) -> list[int]:
    """``inplace_normalize_64`` with a given I64F64 sum: ``safe_div`` truncates, 0 on overflow."""
    if s == 0:
        return list(x)
    return [fp.wide_safe_div(v, s, 64) for v in x]


@dataclass(frozen=True)
class Masks:
    """Block-derived masks of §4.1, §4.2 and §4.6.c.

    Attributes
    ----------
    active : (n,) bool
        ``LU_i + cutoff ≥ b`` (saturating add).
    recently_registered : (n,) bool
        ``last_tempo ≤ reg_j``: bond column j is dropped before the EMA.
    last_update, block_at_registration : (n,) uint64
    """

    active: BoolArray
    recently_registered: BoolArray
    last_update: Any
    block_at_registration: Any


def masks(s: SubnetSnapshot) -> Masks:
    """§4.1–4.2: activity and recently-registered masks from the snapshot's blocks."""
    cutoff = s.hyperparameters.activity_cutoff
    active = np.array(
        [min(lu + cutoff, fp.U64_MAX) >= s.block for lu in s.last_update], dtype=np.bool_
    )
    last_tempo = _last_tempo(s)
    reg = np.array(s.block_at_registration, dtype=np.uint64)
    recent = np.array([last_tempo <= r for r in s.block_at_registration], dtype=np.bool_)
    return Masks(active, recent, np.array(s.last_update, dtype=np.uint64), reg)


def _last_tempo(s: SubnetSnapshot) -> int:
    """§4.2: ``LastMechansimStepBlock + 1``, or ``b − tempo`` (saturating) before any epoch."""
    lms = s.last_mechanism_step_block
    return max(s.block - s.hyperparameters.tempo, 0) if lms == 0 else min(lms + 1, fp.U64_MAX)


def _u16_ratio(x: int) -> int:
    """``safe_div(I32F32(x), I32F32(65535))``."""
    return (x << 32) // fp.U16_MAX


def _fixed_alpha(bma: int) -> int:
    """``compute_disabled_liquid_alpha``: ``1 − I32F32(I64F64(BMA) / 1e6)``."""
    bma64 = min(bma << 64, fp.I64F64_MAX)
    return int(fp.saturating_sub(ONE, fp.fixed64_to_fixed32(bma64 // 1_000_000)))


def _emission_split(
    incentive: I64Array, dividends: I64Array, stake: I64Array, active_stake: I64Array
) -> tuple[I64Array, I64Array, I64Array]:
    """§4.13: normalised server, validator and combined emission shares (I32F32 raw)."""
    comb = fp.saturating_add(incentive, dividends)
    total = int(comb.sum())
    nse = ops.normalize_using_sum(incentive, total)
    nve = ops.normalize_using_sum(dividends, total)
    nce = ops.normalize(comb)
    if total == 0:
        # emergency mode: pay validators by stake
        src = stake if int(active_stake.sum()) == 0 else active_stake
        nve, nce = src.copy(), src.copy()
    return nse, nve, nce


def _u16_tuple(x: I64Array) -> tuple[int, ...]:
    return tuple(fp.fixed_proportion_to_u16(x).tolist())


def _old_permits(s: SubnetSnapshot, owner: int | None) -> list[bool]:
    vp = list(s.validator_permit)
    if owner is not None and owner < len(vp):
        vp[owner] = True
    return vp


def epoch_exact(s: SubnetSnapshot) -> ChainEpochOutput:
    """Run one epoch of ``s`` in the chain's fixed-point arithmetic.

    Returns the stored terms; on the sparse path also the raw active stake and normalised
    weights (``active_stake_raw``, ``weights_normalized_raw``).
    """
    check_epoch_domain(s)
    if s.path == "dense":
        return _epoch_dense(s)
    return _epoch_sparse(s)


def _epoch_sparse(s: SubnetSnapshot) -> ChainEpochOutput:
    hp = s.hyperparameters
    n = s.n
    mk = masks(s)
    inactive = ~mk.active
    st = stake_terms(s)
    stake = st.stake
    owner = s.owner_uid

    # §4.4 permits: the old ones (owner forced on) mask this epoch, the new ones are stored
    vp = _old_permits(s, owner)
    forbids = [not v for v in vp]
    new_permits = ops.is_topk_nonzero(stake, hp.max_allowed_validators)
    if owner is not None:
        new_permits[owner] = True

    # §4.5 active stake
    active_stake = ops.inplace_mask_vector(inactive, stake)
    active_stake = ops.inplace_mask_vector(forbids, active_stake)
    active_stake = ops.normalize(active_stake)

    # §4.6 weights: stored u16 integers as I32F32, permit / self / outdated masks, row-normalise
    # (one fused pass: ops.epoch_weights_sparse)
    w = ops.epoch_weights_sparse(
        s.weights, forbids, owner, mk.last_update, mk.block_at_registration
    )

    # §4.7 consensus
    kappa = _u16_ratio(hp.kappa)
    consensus = ops.weighted_median_col_sparse(active_stake, w, n, kappa)

    last_tempo = _last_tempo(s)
    ratio = _u16_ratio(hp.bonds_penalty)
    liquid = hp.liquid_alpha_enabled and bool((consensus != 0).any())
    fused = None
    if hp.yuma3_enabled and ratio == ONE and not liquid:
        # the default Yuma3 epoch (W_b = clipped weights, fixed EMA rate) fused from clipping
        # to the stored bonds: ops.clip_ema_sparse, ops.dividend_terms_sparse
        fused = ops.clip_ema_sparse(
            w,
            consensus,
            active_stake,
            s.bonds,
            last_tempo,
            mk.block_at_registration,
            _fixed_alpha(hp.bonds_moving_average),
        )
    if fused is not None:
        vtrust, ranks, ema, ema_sums = fused
        incentive = ops.normalize(ranks)
        # ema is this epoch's own buffer and is not read again: the u16 bonds go over it
        tb, bonds_u16 = ops.dividend_terms_sparse(
            ema, ema_sums, incentive, new_permits, overwrite=True
        )
        div_raw = ops.vec_mul(tb, active_stake)
        dividends = ops.normalize(div_raw)
    else:
        incentive, vtrust, dividends, div_raw, bonds_u16 = _sparse_steps(
            s, w, consensus, active_stake, new_permits, mk, last_tempo, ratio
        )

    nse, nve, nce = _emission_split(incentive, dividends, stake, active_stake)

    return _output(s, st, mk, incentive, dividends, consensus, vtrust, stake, active_stake,
                   new_permits, div_raw, (nse, nve, nce), bonds_u16, w)  # fmt: skip


def _sparse_steps(
    s: SubnetSnapshot,
    w: ops.SparseRows,
    consensus: I64Array,
    active_stake: I64Array,
    new_permits: BoolArray,
    mk: Masks,
    last_tempo: int,
    ratio: int,
) -> tuple[I64Array, I64Array, I64Array, I64Array, ops.SparseRows]:
    """§4.8–4.12 and the §4.14 bonds of the sparse path, one chain helper at a time.

    Returns ``(incentive, validator_trust, dividends, dividends_raw, stored u16 bonds)``.
    """
    hp = s.hyperparameters
    n = s.n
    # §4.8–4.9 clipping, trust, incentive
    clipped, vtrust, ranks = ops.clip_trust_incentive_sparse(w, consensus, active_stake, n)
    incentive = ops.normalize(ranks)

    # §4.10 weights for bonds
    wb = ops.interpolate_sparse(w, clipped, n, ratio)

    if hp.yuma3_enabled:
        # §4.11 Yuma3: bonds are EMA proportions
        b = ops.yuma3_bonds_sparse(s.bonds, last_tempo, mk.block_at_registration)
        if hp.liquid_alpha_enabled and bool((consensus != 0).any()):
            alpha = ops.liquid_alpha_sparse(
                wb,
                b,
                consensus,
                _u16_ratio(hp.alpha_low),
                _u16_ratio(hp.alpha_high),
                hp.alpha_sigmoid_steepness << 32,
            )
            ema = ops.mat_ema_alpha_sparse(wb, b, wb.with_data(alpha))
        else:
            ema = ops.mat_ema_sparse(wb, b, _fixed_alpha(hp.bonds_moving_average))
        tb = ops.col_normalized_dot_sparse(ema, n, incentive)
        div_raw = ops.vec_mul(tb, active_stake)
        dividends = ops.normalize(div_raw)
        stored = ema
    else:
        # §4.12 original Yuma: column-normalised EMA of ΔB = W_b ∘ a
        b = s.bonds.with_data(s.bonds.data << 32)
        b = ops.scalar_vec_mask_sparse_matrix(b, last_tempo, mk.block_at_registration, "le")
        b = ops.inplace_col_normalize_sparse(b, n)
        delta = ops.inplace_col_normalize_sparse(ops.row_hadamard_sparse(wb, active_stake), n)
        ema = ops.mat_ema_sparse(delta, b, _fixed_alpha(hp.bonds_moving_average))
        ema = ops.inplace_col_normalize_sparse(ema, n)
        div_raw = ops.matmul_transpose_sparse(ema, incentive)
        dividends = ops.normalize(div_raw)
        stored = ops.inplace_col_max_upscale_sparse(ema, n)

    # §4.14 bonds: every row rewritten; rows without a new permit become empty
    return incentive, vtrust, dividends, div_raw, ops.u16_rows_sparse(stored, new_permits)


def _epoch_dense(s: SubnetSnapshot) -> ChainEpochOutput:
    hp = s.hyperparameters
    n = s.n
    mk = masks(s)
    inactive = ~mk.active
    st = stake_terms(s)
    stake = st.stake

    # §6.1: no owner special-casing of the permits
    vp = list(s.validator_permit)
    forbids = [not v for v in vp]
    new_permits = ops.is_topk_nonzero(stake, hp.max_allowed_validators)

    active_stake = ops.inplace_mask_vector(inactive, stake)
    active_stake = ops.inplace_mask_vector(forbids, active_stake)
    active_stake = ops.normalize(active_stake)

    # §6.2 in one pass (ops.epoch_weights_dense): the dense path masks the whole diagonal
    # again, the owner's cell included; outdated_ij = LU_i ≤ reg_j is never materialised
    w = ops.epoch_weights_dense(s.weights, n, forbids, mk.last_update, mk.block_at_registration)

    kappa = _u16_ratio(hp.kappa)
    consensus = ops.weighted_median_col(active_stake, w, kappa)
    vtrust, ranks, wb = ops.clip_trust_incentive_dense(
        w, consensus, active_stake, _u16_ratio(hp.bonds_penalty)
    )
    incentive = ops.normalize(ranks)

    stored_u16 = None
    if hp.yuma3_enabled:
        b = ops.yuma3_bonds_dense(s.bonds, n, mk.recently_registered)
        if hp.liquid_alpha_enabled and bool((consensus != 0).any()):
            alphas = fp.alpha_sigmoid(
                np.broadcast_to(consensus[None, :], wb.shape),
                wb,
                b,
                _u16_ratio(hp.alpha_low),
                _u16_ratio(hp.alpha_high),
                hp.alpha_sigmoid_steepness << 32,
            )
            ema = ops.mat_ema_alpha(wb, b, alphas)
            ema_norm = ops.inplace_col_normalize(ema)
            tb = ops.row_sum(ops.mat_vec_mul(ema_norm, incentive))
            stored = ema
        else:
            # mat_ema, inplace_col_normalize, mat_vec_mul and row_sum over b's own memory;
            # b ends up holding the stored u16 bonds
            sums = ops.mat_ema_into(wb, b, _fixed_alpha(hp.bonds_moving_average))
            tb = ops.dividend_terms_dense_into(b, sums, incentive)
            stored_u16 = b
        div_raw = ops.vec_mul(tb, active_stake)
        dividends = ops.normalize(div_raw)
    else:
        b = s.bonds.with_data(s.bonds.data << 32).to_dense(n)
        b = ops.inplace_mask_cols(mk.recently_registered, b)
        b = ops.inplace_col_normalize(b)
        delta = ops.inplace_col_normalize(ops.row_hadamard(wb, active_stake))
        ema = ops.inplace_col_normalize(
            ops.mat_ema(delta, b, _fixed_alpha(hp.bonds_moving_average))
        )
        div_raw = ops.matmul_transpose(ema, incentive)
        dividends = ops.normalize(div_raw)
        stored = ops.inplace_col_max_upscale(ema)
    if stored_u16 is None:
        stored_u16 = fp.fixed_proportion_to_u16(stored)

    nse, nve, nce = _emission_split(incentive, dividends, stake, active_stake)

    # §6.6 storage: rows with a new permit get the full row, rows that lost their permit are
    # emptied, the rest keep their stored value (the chain zips with the old permit vector, so
    # rows past its length are never touched)
    k = len(vp)
    full = np.zeros(n, dtype=np.bool_)
    full[:k] = new_permits[:k]
    emptied = np.zeros(n, dtype=np.bool_)
    emptied[:k] = ~new_permits[:k] & np.array(vp, dtype=np.bool_)
    cols = ops.row_major_columns(n, n)
    if k == n and bool(full.all()):
        # every row rewritten: the u16 matrix itself (this epoch's own buffer) as the rows
        bonds = ops.full_rows(stored_u16, cols)
    else:
        bonds = ops.dense_bond_storage(stored_u16, full, emptied, s.bonds)

    rows = ops.full_rows(w, cols)
    return _output(s, st, mk, incentive, dividends, consensus, vtrust, stake, active_stake,
                   new_permits, div_raw, (nse, nve, nce), bonds, rows)  # fmt: skip


def _output(
    s: SubnetSnapshot,
    st: Any,
    mk: Any,
    incentive: Any,
    dividends: Any,
    consensus: Any,
    vtrust: Any,
    stake: Any,
    active_stake: Any,
    new_permits: Any,
    div_raw: Any,
    shares: tuple[Any, Any, Any],
    bonds: Any,
    weights: Any,
) -> ChainEpochOutput:
    """One epoch's output as the chain reports it (both paths): u16 vectors, emission in rao."""
    nse, nve, nce = shares
    return ChainEpochOutput(
        incentive=_u16_tuple(incentive),
        dividends=_u16_tuple(dividends),
        consensus=_u16_tuple(consensus),
        validator_trust=_u16_tuple(vtrust),
        stake_weight=_u16_tuple(stake),
        emission=tuple(fp.emission_amount(nce, s.emission)),
        server_emission=tuple(fp.emission_amount(nse, s.emission)),
        validator_emission=tuple(fp.emission_amount(nve, s.emission)),
        active=tuple(mk.active.tolist()),
        new_validator_permit=tuple(new_permits.tolist()),
        bonds=bonds,
        stake=tuple(st.raw_stake),
        active_stake_raw=tuple(active_stake.tolist()),
        dividends_raw=tuple(div_raw.tolist()),
        weights_normalized_raw=weights,
    )
