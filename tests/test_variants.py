"""Consensus variants: registry, chain equality, properties, and the known behaviours."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yuma
from yuma import dividends, ema_rate, variants
from yuma import steps as chain_steps
from yuma._step import Config, State
from yuma.pipeline import CHAIN

BUILTIN = ("yuma1", "yuma2", "yuma2_paper", "yuma2b", "yuma2c", "yuma3")


# The numpy reference: these tests pin semantics (the backends are compared elsewhere).
REFERENCE: dict[str, Any] = {"backend": "numpy"}


def simulate(*args: Any, **kwargs: Any) -> Any:
    """``yuma.simulate`` on the numpy reference, keeping the per-epoch matrices."""
    kwargs.setdefault("keep_matrices", True)
    kwargs.setdefault("backend", "numpy")
    return yuma.simulate(*args, **kwargs)


def chained_epochs(weights: np.ndarray, stake: np.ndarray, params: yuma.YumaParams) -> list[Any]:
    """``yuma.epoch`` run epoch by epoch, carrying bonds and permits as the chain does."""
    out = []
    bonds = None
    permit = None
    for t in range(weights.shape[0]):
        r = yuma.epoch(
            weights[t],
            stake[t],
            bonds,
            params,
            validator_permit=permit,
            layout="bipartite",
            **REFERENCE,
        )
        out.append(r)
        bonds, permit = r.bonds, r.validator_permit
    return out


# --- registry ---------------------------------------------------------------------------------


def test_builtin_variants_are_listed() -> None:
    assert tuple(variants.names()[: len(BUILTIN)]) == BUILTIN
    for name in BUILTIN:
        assert variants.get(name).name == name


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown variant 'yuma9'"):
        variants.get("yuma9")
    with pytest.raises(ValueError, match="unknown variant"):
        simulate(np.ones((2, 2, 2)), np.ones(2), variant="nope")


def test_register_a_variant_in_a_few_lines() -> None:
    def sqrt_stake(s: State) -> dict[str, Any]:
        per_bond = yuma.col_normalize(s.ema_bonds, xp=s.xp) @ s.incentive
        return {"dividends": yuma.normalize(per_bond * s.xp.sqrt(s.active_stake), xp=s.xp)}

    mine = variants.get("yuma3").with_(name="test_sqrt_stake", dividends=sqrt_stake)
    assert mine.pipeline["dividends"] is sqrt_stake and mine.pipeline["bonds"] is CHAIN["bonds"]
    variants.register(mine)
    try:
        assert "test_sqrt_stake" in variants.names()
        w = np.tile(np.array([[1.0, 0.0]]), (3, 1))
        r = simulate(np.broadcast_to(w, (5, 3, 2)), [0.64, 0.32, 0.04], variant="test_sqrt_stake")
        # Everybody agrees, so dividends follow sqrt(stake): 0.8 : 0.566 : 0.2.
        expected = np.sqrt([0.64, 0.32, 0.04]) / np.sqrt([0.64, 0.32, 0.04]).sum()
        np.testing.assert_allclose(r.dividends[-1], expected, rtol=1e-12)
        with pytest.raises(ValueError, match="already registered"):
            variants.register(mine)
        variants.register(mine, replace=True)
    finally:
        variants.unregister("test_sqrt_stake")
    assert "test_sqrt_stake" not in variants.names()


def test_register_a_variant_with_its_own_bonds_step() -> None:
    def no_memory(s: State) -> dict[str, Any]:
        # Bonds are this epoch's bond weights: no EMA, no stake.
        return {"ema_bonds": s.weights_for_bonds, "new_bonds": s.weights_for_bonds}

    mine = variants.Variant(
        name="test_no_memory",
        pipeline=CHAIN.replace(bonds=no_memory, dividends=dividends.stake_weighted),
        uses_rate=False,
    )
    variants.register(mine)
    try:
        r = simulate(KMS_W, KMS_S, variant="test_no_memory", backend=None)
        # No kernel declares this bonds rule: the default backend is numpy; jax runs it too.
        assert r.backend == "numpy" and mine.backends == ("numpy", "jax")
        with pytest.raises(ValueError, match="bonds"):
            simulate(KMS_W, KMS_S, variant="test_no_memory", backend="numba")
        np.testing.assert_array_equal(r.bonds[5], yuma.col_clip(KMS_W[5], r.consensus[5]))
        with pytest.raises(ValueError, match="no bond EMA"):
            simulate(KMS_W, KMS_S, variant="test_no_memory", liquid_alpha="v1")
    finally:
        variants.unregister("test_no_memory")


def test_builtins_cannot_be_replaced_or_removed() -> None:
    with pytest.raises(ValueError, match="built-in"):
        variants.register(variants.get("yuma3"), replace=True)
    with pytest.raises(ValueError, match="built-in"):
        variants.unregister("yuma2")
    with pytest.raises(ValueError, match="Variant"):
        variants.register("yuma3")  # type: ignore[arg-type]


def test_unknown_and_bad_options_are_refused() -> None:
    w, s = np.ones((3, 2, 2)), np.ones(2)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['colour'\]"):
        simulate(w, s, colour="red")
    with pytest.raises(ValueError, match="decay"):
        simulate(w, s, variant="yuma3", decay=0.2)  # yuma2c's option, not yuma3's
    simulate(w, s, variant="yuma2c", decay=0.2)
    with pytest.raises(ValueError, match="liquid_alpha"):
        simulate(w, s, liquid_alpha="v3")
    with pytest.raises(ValueError, match="no bond EMA"):
        simulate(w, s, variant="yuma2c", liquid_alpha="v2")
    with pytest.raises(ValueError, match="alpha_consensus"):
        simulate(w, s, alpha_consensus="median")
    with pytest.raises(ValueError, match="commit_reveal"):
        simulate(w, s, commit_reveal=-1)
    with pytest.raises(ValueError, match="bond_reset"):
        simulate(w, s, bond_reset=(0, -2))
    with pytest.raises(ValueError, match="bond_reset miner 2 is out of range for 2 miners"):
        simulate(w, s, bond_reset=(2, 1))
    with pytest.raises(ValueError, match="bond_reset epoch 3 is beyond the run's 3 epochs"):
        simulate(w, s, bond_reset=[(0, 1), (1, 3)])
    with pytest.raises(ValueError, match="out of range"):
        simulate(lambda t, state: np.ones((2, 2)), s, epochs=3, bond_reset=(5, 1))
    with pytest.raises(ValueError, match="winner_takes_all"):
        simulate(w, s, winner_takes_all="yes")


# --- the chain's variants equal yuma.epoch chained -----------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        yuma.YumaParams(),
        yuma.YumaParams(bonds_penalty=0.0),
        yuma.YumaParams(bonds_penalty=0.37, bonds_moving_average=0.5, kappa=0.6),
        yuma.YumaParams(liquid_alpha=True, bonds_penalty=0.5, alpha_sigmoid_steepness=300.0),
        # Few permits and a changing stake: permits move, rows are emptied or kept.
        yuma.YumaParams(max_allowed_validators=3, bonds_penalty=0.5),
    ],
)
@pytest.mark.parametrize("variant", ["yuma2", "yuma3"])
def test_chain_variants_equal_chained_epochs(params: yuma.YumaParams, variant: str) -> None:
    rng = np.random.default_rng(7)
    e, v, n = 25, 6, 4
    w = rng.random((e, v, n)) * (rng.random((e, v, n)) < 0.6)
    s = rng.random((e, v)) * (rng.random((e, v)) < 0.85)
    chain_params = yuma.YumaParams(**{**params.__dict__, "yuma3": variant == "yuma3"})
    expected = chained_epochs(w, s, chain_params)
    got = simulate(w, s, params, variant=variant)
    assert got.backend == "numpy"
    assert got.params.yuma3 == (variant == "yuma3")
    for t, r in enumerate(expected):
        for name in ("consensus", "incentive", "dividends", "validator_trust", "ranks", "bonds"):
            np.testing.assert_array_equal(getattr(got, name)[t], getattr(r, name), err_msg=name)
        np.testing.assert_array_equal(got.validator_permit[t], r.validator_permit)


def test_default_variant_follows_params_and_an_explicit_variant_wins() -> None:
    rng = np.random.default_rng(1)
    w, s = rng.random((6, 3, 2)), rng.random(3)
    off = yuma.YumaParams(yuma3=False)
    assert simulate(w, s, off).variant == "yuma2"
    assert simulate(w, s).variant == "yuma3"
    forced = simulate(w, s, off, variant="yuma3")
    assert forced.params.yuma3 is True
    np.testing.assert_array_equal(forced.dividends, simulate(w, s).dividends)


# --- properties for every variant ------------------------------------------------------------


@st.composite
def schedules(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, yuma.YumaParams, dict[str, Any]]:
    e = draw(st.integers(1, 6))
    v = draw(st.integers(1, 5))
    n = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from([0.3, 0.7, 1.0]))
    w = np.round(rng.random((e, v, n)) * 8) * (rng.random((e, v, n)) < density)
    s = rng.random((e, v)) * (rng.random((e, v)) < 0.85)
    lo = draw(st.sampled_from([0.0, 0.1, 0.7]))
    params = yuma.YumaParams(
        kappa=draw(st.sampled_from([0.1, 0.5, 32767 / 65535, 0.9])),
        bonds_moving_average=draw(st.sampled_from([0.0, 0.5, 0.9, 1.0])),
        bonds_penalty=draw(st.sampled_from([0.0, 0.5, 1.0])),
        liquid_alpha=draw(st.booleans()),
        alpha_low=lo,
        alpha_high=draw(st.sampled_from([lo, 0.9, 1.0])),
        max_allowed_validators=draw(st.integers(1, 6)),
    )
    options: dict[str, Any] = {
        "winner_takes_all": draw(st.booleans()),
        "commit_reveal": draw(st.integers(0, 2)),
        "alpha_consensus": draw(st.sampled_from(["current", "previous", "max"])),
    }
    if draw(st.booleans()):
        options["bond_reset"] = [(draw(st.integers(0, n - 1)), draw(st.integers(0, e - 1)))]
    options["liquid_alpha"] = draw(st.sampled_from([None, "off", "v1", "v2"]))
    return w, s, params, options


def _sums_to_one_or_zero(x: np.ndarray) -> None:
    totals = x.sum(axis=-1)
    assert np.all(np.isclose(totals, 1.0, atol=1e-9) | (totals == 0.0)), totals


@pytest.mark.parametrize("variant", BUILTIN)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=schedules())
def test_every_variant_sums_to_one_and_is_finite(variant: str, case: Any) -> None:
    w, s, params, options = case
    if not variants.get(variant).uses_rate and options["liquid_alpha"] in ("v1", "v2"):
        options = {**options, "liquid_alpha": None}
    r = simulate(w, s, params, variant=variant, **options)
    _sums_to_one_or_zero(r.dividends)
    _sums_to_one_or_zero(r.incentive)
    for name in ("consensus", "incentive", "dividends", "validator_trust", "bonds", "ranks"):
        assert np.all(np.isfinite(getattr(r, name))), name
    assert np.all(r.dividends >= 0) and np.all(r.incentive >= 0)


@pytest.mark.parametrize("variant", BUILTIN)
@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    v=st.integers(1, 6),
    n=st.integers(1, 5),
    penalty=st.sampled_from([0.0, 0.5, 1.0]),
    liquid=st.booleans(),
    v1=st.booleans(),
)
def test_agreeing_validators_earn_their_stake_share(
    variant: str, seed: int, v: int, n: int, penalty: float, liquid: bool, v1: bool
) -> None:
    rng = np.random.default_rng(seed)
    e = 8
    # Every validator sets the same weights, which change every epoch; stake is constant
    # (stake-bond variants carry past stake shares in their bonds, so they lag a changing one).
    row = rng.random((e, 1, n)) + 0.01
    w = np.broadcast_to(row, (e, v, n))
    s = rng.random(v) + 0.05
    params = yuma.YumaParams(bonds_penalty=penalty, liquid_alpha=liquid)
    # Liquid alpha v1 gives every validator the same per-miner rate, so it keeps the property.
    options = {"liquid_alpha": "v1"} if v1 and variants.get(variant).uses_rate else {}
    r = simulate(w, s, params, variant=variant, **options)
    share = np.broadcast_to(s / s.sum(), (e, v))
    # yuma2b reads the previous epoch's weights; from epoch 1 on the bonds have settled.
    np.testing.assert_allclose(r.dividends[1:], share[1:], rtol=1e-9, atol=1e-12)


# --- known behaviour: "kappa moves second" ------------------------------------------------------

# The library's "kappa moves second": stake 0.8 / 0.1 / 0.1, bonds moving average 0.9 (the
# default); the eager small validator (row 1) moves to server 2 (column 1) at epoch 1, the big
# one at epoch 2, the lazy one at epoch 3.
KMS = yuma.scenarios.get("kappa_moves_second")
KMS_W = KMS.weights
KMS_S = KMS.stake[0]
EAGER, NEW_MINER, MOVE = 1, 1, 1


def test_kappa_moves_second_schedule() -> None:
    moves = [int(np.argmax(KMS_W[:, i, 1] > 0)) for i in range(3)]
    assert moves == [2, 1, 3] and KMS.base_index == EAGER
    np.testing.assert_array_equal(KMS.stake, np.tile([0.8, 0.1, 0.1], (40, 1)))


def test_yuma2_without_penalty_gives_the_eager_validator_the_whole_column() -> None:
    r = simulate(KMS_W, KMS_S, yuma.YumaParams(bonds_penalty=0.0), variant="yuma2")
    column = r.bonds[MOVE][:, NEW_MINER]
    assert column[EAGER] == 1.0 and np.all(np.delete(column, EAGER) == 0.0)
    # Over the run it earns far more than its stake share.
    assert r.total_relative_dividends()[EAGER] > 2.0


def test_yuma2_with_full_penalty_clips_the_eager_validator_out() -> None:
    r = simulate(KMS_W, KMS_S, yuma.YumaParams(bonds_penalty=1.0), variant="yuma2")
    assert r.consensus[MOVE][NEW_MINER] == 0.0
    assert r.bonds[MOVE][EAGER, NEW_MINER] == 0.0
    assert r.total_relative_dividends()[EAGER] < 1.1


def test_yuma3_without_penalty_buys_one_ema_step() -> None:
    r = simulate(KMS_W, KMS_S, yuma.YumaParams(bonds_penalty=0.0), variant="yuma3")
    assert r.bonds[MOVE][EAGER, NEW_MINER] == 1.0 - 0.9


def test_bond_reset_zeroes_the_column_at_that_epoch() -> None:
    params = yuma.YumaParams(bonds_penalty=0.0)
    for variant in ("yuma2", "yuma3"):
        plain = simulate(KMS_W, KMS_S, params, variant=variant)
        reset = simulate(KMS_W, KMS_S, params, variant=variant, bond_reset=(NEW_MINER, 10))
        np.testing.assert_array_equal(reset.bonds[:10], plain.bonds[:10])
        # Epoch 10 starts from bonds whose column is zero: the same as yuma.epoch given those.
        before = plain.bonds[9].copy()
        before[:, NEW_MINER] = 0.0
        p = yuma.YumaParams(bonds_penalty=0.0, yuma3=variant == "yuma3")
        one = yuma.epoch(KMS_W[10], KMS_S, before, p, layout="bipartite", **REFERENCE)
        np.testing.assert_array_equal(reset.bonds[10], one.bonds)
        np.testing.assert_array_equal(reset.dividends[10], one.dividends)
        assert not np.array_equal(reset.bonds[10], plain.bonds[10])
    # Yuma3: the column restarts from zero, one EMA step of the (agreed) weight 1.
    y3 = simulate(KMS_W, KMS_S, params, variant="yuma3", bond_reset=[(NEW_MINER, 10)])
    np.testing.assert_allclose(y3.bonds[10][:, NEW_MINER], 1.0 - 0.9)


# --- steps ------------------------------------------------------------------------------------


def test_liquid_alpha_v1_passes_through_the_quantile_points() -> None:
    p = yuma.YumaParams(alpha_low=0.7, alpha_high=0.9)
    c = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    # The 0.25 and 0.75 quantiles of c are c[1] and c[3]: the logistic passes through them.
    a = ema_rate.alpha_v1(c, p.alpha_low, p.alpha_high)
    assert a[1] == pytest.approx(0.7, abs=1e-12) and a[3] == pytest.approx(0.9, abs=1e-12)
    assert np.all(np.diff(a) >= 0) and a.min() >= 0.7 and a.max() <= 0.9
    # No spread: every miner gets alpha_high.
    flat = ema_rate.alpha_v1(np.full(4, 0.25), p.alpha_low, p.alpha_high)
    np.testing.assert_array_equal(flat, np.full(4, 0.9))


def test_winner_takes_all_splits_ties() -> None:
    np.testing.assert_array_equal(
        chain_steps.winner_takes_all(np.array([0.2, 0.5, 0.5, 0.1])), [0.0, 0.5, 0.5, 0.0]
    )
    np.testing.assert_array_equal(chain_steps.winner_takes_all(np.zeros(3)), np.zeros(3))


def test_winner_takes_all_option_pays_only_the_top_miner() -> None:
    w = np.broadcast_to(np.array([[0.6, 0.4], [0.7, 0.3]]), (4, 2, 2))
    r = simulate(w, [1.0, 1.0], winner_takes_all=True)
    np.testing.assert_array_equal(r.incentive, np.tile([1.0, 0.0], (4, 1)))


@pytest.mark.parametrize(
    ("mode", "started", "expected"),
    [
        ("current", True, [0.2, 0.5]),
        ("previous", True, [0.4, 0.1]),
        ("max", True, [0.4, 0.5]),
        ("previous", False, [0.2, 0.5]),  # no previous epoch yet: the current consensus
    ],
)
def test_liquid_consensus_modes(mode: str, started: bool, expected: list[float]) -> None:
    p = yuma.YumaParams(alpha_low=0.2, alpha_high=0.8)
    state = State(
        {
            "consensus": np.array([0.2, 0.5]),
            "previous_consensus": np.array([0.4, 0.1]),
            "started": np.bool_(started),
        },
        Config.from_params(p, square=False),
        yuma.pipeline.np_xp,
    )
    rate = ema_rate.LiquidAlpha("v1", mode)(state)["rate"]
    np.testing.assert_array_equal(rate, ema_rate.alpha_v1(np.array(expected), 0.2, 0.8))


def test_alpha_consensus_mode_changes_liquid_alpha_runs() -> None:
    params = yuma.YumaParams(liquid_alpha=True, bonds_penalty=0.0)
    runs = {m: simulate(KMS_W, KMS_S, params, alpha_consensus=m) for m in ("current", "previous")}
    assert not np.array_equal(runs["current"].bonds, runs["previous"].bonds)
    # Liquid alpha off: the mode has nothing to change.
    off = [simulate(KMS_W, KMS_S, alpha_consensus=m).bonds for m in ("current", "max")]
    np.testing.assert_array_equal(off[0], off[1])


def test_only_yuma3_reads_the_params_liquid_alpha_flag() -> None:
    for name in ("yuma2", "yuma2_paper", "yuma1"):
        on = simulate(KMS_W, KMS_S, yuma.YumaParams(liquid_alpha=True), variant=name)
        off = simulate(KMS_W, KMS_S, yuma.YumaParams(), variant=name)
        np.testing.assert_array_equal(on.bonds, off.bonds)
    on = simulate(KMS_W, KMS_S, yuma.YumaParams(liquid_alpha=True), variant="yuma3")
    assert not np.array_equal(on.bonds, simulate(KMS_W, KMS_S, variant="yuma3").bonds)
    off = simulate(KMS_W, KMS_S, variant="yuma2")
    explicit = simulate(KMS_W, KMS_S, variant="yuma2", liquid_alpha="v1")
    assert not np.array_equal(explicit.bonds, off.bonds)


def test_yuma2_paper_column_starts_at_alpha_and_yuma2b_lags() -> None:
    params = yuma.YumaParams(bonds_penalty=0.0)
    paper = simulate(KMS_W, KMS_S, params, variant="yuma2_paper")
    assert paper.bonds[MOVE][:, NEW_MINER].sum() == pytest.approx(1.0 - 0.9)
    lagged = simulate(KMS_W, KMS_S, params, variant="yuma2b")
    # At the epoch it moves, the eager validator's bonds still come from its old weights.
    assert lagged.bonds[MOVE][EAGER, NEW_MINER] == 0.0
    assert lagged.bonds[MOVE + 1][EAGER, NEW_MINER] > 0.0


def test_yuma2c_capacity_is_invariant_to_the_scale() -> None:
    a = simulate(KMS_W, KMS_S, variant="yuma2c")
    b = simulate(KMS_W, KMS_S, variant="yuma2c", capacity_scale=1e6)
    np.testing.assert_allclose(a.dividends, b.dividends, rtol=1e-12)
    caps = KMS_S[:, None] / KMS_S.sum()
    assert np.all(a.bonds <= caps[None] + 1e-15)


def test_yuma1_memory_option() -> None:
    no_memory = simulate(KMS_W, KMS_S, variant="yuma1")
    memory = simulate(KMS_W, KMS_S, variant="yuma1", memory=True)
    # Without memory the bonds are this epoch's stake-weighted weights, column-normalised:
    # at epoch 5 everybody is on server 2.
    np.testing.assert_allclose(no_memory.bonds[5][:, 1], KMS_S / KMS_S.sum(), rtol=1e-15)
    np.testing.assert_array_equal(no_memory.bonds[5][:, 0], 0.0)
    # With memory server 1's column decays instead of vanishing.
    assert np.all(memory.bonds[5][:, 0] > 0)
