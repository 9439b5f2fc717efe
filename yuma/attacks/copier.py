"""A weight copier against honest validators tracking a drifting ground truth.

The experiment (spec ``variants.md``, "Attack experiments" 2): honest validators weight miners by
their (noisy) view of a ground-truth quality that drifts every epoch; the copier does no work and
submits the consensus it last saw. With a commit-reveal delay ``d`` every weight enters consensus
``d`` epochs after it was set, so the copier's information is ``d + 1`` epochs old when it counts,
while honest validators' is ``d``. The outcome: the copier's dividends per unit of stake relative
to the honest validators'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from yuma._types import FloatArray
from yuma.params import YumaParams
from yuma.simulation import SimulationState, simulate

__all__ = ["CopierOutcome", "copier_weights", "weight_copier"]


@dataclass(frozen=True)
class CopierOutcome:
    """How a weight copier fared.

    Attributes
    ----------
    relative : float
        The copier's dividends per unit of stake over the honest validators', averaged over the
        epochs after ``warmup`` (1 = as good as honest work; below 1 copying does not pay).
    copier_relative_dividends : (E,) array
        The copier's dividends / stake share, per epoch.
    honest_relative_dividends : (E,) array
        The honest validators' mean dividends / stake share, per epoch.
    """

    relative: float
    copier_relative_dividends: FloatArray
    honest_relative_dividends: FloatArray


def copier_weights(quality: FloatArray, noise: float, n_honest: int, seed: int) -> Any:
    """The weights strategy: honest rows see ``quality[epoch]`` plus noise, the last row copies
    the consensus of the previous epoch (the honest view at epoch 0, when there is none).

    quality : (E, N) ground truth per epoch. Returns a callable ``(epoch, state) -> (V, N)``.
    """
    views = np.maximum(
        quality[:, None, :]
        + noise
        * np.random.default_rng(seed).standard_normal(
            (quality.shape[0], n_honest, quality.shape[1])
        ),
        0.0,
    )

    def weights(epoch: int, state: SimulationState) -> FloatArray:
        honest = views[epoch]
        previous = state.previous
        copied = (
            previous.consensus
            if previous is not None and previous.consensus.sum() > 0
            else honest.mean(axis=0)
        )
        return np.vstack((honest, copied[None, :]))

    return weights


def drifting_quality(
    miners: int, epochs: int, drift: float, rng: np.random.Generator
) -> FloatArray:
    """(E, N) miner quality: uniform at the start, then a random walk of step ``drift``,
    reflected into [0, 1]."""
    steps = drift * rng.standard_normal((epochs, miners))
    steps[0] = rng.random(miners)
    walk = np.cumsum(steps, axis=0)
    # Reflect into [0, 1] so the ranking keeps changing instead of sticking at a bound.
    folded = np.mod(walk, 2.0)
    return np.asarray(np.where(folded > 1.0, 2.0 - folded, folded))


def weight_copier(
    copier_stake: float = 0.1,
    honest_stakes: Sequence[float] = (0.5, 0.2, 0.2),
    *,
    miners: int = 8,
    epochs: int = 80,
    delay: int = 1,
    drift: float = 0.1,
    noise: float = 0.02,
    variant: str = "yuma3",
    liquid_alpha: bool = False,
    params: YumaParams | None = None,
    warmup: int = 20,
    seed: int = 0,
    backend: str | None = None,
) -> CopierOutcome:
    """Run honest validators and one weight copier; measure the copier's relative dividends.

    Parameters
    ----------
    copier_stake : the copier's stake (honest stakes are given separately; all are normalised).
    honest_stakes : the honest validators' stakes.
    miners, epochs : subnet size and run length.
    delay : commit-reveal delay ``d`` in epochs (0 = weights count the epoch they are set).
    drift : per-epoch step of the miners' ground-truth quality (how fast the ranking changes).
    noise : spread of each honest validator's view of the quality.
    variant : any registered variant (``yuma.variants.names()``).
    liquid_alpha : turn liquid alpha (v2, the chain's) on.
    warmup : epochs left out of the average while bonds form.
    """
    if not 0 < copier_stake:
        raise ValueError(f"copier_stake must be positive, got {copier_stake!r}")
    if len(honest_stakes) < 1 or min(honest_stakes) <= 0:
        raise ValueError("honest_stakes needs at least one positive stake")
    if delay < 0 or epochs <= warmup or warmup < 0:
        raise ValueError("need delay >= 0 and 0 <= warmup < epochs")
    rng = np.random.default_rng(seed)
    quality = drifting_quality(miners, epochs, drift, rng)
    n_honest = len(honest_stakes)
    stake = np.array([*honest_stakes, copier_stake], dtype=np.float64)
    base = params if params is not None else YumaParams()
    p = replace(base, liquid_alpha=liquid_alpha)
    result = simulate(
        copier_weights(quality, noise, n_honest, seed + 1),
        stake,
        p,
        variant=variant,
        backend=backend,
        epochs=epochs,
        commit_reveal=delay,
        liquid_alpha="v2" if liquid_alpha else "off",
    )
    relative = np.asarray(result.relative_dividends)
    copier = relative[:, -1]
    honest = relative[:, :n_honest].mean(axis=1)
    tail = slice(warmup, None)
    honest_total = honest[tail].mean()
    ratio = float(copier[tail].mean() / honest_total) if honest_total > 0 else float("nan")
    return CopierOutcome(
        relative=ratio,
        copier_relative_dividends=copier,
        honest_relative_dividends=honest,
    )
