"""The weight-copier experiment."""

from __future__ import annotations

import numpy as np
import pytest

from yuma.attacks import weight_copier
from yuma.attacks.copier import drifting_quality


@pytest.mark.parametrize("variant", ["yuma2", "yuma3"])
@pytest.mark.parametrize("liquid_alpha", [False, True])
def test_copying_pays_less_the_longer_the_reveal_delay(variant: str, liquid_alpha: bool) -> None:
    """With a drifting ranking (step 0.1 per epoch), the copier earns less per unit of stake
    than honest validators, and less again with each epoch of commit-reveal delay."""
    outcomes = [
        weight_copier(variant=variant, liquid_alpha=liquid_alpha, delay=d, drift=0.1).relative
        for d in (0, 1, 2)
    ]
    assert all(r < 0.97 for r in outcomes[1:])
    assert outcomes[0] > outcomes[1] > outcomes[2]


def test_without_drift_copying_is_as_good_as_working() -> None:
    """A ranking that never changes leaves nothing to be late for."""
    out = weight_copier(drift=0.0, noise=0.0, delay=2)
    assert out.relative == pytest.approx(1.0, abs=1e-6)


def test_outcome_is_reproducible_and_well_formed() -> None:
    a = weight_copier(seed=5, epochs=40, warmup=10)
    b = weight_copier(seed=5, epochs=40, warmup=10)
    c = weight_copier(seed=6, epochs=40, warmup=10)
    assert a.relative == b.relative and a.relative != c.relative
    assert a.copier_relative_dividends.shape == (40,)
    assert np.all(np.isfinite(a.copier_relative_dividends))
    assert np.all(a.honest_relative_dividends >= 0)


def test_quality_stays_in_the_unit_interval() -> None:
    q = drifting_quality(16, 500, 0.3, np.random.default_rng(0))
    assert q.shape == (500, 16) and q.min() >= 0 and q.max() <= 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="copier_stake"):
        weight_copier(copier_stake=0.0)
    with pytest.raises(ValueError, match="honest_stakes"):
        weight_copier(honest_stakes=())
    with pytest.raises(ValueError, match="warmup"):
        weight_copier(epochs=10, warmup=10)
    with pytest.raises(ValueError, match="variant"):
        weight_copier(variant="nope")
