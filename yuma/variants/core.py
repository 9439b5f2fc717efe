"""A consensus variant as a composition of pure steps, and the epoch that runs one.

One variant epoch, in the chain's order (dense path, ``epoch_dense_mechanism``)::

    permits -> active stake -> weights (masked, row-normalised)
      -> consensus (stake-weighted median) -> clip -> ranks -> incentive
      -> bond weights (bonds penalty) -> EMA rate -> bonds -> dividends -> bond storage

A :class:`Variant` supplies the bonds and dividends steps (and says whether clipping and bonds
read the previous epoch's weights); :class:`Options` switches the shared steps (liquid alpha,
winner-takes-all incentive, bond resets, commit-reveal delay).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from yuma._types import BoolArray, FloatArray
from yuma.clip import col_clip
from yuma.interpolate import interpolate
from yuma.masks import mask_cols, mask_diag, mask_rows
from yuma.median import weighted_median_col
from yuma.normalize import normalize, row_normalize
from yuma.params import YumaParams
from yuma.permits import is_topk_nonzero
from yuma.variants import steps
from yuma.variants.steps import BondsInput, BondsOutput, Rate

__all__ = [
    "GENERIC_OPTIONS",
    "BondsStep",
    "CarryState",
    "DividendsStep",
    "EpochRecord",
    "Options",
    "Variant",
    "make_options",
    "variant_epoch",
]

#: A bonds step: the epoch's :class:`BondsInput` -> :class:`BondsOutput`.
BondsStep = Callable[[BondsInput], BondsOutput]
#: A dividends step: ``(bonds (V, N), incentive (N,), active stake (V,)) -> dividends (V,)``.
DividendsStep = Callable[[FloatArray, FloatArray, FloatArray], FloatArray]

#: The built-in numpy steps that have a JAX mirror in :mod:`yuma.variants.jax_steps`.
JAX_MIRRORED = frozenset(
    {
        steps.bonds_yuma1,
        steps.bonds_yuma2,
        steps.bonds_yuma2_paper,
        steps.bonds_yuma2c,
        steps.bonds_yuma3,
        steps.dividends_bonds_incentive,
        steps.dividends_stake_weighted,
        steps.dividends_bond_share,
    }
)

LIQUID_ALPHA_MODES = ("off", "v1", "v2")
ALPHA_CONSENSUS_MODES = ("current", "previous", "max")


@dataclass(frozen=True)
class Variant:
    """A consensus variant: the bonds and dividends steps on top of the shared chain steps.

    Attributes
    ----------
    name : str
        Registry name (``yuma.variants.get(name)``).
    bonds : BondsStep
        Builds the new bonds from a :class:`~yuma.variants.steps.BondsInput`.
    dividends : DividendsStep
        ``(bonds, incentive, active_stake) -> dividends``, normalised.
    description : str
        One line for listings and plots.
    lag_weights : bool
        Clipping, ranks, incentive and bonds read the previous epoch's weights (``yuma2b``);
        consensus always reads the current ones. The first epoch uses the current weights.
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
        its Yuma3 branch; the others take liquid alpha from the option alone. (v2's sigmoid
        compares each weight with the validator's previous bond, a proportion in Yuma3; on
        stake bonds it reads the stored bonds as they are, so its rate then depends on stake.)
    options : mapping
        Variant-specific options and their defaults (e.g. ``yuma2c``'s ``decay``).
    jax_bonds, jax_dividends : callables, optional
        JAX versions of ``bonds`` and ``dividends`` (same signatures, ``jax.numpy`` arrays),
        for variants with steps of their own; the built-in steps have theirs in
        :mod:`yuma.variants.jax_steps`.

    A variant runs on every backend its steps support: "numpy" always; "jax" (one
    ``lax.scan``) when both steps have JAX versions; and "numba" when its steps are exactly
    the chain's (see :attr:`chain_branch`), whose compiled kernels the numba backend has.
    """

    name: str
    bonds: BondsStep
    dividends: DividendsStep
    description: str = ""
    lag_weights: bool = False
    uses_rate: bool = True
    yuma3: bool | None = None
    params_liquid_alpha: bool = False
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    jax_bonds: BondsStep | None = None
    jax_dividends: DividendsStep | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a variant needs a non-empty name, got {self.name!r}")
        if not callable(self.bonds) or not callable(self.dividends):
            raise ValueError(f"variant {self.name!r}: bonds and dividends must be callables")
        # Freeze the option defaults so a registered variant cannot change under its users.
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @property
    def chain_branch(self) -> bool | None:
        """True (False) when the steps are exactly the chain's Yuma3 (original-Yuma) steps, so
        :func:`yuma.epoch` and its backends compute the same thing; None otherwise."""
        if self.lag_weights:
            return None
        if self.bonds is steps.bonds_yuma3 and self.dividends is steps.dividends_stake_weighted:
            return True
        if self.bonds is steps.bonds_yuma2 and self.dividends is steps.dividends_bonds_incentive:
            return False
        return None

    @property
    def backends(self) -> tuple[str, ...]:
        """The backends this variant's steps run on."""
        has_jax = (self.jax_bonds is not None or self.bonds in JAX_MIRRORED) and (
            self.jax_dividends is not None or self.dividends in JAX_MIRRORED
        )
        if self.chain_branch is not None:
            return ("numpy", "numba", "jax")
        return ("numpy", "jax") if has_jax else ("numpy",)

    def with_(self, **changes: Any) -> Variant:
        """A copy with some fields replaced, e.g. ``get("yuma3").with_(name="mine", ...)``.

        Replacing ``bonds`` or ``dividends`` drops the matching JAX step unless a new one is
        given, so a JAX run never computes something other than the numpy steps.
        """
        for step in ("bonds", "dividends"):
            if step in changes and f"jax_{step}" not in changes:
                changes[f"jax_{step}"] = None
        return dataclasses.replace(self, **changes)


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
class CarryState:
    """What one epoch hands to the next.

    bonds : (V, N) stored bonds. permit : (V,) validator permits (None before the first epoch:
    the first epoch's own top-k is used). consensus : (N,) or None. weights : (V, N) the
    row-normalised weights of the last epoch, or None.
    """

    bonds: FloatArray
    permit: BoolArray | None = None
    consensus: FloatArray | None = None
    weights: FloatArray | None = None


@dataclass(frozen=True)
class EpochRecord:
    """The outputs of one variant epoch (chain names in brackets).

    weights (V, N): masked, row-normalised weights that entered consensus (``weights``).
    stake (V,): normalised stake. active_stake (V,): (``active_stake``).
    consensus (N,), clipped_weights (V, N), validator_trust (V,), ranks (N,), incentive (N,),
    bonds (V, N) stored bonds, dividends (V,), validator_permit (V,) new permits,
    rate: the EMA rate used (scalar, (N,) or (V, N); NaN for variants without an EMA).
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
    rate: Rate


def _rate(
    variant: Variant,
    mode: str,
    options: Options,
    params: YumaParams,
    consensus: FloatArray,
    carry: CarryState,
    bond_weights: FloatArray,
    previous: FloatArray,
) -> Rate:
    if not variant.uses_rate:
        return float("nan")
    if mode == "off":
        return params.bonds_ema_rate
    c = steps.liquid_consensus(consensus, carry.consensus, options.alpha_consensus)
    # The chain falls back to the fixed rate when the consensus is all zeros (no signal).
    if not np.any(c != 0):
        return params.bonds_ema_rate
    if mode == "v1":
        return steps.alpha_v1(c, params)
    return steps.alpha_v2(c, bond_weights, previous, params)


def variant_epoch(
    variant: Variant,
    weights: FloatArray,
    stake: FloatArray,
    carry: CarryState,
    params: YumaParams,
    options: Options,
    *,
    epoch: int = 0,
    square: bool = False,
) -> tuple[EpochRecord, CarryState]:
    """Run one epoch of ``variant``; pure (inputs are not modified).

    weights : (V, N) raw non-negative weights (already validated, commit-reveal applied).
    stake : (V,) raw non-negative stake. carry : the previous epoch's state.
    epoch : the epoch index (bond resets are keyed on it). square : the chain's uid layout
    (self-weights masked). Returns the epoch's record and the state for the next epoch.
    """
    stake_n = normalize(stake)
    new_permit = is_topk_nonzero(stake_n, params.max_allowed_validators)
    old_permit = new_permit if carry.permit is None else carry.permit
    active_stake = normalize(np.where(old_permit, stake_n, 0.0))

    w = mask_rows(~old_permit, weights)
    if square:
        w = mask_diag(w)
    w = row_normalize(w)
    consensus = weighted_median_col(active_stake, w, params.kappa)

    used = carry.weights if variant.lag_weights and carry.weights is not None else w
    clipped = col_clip(used, consensus)
    validator_trust = clipped.sum(axis=1)
    ranks = active_stake @ clipped
    if options.winner_takes_all:
        incentive = steps.incentive_winner_takes_all(ranks)
    else:
        incentive = steps.incentive_normalized(ranks)

    bond_weights = interpolate(used, clipped, params.bonds_penalty)
    reset = np.zeros(w.shape[1], dtype=bool)
    for miner, at in options.bond_reset:
        if at == epoch and miner < reset.size:
            reset[miner] = True
    previous = mask_cols(reset, carry.bonds) if reset.any() else carry.bonds
    mode = liquid_alpha_mode(variant, options, params)
    rate = _rate(variant, mode, options, params, consensus, carry, bond_weights, previous)
    out = variant.bonds(
        BondsInput(
            weights=used,
            bond_weights=bond_weights,
            stake=active_stake,
            consensus=consensus,
            incentive=incentive,
            previous=previous,
            rate=rate,
            params=params,
            options=options.variant_options,
        )
    )
    dividends = variant.dividends(out.for_dividends, incentive, active_stake)

    # The chain's dense storage: rows with a new permit take the new bonds, rows that lost
    # their permit are emptied, the others keep what they had.
    lost = old_permit & ~new_permit
    bonds = np.where(new_permit[:, None], out.stored, np.where(lost[:, None], 0.0, previous))
    record = EpochRecord(
        weights=w,
        stake=stake_n,
        active_stake=active_stake,
        consensus=consensus,
        clipped_weights=clipped,
        validator_trust=validator_trust,
        ranks=ranks,
        incentive=incentive,
        bonds=bonds,
        dividends=dividends,
        validator_permit=new_permit,
        rate=rate,
    )
    return record, CarryState(bonds=bonds, permit=new_permit, consensus=consensus, weights=w)
