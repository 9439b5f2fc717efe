"""Input checks: bad input raises ``ValueError`` naming the problem, never a silent NaN.

One rule for every numeric input, dense or sparse: real numbers only (integer or float dtypes).
Complex values, strings (numeric or not), booleans, object arrays (``None``, ``Decimal``,
integers beyond 64 bits) and dates are refused, never coerced: numpy would drop an imaginary
part with a warning, parse ``"1.5"``, or read ``True`` as 1. Masks take booleans or the integers
0 and 1. Sparse input has its structure checked in full first (:func:`yuma._sparse.checked_csr`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma._sparse import (
    checked_csr,
    checked_csr_fast,
    csr_from_parts,
    is_sparse,
    row_of_entries,
)
from yuma._types import BoolArray, FloatArray, Matrix

__all__ = [
    "as_numeric_array",
    "check_bool_matrix",
    "check_bool_vector",
    "check_matrix",
    "check_values",
    "check_vector",
]

#: dtype kinds of real numbers: signed and unsigned integers, floats.
_REAL_KINDS = "iuf"

_KIND_NAMES = {
    "b": "booleans (pass numbers, e.g. w.astype(float))",
    "c": "complex values",
    "U": "strings (numeric strings are not parsed)",
    "S": "byte strings",
    "O": "Python objects (None, Decimal, or integers beyond 64 bits?)",
    "M": "dates",
    "m": "time differences",
    "V": "structured records",
}


def _refuse_dtype(name: str, dtype: np.dtype[Any], what: str) -> ValueError:
    found = _KIND_NAMES.get(dtype.kind, f"dtype {dtype}")
    return ValueError(f"{name} must be a numeric {what} of real numbers, got {found}")


def _holds_a_bool(value: Any) -> bool:
    """True when a (nested) list or tuple that numpy reads as numbers holds a bool somewhere
    (``[True, 2.0]`` becomes ``[1.0, 2.0]`` without a word)."""
    cells = np.asarray(value, dtype=object)
    is_bool = np.frompyfunc(lambda x: isinstance(x, (bool, np.bool_)), 1, 1)
    return bool(np.any(is_bool(cells)))


def as_numeric_array(name: str, value: Any, what: str = "array") -> FloatArray:
    """``value`` as a float64 array under the one rule above (no copy when it already is one).

    Checks the dtype only, not the shape or the values. Raises ``ValueError`` naming ``name``.
    """
    if type(value) is np.ndarray and value.dtype == np.float64:
        return value  # the common case, and already the answer
    if is_sparse(value):
        raise ValueError(f"{name} must be a dense {what} here, got a scipy.sparse matrix")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric {what} (rectangular): {exc}") from None
    if arr.dtype.kind not in _REAL_KINDS:
        raise _refuse_dtype(name, arr.dtype, what)
    if isinstance(value, (list, tuple)) and _holds_a_bool(value):
        raise _refuse_dtype(name, np.dtype(np.bool_), what)
    with np.errstate(over="ignore"):
        # float128 beyond float64's range becomes inf here and is refused by the value check.
        return np.asarray(arr, dtype=np.float64)


#: The largest finite float64 (an infinity is above it, a NaN compares False).
_FINITE_MAX = float(np.finfo(np.float64).max)
#: Its bit pattern, as an unsigned integer.
_FINITE_MAX_BITS = int(np.array(_FINITE_MAX).view(np.uint64))
_MAX_OF = np.maximum.reduce


def check_values(name: str, values: FloatArray) -> None:
    """Refuse NaN, infinities and negative values in a float64 array (any shape)."""
    if values.size == 0:
        return
    # One integer reduction and no temporary in the common case, the exact checks only on
    # suspicion: read as unsigned integers, the bit patterns of the finite non-negative floats
    # are exactly those up to the largest finite float's (a negative value has its sign bit
    # set, an infinity or NaN its exponent all ones). -0.0 fails this test and passes the
    # exact ones.
    if values.dtype != np.float64:
        # Any other real dtype as float64: exact, but a wider float beyond float64's range
        # becomes an infinity, refused below. (Comparing a float32 array with float64's
        # largest value would instead cast that bound to float32's infinity.)
        with np.errstate(over="ignore"):
            values = np.asarray(values, dtype=np.float64)
    # The ufunc's own reduce, not ndarray.max, which goes through a Python wrapper.
    if _MAX_OF(values.view(np.uint64), axis=None) <= _FINITE_MAX_BITS:
        return
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite (found NaN or infinity)")
    if np.any(values < 0):
        raise ValueError(f"{name} must be non-negative (found a negative value)")


def _value_entries(name: str, data: np.ndarray[Any, Any]) -> FloatArray:
    """Stored sparse values: real numbers, finite and non-negative, each one on its own."""
    if data.dtype.kind not in _REAL_KINDS:
        raise _refuse_dtype(name, data.dtype, "matrix")
    with np.errstate(over="ignore"):
        values = np.asarray(data, dtype=np.float64)
    check_values(name, values)
    return values


def _mask_entries(name: str, data: np.ndarray[Any, Any]) -> FloatArray:
    """Stored sparse mask values: booleans, or the integers 0 and 1."""
    _check_mask_dtype(name, data)
    return np.asarray(data != 0, dtype=np.float64)


def _check_mask_dtype(name: str, m: np.ndarray[Any, Any]) -> None:
    if m.dtype == np.bool_:
        return
    if m.dtype.kind not in "iu":
        raise ValueError(f"{name} must be boolean (or 0/1 integers), got dtype {m.dtype}")
    if np.any((m != 0) & (m != 1)):
        raise ValueError(f"{name} must be boolean (or 0/1 integers), found another integer")


def check_matrix(
    name: str, matrix: Any, shape: tuple[int, int] | None = None, *, dense_values: bool = True
) -> Matrix:
    """A 2-D dense or sparse float64 matrix of finite non-negative values (the input itself
    when it already is a dense one: the library never mutates its inputs).

    ``dense_values`` False leaves a dense matrix's values to the caller's kernel, which checks
    them as it reads them (:func:`yuma.backends.numba_dense.values_status`); dtype and shape
    are checked here all the same, and sparse input always in full.

    Sparse input (any scipy.sparse format) comes back as canonical CSR after a full O(nnz)
    check of its structure (:func:`yuma._sparse.checked_csr`); each stored entry is checked
    before duplicates are summed, and the sums again.
    """
    if is_sparse(matrix):
        # The common case (canonical float64 CSR) in one compiled pass; anything else, or
        # anything wrong, takes the full check, which names the problem.
        fast = checked_csr_fast(matrix)
        if fast is not None:
            out: Matrix = fast
        else:
            csr = checked_csr(name, matrix, _value_entries)
            if csr is not matrix:
                # Built anew, so duplicates may have been summed: two finite entries can sum
                # to an infinity. The caller's own canonical matrix holds just the entries
                # checked.
                check_values(name, np.asarray(csr.data))
            out = csr
    else:
        dense = as_numeric_array(name, matrix, "2-D array")
        if dense.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {dense.shape}")
        if dense_values:
            check_values(name, dense)
        out = dense
    if shape is not None and tuple(out.shape) != shape:
        raise ValueError(f"{name} has shape {tuple(out.shape)}, expected {shape}")
    return out


def check_vector(name: str, vector: Any, length: int) -> FloatArray:
    """A 1-D float64 vector of ``length`` finite non-negative values."""
    v = as_numeric_array(name, vector, "1-D array")
    if v.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {v.shape}")
    if v.shape[0] != length:
        raise ValueError(f"{name} has length {v.shape[0]}, expected {length}")
    check_values(name, v)
    return v


def _as_mask_array(name: str, mask: Any) -> np.ndarray[Any, Any]:
    try:
        return np.asarray(mask)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a boolean array (rectangular): {exc}") from None


def check_bool_vector(name: str, mask: Any, length: int) -> BoolArray:
    """A 1-D boolean mask of ``length`` entries (booleans, or the integers 0 and 1)."""
    if is_sparse(mask):
        raise ValueError(f"{name} must be a dense 1-D boolean array, got a scipy.sparse matrix")
    m = _as_mask_array(name, mask)
    if m.ndim != 1 or m.shape[0] != length:
        raise ValueError(f"{name} must have shape ({length},), got {m.shape}")
    _check_mask_dtype(name, m)
    return m.astype(bool)


def check_bool_matrix(name: str, mask: Any, shape: tuple[int, int]) -> Any:
    """A boolean mask of ``shape``, dense or scipy.sparse (non-zero cells are True).

    A sparse mask comes back as canonical float CSR holding only its True cells (value 1.0),
    in new arrays, after the same structural check as :func:`check_matrix`.
    """
    if is_sparse(mask):
        csr = checked_csr(name, mask, _mask_entries)
        if tuple(csr.shape) != shape:
            raise ValueError(f"{name} has shape {tuple(csr.shape)}, expected {shape}")
        keep = csr.data != 0
        counts = np.bincount(row_of_entries(csr)[keep], minlength=shape[0])
        indptr = np.zeros(shape[0] + 1, dtype=csr.indptr.dtype)
        np.cumsum(counts, out=indptr[1:])
        out: sp.csr_array = csr_from_parts(
            np.ones(int(indptr[-1]), dtype=np.float64), csr.indices[keep], indptr, shape
        )
        return out
    m = _as_mask_array(name, mask)
    if m.shape != shape:
        raise ValueError(f"{name} has shape {m.shape}, expected {shape}")
    _check_mask_dtype(name, m)
    return m.astype(bool)


# --- direct calls of the public building blocks ------------------------------------------------


def block_array(name: str, value: Any, ndim: int | None = None, *, signed: bool = False) -> Any:
    """A building block's array argument, checked when a caller passes it directly (the
    pipeline's own calls, with ``xp`` given, are validated once upstream): real numbers,
    finite, non-negative unless ``signed``, and ``ndim`` dimensions when given."""
    arr = as_numeric_array(name, value)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if signed:
        if arr.size and not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (found NaN or infinity)")
    else:
        check_values(name, arr)
    return arr


def block_sparse(name: str, value: Any) -> sp.csr_array:
    """A building block's sparse argument: structure fully checked (O(nnz)), entries finite and
    non-negative, as canonical float64 CSR."""
    from yuma._sparse import checked_csr

    return checked_csr(name, value, _value_entries)


def block_fraction(name: str, value: Any, *, open_interval: bool = False) -> float:
    """A scalar in [0, 1] (``(0, 1)`` when ``open_interval``), e.g. a rate or κ."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    x = float(value)
    ok = 0.0 < x < 1.0 if open_interval else 0.0 <= x <= 1.0
    if not ok:
        interval = "(0, 1)" if open_interval else "[0, 1]"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return x
