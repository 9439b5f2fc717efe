"""The weight-copier experiment and its timing."""

from __future__ import annotations

import numpy as np
import pytest

import yuma
from yuma.attacks import copier_experiment, copier_weights
from yuma.attacks.copier import drifting_quality


@pytest.mark.parametrize("variant", ["yuma2", "yuma3"])
@pytest.mark.parametrize("liquid_alpha", [False, True])
def test_copying_pays_less_the_older_the_copied_consensus(variant: str, liquid_alpha: bool) -> None:
    """With a drifting ranking (step 0.1 per epoch) a same-epoch copy of the honest consensus
    earns more per unit of stake than the honest validators (it sits on consensus exactly, they
    carry noise); every epoch of lag between the consensus and the copy costs the copier."""
    outcomes = [
        copier_experiment(variant=variant, liquid_alpha=liquid_alpha, delay=d, drift=0.1).relative
        for d in (0, 1, 2, 3)
    ]
    assert outcomes[0] > 1.0
    assert all(r < 0.97 for r in outcomes[1:])
    assert outcomes[0] > outcomes[1] > outcomes[2] > outcomes[3]


def test_without_drift_copying_is_as_good_as_working() -> None:
    """A ranking that never changes leaves nothing to be late for."""
    for delay in (0, 2):
        out = copier_experiment(drift=0.0, noise=0.0, delay=delay)
        assert out.relative == pytest.approx(1.0, abs=1e-6)
        assert out.delay == delay


def _run(delay: int, epochs: int = 12) -> tuple[yuma.SimulationResult, np.ndarray]:
    quality = drifting_quality(5, epochs, 0.2, np.random.default_rng(3))
    stake = np.array([0.5, 0.3, 0.2])
    params = yuma.YumaParams()
    fn = copier_weights(
        quality, 0.05, 2, 4, delay=delay, honest_stake=stake[:2], params=params, variant="yuma3"
    )
    r = yuma.simulate(fn, stake, params, variant="yuma3", epochs=epochs, keep_matrices=True)
    return r, stake


def test_delay_zero_copies_the_same_epochs_honest_consensus() -> None:
    """delay = 0: the copier's row counting in epoch t is the consensus the honest rows of that
    same epoch reach on their own (one chain epoch over those rows alone)."""
    r, stake = _run(0)
    assert r.weights is not None
    for t in range(r.weights.shape[0]):
        alone = yuma.epoch(r.weights[t][:2], stake[:2], layout="bipartite").consensus
        np.testing.assert_allclose(r.weights[t][-1], alone / alone.sum(), rtol=1e-12)


@pytest.mark.parametrize("delay", [1, 2, 3])
def test_delay_d_copies_the_consensus_of_d_epochs_before(delay: int) -> None:
    r, _ = _run(delay)
    assert r.weights is not None
    for t in range(delay, r.weights.shape[0]):
        c = r.consensus[t - delay]
        np.testing.assert_allclose(r.weights[t][-1], c / c.sum(), rtol=1e-12)
    # Before any consensus exists the copier submits the honest validators' mean view.
    rows = r.weights[0][:2]
    assert not np.allclose(r.weights[0][-1], rows[0])


def test_delay_one_is_a_copier_of_the_previous_epochs_consensus() -> None:
    """delay = 1 is the copier that submits ``state.previous.consensus``: built here directly."""
    out = copier_experiment(seed=2, epochs=40, warmup=10, delay=1, variant="yuma2")
    rng = np.random.default_rng(2)
    quality = drifting_quality(8, 40, 0.1, rng)
    views = np.maximum(
        quality[:, None, :] + 0.02 * np.random.default_rng(3).standard_normal((40, 3, 8)), 0.0
    )

    def weights(epoch: int, state: yuma.SimulationState) -> np.ndarray:
        prev = state.previous
        copied = prev.consensus if prev is not None else views[epoch].mean(axis=0)
        return np.vstack((views[epoch], copied[None, :]))

    r = yuma.simulate(weights, [0.5, 0.2, 0.2, 0.1], variant="yuma2", epochs=40)
    rel = r.relative_dividends
    expected = rel[10:, -1].mean() / rel[10:, :3].mean(axis=1).mean()
    assert out.relative == pytest.approx(expected, rel=1e-12)


def test_outcome_is_reproducible_and_well_formed() -> None:
    a = copier_experiment(seed=5, epochs=40, warmup=10)
    b = copier_experiment(seed=5, epochs=40, warmup=10)
    c = copier_experiment(seed=6, epochs=40, warmup=10)
    assert a.relative == b.relative and a.relative != c.relative
    assert a.copier_relative_dividends.shape == (40,)
    assert np.all(np.isfinite(a.copier_relative_dividends))
    assert np.all(a.honest_relative_dividends >= 0)


def test_quality_stays_in_the_unit_interval() -> None:
    q = drifting_quality(16, 500, 0.3, np.random.default_rng(0))
    assert q.shape == (500, 16) and q.min() >= 0 and q.max() <= 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="copier_stake"):
        copier_experiment(copier_stake=0.0)
    with pytest.raises(ValueError, match="honest_stakes"):
        copier_experiment(honest_stakes=())
    with pytest.raises(ValueError, match="warmup"):
        copier_experiment(epochs=10, warmup=10)
    with pytest.raises(ValueError, match="delay"):
        copier_experiment(delay=-1)
    with pytest.raises(ValueError, match="variant"):
        copier_experiment(variant="nope")
    with pytest.raises(ValueError, match="honest_stake"):
        copier_weights(np.ones((3, 2)), 0.0, 1, 0, delay=0)
