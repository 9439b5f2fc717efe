"""Small helpers for CSR matrices whose stored entries (explicit zeros included) carry meaning.

The chain's sparse epoch treats a stored entry with value 0 as *present* and an absent entry as
absent, so every helper here keeps explicit zeros unless told to drop entries.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma._types import BoolArray, FloatArray, IntArray

__all__ = [
    "as_csr",
    "csr_from_parts",
    "is_sparse",
    "keep_entries",
    "lookup",
    "row_of_entries",
    "with_data",
]


def as_csr(matrix: Any, dtype: type = np.float64) -> sp.csr_array:
    """``matrix`` as canonical float CSR: sorted indices, duplicates summed, zeros kept.

    A canonical ``csr_array`` of the right dtype is returned as it is (nothing here mutates a
    matrix it was given); anything else is copied before it is canonicalised.
    """
    if (
        isinstance(matrix, sp.csr_array)
        and matrix.dtype == dtype
        and matrix.has_canonical_format
    ):
        return matrix
    out = sp.csr_array(matrix, dtype=dtype, copy=True)
    if not out.has_canonical_format:
        out.sum_duplicates()
    return out


def csr_from_parts(
    data: FloatArray, indices: IntArray, indptr: IntArray, shape: tuple[int, int]
) -> sp.csr_array:
    """Build a CSR array from canonical parts without touching explicit zeros."""
    out = sp.csr_array((data, indices, indptr), shape=shape)
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def row_of_entries(matrix: sp.csr_array) -> IntArray:
    """Row index of every stored entry, aligned with ``matrix.data``."""
    counts = np.diff(matrix.indptr)
    return np.repeat(np.arange(matrix.shape[0], dtype=np.int64), counts)


def with_data(matrix: sp.csr_array, data: FloatArray) -> sp.csr_array:
    """``matrix``'s structure with new values (explicit zeros stay stored)."""
    return csr_from_parts(
        np.asarray(data, dtype=np.float64),
        matrix.indices.copy(),
        matrix.indptr.copy(),
        (int(matrix.shape[0]), int(matrix.shape[1])),
    )


def keep_entries(matrix: sp.csr_array, keep: BoolArray) -> sp.csr_array:
    """Drop the stored entries where ``keep`` (aligned with ``matrix.data``) is False."""
    rows = row_of_entries(matrix)
    counts = np.bincount(rows[keep], minlength=matrix.shape[0])
    indptr = np.zeros(matrix.shape[0] + 1, dtype=matrix.indptr.dtype)
    np.cumsum(counts, out=indptr[1:])
    return csr_from_parts(
        matrix.data[keep].astype(np.float64, copy=True),
        matrix.indices[keep].copy(),
        indptr,
        (int(matrix.shape[0]), int(matrix.shape[1])),
    )


def lookup(matrix: sp.csr_array, rows: IntArray, cols: IntArray) -> FloatArray:
    """Values of canonical CSR ``matrix`` at ``(rows, cols)``; absent entries read as 0.

    Vectorised: one binary search per query over the row-major keys of the stored entries.
    """
    n_cols = int(matrix.shape[1])
    keys = row_of_entries(matrix) * n_cols + matrix.indices.astype(np.int64)
    query = np.asarray(rows, dtype=np.int64) * n_cols + np.asarray(cols, dtype=np.int64)
    pos = np.searchsorted(keys, query)
    pos_clipped = np.minimum(pos, max(len(keys) - 1, 0))
    found = (
        (pos < len(keys)) & (keys[pos_clipped] == query)
        if len(keys)
        else np.zeros(len(query), dtype=bool)
    )
    out = np.zeros(len(query), dtype=np.float64)
    out[found] = matrix.data[pos_clipped[found]]
    return out


def is_sparse(x: Any) -> bool:
    """True for any scipy.sparse array or matrix (a plain bool, so types are not narrowed)."""
    return bool(sp.issparse(x))
