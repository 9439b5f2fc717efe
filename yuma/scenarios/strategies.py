"""Adaptive scenarios: weights set by a strategy that reacts to past epochs (a weight copier).

A :class:`Strategy` holds a weights callable ``(epoch, state) -> W`` for :func:`yuma.simulate`
with its stake and labels, and runs like a :class:`~yuma.scenarios.Scenario`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from yuma._types import FloatArray
from yuma.params import YumaParams

if TYPE_CHECKING:
    from yuma.simulation import SimulationResult, SimulationState, WeightsFn
    from yuma.variants import Variant

__all__ = ["Strategy", "copier_strategy"]


@dataclass(frozen=True)
class Strategy:
    """A weights callable with stake and labels.

    Attributes
    ----------
    name, title : str
        Identifier and human-readable title.
    weights : callable
        ``(epoch, state) -> (V, N)`` weights set at ``epoch`` (see
        :class:`yuma.SimulationState`).
    stake : (V,)
        Constant stake (read-only).
    epochs : int
        Number of epochs.
    validators, miners : tuple of str
        Axis labels.
    base_validator : str
        The validator the scenario is about.
    options : mapping
        Simulation options the strategy asks for.
    description : str
        What happens.
    """

    name: str
    title: str
    weights: WeightsFn
    stake: FloatArray
    epochs: int
    validators: tuple[str, ...]
    miners: tuple[str, ...]
    base_validator: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""

    def __post_init__(self) -> None:
        s = np.array(self.stake, dtype=np.float64, copy=True)
        s.setflags(write=False)
        if s.shape != (len(self.validators),):
            raise ValueError(f"strategy {self.name!r}: stake {s.shape} vs validators")
        if self.base_validator not in self.validators:
            raise ValueError(f"strategy {self.name!r}: unknown base validator")
        object.__setattr__(self, "stake", s)
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def base_index(self) -> int:
        """Row of :attr:`base_validator`."""
        return self.validators.index(self.base_validator)

    def simulation_options(self) -> dict[str, Any]:
        """The options :func:`yuma.simulate` needs to run this strategy as intended."""
        return dict(self.options)

    def simulate(
        self,
        variant: str | Variant | None = None,
        params: YumaParams | None = None,
        backend: str | None = None,
        **options: Any,
    ) -> SimulationResult:
        """Run with :func:`yuma.simulate`; ``options`` override the strategy's
        (``keep_matrices`` is on unless given)."""
        from yuma.simulation import simulate

        merged = {**self.simulation_options(), **options}
        # Scenarios are small and made to be plotted: keep the per-epoch matrices.
        merged.setdefault("keep_matrices", True)
        return simulate(
            self.weights,
            self.stake,
            params,
            variant=variant,
            backend=backend,
            epochs=self.epochs,
            validators=self.validators,
            miners=self.miners,
            **merged,
        )


def copier_strategy(
    period: int = 5,
    *,
    miners: int = 2,
    epochs: int = 60,
    stake: tuple[float, ...] = (0.8, 0.1, 0.1),
    commit_reveal: int = 1,
) -> Strategy:
    """Honest validators and a weight copier (attack experiment 2 of the variants spec).

    The best of ``miners`` miners changes every ``period`` epochs (miner 0, 1, …, round-robin);
    every validator but the last puts all its weight on the current best. The last one copies:
    it submits the consensus of the last epoch it has seen (``state.previous.consensus``), or
    the honest choice at epoch 0. Commit-reveal (``commit_reveal`` = d) delays everybody's
    weights by d epochs, so the copier's information is ``d + 1`` epochs old when it counts.

    period : epochs between changes of the best miner (how fast the ranking moves).
    miners : number of miners (>= 2). epochs : run length. stake : per validator, the copier
    last (the default pits a 0.1 copier against a 0.1 honest validator and a 0.8 one).
    """
    for name, value, low in (("period", period, 1), ("miners", miners, 2), ("epochs", epochs, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if len(stake) < 2:
        raise ValueError("copier_strategy needs at least one honest validator and the copier")
    n_validators = len(stake)

    def weights(epoch: int, state: SimulationState) -> FloatArray:
        honest = np.zeros(miners)
        honest[(epoch // period) % miners] = 1.0
        w = np.tile(honest, (n_validators, 1))
        previous = state.previous
        if previous is not None and previous.consensus.sum() > 0:
            w[-1] = previous.consensus
        return w

    validators = tuple(f"honest {i} ({s:g})" for i, s in enumerate(stake[:-1]))
    validators += (f"copier ({stake[-1]:g})",)
    return Strategy(
        name=f"copier_p{period}_d{commit_reveal}",
        title=f"Weight copier, best miner changes every {period} epochs, reveal delay "
        f"{commit_reveal}",
        weights=weights,
        stake=np.asarray(stake, dtype=np.float64),
        epochs=epochs,
        validators=validators,
        miners=tuple(f"miner {j}" for j in range(miners)),
        base_validator=validators[-1],
        options={"commit_reveal": commit_reveal},
        description="honest validators follow the best miner; the last copies the consensus",
    )
