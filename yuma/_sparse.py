"""Small helpers for CSR matrices whose stored entries (explicit zeros included) carry meaning.

The chain's sparse epoch treats a stored entry with value 0 as *present* and an absent entry as
absent, so every helper here keeps explicit zeros unless told to drop entries.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma._types import BoolArray, FloatArray, IntArray

__all__ = [
    "as_csr",
    "checked_csr",
    "checked_csr_fast",
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
    if isinstance(matrix, sp.csr_array) and matrix.dtype == dtype and matrix.has_canonical_format:
        return matrix
    out = sp.csr_array(matrix, dtype=dtype, copy=True)
    if not out.has_canonical_format:
        out.sum_duplicates()
    return out


def csr_from_parts(
    data: FloatArray, indices: IntArray, indptr: IntArray, shape: tuple[int, int]
) -> sp.csr_array:
    """Build a CSR array from canonical parts without touching explicit zeros.

    The parts are the library's own (consistent by construction). In the common form (float64
    values, int32 index arrays, lengths that agree) the array is assembled directly: scipy's
    constructor re-derives the index dtype and re-checks the lengths, 15-20 µs a call, more
    than a small epoch's kernels. The result is the one the constructor gives (same arrays,
    shape and flags); :func:`_csr_fields` verifies that once per process, and anything else
    goes through the constructor.
    """
    fields = _csr_fields()
    if fields is not None and _assembles(data, indices, indptr, shape):
        return _assemble(fields, data, indices, indptr, (int(shape[0]), int(shape[1])))
    out = sp.csr_array((data, indices, indptr), shape=shape)
    out.has_sorted_indices = True
    out.has_canonical_format = True
    return out


def _assembles(data: Any, indices: Any, indptr: Any, shape: tuple[int, int]) -> bool:
    """Whether scipy's constructor would take these parts exactly as they are: plain 1-D
    arrays, float64 values, int32 indices and indptr (the dtype it keeps while the shape fits
    int32), ``len(indptr) == rows + 1`` and ``len(indices) == len(data) == indptr[-1]``."""
    return bool(
        type(data) is np.ndarray
        and type(indices) is np.ndarray
        and type(indptr) is np.ndarray
        and data.dtype == np.float64
        and indices.dtype == np.int32
        and indptr.dtype == np.int32
        and data.ndim == indices.ndim == indptr.ndim == 1
        and max(shape) <= _INT32_MAX
        and min(shape) >= 0
        and indptr.shape[0] == shape[0] + 1
        and indices.shape[0] == data.shape[0] == int(indptr[-1])
    )


def _assemble(
    fields: dict[str, Any], data: Any, indices: Any, indptr: Any, shape: tuple[int, int]
) -> sp.csr_array:
    out = sp.csr_array.__new__(sp.csr_array)
    out.__dict__.update(fields)
    out.__dict__.update(data=data, indices=indices, indptr=indptr, _shape=shape)
    return out


@functools.cache
def _csr_fields() -> dict[str, Any] | None:
    """The attributes scipy's constructor gives a canonical ``csr_array`` besides its arrays and
    shape, when an array assembled from them is indistinguishable from a constructed one
    (checked on a small matrix: the same attributes, values and flags, and the caller's arrays
    shared, not copied, as the constructor does); None
    when not (another scipy version), and :func:`csr_from_parts` then always constructs."""
    data = np.array([1.0, 0.0, 2.0])
    indices = np.array([0, 2, 1], dtype=np.int32)
    indptr = np.array([0, 2, 2, 3], dtype=np.int32)
    shape = (3, 4)
    try:
        ref = sp.csr_array((data, indices, indptr), shape=shape)
        ref.has_sorted_indices = True
        ref.has_canonical_format = True
        arrays = ("data", "indices", "indptr", "_shape")
        fields = {k: v for k, v in vars(ref).items() if k not in arrays}
        probe = _assemble(fields, data, indices, indptr, shape)
        same = (
            vars(probe).keys() == vars(ref).keys()
            and all(k in vars(ref) for k in arrays)
            and np.shares_memory(ref.data, data)
            and np.shares_memory(ref.indices, indices)
            and np.shares_memory(ref.indptr, indptr)
            and probe.shape == ref.shape == shape
            and probe.nnz == ref.nnz == 3
            and probe.has_canonical_format
            and probe.has_sorted_indices
            and np.array_equal(probe.toarray(), ref.toarray())
            and np.array_equal((probe @ np.ones(4)), ref @ np.ones(4))
        )
    except Exception:  # any difference at all: keep the constructor
        return None
    return fields if same else None


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
    # A plain ndarray answers at once: scipy's test (an isinstance against an abstract base
    # class) costs 0.42 µs against 0.07 µs, and every epoch asks it several times.
    if type(x) is np.ndarray:
        return False
    return bool(sp.issparse(x))


# --------------------------------------------------------------------------------------------
# Full structural validation of user-supplied sparse input
# --------------------------------------------------------------------------------------------
#
# scipy builds a CSR from (data, indices, indptr) with only a cheap check, and lets callers
# replace ``.indices`` afterwards; its own C++ routines (canonical-format test, sorting, format
# conversion) and our numba kernels then index memory with those numbers. So a user's matrix is
# read here only through its plain numpy attributes, checked in O(nnz) with numpy, and only then
# handed to scipy or a kernel. Nothing here allocates more than O(rows + cols + nnz).

#: Checks the stored values (one per stored entry, before duplicates are summed) and returns
#: them as float64; raises ValueError naming the field.
EntryCheck = Callable[[str, np.ndarray[Any, Any]], FloatArray]


def _shape_of(name: str, matrix: Any) -> tuple[int, int]:
    shape = getattr(matrix, "shape", None)
    if not isinstance(shape, tuple) or len(shape) != 2:
        raise ValueError(f"{name} must be 2-D, got shape {shape!r}")
    out = []
    for k in shape:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"{name} has an invalid shape {shape!r}")
        out.append(int(k))
    return out[0], out[1]


def _same_array(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """True when ``a`` is ``b`` or a view of all of it (same memory, dtype, shape, strides)."""
    return a is b or (
        a.dtype == b.dtype
        and a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def _index_array(name: str, what: str, value: Any) -> IntArray:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"{name}: sparse {what} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: sparse {what} must be integers, got dtype {arr.dtype}")
    return arr


def _check_range(name: str, what: str, idx: IntArray, bound: int) -> None:
    """Every entry of ``idx`` in [0, bound) (negative indices are not wrapped around)."""
    if idx.size == 0:
        return
    _range_error(name, what, int(idx.min()), int(idx.max()), bound)


def _range_error(name: str, what: str, lo: int, hi: int, bound: int) -> None:
    """Refuse indices whose smallest is ``lo`` and largest ``hi`` unless all in [0, bound)."""
    if lo < 0 or hi >= bound:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{name}: sparse {what} {bad} is out of range [0, {bound})")


def _compressed_parts(
    name: str, matrix: Any, n_major: int, n_minor: int, minor: str
) -> tuple[np.ndarray[Any, Any], IntArray, IntArray, bool | None]:
    """(data, indices, indptr, ascending) of a CSR/CSC matrix, checked: indptr starts at 0,
    never decreases, has one entry per major line plus one and ends at nnz <= len(indices);
    every stored index lies in [0, n_minor). Arrays longer than nnz are cut to nnz (scipy
    allows it). ``ascending``: whether the indices strictly increase inside every major line,
    when the compiled pass found it along with the range (else None).
    """
    indptr = _index_array(name, "indptr", matrix.indptr)
    indices = _index_array(name, "indices", matrix.indices)
    data = np.asarray(matrix.data)
    if data.ndim != 1:
        raise ValueError(f"{name}: sparse data must be 1-D, got shape {data.shape}")
    if indptr.shape[0] != n_major + 1:
        raise ValueError(
            f"{name}: sparse indptr has length {indptr.shape[0]}, expected {n_major + 1}"
        )
    if int(indptr[0]) != 0:
        raise ValueError(f"{name}: sparse indptr must start at 0, got {int(indptr[0])}")
    # Signed differences: unsigned ones would wrap around instead of going negative.
    if n_major and np.any(np.diff(indptr.astype(np.int64, copy=False)) < 0):
        raise ValueError(f"{name}: sparse indptr must be non-decreasing")
    nnz = int(indptr[-1])
    if nnz > indices.shape[0] or nnz > data.shape[0]:
        raise ValueError(
            f"{name}: sparse indptr ends at {nnz} but there are only "
            f"{min(indices.shape[0], data.shape[0])} stored entries"
        )
    indices = indices[:nnz]
    if not (nnz and _compiled_scan(indices, indptr)):
        _check_range(name, f"{minor} index", indices, n_minor)
        return data[:nnz], indices, indptr, None
    from yuma._sparse_kernels import scan_indices

    lo, hi, ascending = scan_indices(indices, indptr)
    _range_error(name, f"{minor} index", lo, hi, n_minor)
    return data[:nnz], indices, indptr, bool(ascending)


_NATIVE_INDEX = (np.dtype(np.int32), np.dtype(np.int64))
_INT32_MAX = int(np.iinfo(np.int32).max)


@functools.cache
def _kernels() -> ModuleType | None:
    """:mod:`yuma._sparse_kernels` when numba is installed (imported on first use), else None."""
    if importlib.util.find_spec("numba") is None:
        return None
    from yuma import _sparse_kernels

    return _sparse_kernels


def _plain_vector(a: Any) -> bool:
    """A 1-D C-contiguous numpy array (no subclass), as the compiled pass takes it."""
    return type(a) is np.ndarray and a.ndim == 1 and a.flags.c_contiguous


def checked_csr_fast(matrix: Any) -> sp.csr_array | None:
    """:func:`checked_csr` with finite non-negative values, in one compiled pass, for the common
    case: a CSR already in the form the library keeps (float64 data, native contiguous index
    arrays of the dtype scipy picks for its size, no spare capacity, canonical order, every index
    in range, every value finite and >= 0). Returns the caller's ``csr_array`` itself (a
    ``csr_matrix`` wrapped, without copies), exactly what :func:`checked_csr` would return;
    None whenever anything is otherwise, numba is absent included: the caller then runs the full
    check, which names the problem or canonicalises the matrix.
    """
    if getattr(matrix, "format", None) != "csr":
        return None
    kernels = _kernels()
    if kernels is None:
        return None
    shape = matrix.shape
    if type(shape) is not tuple or len(shape) != 2:
        return None
    rows, cols = shape
    if type(rows) is not int or type(cols) is not int or rows < 0 or cols < 0:
        return None
    data, indices, indptr = matrix.data, matrix.indices, matrix.indptr
    if not (_plain_vector(data) and _plain_vector(indices) and _plain_vector(indptr)):
        return None
    nnz = data.shape[0]
    if (
        data.dtype != np.float64
        or indices.dtype != indptr.dtype
        or indices.dtype not in _NATIVE_INDEX
        or indices.shape[0] != nnz
        or indptr.shape[0] != rows + 1
        or int(indptr[-1]) != nnz
    ):
        return None
    # the dtype _native_index would pick, so that the answer is the full check's
    if (indices.dtype == np.int32) != (max(cols, nnz) <= _INT32_MAX):
        return None
    # One thread at every size: the pass is bound by memory, and a parallel region loses
    # several-fold whenever another process holds a core (benchmarks/RESULTS.md).
    if kernels.scan_csr(data, indices, indptr, cols) != kernels.CANONICAL:
        return None
    if isinstance(matrix, sp.csr_array):
        return matrix
    return csr_from_parts(data, indices, indptr, (rows, cols))


def _compiled_scan(indices: IntArray, indptr: IntArray) -> bool:
    """Whether the compiled index passes take these arrays (native int32/int64, numba)."""
    return bool(
        indices.dtype in _NATIVE_INDEX
        and indptr.dtype in _NATIVE_INDEX
        and indices.flags.c_contiguous
        and importlib.util.find_spec("numba")
    )


def _native_index(arrays: tuple[IntArray, ...], bound: int) -> tuple[IntArray, ...]:
    """The index arrays as one native, contiguous signed dtype: int32 when ``bound`` fits (as
    scipy chooses), else int64. The kernels are compiled per dtype, and scipy wants them equal;
    arrays already in that form are not copied."""
    dtype = np.int32 if bound <= np.iinfo(np.int32).max else np.int64
    return tuple(np.ascontiguousarray(a, dtype=dtype) for a in arrays)


def _is_canonical(indices: IntArray, indptr: IntArray) -> bool:
    """True when the column indices strictly increase inside every row (sorted, no duplicates).

    Computed from the arrays (O(nnz)); scipy's ``has_canonical_format`` flag can be stale.
    Native int32/int64 arrays take one compiled pass without temporaries (an ``np.diff``
    pass allocates a copy of the indices, a third of a large epoch's validation time).
    """
    nnz = int(indices.shape[0])
    if nnz < 2:
        return True
    native = (np.dtype(np.int32), np.dtype(np.int64))
    if indices.dtype in native and indptr.dtype in native and importlib.util.find_spec("numba"):
        from yuma._sparse_kernels import rows_ascending

        return bool(rows_ascending(indices, indptr))
    return _is_canonical_numpy(indices, indptr)


def _is_canonical_numpy(indices: IntArray, indptr: IntArray) -> bool:
    """:func:`_is_canonical` in numpy (any integer dtypes)."""
    nnz = int(indices.shape[0])
    if nnz < 2:
        return True
    # Indices are signed and in [0, n_cols) here, so their differences fit their own dtype.
    rising = np.diff(indices) > 0
    # A row boundary between entries p and p + 1 allows any step.
    starts = indptr[1:-1].astype(np.int64, copy=False)
    starts = starts[(starts > 0) & (starts < nnz)]
    rising[starts - 1] = True
    return bool(rising.all())


def _canonical(
    data: FloatArray,
    indices: IntArray,
    indptr: IntArray,
    shape: tuple[int, int],
    like: sp.csr_array | None = None,
    ascending: bool | None = None,
) -> sp.csr_array:
    """A canonical CSR from checked parts; duplicates summed (zeros kept) only when present.

    ``like``: the csr_array the parts came from; returned itself (never mutated) when the parts
    are all of its own arrays, already canonical float64 with native indices, so a matrix the
    library built costs no new scipy object when it comes back as input. ``ascending``: the
    canonical-order test's answer when the caller already has it.
    """
    indices, indptr = _native_index((indices, indptr), max(shape[1], int(indptr[-1])))
    data = np.ascontiguousarray(data, dtype=np.float64)
    if ascending if ascending is not None else _is_canonical(indices, indptr):
        if like is not None and all(
            _same_array(a, b)
            for a, b in ((data, like.data), (indices, like.indices), (indptr, like.indptr))
        ):
            return like
        return csr_from_parts(data, indices, indptr, shape)
    # Safe now that every index is in range; copies, so the caller's arrays stay as they were.
    out = sp.csr_array((data.copy(), indices.copy(), indptr.copy()), shape=shape)
    out.sum_duplicates()
    return csr_from_parts(np.asarray(out.data, dtype=np.float64), out.indices, out.indptr, shape)


def _coo_to_csr(
    data: FloatArray, row: IntArray, col: IntArray, shape: tuple[int, int]
) -> sp.csr_array:
    """Checked COO triplets (float64 values) as canonical CSR.

    scipy's converter is safe once every coordinate is known to be in range, and sums the
    duplicates in float64 (the values' dtype here), so integer input cannot wrap around.
    """
    coo = sp.coo_array((data, (row, col)), shape=shape)
    out = coo.tocsr()
    return _canonical(np.asarray(out.data, dtype=np.float64), out.indices, out.indptr, shape)


def checked_csr(name: str, matrix: Any, entries: EntryCheck) -> sp.csr_array:
    """Any scipy.sparse ``matrix`` as canonical float64 CSR, its structure fully checked first.

    CSR, CSC and COO are checked from their own arrays (indptr starts at 0, never decreases and
    ends at nnz; every index in [0, dim), negative ones included; the 2-D shape), before scipy or
    a kernel reads memory through them; other formats (BSR, DIA, LIL, DOK) are converted to COO
    by scipy's array code (which indexes nothing through them) and checked as COO. ``entries``
    sees every stored value before duplicates are summed, so a negative entry cannot hide behind
    a duplicate at the same cell (-1 + 2). Explicit zeros stay stored. O(rows + cols + nnz)
    memory; raises ``ValueError`` naming ``name``.
    """
    rows, cols = _shape_of(name, matrix)
    fmt = getattr(matrix, "format", None)
    if fmt == "csr":
        data, indices, indptr, ascending = _compressed_parts(name, matrix, rows, cols, "column")
        like = matrix if isinstance(matrix, sp.csr_array) else None
        return _canonical(
            entries(name, data), indices, indptr, (rows, cols), like=like, ascending=ascending
        )
    if fmt == "csc":
        data, indices, indptr, _ = _compressed_parts(name, matrix, cols, rows, "row")
        values = entries(name, data)
        indices, indptr = _native_index((indices, indptr), max(rows, int(indptr[-1])))
        # Safe now that every index is in range: scipy transposes in O(rows + cols + nnz);
        # duplicates stay separate entries and are summed (in float64) by _canonical.
        out = sp.csc_array((values, indices, indptr), shape=(rows, cols)).tocsr()
        return _canonical(
            np.asarray(out.data, dtype=np.float64), out.indices, out.indptr, (rows, cols)
        )
    if fmt != "coo":
        try:
            matrix = matrix.tocoo()
        except (ValueError, TypeError, IndexError) as exc:
            raise ValueError(f"{name}: malformed sparse {fmt} matrix: {exc}") from None
        if _shape_of(name, matrix) != (rows, cols):
            raise ValueError(f"{name}: malformed sparse {fmt} matrix (shape changed)")
    coords = getattr(matrix, "coords", None)
    if coords is None:
        coords = (matrix.row, matrix.col)
    if len(coords) != 2:
        raise ValueError(f"{name} must be 2-D, got {len(coords)} coordinate arrays")
    coo_row = _index_array(name, "row index", coords[0])
    coo_col = _index_array(name, "column index", coords[1])
    coo_data = np.asarray(matrix.data)
    if coo_data.ndim != 1 or not coo_row.shape == coo_col.shape == coo_data.shape:
        raise ValueError(
            f"{name}: sparse COO row, col and data differ in length "
            f"({coo_row.shape}, {coo_col.shape}, {coo_data.shape})"
        )
    _check_range(name, "row index", coo_row, rows)
    _check_range(name, "column index", coo_col, cols)
    values = entries(name, coo_data)
    coo_row, coo_col = _native_index((coo_row, coo_col), max(rows, cols))
    return _coo_to_csr(values, coo_row, coo_col, (rows, cols))
