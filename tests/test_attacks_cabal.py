"""The cabal experiment: its subnet, its guarantees, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yuma.attacks import RetentionMap, cabal, cabal_subnet, retention_map, retention_threshold

SMALL = {"n": 40, "validators": 8}


def test_cabal_subnet_matches_the_study_design() -> None:
    sub = cabal_subnet(0.7, 0.9, 0.8, n=512, validators=64, weight_std=0.2, rng=1)
    assert sub.weights.shape == (64, 448) and sub.stake.shape == (64,)
    # floor(0.7 * 64) honest validators, floor(0.7 * 448) honest servers.
    assert sub.honest_validators.sum() == 44 and sub.honest_servers.sum() == 313
    assert sub.stake[sub.honest_validators].sum() == pytest.approx(0.7)
    assert sub.stake.sum() == pytest.approx(1.0)
    honest_rows = sub.weights[sub.honest_validators]
    cabal_rows = sub.weights[~sub.honest_validators]
    np.testing.assert_allclose(honest_rows[:, sub.honest_servers].sum(axis=1), 0.9)
    np.testing.assert_allclose(cabal_rows[:, ~sub.honest_servers].sum(axis=1), 0.8)
    np.testing.assert_allclose(sub.weights.sum(axis=1), 1.0)


def test_each_side_keeps_at_least_one_member() -> None:
    sub = cabal_subnet(0.99, 1.0, 1.0, n=20, validators=4, rng=0)
    assert sub.honest_validators.sum() == 3 and (~sub.honest_servers).sum() == 1


@settings(max_examples=40, deadline=None)
@given(
    honest=st.floats(0.51, 0.99),
    self_weight=st.floats(0.0, 1.0),
    variant=st.sampled_from(["yuma2", "yuma3"]),
    penalty=st.sampled_from([0.0, 0.5, 1.0]),
    seed=st.integers(0, 1000),
)
def test_full_honest_utility_retains_the_stake_share(
    honest: float, self_weight: float, variant: str, penalty: float, seed: int
) -> None:
    """Invariant: a cabal with less than κ of the stake, honest utility 1 and no weight spread:
    the honest side keeps at least its stake share of emission; every share lies in [0, 1]."""
    out = cabal(
        honest, 1.0, self_weight, seed=seed, variant=variant, bonds_penalty=penalty, **SMALL
    )
    for share in (out.honest_emission, out.honest_incentive, out.honest_dividends):
        assert 0.0 <= share <= 1.0 + 1e-12
    assert out.honest_emission >= honest - 1e-9


def test_reproducible_from_the_seed_and_draws_average() -> None:
    a = cabal(0.6, 0.7, 0.9, seed=3, draws=3, weight_std=0.3, **SMALL)
    b = cabal(0.6, 0.7, 0.9, seed=3, draws=3, weight_std=0.3, **SMALL)
    c = cabal(0.6, 0.7, 0.9, seed=4, draws=3, weight_std=0.3, **SMALL)
    assert a == b and a != c
    assert a.draws == 3 and a.honest_emission_error > 0


@pytest.mark.parametrize("variant", ["yuma2", "yuma3"])
def test_the_single_epoch_study_is_the_steady_state(variant: str) -> None:
    """With the same weights every epoch and no prior bonds, both bond branches grow every bond
    column in proportion (Yuma3: B_t = (1 − (1 − α)^t)·W_b; original Yuma: B_t = ΔB), and
    dividends read column-normalised bonds: every epoch pays what the first one did."""
    one = cabal(0.6, 0.7, 0.9, variant=variant, weight_std=0.2, **SMALL)
    many = cabal(0.6, 0.7, 0.9, variant=variant, weight_std=0.2, epochs=15, **SMALL)
    assert many.honest_incentive == pytest.approx(one.honest_incentive, abs=1e-12)
    assert many.honest_dividends == pytest.approx(one.honest_dividends, abs=1e-12)
    # The two branches pay dividends differently on the same subnet.
    other = cabal(
        0.6, 0.7, 0.9, variant="yuma2" if variant == "yuma3" else "yuma3", weight_std=0.2, **SMALL
    )
    assert abs(other.honest_dividends - one.honest_dividends) > 1e-6


def test_retention_map_and_threshold() -> None:
    grid = [0.0, 0.25, 0.5, 0.75, 1.0]
    m = retention_map([0.6, 0.9], grid, grid, **SMALL)
    assert m.emission.shape == (2, 5, 5)
    assert np.all((m.emission >= 0) & (m.emission <= 1 + 1e-12))
    thresholds = m.thresholds()
    assert set(thresholds.tolist()) <= set(grid)
    found = retention_threshold(0.6, honest_utilities=grid, cabal_self_weights=grid, **SMALL)
    assert found.grid_point == thresholds[0]
    # The interpolated crossing lies within the grid step below the first retaining point.
    assert found.grid_point - found.grid_step < found.value <= found.grid_point
    assert found.grid_step == pytest.approx(0.25)
    assert m.thresholds(interpolate=True)[0] == float(found)
    # At the interpolated crossing the margin's straight line through the two points is 0.
    k = grid.index(found.grid_point)
    lo, hi = m.margins()[0, k - 1], m.margins()[0, k]
    assert lo < 0 <= hi
    assert lo + (hi - lo) * (found.value - grid[k - 1]) / 0.25 == pytest.approx(0.0, abs=1e-12)
    # Honest utility 1 always retains (cabal below kappa): the threshold exists.
    assert not np.isnan(thresholds).any()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="honest_stake"):
        cabal(1.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="variant"):
        cabal(0.6, 1.0, 1.0, variant="yuma9", **SMALL)
    with pytest.raises(ValueError, match="epochs"):
        cabal(0.6, 1.0, 1.0, epochs=0, **SMALL)
    with pytest.raises(ValueError, match="draws"):
        cabal(0.6, 1.0, 1.0, draws=0, **SMALL)
    with pytest.raises(ValueError, match="validators"):
        cabal(0.6, 1.0, 1.0, n=4, validators=4)


@pytest.mark.parametrize("backend", ["numpy", "numba", "jax"])
def test_retention_map_equals_cabal_at_every_point(backend: str) -> None:
    """The batched grid reproduces the one-point experiment, on every backend, with draws
    averaged and bonds carried over several epochs."""
    if backend == "jax":
        pytest.importorskip("jax")
    grid = np.array([0.0, 0.3, 1.0])
    kwargs = dict(n=32, validators=6, weight_std=0.2, draws=2, seed=7, epochs=2)
    for variant in ("yuma2", "yuma3"):
        m = retention_map(
            [0.6, 0.85], grid, grid, variant=variant, backend=backend, chunk=4, **kwargs
        )
        for a, s in enumerate([0.6, 0.85]):
            for b, u in enumerate(grid):
                for c, w in enumerate(grid):
                    one = cabal(s, u, w, variant=variant, backend="numpy", **kwargs)
                    assert m.emission[a, b, c] == pytest.approx(one.honest_emission, abs=1e-9)


def test_a_share_kept_exactly_counts_as_retained() -> None:
    """Float round-off must not turn 'exactly its stake share' into a lost grid point."""
    emission = np.full((1, 2, 2), 0.51 - 2e-15)
    m = RetentionMap(np.array([0.51]), np.array([0.5, 1.0]), np.array([0.0, 1.0]), emission)
    assert m.retained().all()
    assert m.thresholds()[0] == 0.5
    assert np.isnan(m.thresholds(tolerance=0.0)[0])


def test_any_registered_variant_runs_the_experiment() -> None:
    """A variant outside the chain's two runs through yuma.simulate; a copy of Yuma3 registered
    under another name must give what the batched Yuma3 path gives."""
    import yuma

    clone = yuma.variants.get("yuma3").with_(name="yuma3_copy_for_cabal_test")
    yuma.variants.register(clone, replace=True)
    try:
        grid = np.array([0.2, 0.9])
        kwargs = dict(n=32, validators=6, weight_std=0.2, epochs=3)
        batched = retention_map([0.6], grid, grid, variant="yuma3", **kwargs)
        simulated = retention_map([0.6], grid, grid, variant="yuma3_copy_for_cabal_test", **kwargs)
        np.testing.assert_allclose(simulated.emission, batched.emission, atol=1e-9)
        for variant in ("yuma1", "yuma2_paper", "yuma2b", "yuma2c"):
            out = cabal(0.7, 0.8, 0.9, variant=variant, **kwargs)
            assert 0 <= out.honest_emission <= 1 + 1e-12, variant
    finally:
        yuma.variants.unregister("yuma3_copy_for_cabal_test")
