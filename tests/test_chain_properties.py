"""Property tests of ``yuma.chain`` on random snapshots (n ≤ 64, both paths, both bond
branches, liquid alpha on and off).

* exact arithmetic never raises on extreme but legal input and is deterministic;
* exact and float agree within one u16 unit (u64 amounts within 1e-6 · E) away from exact
  median ties, and ``test_median_tie_*`` documents the tie case where they may not.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from yuma.chain import Hyperparameters, SubnetSnapshot, ops, run_epoch
from yuma.chain import fixedpoint as fp

U16 = 65535
U64 = (1 << 64) - 1
#: per combination of path, bond branch and liquid alpha; raise with YUMA_CHAIN_EXAMPLES
SETTINGS = settings(
    max_examples=int(os.environ.get("YUMA_CHAIN_EXAMPLES", "10")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@st.composite
def snapshots(
    draw: Any, extreme: bool, path: str, yuma3: bool, liquid_alpha: bool, wide: bool = False
) -> SubnetSnapshot:
    """A random legal snapshot. ``extreme`` draws stakes up to u64::MAX, u16 extremes, all-zero
    rows, unsorted rows and odd hyperparameters; otherwise stakes within a factor 100 of each
    other and rows sorted by uid (what agreement with float64 needs). ``wide`` (not extreme):
    chain-like but with stake ratios up to 1e5 and weights under 256 too, the domain where the
    chain's resolution shows (see :func:`bond_resolution_bounds`)."""
    n = draw(st.integers(1, 64))
    if extreme:
        stake_el = st.one_of(
            st.just(0), st.integers(0, 10), st.integers(U64 - 10, U64), st.integers(0, U64)
        )
        u16_el = st.one_of(st.sampled_from([0, 1, U16 - 1, U16]), st.integers(0, U16))
    else:
        # Stakes within a factor 100 and weights of 0 or ≥ 256: otherwise a product such as
        # ΔB = w ⊗ a can land a few I32F32 units (2^-32) above zero, where the chain's
        # resolution rather than rounding decides what a column normalisation yields.
        stake_el = st.one_of(st.just(0), st.integers(10**15, 10**17))
        u16_el = st.one_of(st.just(0), st.integers(256, U16))
        if wide:
            stake_el = st.one_of(st.just(0), st.integers(10**12, 10**17))
            u16_el = st.one_of(st.just(0), st.integers(1, 255), st.integers(256, U16))
    alpha = draw(st.lists(stake_el, min_size=n, max_size=n))
    tao = draw(st.lists(stake_el, min_size=n, max_size=n)) if extreme else [0] * n
    block = draw(st.integers(0, 10_000 if not extreme else U64))
    block_el = st.integers(0, block) if not extreme else st.integers(0, U64)
    last_update = draw(st.lists(block_el, min_size=n, max_size=n))
    reg = draw(st.lists(block_el, min_size=n, max_size=n))

    def rows() -> list[list[list[int]]]:
        out = []
        for _ in range(n):
            cols = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
            if not extreme:
                cols.sort()
            out.append([[j, draw(u16_el)] for j in cols])
        return out

    permits = draw(st.lists(st.booleans(), max_size=n))
    if not extreme:
        permits = permits + [True] * (n - len(permits))
    lo = draw(st.integers(0, U16))
    hp = Hyperparameters(
        kappa=draw(st.integers(1, U16 - 1) if extreme else st.integers(16384, 49151)),
        # Agreement needs 0.5e6 ≤ BMA ≤ 0.99e6 (or exactly 1e6, α = 0): a fast EMA shrinks old
        # bonds, and a very slow one (α ≈ 1e-6) the new term α ⊗ W, to a few I32F32 units, where
        # the chain's resolution (2^-32) rather than rounding decides the stored values.
        bonds_moving_average=draw(
            st.integers(0, 1_000_000)
            if extreme
            else st.one_of(st.integers(500_000, 990_000), st.just(1_000_000))
        ),
        bonds_penalty=draw(st.sampled_from([0, U16, 32768]) | st.integers(0, U16)),
        yuma3_enabled=yuma3,
        liquid_alpha_enabled=liquid_alpha,
        alpha_low=lo,
        alpha_high=draw(st.integers(lo, U16)),
        alpha_sigmoid_steepness=draw(
            st.integers(-32768, 32767) if extreme else st.integers(1, 3000)
        ),
        max_allowed_validators=draw(st.integers(0, n + 2)),
        tempo=draw(st.integers(0, 400)),
        stake_threshold=draw(st.sampled_from([0, 0, 10**16]) if not extreme else stake_el),
        tao_weight_raw=draw(st.integers(0, U64)) if extreme else 0,
    )
    owner = draw(st.one_of(st.none(), st.integers(0, n - 1)))
    return SubnetSnapshot(
        n=n,
        block=block,
        emission=draw(st.integers(0, U64) if extreme else st.integers(10**6, 10**12)),
        alpha_stake=alpha,
        tao_stake=tao,
        last_update=last_update,
        block_at_registration=reg,
        weights=rows(),
        bonds=rows(),
        validator_permit=permits,
        last_mechanism_step_block=draw(st.integers(0, block)) if not extreme else 0,
        owner_uid=owner,
        path=path,
        hyperparameters=hp,
    )


COMBOS = pytest.mark.parametrize(
    ("path", "yuma3", "liquid_alpha"),
    [(p, y, la) for p in ("sparse", "dense") for y in (True, False) for la in (False, True)],
)


@COMBOS
@SETTINGS
@given(data=st.data())
def test_exact_never_raises_and_is_deterministic(
    path: str, yuma3: bool, liquid_alpha: bool, data: st.DataObject
) -> None:
    s = data.draw(snapshots(True, path, yuma3, liquid_alpha))
    try:
        a = run_epoch(s, "exact").to_dict(include_raw=True)
    except ValueError as exc:
        # the one refusal: a total stake past the chain's I64F64 sum (2^63 rao)
        assert "2^63" in str(exc)
        assert sum(s.alpha_stake) + sum(s.tao_stake or ()) >= 1 << 63
    else:
        b = run_epoch(s, "exact").to_dict(include_raw=True)
        assert a == b
        for key in ("incentive", "dividends", "consensus", "validator_trust", "stake_weight"):
            assert len(a[key]) == s.n and all(0 <= v <= U16 for v in a[key])
        for key in ("emission", "server_emission", "validator_emission"):
            assert all(0 <= v <= U64 for v in a[key])
            # never more than E in total
            assert sum(a[key]) <= s.emission
        assert all(0 <= v <= U16 for row in a["bonds"] for _, v in row)


def median_margin(out: Any, n: int, kappa: int) -> int:
    """Smallest distance (I32F32 raw) between a column's cumulative active stake and the
    median threshold ``m = U − κ``: 0 is an exact tie."""
    stake = np.array(out.active_stake_raw, dtype=np.int64)
    pos = stake > 0
    if not pos.any():
        return 1 << 62
    u = ops.normalize(stake[pos])
    m = int(u.sum()) - kappa
    w = out.weights_normalized_raw.to_dense(n)[pos]
    margin = 1 << 62
    for j in range(n):
        col = w[:, j]
        for v in np.unique(col):
            margin = min(margin, abs(int(u[col <= v].sum()) - m))
    return margin


def _quantised_stakes_distinct(s: SubnetSnapshot) -> bool:
    """Stakes that differ must stay different (and non-zero) after the I32F32 normalisation,
    or the top-K permit choice is an exact-arithmetic tie."""
    total = sum(s.alpha_stake)
    if total == 0:
        return True
    raw = [fp.u64_normalization(a, total)[1] for a in s.alpha_stake]
    for a, ra in zip(s.alpha_stake, raw, strict=True):
        if a and not ra:
            return False
    pairs = {}
    for a, ra in zip(s.alpha_stake, raw, strict=True):
        if ra in pairs and pairs[ra] != a:
            return False
        pairs[ra] = a
    return True


@COMBOS
@SETTINGS
@given(data=st.data())
def test_exact_and_float_agree_away_from_ties(
    path: str, yuma3: bool, liquid_alpha: bool, data: st.DataObject
) -> None:
    s = data.draw(snapshots(False, path, yuma3, liquid_alpha))
    ex = run_epoch(s, "exact")
    assume(_quantised_stakes_distinct(s))
    assume(median_margin(ex, s.n, (s.hyperparameters.kappa << 32) // U16) > 1 << 12)
    fl = run_epoch(s, "float")
    a, b = ex.to_dict(), fl.to_dict()
    for key in ("incentive", "dividends", "consensus", "validator_trust", "stake_weight"):
        diff = np.abs(np.array(a[key]) - np.array(b[key]))
        assert diff.max(initial=0) <= 1, (key, a[key], b[key])
    for key in ("emission", "server_emission", "validator_emission"):
        diff = np.abs(np.array(a[key], dtype=float) - np.array(b[key], dtype=float))
        assert diff.max(initial=0) <= 1e-6 * s.emission + 1, (key, a[key], b[key])
    assert a["active"] == b["active"]
    assert a["new_validator_permit"] == b["new_validator_permit"]
    # Original-Yuma bonds (Yuma3 off) carry the resolution of their column normalisation even
    # here (FLOAT_DOMAIN (1)): a column whose stake-weighted purchase is small may be 2 units
    # off; Yuma3's bound is 1.
    bound = bond_resolution_bounds(s, ex)
    db = np.abs(ex.bonds.to_dense(s.n) - fl.bonds.to_dense(s.n)).max(axis=0, initial=0)
    assert (db <= bound).all(), (db, bound)


def bond_resolution_bounds(s: SubnetSnapshot, ex: Any) -> np.ndarray:
    """Per bond column, how far float-mode bonds may lie from the chain's (u16 units).

    Original Yuma (``yuma3_enabled=False``) column-normalises ΔB = W_b ∘ a. Every product is
    floored to a multiple of 2^-32, so a column whose raw sum ``S_j`` (ΔB's column sum × 2^32)
    is small carries a relative error of about (rows + 1) / S_j into the normalised, EMA-ed and
    max-upscaled bonds: observed ``|float − exact| · S_j`` stays under 2^18 (weights under 256
    with stake ratios over 100 make S_j a few thousand). If every product of a column floors to
    0 (S_j = 0 with some w > 0 and a > 0) the chain's column is empty while float normalises
    a positive column: any difference is possible. Yuma3 stores the EMA itself (absolute
    resolution only): one unit.
    """
    n = s.n
    bound = np.ones(n)
    if s.hyperparameters.yuma3_enabled:
        return bound
    hp = s.hyperparameters
    a = np.array(ex.active_stake_raw, dtype=np.int64)
    w = ex.weights_normalized_raw
    kappa = (hp.kappa << 32) // U16
    pen = (hp.bonds_penalty << 32) // U16
    if s.path == "sparse":
        cons = ops.weighted_median_col_sparse(a, w, n, kappa)
        wb = ops.interpolate_sparse(w, ops.col_clip_sparse(w, cons), n, pen).to_dense(n)
    else:
        wd = w.to_dense(n)
        cons = ops.weighted_median_col(a, wd, kappa)
        wb = ops.interpolate(wd, ops.inplace_col_clip(wd, cons), pen)
    delta = ops.row_hadamard(wb, a)
    col = delta.sum(axis=0)
    rows = (delta > 0).sum(axis=0)
    touched = ((wb > 0) & (a[:, None] > 0)).any(axis=0)
    for j in range(n):
        if col[j] > 0:
            bound[j] = 1 + 2.0**17 * (1 + rows[j]) / col[j]
        elif touched[j]:
            bound[j] = U16
    return bound


@COMBOS
@SETTINGS
@given(data=st.data())
def test_exact_and_float_agree_within_resolution(
    path: str, yuma3: bool, liquid_alpha: bool, data: st.DataObject
) -> None:
    """The widened domain of issue 14 item 7 (weights under 256, stake ratios up to 1e5): u16
    terms within one unit, bonds within :func:`bond_resolution_bounds`."""
    s = data.draw(snapshots(False, path, yuma3, liquid_alpha, wide=True))
    ex = run_epoch(s, "exact")
    assume(_quantised_stakes_distinct(s))
    assume(median_margin(ex, s.n, (s.hyperparameters.kappa << 32) // U16) > 1 << 12)
    fl = run_epoch(s, "float")
    a, b = ex.to_dict(), fl.to_dict()
    for key in ("incentive", "consensus", "validator_trust", "stake_weight"):
        diff = np.abs(np.array(a[key]) - np.array(b[key]))
        assert diff.max(initial=0) <= 1, (key, a[key], b[key])
    bound = bond_resolution_bounds(s, ex)
    db = np.abs(ex.bonds.to_dense(s.n) - fl.bonds.to_dense(s.n)).max(axis=0, initial=0)
    assert (db <= bound).all(), (db, bound)
    # dividends: the bonds' error weighted by each column's incentive, plus the resolution of
    # their own normalisation (raw sum D of the dividends before it)
    inc = np.array(a["incentive"], dtype=float) / U16
    div_bound = 1 + 2 * float(np.dot(inc, np.where(bound > 1, bound, 0)))
    total = sum(ex.dividends_raw or ())
    if total > 0:
        div_bound += 2.0**17 * (1 + s.n) / total
    elif any(b["dividends"]):
        div_bound = U16
    diff = np.abs(np.array(a["dividends"]) - np.array(b["dividends"]))
    assert diff.max(initial=0) <= div_bound, (a["dividends"], b["dividends"], div_bound)


#: Stakes of the tie case: the exact cumulative stake of the validator scoring miner 2 with 0
#: equals m = U − κ to the last raw unit, while in float64 it lies just above m.
TIE_STAKE = 10**15
TIE_ZERO_VOTER = 500_007_629_550_000


def _tie_snapshot(path: str) -> SubnetSnapshot:
    """Validator 0 gives miner 2 all its weight, validator 1 gives it an explicit 0 (and the
    rest to uid 0); their stakes split so that validator 1's cumulative stake sits on κ."""
    return SubnetSnapshot(
        n=3,
        block=10,
        emission=10**9,
        alpha_stake=[TIE_STAKE - TIE_ZERO_VOTER, TIE_ZERO_VOTER, 0],
        last_update=[10, 10, 10],
        block_at_registration=[0, 0, 0],
        weights=[[[2, U16]], [[0, U16], [2, 0]], []],
        bonds=[[], [], []],
        validator_permit=[True, True, False],
        path=path,
        hyperparameters=Hyperparameters(max_allowed_validators=2, tempo=100),
    )


def test_median_tie_exact_cumulative_stake_on_kappa() -> None:
    """Documents the tie case, where exact and float may pick different medians.

    Miner 2's scores are 0 (validator 1) and 1 (validator 0). The median is the smallest score
    whose cumulative stake **exceeds** ``m = U − κ``. In the chain's arithmetic validator 1's
    normalised stake equals ``m`` exactly (margin 0), so 0 does not qualify and consensus is 1
    (65535). In float64 the same stake is a hair above ``m`` (5.000076295e-1 vs
    5.000076295109e-1), so float picks 0. Everything downstream follows the choice: with
    consensus 0 miner 2 earns no incentive.
    """
    kappa_raw = (32767 << 32) // U16
    for path in ("sparse", "dense"):
        s = _tie_snapshot(path)
        ex = run_epoch(s, "exact")
        assert median_margin(ex, s.n, kappa_raw) == 0
        fl = run_epoch(s, "float")
        assert ex.consensus[2] == U16
        assert fl.consensus[2] == 0
        assert ex.incentive[2] > 0
        assert fl.incentive[2] == 0
