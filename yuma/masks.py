"""Masks: zero (dense) or drop (sparse) the entries a boolean mask marks as True.

The chain's dense helpers zero cells; its sparse helpers remove stored entries. Both forms are
here, named after the chain's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma._sparse import as_csr, is_sparse, keep_entries, lookup, row_of_entries
from yuma._types import BoolArray
from yuma._xp import Namespace, eager, namespace

__all__ = [
    "mask_cols",
    "mask_cols_sparse",
    "mask_diag",
    "mask_diag_sparse",
    "mask_matrix",
    "mask_matrix_sparse",
    "mask_rows",
    "mask_rows_sparse",
    "mask_vector",
]


def _bool(mask: Any) -> BoolArray:
    return np.asarray(mask, dtype=bool)


def _zero_where(mask: Any, m: Any, xp: Namespace, *, in_pipeline: bool) -> Any:
    """``m`` with the cells ``mask`` marks set to 0 (``mask`` broadcasts against ``m``)."""
    if in_pipeline and eager(xp) and mask.ndim <= m.ndim and not mask.any():
        # Concrete values and nothing to zero (the common case: no outdated weights, no new
        # miner): the same values without a pass over the matrix. Only inside a pipeline (an
        # ``xp`` given), whose arrays are never written: a direct caller gets a new array.
        return m
    return xp.where(mask, 0.0, m)


def mask_vector(mask: Any, vector: Any, *, xp: Namespace | None = None) -> Any:
    """Zero ``v_i`` where ``mask_i`` (chain: ``inplace_mask_vector``). Both (n,)."""
    in_pipeline = xp is not None
    xp = xp or namespace(mask, vector)
    v = xp.asarray(vector, dtype=xp.float64)
    return _zero_where(xp.asarray(mask, dtype=xp.bool), v, xp, in_pipeline=in_pipeline)


def mask_rows(mask: Any, matrix: Any, *, xp: Namespace | None = None) -> Any:
    """Zero row ``i`` where ``mask_i`` (chain: ``inplace_mask_rows``). mask (R,), matrix (R, C)."""
    in_pipeline = xp is not None
    xp = xp or namespace(mask, matrix)
    m = xp.asarray(matrix, dtype=xp.float64)
    return _zero_where(
        xp.asarray(mask, dtype=xp.bool)[..., :, None], m, xp, in_pipeline=in_pipeline
    )


def mask_rows_sparse(mask: Any, matrix: Any) -> sp.csr_array:
    """Empty row ``i`` where ``mask_i`` (chain: ``mask_rows_sparse``)."""
    m = as_csr(matrix)
    return keep_entries(m, ~_bool(mask)[row_of_entries(m)])


def mask_cols(mask: Any, matrix: Any, *, xp: Namespace | None = None) -> Any:
    """Zero column ``j`` where ``mask_j`` (chain: ``inplace_mask_cols``). mask (C,)."""
    in_pipeline = xp is not None
    xp = xp or namespace(mask, matrix)
    m = xp.asarray(matrix, dtype=xp.float64)
    return _zero_where(
        xp.asarray(mask, dtype=xp.bool)[..., None, :], m, xp, in_pipeline=in_pipeline
    )


def mask_cols_sparse(mask: Any, matrix: Any) -> sp.csr_array:
    """Drop the entries of column ``j`` where ``mask_j``."""
    m = as_csr(matrix)
    return keep_entries(m, ~_bool(mask)[m.indices])


def mask_matrix(mask: Any, matrix: Any, *, xp: Namespace | None = None) -> Any:
    """Zero ``M_ij`` where ``mask_ij`` (chain: ``inplace_mask_matrix``). Both (R, C)."""
    in_pipeline = xp is not None
    xp = xp or namespace(mask, matrix)
    m = xp.asarray(matrix, dtype=xp.float64)
    return _zero_where(xp.asarray(mask, dtype=xp.bool), m, xp, in_pipeline=in_pipeline)


def mask_matrix_sparse(mask: Any, matrix: Any) -> sp.csr_array:
    """Drop the stored ``(i, j)`` where ``mask_ij`` (the chain's outdated-weights mask).

    mask : dense (R, C) booleans or a scipy.sparse matrix whose non-zero cells are True.
    """
    m = as_csr(matrix)
    rows = row_of_entries(m)
    if is_sparse(mask):
        marked = lookup(as_csr(mask), rows, m.indices) != 0
    else:
        marked = _bool(mask)[rows, m.indices]
    return keep_entries(m, ~marked)


def mask_diag(matrix: Any, except_index: int | None = None, *, xp: Namespace | None = None) -> Any:
    """Zero the diagonal, except ``(k, k)`` for ``except_index = k`` (chain: ``inplace_mask_diag``
    and ``inplace_mask_diag_except_index``). matrix (n, n)."""
    xp = xp or namespace(matrix)
    m = xp.asarray(matrix, dtype=xp.float64)
    if eager(xp) and except_index is None:
        # Concrete values: a copy with the diagonal written, without an (n, n) mask.
        out = np.array(m, dtype=np.float64, copy=True)
        k = np.arange(min(m.shape[-2], m.shape[-1]))
        out[..., k, k] = 0.0
        return out
    diagonal = xp.eye(m.shape[-2], m.shape[-1], dtype=xp.bool)
    if except_index is not None:
        diagonal = diagonal & ~(
            (xp.arange(m.shape[-2]) == except_index)[:, None]
            & (xp.arange(m.shape[-1]) == except_index)[None, :]
        )
    return xp.where(diagonal, 0.0, m)


def mask_diag_sparse(matrix: Any, except_index: int | None = None) -> sp.csr_array:
    """Drop the stored diagonal entries, except ``(k, k)`` (chain: ``mask_diag_sparse`` and
    ``mask_diag_sparse_except_index``)."""
    m = as_csr(matrix)
    rows = row_of_entries(m)
    on_diagonal = rows == m.indices
    if except_index is not None:
        on_diagonal &= rows != except_index
    return keep_entries(m, ~on_diagonal)
