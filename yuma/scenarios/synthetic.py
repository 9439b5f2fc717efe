"""Synthetic scenarios: random subnets with a chosen size, stake distribution and weight noise."""

from __future__ import annotations

from typing import Any

import numpy as np

from yuma._types import FloatArray
from yuma.scenarios.base import Scenario

__all__ = ["STAKE_DISTRIBUTIONS", "random_subnet", "stake_distribution"]

STAKE_DISTRIBUTIONS = ("equal", "uniform", "lognormal", "pareto")


def stake_distribution(kind: Any, validators: int, rng: np.random.Generator) -> FloatArray:
    """(V,) normalised stake: "equal", "uniform" (U(0, 1)), "lognormal" (σ = 1) or "pareto"
    (shape 1.16, the 80/20 rule); an array is normalised as given."""
    if not isinstance(kind, str):
        s = np.asarray(kind, dtype=np.float64)
        if s.shape != (validators,) or np.any(s < 0) or not np.all(np.isfinite(s)) or s.sum() <= 0:
            raise ValueError(f"stake must be {validators} non-negative values with a positive sum")
    elif kind == "equal":
        s = np.ones(validators)
    elif kind == "uniform":
        s = rng.uniform(0.0, 1.0, validators)
    elif kind == "lognormal":
        s = rng.lognormal(0.0, 1.0, validators)
    elif kind == "pareto":
        s = rng.pareto(1.16, validators) + 1.0
    else:
        raise ValueError(f"stake must be one of {STAKE_DISTRIBUTIONS} or an array, got {kind!r}")
    return np.asarray(s / s.sum(), dtype=np.float64)


def random_subnet(
    validators: int = 8,
    miners: int = 16,
    epochs: int = 40,
    *,
    stake: Any = "lognormal",
    noise: float = 0.1,
    drift: float = 0.0,
    seed: int = 0,
) -> Scenario:
    """A random subnet whose validators score the same miners with independent noise.

    Each miner has a true quality ``q_j ~ U(0, 1)`` that moves by a Gaussian random walk of
    step ``drift`` per epoch (clipped at 0). Every epoch each validator sets
    ``max(q_j + noise·q̄·ε_ij, 0)`` (ε standard normal, q̄ the mean quality), normalised.
    With ``noise=0`` every validator always agrees. Stake is fixed over the run.

    validators, miners, epochs : positive ints. stake : a :data:`STAKE_DISTRIBUTIONS` name or
    a (V,) array. noise, drift : non-negative. seed : the generator's seed.
    """
    for name, value in (("validators", validators), ("miners", miners), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    for name, x in (("noise", noise), ("drift", drift)):
        if not np.isfinite(x) or x < 0:
            raise ValueError(f"{name} must be finite and non-negative, got {x!r}")
    rng = np.random.default_rng(seed)
    s = stake_distribution(stake, validators, rng)
    steps = rng.normal(0.0, drift, (epochs, miners)) if drift > 0 else np.zeros((epochs, miners))
    steps[0] = 0.0
    quality = np.maximum(rng.uniform(0.0, 1.0, miners)[None, :] + np.cumsum(steps, axis=0), 0.0)
    scale = quality.mean(axis=1, keepdims=True)[:, :, None]
    eps = rng.normal(size=(epochs, validators, miners))
    w = np.maximum(quality[:, None, :] + noise * scale * eps, 0.0)
    sums = w.sum(axis=2, keepdims=True)
    w = np.divide(w, sums, out=np.zeros_like(w), where=sums > 0)
    names = tuple(f"validator {i}" for i in range(validators))
    return Scenario(
        name=f"random_{validators}x{miners}",
        title=f"Random subnet: {validators} validators, {miners} miners, noise {noise:g}",
        weights=w,
        stake=np.tile(s, (epochs, 1)),
        validators=names,
        miners=tuple(f"miner {j}" for j in range(miners)),
        base_validator=names[0],
        noisy=noise > 0 or drift > 0,
        seed=seed,
        description=f"stake {stake if isinstance(stake, str) else 'given'}, drift {drift:g}",
    )
