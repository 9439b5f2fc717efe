"""A weight copier against honest validators tracking a drifting ground truth.

The experiment (spec ``variants.md``, "Attack experiments" 2): honest validators weight miners by
their (noisy) view of a ground-truth quality that drifts every epoch; the copier does no work and
submits a consensus it has seen. The outcome: the copier's dividends per unit of stake relative
to the honest validators'.

Timing. ``delay`` is the number of epochs between the consensus the copier copies and the epoch
in which its copy counts:

* ``delay = 0``: a same-epoch copy. The copier reads the honest validators' weights of epoch
  ``t`` (public on a chain without commit-reveal) and submits the consensus they reach on their
  own; it counts in epoch ``t`` beside them.
* ``delay = d >= 1``: the copier's row in epoch ``t`` is the chain's consensus of epoch
  ``t - d`` (``SimulationResult.consensus[t - d]``, the copier's own row included). ``d = 1`` is
  a copier that submits the last published consensus.

With a commit-reveal interval of ``c`` epochs the copier's own weights are delayed too, so its
copy counts at least ``c`` epochs after the consensus it copies: ``delay = c`` when it copies the
weights revealed for the current epoch, ``c + 1`` when it copies the last epoch's consensus. The
honest validators' information is as fresh as the ground truth they see (commit-reveal shifts
their weights and the ground truth alike, which changes nothing here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from yuma._types import FloatArray
from yuma.params import YumaParams
from yuma.simulation import SimulationState, WeightsFn, simulate

__all__ = ["CopierOutcome", "copier_experiment", "copier_weights", "drifting_quality"]


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
    delay : int
        Epochs between the consensus copied and the epoch its copy counts in.
    """

    relative: float
    copier_relative_dividends: FloatArray
    honest_relative_dividends: FloatArray
    delay: int = 1


def _honest_consensus(
    honest: FloatArray, stake: FloatArray, params: YumaParams, variant: str
) -> FloatArray:
    """(N,) consensus the honest rows reach on their own (one epoch of ``variant``)."""
    run = simulate(honest, stake, params, variant=variant, epochs=1, keep_matrices=False)
    return np.asarray(run.consensus[0])


def copier_weights(
    quality: FloatArray,
    noise: float,
    n_honest: int,
    seed: int,
    *,
    delay: int = 1,
    honest_stake: Sequence[float] | FloatArray | None = None,
    params: YumaParams | None = None,
    variant: str = "yuma3",
) -> WeightsFn:
    """The weights strategy: honest rows see ``quality[epoch]`` plus noise, the last row copies.

    quality : (E, N) ground truth per epoch. Returns a callable ``(epoch, state) -> (V, N)``
    with V = ``n_honest`` + 1 (the copier last).

    ``delay`` (see the module's timing note): 0 copies the consensus of this epoch's honest
    rows (computed with ``variant``, ``params`` and ``honest_stake``, which it then needs);
    ``d >= 1`` copies the consensus of epoch ``t - d``. Before any consensus exists
    (``t < d``) the copier submits the honest validators' mean view.
    """
    if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
        raise ValueError(f"delay must be an int >= 0, got {delay!r}")
    if delay == 0 and honest_stake is None:
        raise ValueError("delay=0 (a same-epoch copy) needs honest_stake")
    views = np.maximum(
        quality[:, None, :]
        + noise
        * np.random.default_rng(seed).standard_normal(
            (quality.shape[0], n_honest, quality.shape[1])
        ),
        0.0,
    )
    stake_h = None if honest_stake is None else np.asarray(honest_stake, dtype=np.float64)
    p = params if params is not None else YumaParams()
    # Consensus of each epoch, filled as the simulation hands over the previous epoch's record;
    # keyed by epoch, so the callable can run again from epoch 0.
    seen: dict[int, FloatArray] = {}

    def weights(epoch: int, state: SimulationState) -> FloatArray:
        honest = views[epoch]
        if state.previous is not None:
            seen[epoch - 1] = np.asarray(state.previous.consensus)
        if delay == 0:
            assert stake_h is not None
            copied = _honest_consensus(honest, stake_h, p, variant)
        else:
            copied = seen.get(epoch - delay, np.zeros(0))
        if copied.size == 0 or copied.sum() <= 0:
            copied = honest.mean(axis=0)
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


def copier_experiment(
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
    delay : epochs between the consensus the copier copies and the epoch its copy counts in
        (0 = a same-epoch copy of the honest validators' consensus, possible without
        commit-reveal; 1 = the last published consensus; a commit-reveal interval of ``c``
        epochs means ``delay >= c``). See the module's timing note.
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
    if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
        raise ValueError(f"delay must be an int >= 0, got {delay!r}")
    if epochs <= warmup or warmup < 0:
        raise ValueError("need 0 <= warmup < epochs")
    rng = np.random.default_rng(seed)
    quality = drifting_quality(miners, epochs, drift, rng)
    n_honest = len(honest_stakes)
    stake = np.array([*honest_stakes, copier_stake], dtype=np.float64)
    base = params if params is not None else YumaParams()
    p = replace(base, liquid_alpha=liquid_alpha)
    la = "v2" if liquid_alpha else "off"
    strategy = copier_weights(
        quality,
        noise,
        n_honest,
        seed + 1,
        delay=int(delay),
        honest_stake=stake[:n_honest],
        params=p,
        variant=variant,
    )
    result = simulate(
        strategy,
        stake,
        p,
        variant=variant,
        backend=backend,
        epochs=epochs,
        liquid_alpha=la,
        keep_matrices=False,
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
        delay=int(delay),
    )
