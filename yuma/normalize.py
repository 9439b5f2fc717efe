"""Normalisations: vectors, rows, columns, and column-max upscaling (dense and sparse).

The chain's rule everywhere: a vector, row or column whose sum (or maximum) is zero is left as it
is, so no division by zero can occur and an all-zero input stays all-zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma._sparse import as_csr, row_of_entries, with_data
from yuma._types import FloatArray

__all__ = [
    "col_max_upscale",
    "col_max_upscale_sparse",
    "col_normalize",
    "col_normalize_sparse",
    "normalize",
    "row_normalize",
    "row_normalize_sparse",
]


def _safe_divide(x: FloatArray, d: FloatArray) -> FloatArray:
    """``x / d`` where ``d != 0``, else ``x`` unchanged (the chain's 'leave it' rule)."""
    return np.divide(x, d, out=np.array(x, dtype=np.float64, copy=True), where=d != 0)


def normalize(x: Any) -> FloatArray:
    """``x / sum(x)``, or ``x`` unchanged when the sum is 0 (chain: ``inplace_normalize``).

    x : (n,) non-negative. Returns a new (n,) float64 array.
    """
    v = np.asarray(x, dtype=np.float64)
    total = v.sum()
    if total == 0:
        return v.copy()
    return np.asarray(v / total, dtype=np.float64)


def row_normalize(matrix: Any) -> FloatArray:
    """Divide each row by its sum where the sum is > 0 (chain: ``inplace_row_normalize``).

    matrix : (R, C) dense. Returns a new (R, C) float64 array.
    """
    m = np.asarray(matrix, dtype=np.float64)
    sums = m.sum(axis=1, keepdims=True)
    return np.asarray(np.divide(m, sums, out=m.copy(), where=sums > 0), dtype=np.float64)


def row_normalize_sparse(matrix: Any) -> sp.csr_array:
    """Sparse :func:`row_normalize`; stored zeros stay stored (``inplace_row_normalize_sparse``)."""
    m = as_csr(matrix)
    rows = row_of_entries(m)
    per_entry = np.bincount(rows, weights=m.data, minlength=m.shape[0])[rows]
    return with_data(m, np.divide(m.data, per_entry, out=m.data.copy(), where=per_entry > 0))


def col_normalize(matrix: Any) -> FloatArray:
    """Divide each column by its sum where the sum is not 0 (chain: ``inplace_col_normalize``).

    matrix : (R, C) dense. Returns a new (R, C) float64 array.
    """
    m = np.asarray(matrix, dtype=np.float64)
    return _safe_divide(m, m.sum(axis=0, keepdims=True))


def col_normalize_sparse(matrix: Any) -> sp.csr_array:
    """Sparse :func:`col_normalize` (chain: ``inplace_col_normalize_sparse``)."""
    m = as_csr(matrix)
    sums = np.bincount(m.indices, weights=m.data, minlength=m.shape[1]).astype(np.float64)
    return with_data(m, _safe_divide(m.data, sums[m.indices]))


def col_max_upscale(matrix: Any) -> FloatArray:
    """Divide each column by its maximum where that maximum is not 0.

    Chain: ``inplace_col_max_upscale``; this is how original-Yuma bonds are stored (the largest
    bond of each column becomes 1). matrix : (R, C) dense, non-negative.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.size == 0:
        return m.copy()
    return _safe_divide(m, m.max(axis=0, keepdims=True))


def col_max_upscale_sparse(matrix: Any) -> sp.csr_array:
    """Sparse :func:`col_max_upscale` (chain: ``inplace_col_max_upscale_sparse``)."""
    m = as_csr(matrix)
    maxima = np.zeros(m.shape[1])
    np.maximum.at(maxima, m.indices, m.data)
    return with_data(m, _safe_divide(m.data, maxima[m.indices]))
