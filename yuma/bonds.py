"""Bonds: how validators' investment in miners is updated each epoch (spec §4.11, §4.12).

A bonds step reads the epoch state (``weights_for_bonds`` (R, C), ``masked_bonds`` (R, C): the
stored bonds with recently registered columns zeroed, ``active_stake`` (R,), ``rate``) and
returns ``ema_bonds`` (what the dividends step reads) and ``new_bonds`` (what the storage step
writes for rows with a new permit; the chain stores a rescaled copy for original Yuma).

=======================  =====================================================================
``yuma3``                the chain, Yuma3 on: a per-pair EMA of the weights, in [0, 1]
``yuma2``                the chain, Yuma3 off: stake bonds, re-normalised, stored upscaled
``yuma1``                original stake bonds (no memory unless the ``memory`` option is set)
``yuma2_paper``          the papers' EMA of stake bonds, without re-normalisation
``capacity``             capacity bonds (``yuma2c``; options ``decay``, ``capacity_rate``,
                         ``capacity_scale``)
=======================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yuma._step import State, rule
from yuma._xp import Namespace, namespace
from yuma.ema import mat_ema, mat_ema_alpha
from yuma.normalize import col_max_upscale, col_normalize

__all__ = ["capacity", "ema", "stake_bonds", "yuma1", "yuma2", "yuma2_paper", "yuma3"]

Out = Mapping[str, Any]


def ema(new: Any, old: Any, rate: Any, *, xp: Namespace | None = None) -> Any:
    """``α·new + (1 − α)·old``: one rate (chain: ``mat_ema``), or a rate per cell or per column
    (chain: ``mat_ema_alpha``, which also caps at 1 and floors the new term at 0)."""
    xp = xp or namespace(new, old)
    if getattr(rate, "ndim", 0) == 0:
        return mat_ema(new, old, rate, xp=xp)
    if rate.ndim == new.ndim - 1:  # one rate per miner, (..., C): the same for every row
        rate = rate[..., None, :]
    return mat_ema_alpha(new, old, xp.broadcast_to(rate, new.shape), xp=xp)


def stake_bonds(s: State) -> Any:
    """``ΔB = colnorm(W_b ⊙ S)``: this epoch's stake-weighted purchase, column shares."""
    return col_normalize(s.weights_for_bonds * s.active_stake[..., :, None], xp=s.xp)


@rule("bonds.yuma3")
def yuma3(s: State) -> Out:
    """The chain's Yuma3 bonds (§4.11): ``B = EMA(W_b, B_old)`` per pair, no stake."""
    bonds = ema(s.weights_for_bonds, s.masked_bonds, s.rate, xp=s.xp)
    return {"ema_bonds": bonds, "new_bonds": bonds}


@rule("bonds.yuma2")
def yuma2(s: State) -> Out:
    """The chain's original-Yuma bonds (Yuma3 off, dense path, §4.12).

    The EMA of ``ΔB`` runs against the column-normalised previous bonds and is column-normalised
    again, so a newly weighted miner's column jumps to total 1; the chain stores it
    column-max-upscaled.
    """
    xp = s.xp
    previous = col_normalize(s.masked_bonds, xp=xp)
    bonds = col_normalize(xp.maximum(ema(stake_bonds(s), previous, s.rate, xp=xp), 0.0), xp=xp)
    return {"ema_bonds": bonds, "new_bonds": col_max_upscale(bonds, xp=xp)}


@rule("bonds.yuma1")
def yuma1(s: State) -> Out:
    """Original stake bonds: ``B = colnorm(α·ΔB + (1 − α)·B_old)``; with option ``memory``
    False (the default, as in the peer simulators) α is 1 and bonds have no memory."""
    xp = s.xp
    rate = s.rate if s.config.option("memory", False) else 1.0
    bonds = col_normalize(ema(stake_bonds(s), s.masked_bonds, rate, xp=xp), xp=xp)
    return {"ema_bonds": bonds, "new_bonds": bonds}


@rule("bonds.yuma2_paper")
def yuma2_paper(s: State) -> Out:
    """The papers' form: ``B = α·ΔB + (1 − α)·B_old`` without re-normalising, so a new miner's
    column starts at total α."""
    bonds = ema(stake_bonds(s), s.masked_bonds, s.rate, xp=s.xp)
    return {"ema_bonds": bonds, "new_bonds": bonds}


@rule("bonds.capacity")
def capacity(s: State) -> Out:
    """Capacity bonds (``yuma2c``).

    ``cap_i = S_i·M``; ``purchase_ij = min(c·cap_i, max(cap_i − B_old,ij, 0))·W_ij``;
    ``B = min((1 − d)·B_old + purchase, cap_i)``, with options ``decay`` (d), ``capacity_rate``
    (c) and ``capacity_scale`` (M). Dividends only read column shares of B, which do not depend
    on M (every term scales with it), so M = 1 by default.
    """
    xp = s.xp
    decay = float(s.config.option("decay", 0.1))
    rate = float(s.config.option("capacity_rate", 0.1))
    scale = float(s.config.option("capacity_scale", 1.0))
    previous = s.masked_bonds
    cap = (s.active_stake * scale)[..., :, None]
    purchase = xp.minimum(rate * cap, xp.maximum(cap - previous, 0.0)) * s.weights
    bonds = xp.minimum((1.0 - decay) * previous + purchase, cap)
    return {"ema_bonds": bonds, "new_bonds": bonds}
