"""Consensus variants: the chain's two bond branches and the forms the literature compares.

========================  ==================================================================
``yuma1``                 original stake bonds; no bond memory by default (``memory=True``
                          uses the EMA rate)
``yuma2``                 the chain with Yuma3 off (bond upscaling: a new column jumps to 1)
``yuma2_paper``           the papers' EMA without re-normalisation
``yuma2b``                ``yuma2_paper`` with clipping, ranks, incentive and bonds on the
                          previous epoch's weights
``yuma2c``                capacity bonds (options ``decay``, ``capacity_rate``,
                          ``capacity_scale``)
``yuma3``                 the chain with Yuma3 on (its default)
========================  ==================================================================

Register your own in a few lines::

    import yuma
    from yuma.variants import steps

    def my_dividends(bonds, incentive, stake):
        return steps.dividends_stake_weighted(bonds, incentive, stake ** 0.5)

    yuma.variants.register(yuma.variants.get("yuma3").with_(name="sqrt_stake",
                                                              dividends=my_dividends))
    yuma.simulate(weights, stake, variant="sqrt_stake")

A variant's bonds step reads a :class:`~yuma.variants.steps.BondsInput` and returns a
:class:`~yuma.variants.steps.BondsOutput`; the shared steps (consensus, clipping, incentive, EMA
rate, bond storage) and the options (``liquid_alpha``, ``alpha_consensus``, ``bond_reset``,
``winner_takes_all``, ``commit_reveal``) come with every variant.

Backends (``Variant.backends``): every variant runs on "numpy"; on "jax" (one ``lax.scan``)
when its steps have JAX versions (the built-in steps do, in :mod:`yuma.variants.jax_steps`; give
your own as ``jax_bonds`` / ``jax_dividends``); and ``yuma2`` / ``yuma3`` also on "numba" (the
numba backend's compiled chain epoch).
"""

from __future__ import annotations

import builtins
from typing import Any

from yuma.variants import steps
from yuma.variants.core import (
    CarryState,
    EpochRecord,
    Options,
    Variant,
    make_options,
    variant_epoch,
)

__all__ = [
    "CarryState",
    "EpochRecord",
    "Options",
    "Variant",
    "get",
    "list",
    "make_options",
    "register",
    "steps",
    "unregister",
    "variant_epoch",
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


def list() -> builtins.list[str]:
    """Names of every registered variant, built-ins first."""
    return builtins.list(_REGISTRY)


def _builtins() -> tuple[Variant, ...]:
    original: dict[str, Any] = {"dividends": steps.dividends_bonds_incentive}
    return (
        Variant(
            name="yuma1",
            bonds=steps.bonds_yuma1,
            description="original stake bonds (no bond memory unless memory=True)",
            options={"memory": False},
            **original,
        ),
        Variant(
            name="yuma2",
            bonds=steps.bonds_yuma2,
            description="the chain with Yuma3 off (bond upscaling)",
            yuma3=False,
            **original,
        ),
        Variant(
            name="yuma2_paper",
            bonds=steps.bonds_yuma2_paper,
            description="the papers' bond EMA, no re-normalisation",
            **original,
        ),
        Variant(
            name="yuma2b",
            bonds=steps.bonds_yuma2_paper,
            description="yuma2_paper on the previous epoch's weights",
            lag_weights=True,
            **original,
        ),
        Variant(
            name="yuma2c",
            bonds=steps.bonds_yuma2c,
            dividends=steps.dividends_bond_share,
            description="capacity bonds",
            uses_rate=False,
            options={"decay": 0.1, "capacity_rate": 0.1, "capacity_scale": 1.0},
        ),
        Variant(
            name="yuma3",
            bonds=steps.bonds_yuma3,
            dividends=steps.dividends_stake_weighted,
            description="the chain with Yuma3 on (default)",
            yuma3=True,
            params_liquid_alpha=True,
        ),
    )


for _variant in _builtins():
    _REGISTRY[_variant.name] = _variant
_BUILTIN = frozenset(_REGISTRY)
