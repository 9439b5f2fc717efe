"""Liquid alpha (v2, the chain's): a bond EMA rate per validator–miner pair."""

from __future__ import annotations

from typing import Any

import numpy as np

from yuma._validate import block_array, block_fraction
from yuma._xp import Namespace, direct_numpy_call, namespace

__all__ = ["alpha_sigmoid"]

#: The chain clamps the exponent to this range before calling its ``exp`` (``exp_safe``).
EXP_CLAMP = 20.0


def alpha_sigmoid(
    consensus: Any,
    weight: Any,
    bond: Any,
    alpha_low: Any,
    alpha_high: Any,
    steepness: Any,
    *,
    xp: Namespace | None = None,
) -> Any:
    """Liquid alpha (the chain's ``alpha_sigmoid``, spec §5): the per-pair EMA rate.

    A validator buying (weight above consensus) or selling (previous bond above weight) moves
    its bond faster the larger the gap::

        x   = clip(w − c, 0, 1) if w ≥ b else clip(b − w, 0, 1)
        sig = 1 / (1 + exp(clip(−steepness/100 · (x − ½), −20, 20)))
        α   = clip(lo + sig·(hi − lo), lo, hi)

    consensus, weight, bond : broadcastable arrays (c is this epoch's consensus, w the weights
    for bonds, b the previous bond as a proportion). steepness is in chain units (i16; 1000 ≈ a
    slope of 10). Returns α with the broadcast shape.
    """
    if direct_numpy_call(xp, consensus, weight, bond):
        consensus = block_array("consensus", consensus)
        weight = block_array("weight", weight)
        bond = block_array("bond", bond)
        alpha_low = block_fraction("alpha_low", alpha_low)
        alpha_high = block_fraction("alpha_high", alpha_high)
        if not np.isfinite(steepness):
            raise ValueError(f"steepness must be finite, got {steepness!r}")
    xp = xp or namespace(consensus, weight, bond)
    c = xp.asarray(consensus, dtype=xp.float64)
    w = xp.asarray(weight, dtype=xp.float64)
    b = xp.asarray(bond, dtype=xp.float64)
    buying = xp.clip(w - c, 0.0, 1.0)
    selling = xp.clip(b - w, 0.0, 1.0)
    x = xp.where(w >= b, buying, selling)
    exponent = xp.clip((-steepness / 100.0) * (x - 0.5), -EXP_CLAMP, EXP_CLAMP)
    sig = 1.0 / (1.0 + xp.exp(exponent))
    return xp.clip(alpha_low + sig * (alpha_high - alpha_low), alpha_low, alpha_high)
