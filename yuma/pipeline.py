"""The dense float epoch as one named list of pure steps, run by numpy and JAX alike.

A :class:`Pipeline` is an ordered tuple of ``(name, step)`` pairs. The chain's epoch
(``epoch_dense_mechanism``) is :data:`CHAIN`, with the spec's section names::

    stake -> permits -> active_stake -> weights -> consensus -> clip -> incentive
      -> bonds_penalty -> masked_bonds -> ema_rate -> bonds -> dividends -> storage -> emission

Each step is a pure function ``step(s) -> {name: array}`` of the state so far (see
:mod:`yuma._step`); it is written once against an array namespace ``s.xp``, so the same pipeline
runs eagerly on numpy and traced under ``jax.jit``, ``jax.vmap`` and ``jax.lax.scan``
(:mod:`yuma.backends.jax_pipeline`). A variant is a pipeline with steps replaced, as with
optax's ``chain``::

    from yuma.pipeline import CHAIN

    def my_bonds(s):                          # s.weights_for_bonds, s.masked_bonds, s.rate ...
        b = s.rate * s.weights_for_bonds + (1 - s.rate) * s.masked_bonds
        return {"ema_bonds": b, "new_bonds": b}

    mine = CHAIN.replace(bonds=my_bonds)
    yuma.epoch(W, S, pipeline=mine)                      # numpy (or backend="jax")
    yuma.simulate(W, S, variant=yuma.variants.Variant("mine", mine), backend="jax")

The compiled numba kernels are declared specialisations of the chain's pipelines: they run a
pipeline only when every step declares a rule they implement (:mod:`yuma.backends.kernels`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from yuma import bonds, dividends, ema_rate, steps
from yuma._step import Config, State, Step, rule_of
from yuma._xp import Namespace, np_xp
from yuma.result import EpochResult

__all__ = [
    "BATCH_RULES",
    "CHAIN",
    "CHAIN_YUMA2",
    "RESULT_FIELDS",
    "STEP_NAMES",
    "Config",
    "Pipeline",
    "State",
    "chain",
    "dense_state",
    "run_numpy",
    "to_result",
]

#: The chain's dense epoch, step by step (spec §4 section names).
STEP_NAMES = (
    "stake",
    "permits",
    "active_stake",
    "weights",
    "consensus",
    "clip",
    "incentive",
    "bonds_penalty",
    "masked_bonds",
    "ema_rate",
    "bonds",
    "dividends",
    "storage",
    "emission",
)

#: The :class:`~yuma.result.EpochResult` fields, in order: what a pipeline must produce.
RESULT_FIELDS = (
    "stake",
    "active_stake",
    "weights",
    "consensus",
    "clipped_weights",
    "validator_trust",
    "ranks",
    "incentive",
    "bonds",
    "dividends",
    "validator_permit",
    "server_emission",
    "validator_emission",
    "combined_emission",
)


@dataclass(frozen=True)
class Pipeline:
    """An ordered, named list of pure steps; immutable and hashable (a JAX cache key).

    Build one with ``Pipeline([("stake", f), ...])``, or derive one from :data:`CHAIN` with
    :meth:`replace`. Steps hash by identity (a module-level function or a frozen dataclass
    instance is the same step every call; a fresh ``functools.partial`` is a new one and
    recompiles under JAX).
    """

    steps: tuple[tuple[str, Step], ...]
    name: str = "custom"

    def __init__(self, steps: Iterable[tuple[str, Step]], name: str = "custom") -> None:
        pairs = tuple((str(n), s) for n, s in steps)
        names = [n for n, _ in pairs]
        if len(set(names)) != len(names):
            raise ValueError(f"pipeline {name!r}: step names must be unique, got {names}")
        for n, s in pairs:
            if not callable(s):
                raise ValueError(f"pipeline {name!r}: step {n!r} must be callable, got {s!r}")
        object.__setattr__(self, "steps", pairs)
        object.__setattr__(self, "name", name)

    @property
    def names(self) -> tuple[str, ...]:
        """The step names, in order."""
        return tuple(n for n, _ in self.steps)

    def __getitem__(self, name: str) -> Step:
        for n, s in self.steps:
            if n == name:
                return s
        raise KeyError(f"pipeline {self.name!r} has no step {name!r}; steps: {self.names}")

    def replace(self, name: str | None = None, **new_steps: Step) -> Pipeline:
        """A copy with the named steps replaced (unknown names raise ``ValueError``)."""
        unknown = sorted(set(new_steps) - set(self.names))
        if unknown:
            raise ValueError(
                f"pipeline {self.name!r} has no step(s) {unknown}; steps: {', '.join(self.names)}"
            )
        pairs = [(n, new_steps.get(n, s)) for n, s in self.steps]
        return Pipeline(pairs, name=self.name if name is None else name)

    def until(self, name: str) -> Pipeline:
        """The steps up to and including ``name``."""
        idx = self.names.index(name) if name in self.names else -1
        if idx < 0:
            raise ValueError(f"pipeline {self.name!r} has no step {name!r}")
        return Pipeline(self.steps[: idx + 1], name=f"{self.name}[:{name}]")

    def rules(self) -> dict[str, str | None]:
        """``{step name: declared rule or None}`` (see :func:`yuma._step.rule`)."""
        return {n: rule_of(s) for n, s in self.steps}

    def takes_batches(self) -> bool:
        """True when every step declares one of yuma's own rules (:data:`BATCH_RULES`).

        Those steps are written for leading batch axes (``(..., R, C)`` matrices, ``(..., R)``
        vectors), so numpy runs a stack of epochs through this pipeline in one pass. A step
        without a declaration (a user's function, a ``functools.partial``) may assume one
        epoch's 2-D shapes: :func:`yuma.epoch_batch` then runs the epochs one at a time.
        """
        return all(rule_of(s) in BATCH_RULES for _, s in self.steps)

    def run(
        self,
        values: Mapping[str, Any],
        config: Config,
        *,
        xp: Namespace = np_xp,
        trace: bool = False,
    ) -> Any:
        """Run every step on ``values`` (the inputs, see :mod:`yuma.steps`).

        Returns the final :class:`State`; with ``trace=True``, ``(state, [(name, outputs)])``
        so each step's own outputs can be checked. Each step reads the quantities computed
        before it from one state that grows as the steps run (a step returns its outputs and
        keeps no reference to the state).
        """
        s = State(values, config, xp)
        record: list[tuple[str, dict[str, Any]]] = []
        for n, step in self.steps:
            out = step(s)
            if type(out) is not dict and not isinstance(out, Mapping):
                raise TypeError(
                    f"step {n!r} of pipeline {self.name!r} must return a mapping of named "
                    f"arrays, got {type(out).__name__}"
                )
            s._absorb(out)
            if trace:
                record.append((n, dict(out)))
        return (s, record) if trace else s


#: The chain's dense epoch with Yuma3 on (its default): liquid alpha v2 follows
#: ``YumaParams.liquid_alpha``.
CHAIN = Pipeline(
    (
        ("stake", steps.stake),
        ("permits", steps.permits),
        ("active_stake", steps.active_stake),
        ("weights", steps.weights),
        ("consensus", steps.consensus),
        ("clip", steps.clip),
        ("incentive", steps.incentive),
        ("bonds_penalty", steps.bonds_penalty),
        ("masked_bonds", steps.masked_bonds),
        ("ema_rate", ema_rate.rate_chain),
        ("bonds", bonds.yuma3),
        ("dividends", dividends.stake_weighted),
        ("storage", steps.storage),
        ("emission", steps.emission),
    ),
    name="chain",
)

#: The chain's dense epoch with Yuma3 off (original Yuma bonds; the chain reads liquid alpha
#: only in its Yuma3 branch, so the rate is fixed).
CHAIN_YUMA2 = CHAIN.replace(
    name="chain_yuma2",
    ema_rate=ema_rate.rate_fixed,
    bonds=bonds.yuma2,
    dividends=dividends.bonds_incentive,
)


def _own_rules() -> frozenset[str]:
    found = {
        rule
        for module in (steps, bonds, dividends, ema_rate)
        for value in vars(module).values()
        if callable(value) and (rule := rule_of(value)) is not None
    }
    found |= {
        rule_of(ema_rate.LiquidAlpha(version, consensus)) or ""
        for version in ("v1", "v2")
        for consensus in ema_rate.LIQUID_CONSENSUS
    }
    return frozenset(found)


#: The rules of yuma's own steps (every step of :mod:`yuma.steps`, :mod:`yuma.bonds`,
#: :mod:`yuma.dividends` and :mod:`yuma.ema_rate`): each takes leading batch axes.
BATCH_RULES = _own_rules()


def chain(yuma3: bool = True) -> Pipeline:
    """The chain's pipeline for ``YumaParams.yuma3``."""
    return CHAIN if yuma3 else CHAIN_YUMA2


def dense_state(
    weights: Any,
    stake: Any,
    bonds_in: Any,
    old_permit: Any,
    active: Any,
    outdated: Any,
    recently_registered: Any,
    *,
    xp: Namespace = np_xp,
) -> dict[str, Any]:
    """The inputs of one epoch as a pipeline's starting state (names in :mod:`yuma.steps`).

    Leading axes (a batch) are kept. ``outdated`` None means no outdated weights. There is no
    previous epoch (``started`` False), so variants reading the previous consensus or weights
    use the current ones.
    """
    w = xp.asarray(weights, dtype=xp.float64)
    lead = tuple(w.shape[:-2])  # a batch of epochs stacks every input on leading axes
    if outdated is None:
        outdated_mask = xp.zeros(w.shape, dtype=xp.bool)
    else:
        outdated_mask = xp.asarray(outdated, dtype=xp.bool)
    return {
        "raw_weights": w,
        "raw_stake": xp.asarray(stake, dtype=xp.float64),
        "previous_bonds": xp.asarray(bonds_in, dtype=xp.float64),
        "old_permit": xp.asarray(old_permit, dtype=xp.bool),
        "active": xp.asarray(active, dtype=xp.bool),
        "outdated": outdated_mask,
        "recently_registered": xp.asarray(recently_registered, dtype=xp.bool),
        "started": xp.zeros(lead, dtype=xp.bool),
        "previous_consensus": xp.zeros((*lead, w.shape[-1]), dtype=xp.float64),
        "previous_weights": xp.zeros(w.shape, dtype=xp.float64),
    }


def to_result(state: Mapping[str, Any]) -> EpochResult:
    """The :class:`EpochResult` of a finished pipeline state (numpy arrays)."""
    missing = [f for f in RESULT_FIELDS if f not in state]
    if missing:
        raise ValueError(f"the pipeline did not produce {missing} (an EpochResult needs them)")
    out: dict[str, Any] = {f: np.asarray(state[f], dtype=np.float64) for f in RESULT_FIELDS}
    out["validator_permit"] = np.asarray(state["validator_permit"]).astype(bool)
    return EpochResult(**out)


def run_numpy(
    pipeline: Pipeline, inputs: Any, params: Any, config: Config | None = None
) -> EpochResult:
    """One epoch of ``pipeline`` on validated dense :class:`~yuma.inputs.EpochInputs`
    (``config``: the caller's ``Config`` of ``params``, when it has one)."""
    outdated = inputs.outdated
    if outdated is not None and hasattr(outdated, "toarray"):
        outdated = outdated.toarray()
    values = dense_state(
        inputs.weights,
        inputs.stake,
        inputs.bonds,
        inputs.old_permit,
        inputs.active,
        outdated,
        inputs.recently_registered,
    )
    if config is None:
        config = Config.from_params(params, square=inputs.square)
    return to_result(pipeline.run(values, config))
