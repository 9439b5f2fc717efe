"""Validator permits: the top-k by stake."""

from __future__ import annotations

from typing import Any

import numpy as np

from yuma._types import BoolArray

__all__ = ["is_topk", "is_topk_nonzero"]


def _drop_lowest(values: Any, start: BoolArray, k: int) -> BoolArray:
    v = np.asarray(values, dtype=np.float64)
    out = start.copy()
    if v.size < k:
        return out
    # Stable ascending sort: among equal values at the cut the higher uid keeps its permit.
    order = np.argsort(v, kind="stable")
    out[order[: v.size - k]] = False
    return out


def is_topk(values: Any, k: int) -> BoolArray:
    """True for the ``k`` largest values; all True when fewer than ``k`` (chain: ``is_topk``).

    values : (n,). Ties at the cut go to the higher index.
    """
    v = np.asarray(values, dtype=np.float64)
    return _drop_lowest(v, np.ones(v.shape, dtype=bool), k)


def is_topk_nonzero(values: Any, k: int) -> BoolArray:
    """Like :func:`is_topk`, but a zero value never gets a permit (chain: ``is_topk_nonzero``).

    This is how the epoch computes new validator permits from normalised stake with
    ``k = max_allowed_validators``.
    """
    v = np.asarray(values, dtype=np.float64)
    return _drop_lowest(v, v != 0, k)
