"""Which pipelines the compiled numba kernels run: declared, not guessed.

A fused kernel computes several pipeline steps in one pass, so it can only stand in for a
pipeline whose steps are the rules it implements. Each kernel declares, per step, the rules it
fuses (the names steps declare with :func:`yuma._step.rule`) and its specialisations (which
bonds / dividends / EMA-rate rules go together, and the kernel flags they select).
:func:`match` compares a pipeline's declared rules with a kernel's declaration; a step that
declares nothing (a user's function, a ``functools.partial`` of a built-in) is never taken to
be a kernel's rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from yuma._step import Config
from yuma.pipeline import Pipeline

__all__ = ["DENSE_KERNEL", "Kernel", "Match", "Specialisation", "match"]

#: A rule's kernel flags, possibly depending on the config (``rate.chain`` reads liquid_alpha).
Flags = Mapping[str, Any] | Callable[[Config], Mapping[str, Any]]


@dataclass(frozen=True)
class Specialisation:
    """Rules that go together in one compiled branch, and the flags each one sets."""

    name: str
    rules: Mapping[str, Mapping[str, Flags]]


@dataclass(frozen=True)
class Kernel:
    """A fused kernel: the steps it covers with one rule each (``common``), and the branches
    in which the remaining steps may take one of several rules."""

    name: str
    common: Mapping[str, str]
    specialisations: tuple[Specialisation, ...] = field(default_factory=tuple)

    @property
    def steps(self) -> tuple[str, ...]:
        """Every step name the kernel fuses."""
        names = set(self.common)
        for spec in self.specialisations:
            names |= set(spec.rules)
        return tuple(sorted(names))


@dataclass(frozen=True)
class Match:
    """The outcome of :func:`match`: ``flags`` for the kernel, or ``reason`` it cannot run."""

    flags: Mapping[str, Any] | None
    reason: str = ""

    def __bool__(self) -> bool:
        return self.flags is not None


def match(kernel: Kernel, pipeline: Pipeline, config: Config) -> Match:
    """Whether ``kernel`` computes exactly ``pipeline`` (with ``config``), and its flags."""
    rules = pipeline.rules()
    expected = set(kernel.steps)
    if set(rules) != expected:
        extra = sorted(set(rules) - expected)
        missing = sorted(expected - set(rules))
        return Match(None, f"kernel {kernel.name} fuses steps {sorted(expected)}; "
                     f"the pipeline adds {extra} and lacks {missing}")  # fmt: skip
    for step, want in kernel.common.items():
        if rules[step] != want:
            return Match(None, _mismatch(kernel, step, rules[step], [want]))
    reasons = []
    for spec in kernel.specialisations:
        flags: dict[str, Any] = {}
        for step, options in spec.rules.items():
            got = rules[step]
            if got is None or got not in options:
                reasons.append(_mismatch(kernel, step, got, list(options), spec.name))
                break
            value = options[got]
            flags.update(value(config) if callable(value) else value)
        else:
            return Match(flags)
    return Match(None, "; ".join(reasons))


def _mismatch(kernel: Kernel, step: str, got: str | None, want: list[str], spec: str = "") -> str:
    where = f" ({spec})" if spec else ""
    declared = "declares no rule" if got is None else f"declares {got!r}"
    return f"kernel {kernel.name}{where}: step {step!r} {declared}, the kernel fuses {want}"


_COMMON_DENSE = {
    name: name
    for name in (
        "stake",
        "permits",
        "active_stake",
        "weights",
        "consensus",
        "clip",
        "incentive",
        "bonds_penalty",
        "masked_bonds",
        "storage",
        "emission",
    )
}

#: The numba dense epoch (:mod:`yuma.backends.numba_dense`): the chain's steps, with the
#: Yuma3 or the original-Yuma bonds and dividends, fixed rate or liquid alpha v2.
DENSE_KERNEL = Kernel(
    name="numba.dense",
    common=_COMMON_DENSE,
    specialisations=(
        Specialisation(
            "yuma3",
            {
                "ema_rate": {
                    "rate.fixed": {"liquid": False},
                    "rate.chain": lambda config: {"liquid": bool(config.liquid_alpha)},
                    "rate.liquid_v2.current": {"liquid": True},
                },
                "bonds": {"bonds.yuma3": {"yuma3": True}},
                "dividends": {"dividends.stake_weighted": {}},
            },
        ),
        Specialisation(
            "yuma2",
            {
                "ema_rate": {"rate.fixed": {"liquid": False}},
                "bonds": {"bonds.yuma2": {"yuma3": False}},
                "dividends": {"dividends.bonds_incentive": {}},
            },
        ),
    ),
)
