"""Normalisations: vectors, rows, columns, and column-max upscaling (dense and sparse).

The chain's rule everywhere: a vector, row or column whose sum (or maximum) is zero is left as it
is, so no division by zero can occur and an all-zero input stays all-zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma._sparse import row_of_entries, with_data
from yuma._types import FloatArray
from yuma._validate import block_array, block_sparse
from yuma._xp import Namespace, direct_numpy_call, eager, namespace

__all__ = [
    "col_max_upscale",
    "col_max_upscale_sparse",
    "col_normalize",
    "col_normalize_sparse",
    "normalize",
    "row_normalize",
    "row_normalize_sparse",
]


#: Sums up to this are divided directly; above it the values are scaled first (2^1000 keeps
#: the reciprocal of a sum normal, which XLA needs: it divides by multiplying with it).
_SAFE_SUM = 2.0**1000
_SHRINK = 2.0**-64


def _safe_divide(x: Any, d: Any, xp: Namespace) -> Any:
    """``x / d`` where ``d != 0``, else ``x`` unchanged (the chain's 'leave it' rule)."""
    ok = d != 0
    if eager(xp) and ok.all():
        # Concrete values, no zero divisor: the same numbers without the two selections.
        return x / d
    return xp.where(ok, x / xp.where(ok, d, 1.0), x)


def _np_safe_divide(x: FloatArray, d: FloatArray) -> FloatArray:
    return np.divide(x, d, out=np.array(x, dtype=np.float64, copy=True), where=d != 0)


def normalize(x: Any, *, xp: Namespace | None = None) -> Any:
    """``x / sum(x)``, or ``x`` unchanged when the sum is 0 (chain: ``inplace_normalize``).

    x : (n,) non-negative. Returns a new (n,) float64 array. Overflow-safe: a sum beyond the
    float64 range is taken over ``x`` divided by its maximum.
    """
    if direct_numpy_call(xp, x):
        x = block_array("x", x, 1, signed=True)
    xp = xp or namespace(x)
    v = xp.asarray(x, dtype=xp.float64)
    return _normalize_along(v, -1, xp, strict=False)


def _normalize_along(v: Any, axis: int | None, xp: Namespace, *, strict: bool) -> Any:
    """Divide by the sum along ``axis`` where it is not 0 (``> 0`` when ``strict``).

    When the values could sum past 2^1000 (largest value > 2^1000 / count, near the float64
    range),
    they are first divided by their maximum, so nothing overflows and the shares do not depend
    on the unit; otherwise (every practical input) this is exactly ``v / Σ v``.
    """
    if 0 in v.shape:
        return v
    keep = axis is not None
    count = v.shape[axis] if axis is not None else v.size
    if v.ndim == 1 and eager(xp) and v.max() <= _SAFE_SUM / count:
        # A concrete vector in range, as below with Python scalars (fewer small numpy calls).
        total = v.sum()
        if total > 0 if strict else total != 0:
            return v / total
        return v.copy()
    if eager(xp) and (v.max(axis=axis, keepdims=keep) <= _SAFE_SUM / count).all():
        # Concrete values, every sum in range: the general form below scales by exactly 1
        # here, so skipping that gives the same numbers with half the array passes.
        total = v.sum(axis=axis, keepdims=keep)
        ok = total > 0 if strict else total != 0
        if ok.all():
            return v / total
        return xp.where(ok, v / xp.where(ok, total, 1.0), v)
    peak = xp.max(v, axis=axis, keepdims=keep)
    safe = peak <= _SAFE_SUM / count
    # Both sides scaled by 2^-64 (exact): XLA divides by multiplying with the reciprocal, and
    # the reciprocal of a value near the float64 maximum is subnormal (flushed to 0 there).
    shrink = xp.where(safe, 1.0, _SHRINK)
    scaled = (v * shrink) / (xp.where(safe, 1.0, peak) * shrink)
    total = xp.sum(scaled, axis=axis, keepdims=keep)
    ok = total > 0 if strict else total != 0
    return xp.where(ok, scaled / xp.where(ok, total, 1.0), v)


def row_normalize(matrix: Any, *, xp: Namespace | None = None) -> Any:
    """Divide each row by its sum where the sum is > 0 (chain: ``inplace_row_normalize``).

    matrix : (R, C) dense. Returns a new (R, C) float64 array (overflow-safe, as
    :func:`normalize`).
    """
    if direct_numpy_call(xp, matrix):
        matrix = block_array("matrix", matrix, 2, signed=True)
    xp = xp or namespace(matrix)
    m = xp.asarray(matrix, dtype=xp.float64)
    return _normalize_along(m, -1, xp, strict=True)


def row_normalize_sparse(matrix: Any) -> sp.csr_array:
    """Sparse :func:`row_normalize`; stored zeros stay stored (``inplace_row_normalize_sparse``).

    Overflow-safe as the dense form: a row whose entries could sum past the float64 range is
    scaled by its maximum first.
    """
    return _row_normalize_csr(block_sparse("matrix", matrix))


def _row_normalize_csr(m: sp.csr_array) -> sp.csr_array:
    # canonical float64 CSR of finite non-negative values, checked by the caller
    rows = row_of_entries(m)
    data = m.data
    # No row holds more than nnz entries: below SAFE / nnz (every practical input) no row can
    # sum past the float64 range, and one reduction settles it; else the exact per-row test.
    if data.size and data.max() > _SAFE_SUM / data.size:
        counts = np.diff(m.indptr)
        peaks = np.zeros(m.shape[0])
        np.maximum.at(peaks, rows, data)
        big = peaks > _SAFE_SUM / np.maximum(counts, 1)
        if big.any():
            scale = np.where(big, peaks, 1.0)[rows]
            shrink = np.where(big, _SHRINK, 1.0)[rows]
            data = (data * shrink) / (scale * shrink)
    per_entry = np.bincount(rows, weights=data, minlength=m.shape[0])[rows]
    return with_data(m, np.divide(data, per_entry, out=data.copy(), where=per_entry > 0))


def col_normalize(matrix: Any, *, xp: Namespace | None = None) -> Any:
    """Divide each column by its sum where the sum is not 0 (chain: ``inplace_col_normalize``).

    matrix : (R, C) dense. Returns a new (R, C) float64 array.
    """
    if direct_numpy_call(xp, matrix):
        matrix = block_array("matrix", matrix, 2, signed=True)
    xp = xp or namespace(matrix)
    m = xp.asarray(matrix, dtype=xp.float64)
    return _safe_divide(m, xp.sum(m, axis=-2, keepdims=True), xp)


def col_normalize_sparse(matrix: Any) -> sp.csr_array:
    """Sparse :func:`col_normalize` (chain: ``inplace_col_normalize_sparse``)."""
    return _col_normalize_csr(block_sparse("matrix", matrix))


def _col_normalize_csr(m: sp.csr_array) -> sp.csr_array:
    # canonical float64 CSR of finite non-negative values, checked by the caller
    sums = np.bincount(m.indices, weights=m.data, minlength=m.shape[1]).astype(np.float64)
    return with_data(m, _np_safe_divide(m.data, sums[m.indices]))


def col_max_upscale(matrix: Any, *, xp: Namespace | None = None) -> Any:
    """Divide each column by its maximum where that maximum is not 0.

    Chain: ``inplace_col_max_upscale``; this is how original-Yuma bonds are stored (the largest
    bond of each column becomes 1). matrix : (R, C) dense, non-negative.
    """
    if direct_numpy_call(xp, matrix):
        matrix = block_array("matrix", matrix, 2, signed=True)
    xp = xp or namespace(matrix)
    m = xp.asarray(matrix, dtype=xp.float64)
    if m.shape[-2] == 0:
        return m
    return _safe_divide(m, xp.max(m, axis=-2, keepdims=True), xp)


def col_max_upscale_sparse(matrix: Any) -> sp.csr_array:
    """Sparse :func:`col_max_upscale` (chain: ``inplace_col_max_upscale_sparse``)."""
    return _col_max_upscale_csr(block_sparse("matrix", matrix))


def _col_max_upscale_csr(m: sp.csr_array) -> sp.csr_array:
    # canonical float64 CSR of finite non-negative values, checked by the caller
    maxima = np.zeros(m.shape[1])
    np.maximum.at(maxima, m.indices, m.data)
    return with_data(m, _np_safe_divide(m.data, maxima[m.indices]))
