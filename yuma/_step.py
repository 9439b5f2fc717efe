"""What a pipeline step sees: the epoch's state, its configuration, and its array namespace.

A step is a pure function ``step(s: State) -> Mapping[str, array]``: it reads named quantities
from ``s`` (inputs and the outputs of earlier steps, as attributes), the hyperparameters from
``s.config`` and the array namespace from ``s.xp``, and returns the quantities it computes. The
pipeline merges them into the state for the next step. See :mod:`yuma.pipeline`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from yuma._xp import Namespace
from yuma.params import YumaParams

__all__ = ["NUMERIC_FIELDS", "Config", "State", "Step", "rule", "rule_of"]

#: A step: ``State -> {name: array}``.
Step = Callable[["State"], Mapping[str, Any]]

F = TypeVar("F")

#: The hyperparameters a step reads as numbers (traced under JAX, so they may be vmapped).
NUMERIC_FIELDS = (
    "kappa",
    "bonds_penalty",
    "bonds_ema_rate",
    "alpha_low",
    "alpha_high",
    "alpha_sigmoid_steepness",
    "max_allowed_validators",
)


@dataclass(frozen=True)
class Config:
    """The configuration every step can read (``s.config``).

    Numeric fields (:data:`NUMERIC_FIELDS`, from :class:`~yuma.params.YumaParams`; the EMA
    rate is ``bonds_ema_rate = 1 − bonds_moving_average``) are traced under JAX, so a batch may
    carry one value per element. The others are structure, fixed at compile time:

    liquid_alpha : bool
        ``YumaParams.liquid_alpha``: the chain's rate step turns liquid alpha v2 on with it.
    square : bool
        The chain's uid layout (self-weights masked, emission per uid).
    options : tuple of (name, value)
        A variant's own options (``yuma2c``'s ``decay``, ...), read with :meth:`option`.
    """

    kappa: Any
    bonds_penalty: Any
    bonds_ema_rate: Any
    alpha_low: Any
    alpha_high: Any
    alpha_sigmoid_steepness: Any
    max_allowed_validators: Any
    liquid_alpha: bool = False
    square: bool = True
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_params(
        cls,
        params: YumaParams,
        *,
        square: bool,
        options: Mapping[str, Any] | None = None,
    ) -> Config:
        """The config of ``params`` for the uid (``square=True``) or bipartite layout."""
        return cls(
            kappa=params.kappa,
            bonds_penalty=params.bonds_penalty,
            bonds_ema_rate=params.bonds_ema_rate,
            alpha_low=params.alpha_low,
            alpha_high=params.alpha_high,
            alpha_sigmoid_steepness=params.alpha_sigmoid_steepness,
            max_allowed_validators=params.max_allowed_validators,
            liquid_alpha=bool(params.liquid_alpha),
            square=bool(square),
            options=tuple(sorted((options or {}).items())),
        )

    def option(self, name: str, default: Any = None) -> Any:
        """A variant option's value (``default`` when the variant has no such option)."""
        return dict(self.options).get(name, default)

    def numbers(self) -> dict[str, Any]:
        """The numeric fields as a dict."""
        return {name: getattr(self, name) for name in NUMERIC_FIELDS}

    def structure(self) -> tuple[Any, ...]:
        """The static fields (what a compiled program is specialised on)."""
        return (self.liquid_alpha, self.square, self.options)

    def with_numbers(self, **numbers: Any) -> Config:
        """A copy with numeric fields replaced (arrays under a trace)."""
        return dataclasses.replace(self, **numbers)


class State(Mapping[str, Any]):
    """An epoch's named quantities so far, read-only; ``s.name`` or ``s["name"]``.

    ``s.xp`` is the array namespace and ``s.config`` the :class:`Config`. A quantity may not
    take the name of a ``State`` attribute (``config``, ``xp``, ``keys``, ``values`` ...).
    """

    # The quantities live in the instance ``__dict__``, so ``s.name`` is a plain attribute
    # lookup: ``__getattr__`` alone would run only after a failed lookup, and that failure
    # (an AttributeError built and caught per read) was 4 % of a 64 x 64 numpy epoch.
    __slots__ = ("__dict__", "config", "xp")

    def __init__(self, values: Mapping[str, Any], config: Config, xp: Namespace) -> None:
        quantities = dict(values)
        _check_names(quantities)
        self.__dict__ = quantities
        self.config = config
        self.xp = xp

    def __getattr__(self, name: str) -> Any:
        # only reached when ``name`` is not a quantity (nor an attribute of the class)
        known = ", ".join(sorted(self.__dict__))
        raise AttributeError(
            f"the epoch state has no {name!r} yet (no earlier step computed it); it holds: {known}"
        )

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __len__(self) -> int:
        return len(self.__dict__)

    def merged(self, updates: Mapping[str, Any]) -> State:
        """A new state with ``updates`` added (a later step may overwrite an earlier name)."""
        _check_names(updates)
        new = State.__new__(State)  # the merged dict below is already private: no second copy
        new.__dict__ = {**self.__dict__, **updates}
        new.config = self.config
        new.xp = self.xp
        return new

    def _absorb(self, updates: Mapping[str, Any]) -> None:
        """Add ``updates`` in place: only :meth:`yuma.pipeline.Pipeline.run`, which owns the
        state it built and hands each step the quantities so far (a copy per step cost a
        fortieth of a 64 x 64 epoch)."""
        _check_names(updates)
        self.__dict__.update(updates)

    def values(self) -> Any:  # type: ignore[override]
        return self.__dict__.values()

    def as_dict(self) -> dict[str, Any]:
        """Every quantity as a plain dict."""
        return dict(self.__dict__)


#: Names a quantity cannot take: ``s.name`` would find the class's attribute instead.
_RESERVED = frozenset(name for name in dir(State) if not name.startswith("__"))


def _check_names(quantities: Mapping[str, Any]) -> None:
    if not _RESERVED.isdisjoint(quantities):
        clash = sorted(_RESERVED.intersection(quantities))
        raise ValueError(
            f"epoch quantities cannot be named {clash}: those are attributes of the state "
            "(rename the step's output)"
        )


def rule(name: str) -> Callable[[F], F]:
    """Declare which rule a step implements (``"bonds.yuma3"``, ...).

    A compiled kernel runs a pipeline only when every step it fuses declares a rule the kernel
    implements (:mod:`yuma.backends.kernels`). A step without a declaration (a user's function,
    or a ``functools.partial`` of a built-in: it may compute something else) runs on the
    backends that execute steps as written: numpy and JAX.
    """

    def mark(step: F) -> F:
        step.__yuma_rule__ = name  # type: ignore[attr-defined]
        return step

    return mark


def rule_of(step: Any) -> str | None:
    """The rule a step declares, or None (see :func:`rule`)."""
    declared = getattr(step, "__yuma_rule__", None)
    return declared if isinstance(declared, str) else None
