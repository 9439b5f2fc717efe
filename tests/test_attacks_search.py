"""The worst-case cabal search, its thresholds and its sweep."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import yuma
from yuma.attacks import (
    CabalStrategy,
    Threshold,
    cabal,
    crossing,
    strategy_emission,
    worst_cabal,
    worst_case_threshold,
    worst_case_thresholds,
)

SMALL = {"n": 40, "validators": 8}
GRID = np.linspace(0.0, 1.0, 11)


def test_crossing_interpolates_and_reports_the_step() -> None:
    u = np.array([0.0, 0.5, 0.6, 1.0])
    t = crossing(u, np.array([-0.3, -0.1, 0.1, 0.2]))
    assert t == Threshold(pytest.approx(0.55), 0.6, pytest.approx(0.1))
    assert crossing(u, np.array([0.0, 1.0, 1.0, 1.0])) == Threshold(0.0, 0.0, 0.0)
    assert np.isnan(crossing(u, np.full(4, -1.0)).value)
    with pytest.raises(ValueError, match="increase"):
        crossing(u[::-1], np.zeros(4))


def test_a_uniform_strategy_scores_as_the_chains_study() -> None:
    for variant in ("yuma2", "yuma3"):
        kw = dict(weight_std=0.3, seed=4, draws=2, variant=variant, **SMALL)
        ref = cabal(0.65, 0.7, 0.8, **kw).honest_emission
        got = strategy_emission(0.65, 0.7, CabalStrategy.uniform(0.8, groups=2), **kw)
        assert got == pytest.approx(ref, abs=1e-12)


def test_strategy_validation() -> None:
    with pytest.raises(ValueError, match="self_weight"):
        CabalStrategy((1.2,), (0.0,), (0.0,))
    with pytest.raises(ValueError, match="one value per group"):
        CabalStrategy((0.5, 0.5), (0.0,), (0.0,))
    with pytest.raises(ValueError, match="template"):
        CabalStrategy((0.5,), (0.0,), (0.0,), "future")  # type: ignore[arg-type]
    s = CabalStrategy.from_vector([0.2, 0.3, 1.5, -1.0, 0.5, 0.5])
    assert s.groups == 2 and s.self_weight == (0.2, 0.3) and s.honest_match == (1.0, 0.0)
    assert CabalStrategy.uniform(0.4).is_uniform and not s.is_uniform
    with pytest.raises(ValueError, match="previous"):
        strategy_emission(0.6, 0.8, CabalStrategy((0.5,), (1.0,), (1.0,), "previous"), **SMALL)


@settings(max_examples=6, deadline=None)
@given(
    honest=st.floats(0.55, 0.9),
    utility=st.floats(0.5, 1.0),
    spread=st.sampled_from([0.0, 0.4]),
    variant=st.sampled_from(["yuma2", "yuma3"]),
    seed=st.integers(0, 100),
)
def test_the_worst_cabal_is_never_kinder_than_the_best_uniform_one(
    honest: float, utility: float, spread: float, variant: str, seed: int
) -> None:
    """The search includes the uniform family, so what it finds leaves the honest side at most
    what the best uniform cabal does; every share lies in [0, 1]; the seed reproduces it."""
    kw = dict(weight_std=spread, seed=seed, variant=variant, cabal_self_weights=GRID, **SMALL)
    found = worst_cabal(honest, utility, method="random", generations=4, search_seed=seed, **kw)
    assert found.honest_emission <= found.uniform_emission
    assert found.gain >= 0
    for share in (found.honest_emission, found.honest_incentive, found.honest_dividends):
        assert 0.0 <= share <= 1.0 + 1e-12
    uniform_best = min(
        cabal(
            honest, utility, w, weight_std=spread, seed=seed, variant=variant, **SMALL
        ).honest_emission
        for w in GRID
    )
    assert found.uniform_emission == pytest.approx(uniform_best, abs=1e-12)
    again = worst_cabal(honest, utility, method="random", generations=4, search_seed=seed, **kw)
    assert again == found
    # Scoring the reported strategy on its own gives the reported share.
    rescored = strategy_emission(
        honest, utility, found.strategy, weight_std=spread, seed=seed, variant=variant, **SMALL
    )
    assert rescored == pytest.approx(found.honest_emission, abs=1e-12)


def test_cmaes_search_is_reproducible_and_beats_uniform_with_spread() -> None:
    pytest.importorskip("cmaes")
    kw = dict(weight_std=0.4, variant="yuma3", generations=6, n=128, validators=16)
    a = worst_cabal(0.6, 0.8, search_seed=3, **kw)
    b = worst_cabal(0.6, 0.8, search_seed=3, **kw)
    assert a == b and a.method == "cmaes"
    # With spread, matching the consensus profile wastes less than a random spread.
    assert a.honest_emission < a.uniform_emission - 1e-3
    assert not a.strategy.is_uniform


def test_worst_case_threshold_is_at_least_the_uniform_one() -> None:
    out = worst_case_threshold(
        0.6,
        honest_utilities=GRID,
        cabal_self_weights=GRID,
        weight_std=0.4,
        variant="yuma3",
        method="random",
        generations=3,
        n=128,
        validators=16,
    )
    assert not np.isnan(out.uniform.value) and not np.isnan(out.worst.value)
    assert out.worst.grid_point >= out.uniform.grid_point
    assert out.worst.value >= out.uniform.value - 1e-12
    assert out.uniform.grid_step == pytest.approx(0.1)
    searched = ~np.isnan(out.worst_margin)
    # Where both were measured the worst case leaves the honest side no more.
    assert np.all(out.worst_margin[searched] <= out.uniform_margin[searched] + 1e-12)
    assert out.strategy is not None
    assert [s.search_seed for s in out.searched] == [int(k) for k in np.flatnonzero(searched)]


def test_the_sweep_repeats_the_single_calls() -> None:
    kw = dict(
        honest_utilities=GRID,
        cabal_self_weights=GRID,
        weight_std=0.3,
        method="random",
        generations=2,
        **SMALL,
    )
    swept = worst_case_thresholds([0.6, 0.8], **kw)
    assert isinstance(swept, yuma.SweepResult)
    assert swept["strategy"].shape == (2, 6)
    for k, s in enumerate([0.6, 0.8]):
        one = worst_case_threshold(s, **kw)
        assert swept["worst"][k] == pytest.approx(one.worst.value, nan_ok=True)
        assert swept["uniform"][k] == pytest.approx(one.uniform.value, nan_ok=True)


def test_search_bad_arguments() -> None:
    with pytest.raises(ValueError, match="honest_utility"):
        worst_cabal(0.6, 1.5, **SMALL)
    with pytest.raises(ValueError, match="method"):
        worst_cabal(0.6, 0.8, method="gradient", **SMALL)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="template"):
        worst_cabal(0.6, 0.8, template="previous", **SMALL)
    with pytest.raises(ValueError, match="groups"):
        worst_cabal(0.6, 0.8, groups=0, **SMALL)
    with pytest.raises(ValueError, match="honest_stakes"):
        worst_case_thresholds([])
