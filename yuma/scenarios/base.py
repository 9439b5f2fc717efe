"""The :class:`Scenario` record and helpers to build weight schedules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from yuma._types import FloatArray
from yuma.params import YumaParams

if TYPE_CHECKING:
    from yuma.simulation import SimulationResult
    from yuma.variants import Variant

__all__ = ["Scenario", "switches"]


def _frozen(a: Any) -> FloatArray:
    out = np.array(a, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Scenario:
    """A weight and stake schedule with labels: one row of the scenario library.

    Attributes
    ----------
    name : str
        Short identifier (``yuma.scenarios.get(name)``).
    title : str
        Human-readable title (for the public cases, the title the community uses).
    weights : (E, V, N)
        Weights each validator sets on each miner per epoch (read-only).
    stake : (E, V)
        Stake per epoch (read-only).
    validators, miners : tuple of str
        Axis labels.
    base_validator : str
        The validator the scenario is about (whose dividends people read).
    bond_reset : tuple of (miner, epoch)
        Bond resets the scenario asks for (pass-through option of :func:`yuma.simulate`).
    options : mapping
        Other simulation options the scenario asks for (e.g. ``winner_takes_all``).
    key : str or None
        The public case key (``"case01"`` … ``"case24"``), None for synthetic scenarios.
    noisy : bool
        The weights come from a seeded random generator (``seed``).
    seed : int or None
        The generator's seed for noisy scenarios.
    description : str
        What happens in the scenario.
    """

    name: str
    title: str
    weights: FloatArray
    stake: FloatArray
    validators: tuple[str, ...]
    miners: tuple[str, ...]
    base_validator: str
    bond_reset: tuple[tuple[int, int], ...] = ()
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    key: str | None = None
    noisy: bool = False
    seed: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        w, s = _frozen(self.weights), _frozen(self.stake)
        if w.ndim != 3 or s.ndim != 2 or w.shape[:2] != s.shape:
            raise ValueError(f"scenario {self.name!r}: weights {w.shape} and stake {s.shape}")
        if len(self.validators) != w.shape[1] or len(self.miners) != w.shape[2]:
            raise ValueError(f"scenario {self.name!r}: labels do not match weights {w.shape}")
        if self.base_validator not in self.validators:
            raise ValueError(f"scenario {self.name!r}: unknown base validator")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "stake", s)
        object.__setattr__(self, "validators", tuple(self.validators))
        object.__setattr__(self, "miners", tuple(self.miners))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def epochs(self) -> int:
        """Number of epochs E."""
        return int(self.weights.shape[0])

    @property
    def base_index(self) -> int:
        """Row of :attr:`base_validator`."""
        return self.validators.index(self.base_validator)

    def simulation_options(self) -> dict[str, Any]:
        """The options :func:`yuma.simulate` needs to run this scenario as intended."""
        out: dict[str, Any] = dict(self.options)
        if self.bond_reset:
            out["bond_reset"] = self.bond_reset
        return out

    def simulate(
        self,
        variant: str | Variant | None = None,
        params: YumaParams | None = None,
        backend: str | None = None,
        **options: Any,
    ) -> SimulationResult:
        """Run the scenario with :func:`yuma.simulate`; ``options`` override the scenario's
        (``keep_matrices`` is on unless given)."""
        from yuma.simulation import simulate

        merged = self.simulation_options()
        merged.update(options)
        # Scenarios are small and made to be plotted: keep the per-epoch matrices.
        merged.setdefault("keep_matrices", True)
        return simulate(
            self.weights,
            self.stake,
            params,
            variant=variant,
            backend=backend,
            layout="bipartite",
            validators=self.validators,
            miners=self.miners,
            **merged,
        )


def switches(epochs: int, *segments: tuple[int, Sequence[float]]) -> FloatArray:
    """One validator's (E, N) weights from ``(first_epoch, row)`` segments.

    Each row holds from its first epoch until the next segment starts; the first segment must
    start at epoch 0. Example: ``switches(40, (0, [1, 0]), (2, [0, 1]))`` moves to miner 1 at
    epoch 2.
    """
    if not segments or segments[0][0] != 0:
        raise ValueError("the first segment must start at epoch 0")
    n = len(segments[0][1])
    out = np.empty((epochs, n))
    starts = [s for s, _ in segments] + [epochs]
    for (start, row), stop in zip(segments, starts[1:], strict=True):
        out[start:stop] = np.asarray(row, dtype=np.float64)
    return out
