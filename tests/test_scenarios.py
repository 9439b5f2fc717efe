"""The scenario library against the public case data, and the synthetic generators."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import SHARED, load_json, requires_shared

import yuma
from yuma import scenarios

NOISY_FROM = 19


def case_data() -> Any:
    assert SHARED is not None
    return np.load(SHARED / "data" / "scenario_cases.npz")


def meta() -> dict[str, Any]:
    return {c["key"]: c for c in load_json("data/scenario_cases.json")["cases"]}


def test_list_has_the_24_public_cases_in_order() -> None:
    names = scenarios.names()
    assert len(names) == 24 and len(set(names)) == 24
    assert [scenarios.get(n).key for n in names] == [f"case{i:02d}" for i in range(1, 25)]


def test_get_accepts_names_keys_and_titles() -> None:
    a = scenarios.get("kappa_moves_second")
    assert scenarios.get("case02").name == a.name
    assert scenarios.get("Case 2 - kappa moves second").name == a.name
    assert scenarios.get("KAPPA_MOVES_SECOND").name == a.name
    with pytest.raises(ValueError, match="unknown scenario"):
        scenarios.get("kappa moves fourth")


def test_scenarios_are_immutable() -> None:
    sc = scenarios.get("case01")
    with pytest.raises(ValueError):
        sc.weights[0, 0, 0] = 2.0
    with pytest.raises(AttributeError):
        sc.name = "x"  # type: ignore[misc]


@requires_shared
@pytest.mark.parametrize("number", range(1, NOISY_FROM))
def test_noiseless_cases_equal_the_public_arrays(number: int) -> None:
    key = f"case{number:02d}"
    data = case_data()
    w, s = data[f"{key}/W"], data[f"{key}/S"]
    sc = scenarios.get(key)
    assert not sc.noisy
    assert sc.weights.shape == w.shape and sc.stake.shape == s.shape
    # The public arrays hold float32 values (the peers' torch tensors) widened to float64;
    # our schedules are the exact decimals, which round to exactly those float32 values.
    np.testing.assert_array_equal(sc.weights.astype(np.float32).astype(np.float64), w)
    np.testing.assert_array_equal(sc.stake.astype(np.float32).astype(np.float64), s)
    np.testing.assert_allclose(sc.weights, w, rtol=0, atol=1e-7)
    np.testing.assert_allclose(sc.stake, s, rtol=0, atol=1e-7)


@requires_shared
@pytest.mark.parametrize("number", range(1, 25))
def test_labels_and_bond_resets_match_the_case_descriptions(number: int) -> None:
    key = f"case{number:02d}"
    m = meta()[key]
    sc = scenarios.get(key)
    assert sc.title == m["name"]
    assert list(sc.validators) == m["validators"]
    assert list(sc.miners) == m["servers"]
    assert sc.base_validator == m["base_validator"]
    assert sc.epochs == m["num_epochs"]
    if m["reset_bonds"]:
        assert sc.bond_reset == ((m["reset_bonds_index"], m["reset_bonds_epoch"]),)
    else:
        assert sc.bond_reset == ()
    assert sc.options.get("winner_takes_all", False) == m["config_overrides"].get(
        "winner_takes_all", False
    )


@requires_shared
@pytest.mark.parametrize("number", range(NOISY_FROM, 25))
def test_noisy_cases_match_the_public_ones_in_kind(number: int) -> None:
    key = f"case{number:02d}"
    w = case_data()[f"{key}/W"]
    sc = scenarios.get(key)
    assert sc.noisy and sc.seed == number
    assert sc.weights.shape == w.shape
    np.testing.assert_array_equal(sc.stake, sc.stake[:1].repeat(sc.epochs, axis=0))
    np.testing.assert_allclose(sc.stake[0], case_data()[f"{key}/S"][0], atol=1e-7)
    np.testing.assert_allclose(sc.weights.sum(axis=2), 1.0, atol=1e-12)
    one_hot = bool(np.all(np.isin(w, (0.0, 1.0))))
    assert bool(np.all(np.isin(sc.weights, (0.0, 1.0)))) == one_hot
    # Same server ranking on average as the public draw.
    assert np.argmax(sc.weights.mean(axis=(0, 1))) == np.argmax(w.mean(axis=(0, 1)))


def test_noisy_cases_are_reproducible() -> None:
    np.testing.assert_array_equal(scenarios.get("case20").weights, scenarios.get("case20").weights)


def test_scenario_simulate_uses_its_bond_reset() -> None:
    sc = scenarios.get("kappa_moves_second_then_all_switch")  # resets server 1 at epoch 21
    ((miner, at),) = sc.bond_reset
    params = yuma.YumaParams(bonds_penalty=0.0)
    with_reset = sc.simulate("yuma3", params)
    without = yuma.simulate(sc.weights, sc.stake, params, variant="yuma3", keep_matrices=True)
    np.testing.assert_array_equal(with_reset.bonds[:at], without.bonds[:at])
    # Everybody weights server 1 at epoch 21: its column restarts at one EMA step.
    np.testing.assert_allclose(with_reset.bonds[at][:, miner], 1.0 - 0.9)
    assert with_reset.validators == sc.validators and with_reset.miners == sc.miners


def test_every_scenario_runs_under_every_variant() -> None:
    for name in scenarios.names():
        sc = scenarios.get(name)
        for variant in ("yuma2", "yuma3", "yuma2c"):
            r = sc.simulate(variant)
            assert np.all(np.isfinite(r.dividends))
            totals = r.dividends.sum(axis=1)
            assert np.all(np.isclose(totals, 1.0) | (totals == 0.0))


def test_switches_builds_segments() -> None:
    w = scenarios.switches(5, (0, [1.0, 0.0]), (2, [0.0, 1.0]), (4, [0.5, 0.5]))
    np.testing.assert_array_equal(w, [[1, 0], [1, 0], [0, 1], [0, 1], [0.5, 0.5]])
    with pytest.raises(ValueError, match="epoch 0"):
        scenarios.switches(5, (1, [1.0]))


# --- synthetic ------------------------------------------------------------------------------


@pytest.mark.parametrize("stake", ["equal", "uniform", "lognormal", "pareto"])
def test_random_subnet_shapes_and_stake(stake: str) -> None:
    sc = scenarios.random_subnet(5, 7, 9, stake=stake, noise=0.2, seed=3)
    assert sc.weights.shape == (9, 5, 7) and sc.stake.shape == (9, 5)
    np.testing.assert_allclose(sc.stake.sum(axis=1), 1.0)
    np.testing.assert_allclose(sc.weights.sum(axis=2), 1.0)
    assert np.all(sc.weights >= 0)
    again = scenarios.random_subnet(5, 7, 9, stake=stake, noise=0.2, seed=3)
    np.testing.assert_array_equal(sc.weights, again.weights)


def test_random_subnet_without_noise_agrees_and_pays_stake_share() -> None:
    sc = scenarios.random_subnet(6, 4, 10, noise=0.0, drift=0.05, seed=1)
    assert np.all(sc.weights == sc.weights[:, :1, :])
    r = sc.simulate("yuma3")
    np.testing.assert_allclose(r.dividends, sc.stake, rtol=1e-9)


def test_random_subnet_bad_arguments() -> None:
    with pytest.raises(ValueError, match="validators must be a positive int"):
        scenarios.random_subnet(0, 3, 3)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        scenarios.random_subnet(2, 3, -1)
    with pytest.raises(ValueError, match="noise"):
        scenarios.random_subnet(2, 3, 3, noise=-0.1)
    with pytest.raises(ValueError, match="stake must be one of"):
        scenarios.random_subnet(2, 3, 3, stake="zipf")
    with pytest.raises(ValueError, match="stake must be 2"):
        scenarios.random_subnet(2, 3, 3, stake=[1.0, 2.0, 3.0])


# --- adaptive: the weight copier ------------------------------------------------------------


def test_copier_strategy_strategy_copies_the_last_consensus() -> None:
    st = scenarios.copier_strategy(period=4, commit_reveal=0, epochs=12)
    r = st.simulate("yuma3")
    assert r.validators[-1] == st.base_validator == "copier (0.1)"
    # With no delay the copier's weights at t are the consensus of t - 1, row-normalised.
    for t in range(1, 12):
        expected = r.consensus[t - 1] / r.consensus[t - 1].sum()
        np.testing.assert_allclose(r.weights[t][-1], expected, rtol=1e-12)


def test_copier_strategy_pays_less_the_faster_the_ranking_moves() -> None:
    slow = scenarios.copier_strategy(period=12, commit_reveal=1).simulate("yuma3")
    fast = scenarios.copier_strategy(period=3, commit_reveal=1).simulate("yuma3")
    assert fast.total_relative_dividends()[-1] < slow.total_relative_dividends()[-1] < 1.0
    c = yuma.compare(
        [scenarios.copier_strategy(period=5, commit_reveal=d) for d in (0, 1, 2)],
        ["yuma2", "yuma3"],
    )
    copier = c.table["relative_dividends"][np.asarray(c.table["base"], dtype=bool)]
    assert copier.shape == (6,) and np.all(copier < 1.0)


def test_copier_strategy_bad_arguments() -> None:
    with pytest.raises(ValueError, match="period"):
        scenarios.copier_strategy(period=0)
    with pytest.raises(ValueError, match="miners"):
        scenarios.copier_strategy(miners=1)
    with pytest.raises(ValueError, match="at least one honest"):
        scenarios.copier_strategy(stake=(1.0,))
