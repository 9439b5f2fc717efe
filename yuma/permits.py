"""Validator permits: the top-k by stake."""

from __future__ import annotations

from typing import Any

import numpy as np

from yuma._validate import block_array
from yuma._xp import Namespace, direct_numpy_call, eager, namespace

__all__ = ["is_topk", "is_topk_nonzero"]


def _direct(values: Any, k: Any) -> Any:
    values = block_array("values", values, 1, signed=True)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative int, got {k!r}")
    return values


def _keep_top(values: Any, start: Any, k: Any, xp: Namespace) -> Any:
    v = xp.asarray(values, dtype=xp.float64)
    n = v.shape[-1]
    if eager(xp):
        if k >= n:
            return start  # room for everyone (max_allowed_validators >= n): no ranking needed
        # Concrete values: one stable sort, and the n - k lowest lose their permit (the same
        # cut as the traceable form below, which ranks every value with a second sort).
        out = np.array(start, dtype=np.bool_, copy=True)
        lowest = np.argsort(v, axis=-1, kind="stable")[..., : n - k]
        np.put_along_axis(out, lowest, False, axis=-1)
        return out
    # Stable ascending sort: among equal values at the cut the higher uid keeps its permit.
    # The position of each value in that order is the argsort of the argsort.
    position = xp.argsort(xp.argsort(v, axis=-1, stable=True), axis=-1, stable=True)
    return start & (position >= n - k)


def is_topk(values: Any, k: Any, *, xp: Namespace | None = None) -> Any:
    """True for the ``k`` largest values; all True when fewer than ``k`` (chain: ``is_topk``).

    values : (n,). Ties at the cut go to the higher index.
    """
    if direct_numpy_call(xp, values):
        values = _direct(values, k)
    xp = xp or namespace(values)
    v = xp.asarray(values, dtype=xp.float64)
    return _keep_top(v, xp.ones(v.shape, dtype=xp.bool), k, xp)


def is_topk_nonzero(values: Any, k: Any, *, xp: Namespace | None = None) -> Any:
    """Like :func:`is_topk`, but a zero value never gets a permit (chain: ``is_topk_nonzero``).

    This is how the epoch computes new validator permits from normalised stake with
    ``k = max_allowed_validators``.
    """
    if direct_numpy_call(xp, values):
        values = _direct(values, k)
    xp = xp or namespace(values)
    v = xp.asarray(values, dtype=xp.float64)
    return _keep_top(v, v != 0, k, xp)
