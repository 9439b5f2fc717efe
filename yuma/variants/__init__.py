"""Consensus variants: the chain's two bond branches and the forms the literature compares.

========================  ==================================================================
``yuma1``                 original stake bonds; no bond memory by default (``memory=True``
                          uses the EMA rate)
``yuma2``                 the chain with Yuma3 off (bond upscaling: a new column jumps to 1)
``yuma2_paper``           the papers' EMA without re-normalisation
``yuma2b``                ``yuma2_paper`` with clipping, ranks, incentive and bonds on the
                          previous epoch's weights (steps ``clip_lagged``,
                          ``bonds_penalty_lagged``)
``yuma2c``                capacity bonds (options ``decay``, ``capacity_rate``,
                          ``capacity_scale``)
``yuma3``                 the chain with Yuma3 on (its default)
========================  ==================================================================

A variant is a pipeline (:mod:`yuma.pipeline`): the chain's, with named steps replaced. Register
your own in a few lines::

    import yuma
    from yuma.pipeline import CHAIN

    def sqrt_stake_dividends(s):              # s: the epoch state (see yuma.steps)
        xp = s.xp
        per_bond = yuma.col_normalize(s.ema_bonds, xp=xp) @ s.incentive
        return {"dividends": yuma.normalize(per_bond * xp.sqrt(s.active_stake), xp=xp)}

    mine = yuma.variants.Variant("sqrt_stake", CHAIN.replace(dividends=sqrt_stake_dividends))
    yuma.variants.register(mine)
    yuma.simulate(weights, stake, variant="sqrt_stake", backend="jax")    # or numpy

The shared options (``liquid_alpha``, ``alpha_consensus``, ``bond_reset``, ``winner_takes_all``,
``commit_reveal``) come with every variant: the first two pick the ``ema_rate`` step,
``winner_takes_all`` the ``incentive`` step, and the driver applies the other two.

Backends (``Variant.backends``): every variant runs on "numpy" and on "jax" (one ``lax.scan``),
from the same steps; on "numba" when the compiled kernel's declaration covers its pipeline
(``yuma2`` and ``yuma3`` with the chain's options).
"""

from __future__ import annotations

from yuma import bonds, dividends, steps
from yuma.ema_rate import rate_fixed
from yuma.pipeline import CHAIN, CHAIN_YUMA2
from yuma.variants.core import EpochRecord, Options, Variant, make_options

__all__ = [
    "EpochRecord",
    "Options",
    "Variant",
    "get",
    "make_options",
    "names",
    "register",
    "unregister",
]

_REGISTRY: dict[str, Variant] = {}
_BUILTIN: frozenset[str] = frozenset()


def register(variant: Variant, *, replace: bool = False) -> Variant:
    """Add ``variant`` to the registry under ``variant.name`` and return it.

    Registering an existing name raises ``ValueError`` unless ``replace=True``; the built-in
    variants cannot be replaced (give yours another name).
    """
    if not isinstance(variant, Variant):
        raise ValueError(f"register expects a yuma.variants.Variant, got {type(variant).__name__}")
    if variant.name in _BUILTIN:
        raise ValueError(f"{variant.name!r} is a built-in variant and cannot be replaced")
    if variant.name in _REGISTRY and not replace:
        raise ValueError(f"variant {variant.name!r} is already registered (pass replace=True)")
    _REGISTRY[variant.name] = variant
    return variant


def unregister(name: str) -> None:
    """Remove a user-registered variant (built-ins stay)."""
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in variant and cannot be removed")
    if name not in _REGISTRY:
        raise ValueError(f"unknown variant {name!r}")
    del _REGISTRY[name]


def get(name: str | Variant) -> Variant:
    """The registered variant called ``name`` (a :class:`Variant` is returned as is)."""
    if isinstance(name, Variant):
        return name
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(_REGISTRY)
        raise ValueError(f"unknown variant {name!r}; registered: {known}") from None


def names() -> list[str]:
    """Names of every registered variant, built-ins first."""
    return list(_REGISTRY)


def _builtins() -> tuple[Variant, ...]:
    original = CHAIN.replace(ema_rate=rate_fixed, dividends=dividends.bonds_incentive)
    paper = original.replace(name="yuma2_paper", bonds=bonds.yuma2_paper)
    return (
        Variant(
            name="yuma1",
            pipeline=original.replace(name="yuma1", bonds=bonds.yuma1),
            description="original stake bonds (no bond memory unless memory=True)",
            options={"memory": False},
        ),
        Variant(
            name="yuma2",
            pipeline=CHAIN_YUMA2,
            description="the chain with Yuma3 off (bond upscaling)",
            yuma3=False,
        ),
        Variant(
            name="yuma2_paper",
            pipeline=paper,
            description="the papers' bond EMA, no re-normalisation",
        ),
        Variant(
            name="yuma2b",
            pipeline=paper.replace(
                name="yuma2b", clip=steps.clip_lagged, bonds_penalty=steps.bonds_penalty_lagged
            ),
            description="yuma2_paper on the previous epoch's weights",
        ),
        Variant(
            name="yuma2c",
            pipeline=original.replace(
                name="yuma2c", bonds=bonds.capacity, dividends=dividends.bond_share
            ),
            description="capacity bonds",
            uses_rate=False,
            options={"decay": 0.1, "capacity_rate": 0.1, "capacity_scale": 1.0},
        ),
        Variant(
            name="yuma3",
            pipeline=CHAIN,
            description="the chain with Yuma3 on (default)",
            yuma3=True,
            params_liquid_alpha=True,
        ),
    )


for _variant in _builtins():
    _REGISTRY[_variant.name] = _variant
_BUILTIN = frozenset(_REGISTRY)
