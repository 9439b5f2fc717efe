"""A consensus variant: a named pipeline (the chain's with steps replaced) and its options.

A variant's epoch is a :class:`~yuma.pipeline.Pipeline`; the shared options of
:class:`Options` choose steps too (liquid alpha picks the ``ema_rate`` step, winner-takes-all
the ``incentive`` step), so :meth:`Variant.pipeline_for` gives the exact pipeline a run uses.
The driver (:func:`yuma.simulate`) carries bonds, permits, the last consensus and weights from
one epoch to the next, applies bond resets and the commit-reveal delay.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from yuma import steps
from yuma._step import Config, Step, rule_of
from yuma._types import BoolArray, FloatArray
from yuma.ema_rate import LiquidAlpha, rate_fixed
from yuma.params import YumaParams
from yuma.pipeline import Pipeline

__all__ = [
    "ALPHA_CONSENSUS_MODES",
    "GENERIC_OPTIONS",
    "LIQUID_ALPHA_MODES",
    "EpochRecord",
    "Options",
    "Variant",
    "liquid_alpha_mode",
    "make_options",
]

LIQUID_ALPHA_MODES = ("off", "v1", "v2")
ALPHA_CONSENSUS_MODES = ("current", "previous", "max")

#: The EMA-rate rules the liquid-alpha option may replace (a custom rate step is the user's).
_BUILTIN_RATES = frozenset(
    {"rate.fixed", "rate.chain"}
    | {f"rate.liquid_{v}.{c}" for v in ("v1", "v2") for c in ALPHA_CONSENSUS_MODES}
)


@dataclass(frozen=True)
class Variant:
    """A consensus variant: a name, the epoch :class:`~yuma.pipeline.Pipeline`, and metadata.

    Attributes
    ----------
    name : str
        Registry name (``yuma.variants.get(name)``).
    pipeline : Pipeline
        The epoch, e.g. ``CHAIN.replace(bonds=..., dividends=...)``.
    description : str
        One line for listings and plots.
    uses_rate : bool
        The bonds step reads an EMA rate, so liquid alpha applies; when False, asking for
        liquid alpha is refused.
    yuma3 : bool or None
        For the chain's variants, the ``YumaParams.yuma3`` value they stand for (``yuma2``:
        False, ``yuma3``: True); None for the others. The variant wins over the params; the
        result records the params actually used.
    params_liquid_alpha : bool
        Whether ``YumaParams.liquid_alpha`` turns liquid alpha v2 on when the ``liquid_alpha``
        option is not given. True for ``yuma3`` only, because the chain reads the flag only in
        its Yuma3 branch; the others take liquid alpha from the option alone.
    options : mapping
        Variant-specific options and their defaults (e.g. ``yuma2c``'s ``decay``), read by its
        steps with ``s.config.option(name)``.

    Every variant runs on "numpy" and "jax" (its steps, as written); on "numba" when the
    kernel's declaration covers its pipeline (:attr:`backends`).
    """

    name: str
    pipeline: Pipeline
    description: str = ""
    uses_rate: bool = True
    yuma3: bool | None = None
    params_liquid_alpha: bool = False
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a variant needs a non-empty name, got {self.name!r}")
        if not isinstance(self.pipeline, Pipeline):
            raise ValueError(
                f"variant {self.name!r}: pipeline must be a yuma.pipeline.Pipeline, got "
                f"{type(self.pipeline).__name__}"
            )
        # Freeze the option defaults so a registered variant cannot change under its users.
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def backends(self) -> tuple[str, ...]:
        """The backends that run this variant with its default options and the chain's params."""
        from yuma.backends import kernel_flags

        params = YumaParams(yuma3=True if self.yuma3 is None else self.yuma3)
        pipeline = self.pipeline_for(make_options(self), params)
        flags, _ = kernel_flags(pipeline, Config.from_params(params, square=False))
        return ("numpy", "numba", "jax") if flags is not None else ("numpy", "jax")

    def with_(self, **changes: Any) -> Variant:
        """A copy with fields replaced; pipeline steps may be given by name too, e.g.
        ``get("yuma3").with_(name="mine", dividends=my_dividends)``."""
        step_names = set(self.pipeline.names)
        new_steps: dict[str, Step] = {k: changes.pop(k) for k in list(changes) if k in step_names}
        if new_steps:
            base = changes.get("pipeline", self.pipeline)
            changes["pipeline"] = base.replace(name=changes.get("name", self.name), **new_steps)
        return dataclasses.replace(self, **changes)

    def pipeline_for(self, options: Options, params: YumaParams) -> Pipeline:
        """The pipeline a run with ``options`` and ``params`` executes (options pick steps)."""
        pipeline = self.pipeline
        if self.uses_rate and rule_of(pipeline["ema_rate"]) in _BUILTIN_RATES:
            mode = liquid_alpha_mode(self, options, params)
            rate: Step = rate_fixed if mode == "off" else LiquidAlpha(mode, options.alpha_consensus)
            pipeline = pipeline.replace(ema_rate=rate)
        elif options.liquid_alpha not in (None, "off") and self.uses_rate:
            raise ValueError(
                f"variant {self.name!r} has its own ema_rate step; the liquid_alpha option "
                "cannot replace it"
            )
        if options.winner_takes_all:
            pipeline = pipeline.replace(incentive=steps.incentive_winner_takes_all)
        return pipeline


@dataclass(frozen=True)
class Options:
    """Options shared by every variant (``yuma.simulate(..., **options)``).

    Attributes
    ----------
    liquid_alpha : {"off", "v1", "v2"} or None
        EMA rate: fixed ``1 − bonds_moving_average`` ("off"), the chain's per-pair sigmoid
        ("v2") or the 2024 per-miner logistic ("v1"). None follows ``YumaParams.liquid_alpha``
        (v2 when True) where the variant reads that flag; an explicit value wins.
    alpha_consensus : {"current", "previous", "max"}
        The consensus liquid alpha reads: this epoch's, the last epoch's, or the larger.
    bond_reset : tuple of (miner, epoch)
        Before epoch ``epoch`` runs, miner ``miner``'s bond column is zeroed (what the chain
        does when a miner publishes a new commitment on a subnet that resets bonds).
    winner_takes_all : bool
        Incentive ``1/|argmax R|`` on the top-ranked miners, 0 elsewhere.
    commit_reveal : int
        Delay ``d >= 0``: the weights that enter epoch ``t`` are those set at ``t − d`` (epoch 0's
        before that). Stake is not delayed. Default 0 (weights count when set); the chain's
        reveal period defaults to 1.
    variant_options : mapping
        The variant's own options, defaults filled in.
    """

    liquid_alpha: str | None = None
    alpha_consensus: str = "current"
    bond_reset: tuple[tuple[int, int], ...] = ()
    winner_takes_all: bool = False
    commit_reveal: int = 0
    variant_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def as_dict(self) -> dict[str, Any]:
        """Every option as a flat dict (variant options included), for records and tables."""
        out: dict[str, Any] = {
            "liquid_alpha": self.liquid_alpha,
            "alpha_consensus": self.alpha_consensus,
            "bond_reset": self.bond_reset,
            "winner_takes_all": self.winner_takes_all,
            "commit_reveal": self.commit_reveal,
        }
        out.update(self.variant_options)
        return out


GENERIC_OPTIONS = tuple(f.name for f in dataclasses.fields(Options) if f.name != "variant_options")


def _bond_resets(value: Any) -> tuple[tuple[int, int], ...]:
    if value is None:
        return ()
    items = np.asarray(value, dtype=object)
    if items.ndim == 1:
        items = items[None, :] if items.size else np.empty((0, 2), dtype=object)
    if items.ndim != 2 or items.shape[1] != 2:
        raise ValueError(
            f"bond_reset must be (miner, epoch) or a list of such pairs, got {value!r}"
        )
    out = []
    for miner, epoch in items:
        for name, v in (("miner", miner), ("epoch", epoch)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"bond_reset {name} must be a non-negative int, got {v!r}")
        out.append((int(miner), int(epoch)))
    return tuple(out)


def make_options(variant: Variant, **options: Any) -> Options:
    """Validate keyword options for ``variant``; unknown names raise ``ValueError``."""
    own = dict(variant.options)
    unknown = sorted(set(options) - set(GENERIC_OPTIONS) - set(own))
    if unknown:
        known = ", ".join(sorted({*GENERIC_OPTIONS, *own}))
        raise ValueError(
            f"unknown option(s) {unknown} for variant {variant.name!r}; known: {known}"
        )
    la = options.get("liquid_alpha")
    if la is not None and la not in LIQUID_ALPHA_MODES:
        raise ValueError(f"liquid_alpha must be None or one of {LIQUID_ALPHA_MODES}, got {la!r}")
    if la in ("v1", "v2") and not variant.uses_rate:
        raise ValueError(f"variant {variant.name!r} has no bond EMA, so liquid alpha cannot apply")
    mode = options.get("alpha_consensus", "current")
    if mode not in ALPHA_CONSENSUS_MODES:
        raise ValueError(f"alpha_consensus must be one of {ALPHA_CONSENSUS_MODES}, got {mode!r}")
    delay = options.get("commit_reveal", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
        raise ValueError(f"commit_reveal must be a non-negative int (epochs), got {delay!r}")
    wta = options.get("winner_takes_all", False)
    if not isinstance(wta, (bool, np.bool_)):
        raise ValueError(f"winner_takes_all must be a bool, got {wta!r}")
    own.update({k: v for k, v in options.items() if k in own})
    return Options(
        liquid_alpha=la,
        alpha_consensus=mode,
        bond_reset=_bond_resets(options.get("bond_reset")),
        winner_takes_all=bool(wta),
        commit_reveal=int(delay),
        variant_options=MappingProxyType(own),
    )


def liquid_alpha_mode(variant: Variant, options: Options, params: YumaParams) -> str:
    """The liquid-alpha mode in force: the explicit option, else the params' flag (v2) where
    the variant reads it, else "off"."""
    if options.liquid_alpha is not None:
        return options.liquid_alpha
    if params.liquid_alpha and variant.params_liquid_alpha and variant.uses_rate:
        return "v2"
    return "off"


@dataclass(frozen=True)
class EpochRecord:
    """The outputs of one simulated epoch (chain names in brackets).

    weights (V, N): masked, row-normalised weights that entered consensus (``weights``).
    stake (V,): normalised stake. active_stake (V,): (``active_stake``).
    consensus (N,), clipped_weights (V, N), validator_trust (V,), ranks (N,), incentive (N,),
    bonds (V, N) stored bonds, dividends (V,), validator_permit (V,) new permits.
    """

    weights: FloatArray
    stake: FloatArray
    active_stake: FloatArray
    consensus: FloatArray
    clipped_weights: FloatArray
    validator_trust: FloatArray
    ranks: FloatArray
    incentive: FloatArray
    bonds: FloatArray
    dividends: FloatArray
    validator_permit: BoolArray
