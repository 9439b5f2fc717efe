"""Multi-epoch cabal strategies: honest history then defection, periodic switching."""

from __future__ import annotations

import numpy as np
import pytest

from yuma.attacks import (
    CabalStrategy,
    cabal,
    cabal_run,
    defection_map,
    periodic_schedule,
    strategy_emission,
)

SMALL = {"n": 40, "validators": 8}


@pytest.mark.parametrize("variant", ["yuma2", "yuma3"])
def test_a_constant_uniform_schedule_is_the_chains_study(variant: str) -> None:
    kw = dict(weight_std=0.2, seed=2, draws=2, variant=variant, **SMALL)
    run = cabal_run(0.6, 0.7, [CabalStrategy.uniform(0.9)] * 4, **kw)
    for t in range(4):
        ref = cabal(0.6, 0.7, 0.9, epochs=t + 1, **kw)
        assert run.honest_emission[t] == pytest.approx(ref.honest_emission, abs=1e-12)
        assert run.honest_dividends[t] == pytest.approx(ref.honest_dividends, abs=1e-12)


def test_a_constant_matching_schedule_scores_as_the_stationary_search() -> None:
    s = CabalStrategy((0.6, 0.5), (1.0, 0.8), (1.0, 0.3), "honest")
    kw = dict(weight_std=0.4, seed=1, variant="yuma3", **SMALL)
    run = cabal_run(0.6, 0.8, [s], **kw)
    assert run.honest_emission[0] == pytest.approx(strategy_emission(0.6, 0.8, s, **kw), abs=1e-12)


def test_defection_after_history_and_its_stationary_reference() -> None:
    grid = [0.0, 0.5, 1.0]
    kw = dict(weight_std=0.2, variant="yuma3", **SMALL)
    m = defection_map([0.6, 0.8], grid, grid, history=6, after=3, **kw)
    assert m.emission.shape == (2, 3, 3, 3) and m.stationary.shape == (2, 3, 3)
    assert np.all((m.emission >= 0) & (m.emission <= 1 + 1e-12))
    # Without liquid alpha a constant attack pays every epoch what the first does: the
    # stationary map is the chain's single-epoch study.
    for a, s in enumerate([0.6, 0.8]):
        for b, u in enumerate(grid):
            for c, w in enumerate(grid):
                ref = cabal(s, u, w, **kw).honest_emission
                assert m.stationary[a, b, c] == pytest.approx(ref, abs=1e-12)
    # The defection's first epoch is what a cabal_run of the same schedule gives.
    run = cabal_run(0.6, 0.5, [None] * 6 + [CabalStrategy.uniform(1.0)] * 3, **kw)
    np.testing.assert_allclose(m.emission[0, 1, 2], run.honest_emission[6:], atol=1e-12)
    assert len(m.thresholds(0)) == 2 and len(m.thresholds(slice(0, 3))) == 2
    assert m.aftermath(tolerance=1.0).tolist() == [0.0, 0.0]


def test_no_history_is_no_defection() -> None:
    grid = [0.2, 0.9]
    m = defection_map([0.7], grid, grid, history=0, after=2, variant="yuma2", **SMALL)
    np.testing.assert_allclose(m.emission[..., -1], m.stationary, atol=1e-12)


def test_periodic_schedule_and_bad_arguments() -> None:
    attack = CabalStrategy.uniform(1.0)
    assert periodic_schedule(attack, 2, 1, 2) == [None, None, attack, None, None, attack]
    with pytest.raises(ValueError, match="cycles"):
        periodic_schedule(attack, 1, 1, 0)
    with pytest.raises(ValueError, match="yuma2"):
        cabal_run(0.6, 0.8, [attack], variant="yuma1", **SMALL)
    with pytest.raises(ValueError, match="schedule"):
        cabal_run(0.6, 0.8, [], **SMALL)
    with pytest.raises(ValueError, match="history"):
        defection_map([0.6], history=-1, **SMALL)
