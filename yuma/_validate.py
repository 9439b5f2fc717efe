"""Input checks: bad input raises ``ValueError`` naming the problem, never a silent NaN."""

from __future__ import annotations

from typing import Any

import numpy as np

from yuma._sparse import as_csr, is_sparse
from yuma._types import BoolArray, FloatArray, Matrix

__all__ = ["check_bool_matrix", "check_bool_vector", "check_matrix", "check_vector"]


def _check_values(name: str, values: FloatArray) -> None:
    if values.size == 0:
        return
    # Two reductions and no temporary in the common case; the exact checks only on suspicion
    # (a NaN poisons both, an infinity the sum, a very large finite sum overflows to inf).
    with np.errstate(over="ignore", invalid="ignore"):
        total = values.sum()
    if values.min() >= 0 and np.isfinite(total):
        return
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite (found NaN or infinity)")
    if np.any(values < 0):
        raise ValueError(f"{name} must be non-negative (found a negative value)")


def check_matrix(name: str, matrix: Any, shape: tuple[int, int] | None = None) -> Matrix:
    """A 2-D dense or sparse float64 matrix of finite non-negative values (the input itself
    when it already is one: the library never mutates its inputs)."""
    if is_sparse(matrix):
        if len(matrix.shape) != 2:
            raise ValueError(f"{name} must be 2-D, got shape {matrix.shape}")
        csr = as_csr(matrix)
        _check_values(name, np.asarray(csr.data, dtype=np.float64))
        out: Matrix = csr
    else:
        try:
            dense = np.asarray(matrix, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric 2-D array: {exc}") from None
        if dense.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {dense.shape}")
        _check_values(name, dense)
        out = dense
    if shape is not None and tuple(out.shape) != shape:
        raise ValueError(f"{name} has shape {tuple(out.shape)}, expected {shape}")
    return out


def check_vector(name: str, vector: Any, length: int) -> FloatArray:
    """A 1-D float64 vector of ``length`` finite non-negative values."""
    try:
        v = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric 1-D array: {exc}") from None
    if v.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {v.shape}")
    if v.shape[0] != length:
        raise ValueError(f"{name} has length {v.shape[0]}, expected {length}")
    _check_values(name, v)
    return v


def check_bool_vector(name: str, mask: Any, length: int) -> BoolArray:
    """A 1-D boolean mask of ``length`` entries."""
    m = np.asarray(mask)
    if m.ndim != 1 or m.shape[0] != length:
        raise ValueError(f"{name} must have shape ({length},), got {m.shape}")
    if m.dtype != np.bool_:
        if not np.issubdtype(m.dtype, np.integer) or np.any((m != 0) & (m != 1)):
            raise ValueError(f"{name} must be boolean, got dtype {m.dtype}")
    return m.astype(bool)


def check_bool_matrix(name: str, mask: Any, shape: tuple[int, int]) -> Any:
    """A boolean mask of ``shape``, dense or scipy.sparse (non-zero cells are True)."""
    if is_sparse(mask):
        if tuple(mask.shape) != shape:
            raise ValueError(f"{name} has shape {tuple(mask.shape)}, expected {shape}")
        return as_csr(mask)
    m = np.asarray(mask)
    if m.shape != shape:
        raise ValueError(f"{name} has shape {m.shape}, expected {shape}")
    if m.dtype != np.bool_:
        if not np.issubdtype(m.dtype, np.integer) or np.any((m != 0) & (m != 1)):
            raise ValueError(f"{name} must be boolean, got dtype {m.dtype}")
    return m.astype(bool)
