"""Exponential moving averages of bonds: a scalar rate, or one rate per cell (dense and sparse)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma._sparse import as_csr, keep_entries, lookup, row_of_entries, with_data
from yuma._validate import block_array, block_fraction, block_sparse
from yuma._xp import Namespace, direct_numpy_call, namespace

__all__ = ["mat_ema", "mat_ema_alpha", "mat_ema_alpha_sparse", "mat_ema_sparse"]


def _same_shape(name: str, new: Any, old: Any) -> None:
    if new.shape != old.shape:
        raise ValueError(f"{name}: new {new.shape} and old {old.shape} shapes differ")


def mat_ema(new: Any, old: Any, alpha: Any, *, xp: Namespace | None = None) -> Any:
    """``α·new + (1 − α)·old`` with one rate (chain: ``mat_ema``). new, old : (R, C)."""
    if direct_numpy_call(xp, new, old):
        new, old = block_array("new", new, 2, signed=True), block_array("old", old, 2, signed=True)
        alpha = block_fraction("alpha", alpha)
    xp = xp or namespace(new, old)
    n = xp.asarray(new, dtype=xp.float64)
    o = xp.asarray(old, dtype=xp.float64)
    _same_shape("mat_ema", n, o)
    return alpha * n + (1.0 - alpha) * o


def mat_ema_sparse(new: Any, old: Any, alpha: float) -> sp.csr_array:
    """Sparse :func:`mat_ema` over the union of entries, keeping only values > 0.

    Chain: ``mat_ema_sparse``. new, old : (R, C) sparse. Returns canonical CSR.
    """
    n = block_sparse("new", new)
    o = block_sparse("old", old)
    alpha = block_fraction("alpha", alpha)
    _same_shape("mat_ema_sparse", n, o)
    return _mat_ema_csr(n, o, alpha)


def _mat_ema_csr(n: sp.csr_array, o: sp.csr_array, alpha: float) -> sp.csr_array:
    # checked by the caller: canonical float64 CSR of one shape, alpha in [0, 1]
    out = as_csr(n * alpha + o * (1.0 - alpha))
    out.data[out.data <= 0] = 0.0
    out.eliminate_zeros()
    return out


def mat_ema_alpha(new: Any, old: Any, alpha: Any, *, xp: Namespace | None = None) -> Any:
    """``min(1, (1 − α)·old + max(0, α·new))`` with one rate per cell (chain: ``mat_ema_alpha``).

    new, old, alpha : (R, C). Used by Yuma3 with liquid alpha on the dense path, where a bond
    whose weight is 0 decays by ``1 − α`` instead of being dropped.
    """
    if direct_numpy_call(xp, new, old, alpha):
        new, old = block_array("new", new, 2, signed=True), block_array("old", old, 2, signed=True)
        alpha = block_array("alpha", alpha, 2)
        if alpha.size and alpha.max() > 1.0:
            raise ValueError("alpha must be in [0, 1] (found a rate above 1)")
    xp = xp or namespace(new, old, alpha)
    n = xp.asarray(new, dtype=xp.float64)
    o = xp.asarray(old, dtype=xp.float64)
    a = xp.asarray(alpha, dtype=xp.float64)
    _same_shape("mat_ema_alpha", n, o)
    _same_shape("mat_ema_alpha", n, a)
    return xp.minimum(1.0, (1.0 - a) * o + xp.maximum(0.0, a * n))


def mat_ema_alpha_sparse(new: Any, old: Any, alpha: Any) -> sp.csr_array:
    """Sparse per-cell EMA (chain: ``mat_ema_alpha_sparse``).

    Only the cells **stored in** ``new`` produce output, ``min(1, (1 − α)·old + max(0, α·new))``,
    kept if > 0: a bond with no entry in ``new`` is dropped, not decayed.

    new, old : (R, C) sparse. alpha : a dense (R, C) array, or a 1-D array aligned with the
    stored entries of ``new`` in canonical (row-major, sorted) order.
    """
    return _mat_ema_alpha_csr(block_sparse("new", new), block_sparse("old", old), alpha)


def _mat_ema_alpha_csr(n: sp.csr_array, o: sp.csr_array, alpha: Any) -> sp.csr_array:
    # n and o: canonical float64 CSR (checked by the caller); alpha's shape is checked here
    _same_shape("mat_ema_alpha_sparse", n, o)
    rows = row_of_entries(n)
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim == 2:
        if a.shape != n.shape:
            raise ValueError(f"mat_ema_alpha_sparse: alpha {a.shape} and new {n.shape} differ")
        a = a[rows, n.indices]
    elif a.shape != n.data.shape:
        raise ValueError("mat_ema_alpha_sparse: a 1-D alpha must align with new's stored entries")
    previous = lookup(o, rows, n.indices)
    values = np.minimum(1.0, (1.0 - a) * previous + np.maximum(0.0, a * n.data))
    return keep_entries(with_data(n, values), values > 0)
