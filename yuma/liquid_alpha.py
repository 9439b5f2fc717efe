"""Liquid alpha (v2, the chain's): a bond EMA rate per validator–miner pair."""

from __future__ import annotations

from typing import Any

import numpy as np

from yuma._types import FloatArray

__all__ = ["alpha_sigmoid"]

#: The chain clamps the exponent to this range before calling its ``exp`` (``exp_safe``).
EXP_CLAMP = 20.0


def alpha_sigmoid(
    consensus: Any,
    weight: Any,
    bond: Any,
    alpha_low: float,
    alpha_high: float,
    steepness: float,
) -> FloatArray:
    """The EMA rate α for each (validator, miner) pair (chain: ``alpha_sigmoid``, spec §5).

    A validator buying (weight above consensus) or selling (previous bond above weight) moves
    its bond faster the larger the gap::

        x   = clip(w − c, 0, 1) if w ≥ b else clip(b − w, 0, 1)
        sig = 1 / (1 + exp(clip(−steepness/100 · (x − ½), −20, 20)))
        α   = clip(lo + sig·(hi − lo), lo, hi)

    consensus, weight, bond : broadcastable arrays (c is this epoch's consensus, w the weights
    for bonds, b the previous bond as a proportion). steepness is in chain units (i16; 1000 ≈ a
    slope of 10). Returns α with the broadcast shape.
    """
    c = np.asarray(consensus, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    b = np.asarray(bond, dtype=np.float64)
    buying = np.clip(w - c, 0.0, 1.0)
    selling = np.clip(b - w, 0.0, 1.0)
    x = np.where(w >= b, buying, selling)
    exponent = np.clip((-steepness / 100.0) * (x - 0.5), -EXP_CLAMP, EXP_CLAMP)
    sig = 1.0 / (1.0 + np.exp(exponent))
    return np.asarray(np.clip(alpha_low + sig * (alpha_high - alpha_low), alpha_low, alpha_high))
