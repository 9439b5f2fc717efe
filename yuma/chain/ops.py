"""The chain's matrix and vector helpers (``epoch/math.rs``) on raw I32F32 integers, vectorised.

Each function carries the name of its ``math.rs`` counterpart and reproduces its semantics,
including the edge cases the epoch depends on (missing mask entries count as *masked*, zero
entries survive row normalisation, clipping to a zero consensus deletes an entry, …).

Matrices come in two layouts, as on the chain:

* dense — an ``(R, C)`` ``int64`` array of raw I32F32 values;
* sparse — :class:`SparseRows`, a row-major list of ``(column, raw value)`` entries that keeps the
  **stored order** inside each row (the chain's ``Vec<Vec<(u16, I32F32)>>``); explicit zeros,
  unsorted rows and repeated columns are all representable because the chain's results depend on
  them.

Sums of epoch quantities (proportions in [0, 1], at most 65 535 uids) cannot reach the I32F32
range, so column/row accumulations add exactly in ``int64``; every product and quotient goes
through the saturating / checked primitives of :mod:`yuma.chain.fixedpoint`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numba as nb
import numpy as np

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)
from yuma._threads import numba_parallel_guard
from yuma.chain import fixedpoint as fp
from yuma.chain.fixedpoint import ONE, ArrayLike, BoolArray, I64Array

__all__ = [
    "SparseRows",
    "check_vec_max_limited",
    "clip_ema_sparse",
    "clip_trust_incentive_dense",
    "clip_trust_incentive_sparse",
    "col_clip_sparse",
    "col_normalized_dot_sparse",
    "dense_bond_storage",
    "dividend_terms_dense_into",
    "dividend_terms_sparse",
    "epoch_weights_dense",
    "epoch_weights_sparse",
    "full_rows",
    "inplace_col_clip",
    "inplace_col_max_upscale",
    "inplace_col_max_upscale_sparse",
    "inplace_col_normalize",
    "inplace_col_normalize_sparse",
    "inplace_mask_cols",
    "inplace_mask_diag",
    "inplace_mask_diag_except_index",
    "inplace_mask_matrix",
    "inplace_mask_outdated",
    "inplace_mask_rows",
    "inplace_mask_vector",
    "inplace_normalize_64",
    "inplace_row_normalize",
    "inplace_row_normalize_sparse",
    "interpolate",
    "interpolate_sparse",
    "is_topk",
    "is_topk_nonzero",
    "liquid_alpha_sparse",
    "mask_diag_sparse",
    "mask_diag_sparse_except_index",
    "mask_rows_sparse",
    "mat_ema",
    "mat_ema_alpha",
    "mat_ema_alpha_sparse",
    "mat_ema_into",
    "mat_ema_sparse",
    "mat_vec_mul",
    "mat_vec_mul_sparse",
    "matmul",
    "matmul_sparse",
    "matmul_transpose",
    "matmul_transpose_sparse",
    "normalize",
    "normalize_using_sum",
    "row_hadamard",
    "row_hadamard_sparse",
    "row_major_columns",
    "row_sum",
    "row_sum_sparse",
    "scalar_vec_mask_sparse_matrix",
    "split_emissions",
    "u16_rows_sparse",
    "vec_mask_sparse_matrix",
    "vec_max_upscale_to_u16",
    "vec_mul",
    "vec_u16_max_upscale_to_u16",
    "vecdiv",
    "weighted_median",
    "weighted_median_col",
    "weighted_median_col_sparse",
    "yuma3_bonds_dense",
    "yuma3_bonds_sparse",
]


# ------------------------------------------------------------------------------------------------
# Sparse layout


@dataclass(frozen=True, eq=False)
class SparseRows:
    """A sparse matrix in the chain's row layout: ``rows × (column, raw I32F32)`` in stored order.

    Attributes
    ----------
    indptr : (R + 1,) int64
        Row ``i`` owns entries ``indptr[i]:indptr[i + 1]``.
    indices : (nnz,) int64
        Column of each entry (uids; may be ≥ the uid count for stored bonds).
    data : (nnz,) int64
        Raw I32F32 value of each entry.
    """

    indptr: I64Array
    indices: I64Array
    data: I64Array

    @property
    def n_rows(self) -> int:
        """Number of rows ``R``."""
        return int(self.indptr.size - 1)

    @property
    def nnz(self) -> int:
        """Number of stored entries (explicit zeros included)."""
        return int(self.data.size)

    def row_ids(self) -> I64Array:
        """(nnz,) row index of every entry (computed once, read-only)."""
        return self._row_ids

    def rows_ascending(self) -> bool:
        """Whether every row has strictly ascending columns (the chain's stored layout);
        computed once (or set by the kernel that built the rows), like :meth:`row_ids`."""
        return self._rows_ascending

    @cached_property
    def _rows_ascending(self) -> bool:
        return _all_ascending(self.indptr, self.indices)

    @cached_property
    def _row_ids(self) -> I64Array:
        r = np.repeat(np.arange(self.n_rows, dtype=np.int64), np.diff(self.indptr))
        r.flags.writeable = False
        return r

    @classmethod
    def empty(cls, n_rows: int) -> SparseRows:
        """``n_rows`` empty rows."""
        z = np.zeros(0, dtype=np.int64)
        return cls(np.zeros(n_rows + 1, dtype=np.int64), z, z.copy())

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Sequence[int]]]) -> SparseRows:
        """From ``[[[col, raw], ...], ...]`` (the vector files' ``sparse<…>`` layout)."""
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        flat = [e for r in rows for e in r]
        if flat:
            arr = np.array(flat, dtype=np.int64).reshape(-1, 2)
            return cls(indptr, arr[:, 0].copy(), arr[:, 1].copy())
        z = np.zeros(0, dtype=np.int64)
        return cls(indptr, z, z.copy())

    @classmethod
    def from_entries(
        cls, n_rows: int, rows: I64Array, cols: I64Array, data: I64Array
    ) -> SparseRows:
        """From entries already grouped by row (``rows`` non-decreasing), keeping their order."""
        counts = np.bincount(rows, minlength=n_rows) if rows.size else np.zeros(n_rows, np.int64)
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(indptr, cols.astype(np.int64, copy=False), data.astype(np.int64, copy=False))

    @classmethod
    def from_dense(cls, m: I64Array) -> SparseRows:
        """Every cell of a dense matrix as an entry (zeros included), columns ascending."""
        r, c = m.shape
        indptr = np.arange(r + 1, dtype=np.int64) * c
        return cls(indptr, np.tile(np.arange(c, dtype=np.int64), r), m.reshape(-1).copy())

    def to_rows(self) -> list[list[list[int]]]:
        """As ``[[[col, raw], ...], ...]`` of Python ints."""
        cols = self.indices.tolist()
        vals = self.data.tolist()
        ptr = self.indptr.tolist()
        return [[[cols[k], vals[k]] for k in range(ptr[i], ptr[i + 1])] for i in range(self.n_rows)]

    def to_dense(self, n_cols: int) -> I64Array:
        """Dense ``(R, n_cols)``; later entries of a repeated column win, columns ≥ n_cols drop."""
        out = np.zeros((self.n_rows, n_cols), dtype=np.int64)
        _to_dense_kernel(self.indptr, self.indices, self.data, out)
        return out

    def filter(self, keep: BoolArray) -> SparseRows:
        """Keep the entries where ``keep`` is true (order preserved)."""
        if bool(np.all(keep)):
            # nothing dropped: the arrays are never written, so they can be shared
            return self
        ptr, idx, val = _filter_kernel(self.indptr, self.indices, self.data, keep)
        return SparseRows(ptr, idx, val)

    def with_data(self, data: I64Array) -> SparseRows:
        """Same pattern, new values."""
        out = SparseRows(self.indptr, self.indices, np.asarray(data, dtype=np.int64))
        for known in ("_row_ids", "_rows_ascending"):
            if known in self.__dict__:
                # same pattern, so the same rows of the entries and the same order
                out.__dict__[known] = self.__dict__[known]
        return out


# ------------------------------------------------------------------------------------------------
# Entry-wise kernels (one pass, no temporaries)


@nb.njit(cache=True)
def _filter_kernel(indptr: Any, indices: Any, data: Any, keep: Any) -> tuple[Any, Any, Any]:
    n_rows = indptr.size - 1
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    count = 0
    for e in range(keep.size):
        if keep[e]:
            count += 1
    idx = np.empty(count, dtype=np.int64)
    val = np.empty(count, dtype=np.int64)
    k = 0
    for i in range(n_rows):
        for e in range(indptr[i], indptr[i + 1]):
            if keep[e]:
                idx[k] = indices[e]
                val[k] = data[e]
                k += 1
        ptr[i + 1] = k
    return ptr, idx, val


@nb.njit(cache=True)
def _scatter_sum(idx: Any, vals: Any, size: int) -> Any:
    """``out[j] = Σ vals[e]`` over entries with ``idx[e] = j < size`` (exact int64 adds)."""
    out = np.zeros(size, dtype=np.int64)
    for e in range(idx.size):
        j = idx[e]
        if 0 <= j < size:
            out[j] += vals[e]
    return out


@nb.njit(cache=True)
def _scatter_max(idx: Any, vals: Any, size: int) -> Any:
    """``out[j] = max(0, max vals[e])`` over entries with ``idx[e] = j < size``."""
    out = np.zeros(size, dtype=np.int64)
    for e in range(idx.size):
        j = idx[e]
        if 0 <= j < size and vals[e] > out[j]:
            out[j] = vals[e]
    return out


@nb.njit(cache=True)
def _divide_by_group(vals: Any, group: Any, divisor: Any, positive: bool) -> Any:
    """``vals[e] ⊘ divisor[group[e]]`` (safe_div) where that divisor is non-zero (``positive``:
    greater than zero), else ``vals[e]`` unchanged; a group outside ``divisor`` keeps it too."""
    out = np.empty(vals.size, dtype=np.int64)
    for e in range(vals.size):
        g = group[e]
        d = divisor[g] if 0 <= g < divisor.size else 0
        if (d > 0) if positive else (d != 0):
            q, ok = fp._div_raw(vals[e], d)
            out[e] = q if ok else 0
        else:
            out[e] = vals[e]
    return out


@nb.njit(cache=True)
def _to_dense_kernel(indptr: Any, indices: Any, data: Any, out: Any) -> None:
    n_cols = out.shape[1]
    for i in range(indptr.size - 1):
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if 0 <= j < n_cols:
                out[i, j] = data[e]


def row_major_columns(r: int, c: int) -> I64Array:
    """The (r·c,) column of every cell of an (r, c) matrix in row-major order, read-only (so
    several :func:`full_rows` results may share it)."""
    cols = np.empty((r, c), dtype=np.int64)
    # a broadcast assignment: several times faster than np.tile at n² cells
    cols[:] = np.arange(c, dtype=np.int64)
    flat = cols.reshape(-1)
    flat.flags.writeable = False
    return flat


def full_rows(m: I64Array, columns: I64Array | None = None) -> SparseRows:
    """Every cell of a dense (R, C) matrix as an entry, columns ascending, **sharing** ``m``'s
    memory (the caller must not write ``m`` afterwards); :meth:`SparseRows.from_dense` copies.
    ``columns``: a :func:`row_major_columns` of the same shape to share."""
    r, c = m.shape
    indptr = np.arange(r + 1, dtype=np.int64) * c
    cols = row_major_columns(r, c) if columns is None else columns
    if cols.shape != (r * c,):
        raise ValueError("columns must be row_major_columns of the matrix's shape")
    return SparseRows(indptr, cols, m.reshape(-1))


@nb.njit(cache=True)
def _dense_storage_kernel(
    full: Any, emptied: Any, new: Any, old_ptr: Any, old_idx: Any, old_val: Any
) -> tuple[Any, Any, Any]:
    n_rows, n_cols = new.shape
    cap = 0
    for i in range(n_rows):
        if full[i]:
            cap += n_cols
        elif not emptied[i]:
            cap += old_ptr[i + 1] - old_ptr[i]
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    idx = np.empty(cap, dtype=np.int64)
    val = np.empty(cap, dtype=np.int64)
    k = 0
    for i in range(n_rows):
        if full[i]:
            for j in range(n_cols):
                idx[k] = j
                val[k] = new[i, j]
                k += 1
        elif not emptied[i]:
            for e in range(old_ptr[i], old_ptr[i + 1]):
                idx[k] = old_idx[e]
                val[k] = old_val[e]
                k += 1
        ptr[i + 1] = k
    return ptr, idx, val


def dense_bond_storage(
    new: I64Array, full: BoolArray, emptied: BoolArray, old: SparseRows
) -> SparseRows:
    """The dense path's bond storage (spec §6.6): rows in ``full`` become the whole row of
    ``new`` (u16, columns ascending), rows in ``emptied`` become empty, every other row keeps
    its old entries."""
    ptr, idx, val = _dense_storage_kernel(
        np.asarray(full, dtype=np.bool_),
        np.asarray(emptied, dtype=np.bool_),
        np.ascontiguousarray(new, dtype=np.int64),
        old.indptr,
        old.indices,
        old.data,
    )
    return SparseRows(ptr, idx, val)


@nb.njit(cache=True)
def _mask_outdated_kernel(m: Any, last_update: Any, reg: Any, out: Any) -> None:
    r, c = m.shape
    for i in range(r):
        for j in range(c):
            out[i, j] = 0 if last_update[i] <= reg[j] else m[i, j]


def inplace_mask_outdated(m: I64Array, last_update: ArrayLike, registration: ArrayLike) -> I64Array:
    """``inplace_mask_matrix(outdated, m)`` with ``outdated_ij = LU_i ≤ reg_j`` (u64 blocks),
    without materialising the (R, C) boolean mask. ``last_update`` (R,), ``registration`` (C,)."""
    a = _mat(m)
    lu = np.asarray(last_update, dtype=np.uint64)
    reg = np.asarray(registration, dtype=np.uint64)
    if lu.size != a.shape[0] or reg.size != a.shape[1]:
        raise ValueError("last_update and registration must match the matrix shape")
    out = np.empty(a.shape, dtype=np.int64)
    _mask_outdated_kernel(a, lu, reg, out)
    return out


def _mask_get(mask: Sequence[bool] | BoolArray, size: int, default: bool = True) -> BoolArray:
    """``mask.get(k).unwrap_or(default)`` for ``k < size``."""
    m = np.asarray(mask, dtype=np.bool_)
    out = np.full(size, default, dtype=np.bool_)
    k = min(size, m.size)
    out[:k] = m[:k]
    return out


def _vec_get(v: ArrayLike, idx: I64Array) -> I64Array:
    """``v.get(idx).unwrap_or(0)`` element-wise."""
    arr = fp.i32(v)
    ok = idx < arr.size
    out = np.zeros(idx.shape, dtype=np.int64)
    out[ok] = arr[idx[ok]]
    return out


# ------------------------------------------------------------------------------------------------
# Vectors


def normalize(x: ArrayLike) -> I64Array:
    """``normalize`` / ``inplace_normalize``: ``x_k ⊘ Σx`` (safe_div), unchanged when Σx = 0."""
    arr = fp.i32(x)
    s = arr.sum()
    if s == 0:
        return arr.copy()
    return fp.safe_div(arr, s)


def normalize_using_sum(x: ArrayLike, total: int) -> I64Array:
    """``inplace_normalize_using_sum``: ``x_k ⊘ total`` unless ``total == 0``."""
    arr = fp.i32(x)
    if total == 0:
        return arr.copy()
    return fp.safe_div(arr, total)


def inplace_normalize_64(x: Sequence[int]) -> list[int]:
    """``inplace_normalize_64`` on raw I64F64 Python ints (truncating safe_div by the sum)."""
    vals = [int(v) for v in x]
    s = sum(vals)
    if s == 0:
        return vals
    return [fp.wide_safe_div(v, s, 64) for v in vals]


def vecdiv(x: ArrayLike, y: ArrayLike) -> I64Array:
    """``vecdiv``: ``x_i ⊘ y_i`` with safe_div (0 where y_i = 0 or missing)."""
    a = fp.i32(x)
    b = _vec_get(y, np.arange(a.size, dtype=np.int64))
    return fp.safe_div(a, b)


def vec_mul(a: ArrayLike, b: ArrayLike) -> I64Array:
    """``vec_mul``: element-wise ``checked_mul`` (overflow → 0), truncated to the shorter input."""
    x, y = fp.i32(a), fp.i32(b)
    k = min(x.size, y.size)
    out, _ = fp.checked_mul(x[:k], y[:k])
    return out


def is_topk(vector: ArrayLike, k: int) -> BoolArray:
    """``is_topk``: true for the ``k`` largest (ascending stable sort; lower uid loses ties)."""
    v = fp.i32(vector)
    res = np.ones(v.size, dtype=np.bool_)
    if v.size < k:
        return res
    order = np.argsort(v, kind="stable")
    res[order[: v.size - k]] = False
    return res


def is_topk_nonzero(vector: ArrayLike, k: int) -> BoolArray:
    """``is_topk_nonzero``: as :func:`is_topk` but zero entries are never selected."""
    v = fp.i32(vector)
    res: BoolArray = np.asarray(v != 0, dtype=np.bool_)
    if v.size < k:
        return res
    order = np.argsort(v, kind="stable")
    res[order[: v.size - k]] = False
    return res


def inplace_mask_vector(mask: Sequence[bool] | BoolArray, vector: ArrayLike) -> I64Array:
    """``inplace_mask_vector``: zero where masked; a missing mask entry masks, an empty mask
    masks nothing."""
    v = fp.i32(vector).copy()
    if len(mask) == 0:
        return v
    v[_mask_get(mask, v.size)] = 0
    return v


def vec_max_upscale_to_u16(vector: ArrayLike) -> I64Array:
    """``vec_max_upscale_to_u16``: scale so the maximum becomes 65535, rounding ties away from 0.

    ``m = max``; ``m == 0`` → ``to_u16(v ⊗ 65535)``; ``m > 32768`` → ``round(v ⊗ (65535 ⊘ m))``;
    else ``round((v ⊗ 65535) ⊘ m)``; saturated to u16.
    """
    v = fp.i32(vector)
    if v.size == 0:
        return np.zeros(0, dtype=np.int64)
    u16max = np.int64(fp.U16_MAX) << 32
    m = int(v.max())
    if m == 0:
        return fp.fixed_to_u16(fp.saturating_mul(v, u16max))
    if m > (32768 << 32):
        scaled = fp.saturating_mul(v, fp.safe_div(u16max, m))
    else:
        scaled = fp.safe_div(fp.saturating_mul(v, u16max), m)
    return np.clip(fp.round_to_int(scaled), 0, fp.U16_MAX)


def vec_u16_max_upscale_to_u16(vector: ArrayLike) -> I64Array:
    """``vec_u16_max_upscale_to_u16``: what ``set_weights`` stores for a row of u16 weights."""
    return vec_max_upscale_to_u16(fp.u16_to_fixed(vector))


def check_vec_max_limited(vector: ArrayLike, max_limit: int) -> bool:
    """``check_vec_max_limited``: ``max(normalize(v)) ≤ max_limit ⊘ 65535`` (true when empty)."""
    v = fp.u16_to_fixed(vector)
    if v.size == 0:
        return True
    limit = int(fp.safe_div(int(max_limit) << 32, fp.U16_MAX << 32))
    return int(normalize(v).max()) <= limit


def split_emissions(emission: int, mechanism_count: int, split: Sequence[int] | None) -> list[int]:
    """``split_emissions``: a mechanism's share ``floor(E·s_k/65535)`` (or ``floor(E/M)``); the
    rounding remainder goes to mechanism 0, missing shares are 0."""
    e = int(emission)
    m = int(mechanism_count)
    if split is not None:
        res = [(e * int(s)) // fp.U16_MAX for s in split]
    else:
        res = [e // m if m else 0] * m
    res = (res + [0] * m)[:m]
    rem = max(e - sum(res), 0)
    if res:
        res[0] = min(res[0] + rem, fp.U64_MAX)
    return res


# ------------------------------------------------------------------------------------------------
# Weighted median


def weighted_median(
    stake: ArrayLike,
    score: ArrayLike,
    partition_idx: Sequence[int],
    minority: int,
    partition_lo: int,
    partition_hi: int,
) -> int:
    """``weighted_median``: the chain's literal deterministic quick-select (one vector).

    Kept literal so the closed form used by the column-wise medians can be checked against it.
    """
    st = [int(s) for s in np.asarray(stake).ravel()]
    sc = [int(s) for s in np.asarray(score).ravel()]
    if len(st) != len(sc):
        return 0

    def sat(x: int) -> int:
        return min(max(x, fp.I32F32_MIN), fp.I32F32_MAX)

    def get(v: list[int], k: int) -> int:
        return v[k] if 0 <= k < len(v) else 0

    part = list(partition_idx)
    limit = len(part)
    lo, hi = int(partition_lo), int(partition_hi)
    it = 0
    while True:
        if not part:
            return 0
        if len(part) == 1:
            return get(sc, part[0])
        pivot = get(sc, part[len(part) // 2])
        lo_st = hi_st = 0
        lower: list[int] = []
        upper: list[int] = []
        for idx in part:
            s = get(sc, idx)
            if s == pivot:
                continue
            if s < pivot:
                lo_st = sat(lo_st + get(st, idx))
                lower.append(idx)
            else:
                hi_st = sat(hi_st + get(st, idx))
                upper.append(idx)
        if minority < sat(lo + lo_st) and lower:
            part = lower
            hi = sat(lo + lo_st)
        elif sat(hi - hi_st) <= minority and upper:
            part = upper
            lo = sat(hi - hi_st)
        else:
            return pivot
        it += 1
        if it > limit:
            return 0


def _median_columns(u: I64Array, scores: I64Array, minority: int) -> I64Array:
    """Closed-form stake-weighted median of every column of ``scores`` (k rows × C columns).

    ``c_j = v_t`` for the smallest distinct score ``v_t`` whose cumulative stake
    ``C_t = Σ{u_r : score_rj ≤ v_t}`` exceeds ``minority``, else the largest score (spec §4.7).
    Equivalent to the quick-select because every partial sum is an exact integer add.
    """
    k, c = scores.shape
    if k == 0:
        return np.zeros(c, dtype=np.int64)
    order = np.argsort(scores, axis=0, kind="stable")
    srt = np.take_along_axis(scores, order, axis=0)
    cum = np.cumsum(u[order], axis=0)
    last = np.ones((k, c), dtype=np.bool_)
    last[:-1] = srt[1:] != srt[:-1]
    cond = last & (cum > minority)
    first = cond.argmax(axis=0)
    cols = np.arange(c)
    return fp.i32(np.where(cond.any(axis=0), srt[first, cols], srt[-1]))


@nb.njit(cache=True)
def _select(v: Any, w: Any, m: int, minority: int) -> Any:
    """Weighted selection on ``v[:m]`` with weights ``w[:m]`` (both reordered in place).

    Returns the smallest value whose cumulative weight (of all values ≤ it) exceeds
    ``minority``, else the largest value: the closed form of :func:`_median_columns`, found by
    a three-way quickselect in expected O(m). Invariant: no value below the candidate range
    ``[lo, hi)`` qualifies, and ``below`` is the weight of those values.
    """
    lo = 0
    hi = m
    below = 0
    while True:
        a, b, c = v[lo], v[lo + (hi - lo) // 2], v[hi - 1]
        # median of three as pivot (any pivot gives the same answer)
        if a > b:
            a, b = b, a
        if b > c:
            b = c
        pivot = a if a > b else b
        # Dutch-flag partition: [lo, lt) < pivot, [lt, i) == pivot, [gt, hi) > pivot
        lt = lo
        i = lo
        gt = hi
        less = 0
        equal = 0
        while i < gt:
            x = v[i]
            if x < pivot:
                less += w[i]
                v[i], v[lt] = v[lt], v[i]
                w[i], w[lt] = w[lt], w[i]
                lt += 1
                i += 1
            elif x > pivot:
                gt -= 1
                v[i], v[gt] = v[gt], v[i]
                w[i], w[gt] = w[gt], w[i]
            else:
                equal += w[i]
                i += 1
        if below + less > minority and lt > lo:
            hi = lt
        elif below + less + equal > minority or gt == hi:
            return pivot
        else:
            below += less + equal
            lo = gt


@nb.njit(cache=True)
def _select_buckets(v: Any, w: Any, m: int, minority: int, scratch: Any) -> Any:
    """:func:`_select` on ``v[:m]`` / ``w[:m]`` (same answer) without reordering them.

    A histogram of ``w`` over equal-width value buckets finds the bucket where the cumulative
    weight first exceeds ``minority``; only that bucket's entries go to :func:`_select`. Two
    reads of the column and no swaps, where the quickselect moves both arrays several times.
    ``scratch`` is an int64 buffer of at least ``2 * m + 2 * 4096`` entries. Values must be
    non-negative for the histogram (the span must fit int64); otherwise, and for short
    columns, the quickselect runs on a copy.
    """
    if m == 0:
        return 0
    lo = v[0]
    hi = v[0]
    for r in range(1, m):
        x = v[r]
        if x < lo:
            lo = x
        elif x > hi:
            hi = x
    if lo == hi:
        return lo
    sv = scratch[:m]
    sw = scratch[m : 2 * m]
    if m <= 64 or lo < 0:
        for r in range(m):
            sv[r] = v[r]
            sw[r] = w[r]
        return _select(sv, sw, m, minority)
    # about four entries a bucket, at most 4096 buckets
    bits = 2
    while (1 << bits) < m and bits < 14:
        bits += 1
    bits -= 2
    span = hi - lo
    width = 0
    while (span >> width) >= (1 << bits):
        width += 1
    nbk = (span >> width) + 1
    hw = scratch[2 * m : 2 * m + nbk]
    hc = scratch[2 * m + 4096 : 2 * m + 4096 + nbk]
    hw[:] = 0
    hc[:] = 0
    for r in range(m):
        b = (v[r] - lo) >> width
        hw[b] += w[r]
        hc[b] += 1
    below = 0
    target = -1
    for b in range(nbk):
        if hc[b] > 0:
            if below + hw[b] > minority:
                target = b
                break
            below += hw[b]
    if target < 0:
        return hi
    k = 0
    for r in range(m):
        if (v[r] - lo) >> width == target:
            sv[k] = v[r]
            sw[k] = w[r]
            k += 1
    return _select(sv, sw, k, minority - below)


@nb.njit(cache=True)
def _median_dense_kernel(u: Any, scores: Any, rows: Any, minority: int, out: Any) -> None:
    """Median of every column of ``scores[rows]`` with weights ``u``. Columns are gathered a
    block at a time (row-contiguous reads) into a buffer that the selection reads contiguously."""
    k = rows.size
    c = scores.shape[1]
    blk = max(8, min(64, (1 << 19) // max(k, 1)))
    buf = np.empty((blk, k), dtype=np.int64)
    scratch = np.empty(2 * k + 2 * 4096, dtype=np.int64)
    for c0 in range(0, c, blk):
        c1 = min(c0 + blk, c)
        for s in range(k):
            r = rows[s]
            for j in range(c0, c1):
                buf[j - c0, s] = scores[r, j]
        for j in range(c0, c1):
            out[j] = _select_buckets(buf[j - c0], u, k, minority, scratch)


@nb.njit(cache=True)
def _ascending_rows(indptr: Any, cols: Any, slot: Any) -> bool:
    """Whether every row with ``slot ≥ 0`` has strictly ascending columns."""
    for i in range(indptr.size - 1):
        if slot[i] < 0:
            continue
        for e in range(indptr[i] + 1, indptr[i + 1]):
            if cols[e] <= cols[e - 1]:
                return False
    return True


@nb.njit(cache=True)
def _median_sorted_rows(u: Any, slot: Any, indptr: Any) -> tuple[Any, Any, Any, int, int]:
    """The used rows of :func:`_median_sparse_sorted_kernel`: their entry ranges
    (``cur``, ``end``), weights ``wt`` (the pseudo-row's last), how many are used, and how
    many rows a column's selection sees (``m``: the pseudo-row only where rows are missing)."""
    k = u.size
    n_rows = indptr.size - 1
    used = 0
    for i in range(n_rows):
        if slot[i] >= 0:
            used += 1
    cur = np.empty(used, dtype=np.int64)
    end = np.empty(used, dtype=np.int64)
    wt = np.zeros(used + 1, dtype=np.int64)
    q = 0
    for i in range(n_rows):
        if slot[i] >= 0:
            cur[q] = indptr[i]
            end[q] = indptr[i + 1]
            wt[q] = u[slot[i]]
            q += 1
    rest = 0
    for r in range(k):
        rest += u[r]
    for s in range(used):
        rest -= wt[s]
    wt[used] = rest
    # the pseudo-row only where rows are missing: a weightless 0 could still be the median
    m = used + 1 if k > used else used
    return cur, end, wt, used, m


@nb.njit(cache=True)
def _median_sorted_columns(
    c_lo: int,
    c_hi: int,
    cur: Any,
    end: Any,
    wt: Any,
    m: int,
    cols: Any,
    data: Any,
    minority: int,
    out: Any,
) -> None:
    """Columns ``[c_lo, c_hi)`` of :func:`_median_sparse_sorted_kernel`, a block at a time;
    ``cur`` (advanced here) points at each used row's first entry of column ≥ ``c_lo``."""
    used = cur.size
    blk = max(8, min(64, (1 << 19) // max(m, 1)))
    buf = np.zeros((blk, m), dtype=np.int64)
    scratch = np.empty(2 * m + 2 * 4096, dtype=np.int64)
    for c0 in range(c_lo, c_hi, blk):
        c1 = min(c0 + blk, c_hi)
        buf[:, :] = 0
        for s in range(used):
            p = cur[s]
            e = end[s]
            while p < e:
                j = cols[p]
                if j >= c1:
                    break
                if j >= c0:
                    buf[j - c0, s] = data[p]
                p += 1
            cur[s] = p
        for j in range(c0, c1):
            out[j] = _select_buckets(buf[j - c0], wt, m, minority, scratch)


@nb.njit(cache=True)
def _median_sparse_sorted_kernel(
    u: Any, slot: Any, indptr: Any, cols: Any, data: Any, columns: int, minority: int, out: Any
) -> None:
    """:func:`_median_sparse_kernel` for rows with strictly ascending columns (so no repeated
    cell) that fill a good part of the matrix: a block of columns at a time, the used rows are
    densified into a (block, rows) buffer, absent cells scoring 0 with their row's stake, plus
    one pseudo-row of score 0 carrying the stake of positive-stake rows past the matrix.
    O(rows × columns): the caller picks it only when nnz is of that order."""
    cur, end, wt, _, m = _median_sorted_rows(u, slot, indptr)
    _median_sorted_columns(0, columns, cur, end, wt, m, cols, data, minority, out)


@nb.njit(cache=True)
def _median_sparse_kernel(
    u: Any, slot: Any, rows: Any, cols: Any, data: Any, columns: int, minority: int, out: Any
) -> None:
    """Per column, the entries of rows with ``slot ≥ 0`` (the last entry of a repeated
    ``(row, column)`` wins) plus every other positive-stake row scoring 0. O(nnz + columns)."""
    k = u.size
    total = 0
    for r in range(k):
        total += u[r]
    # counting sort of the usable entries by column, stable
    start = np.zeros(columns + 1, dtype=np.int64)
    for e in range(cols.size):
        j = cols[e]
        if 0 <= j < columns and slot[rows[e]] >= 0:
            start[j + 1] += 1
    for j in range(columns):
        start[j + 1] += start[j]
    fill = start[:-1].copy()
    # the entries' slot and value in column order (sequential reads below)
    s_slot = np.empty(start[columns], dtype=np.int64)
    s_val = np.empty(start[columns], dtype=np.int64)
    for e in range(cols.size):
        j = cols[e]
        if 0 <= j < columns:
            r = slot[rows[e]]
            if r >= 0:
                q = fill[j]
                s_slot[q] = r
                s_val[q] = data[e]
                fill[j] = q + 1
    seen = np.full(k, -1, dtype=np.int64)
    v = np.empty(k + 1, dtype=np.int64)
    w = np.empty(k + 1, dtype=np.int64)
    for j in range(columns):
        m = 0
        present = 0
        # walk backwards so the first time a row is seen is its last entry
        for q in range(start[j + 1] - 1, start[j] - 1, -1):
            r = s_slot[q]
            if seen[r] != j:
                seen[r] = j
                v[m] = s_val[q]
                w[m] = u[r]
                present += u[r]
                m += 1
        if m < k:
            # the rows without an entry in this column score 0
            v[m] = 0
            w[m] = total - present
            m += 1
        out[j] = _select(v, w, m, minority) if m else 0


def _median_stake(stake: ArrayLike, majority: int) -> tuple[BoolArray, I64Array, int]:
    st = fp.i32(stake)
    pos = st > 0
    u = normalize(st[pos])
    minority = int(fp.saturating_sub(int(u.sum()), majority))
    return pos, u, minority


def weighted_median_col(stake: ArrayLike, score: I64Array, majority: int) -> I64Array:
    """``weighted_median_col`` (dense): per column, median over rows with positive stake.

    ``stake`` (R,) raw, ``score`` (R, C) raw, ``majority`` = κ raw. Returns (C,). Same answer
    as the sort-based closed form :func:`_median_columns`, by a quickselect per column.
    """
    sc = np.asarray(score, dtype=np.int64)
    if sc.ndim != 2:
        return np.zeros(0, dtype=np.int64)
    st = fp.i32(stake)
    r = min(st.size, sc.shape[0])
    pos, u, minority = _median_stake(st[:r], majority)
    out = np.zeros(sc.shape[1], dtype=np.int64)
    if u.size:
        # the positive-stake rows by index: no (k, C) copy of the matrix
        _median_dense_kernel(u, sc, np.flatnonzero(pos), minority, out)
    return out


def weighted_median_col_sparse(
    stake: ArrayLike, score: SparseRows, columns: int, majority: int
) -> I64Array:
    """``weighted_median_col_sparse``: absent entries score 0; returns (columns,).

    O(nnz + columns) memory: the chain densifies the positive-stake rows, here the absent
    cells of a column are one pseudo-entry of score 0 carrying their stake.
    """
    st = fp.i32(stake)
    r = min(st.size, score.n_rows)
    pos, u, minority = _median_stake(st, majority)
    pos_r = pos[:r]
    slot = np.full(score.n_rows, -1, dtype=np.int64)
    slot[:r][pos_r] = np.arange(int(pos_r.sum()))
    out = np.zeros(columns, dtype=np.int64)
    if u.size:
        used = int(np.count_nonzero(slot >= 0))
        if 4 * score.nnz >= used * int(columns) and (
            score.rows_ascending() or _ascending_rows(score.indptr, score.indices, slot)
        ):
            # a well-filled matrix in the chain's own layout (set_weights sorts by uid):
            # block densification beats the counting sort's scattered writes
            args = (u, slot, score.indptr, score.indices, score.data, int(columns), minority, out)
            chunks = _parallel_chunks(score.nnz)
            if chunks > 1:
                from yuma.chain import _parallel

                with numba_parallel_guard():
                    _parallel.median_sorted(*args, chunks)
            else:
                _median_sparse_sorted_kernel(*args)
        else:
            _median_sparse_kernel(
                u, slot, score.row_ids(), score.indices, score.data, int(columns), minority, out
            )
    return out


def _weighted_median_col_sparse_reference(
    stake: ArrayLike, score: SparseRows, columns: int, majority: int
) -> I64Array:
    """The chain's literal densification of the positive-stake rows, then the closed form
    (O(rows × columns) memory: small inputs and tests only)."""
    st = fp.i32(stake)
    r = min(st.size, score.n_rows)
    pos, u, minority = _median_stake(st, majority)
    pos_r = pos[:r]
    slot = np.full(score.n_rows, -1, dtype=np.int64)
    slot[:r][pos_r] = np.arange(int(pos_r.sum()))
    dense = np.zeros((u.size, columns), dtype=np.int64)
    rows = slot[score.row_ids()]
    keep = (rows >= 0) & (score.indices < columns)
    dense[rows[keep], score.indices[keep]] = score.data[keep]
    return _median_columns(u, dense, minority)


# ------------------------------------------------------------------------------------------------
# Dense matrices


def _mat(m: ArrayLike) -> I64Array:
    arr = np.asarray(m, dtype=np.int64)
    return arr.reshape(arr.shape[0], -1) if arr.ndim != 2 else arr


def row_sum(m: I64Array) -> I64Array:
    """``row_sum``: plain I32F32 sum of each row."""
    return fp.i32(_mat(m).sum(axis=1))


@nb.njit(cache=True)
def _dense_divide_kernel(a: Any, d: Any, by_row: bool, positive: bool, out: Any) -> None:
    """``out_ij = a_ij ⊘ d_k`` (safe_div; k = i by row, j by column) where ``d_k`` is non-zero
    (``positive``: greater than zero), else ``a_ij``."""
    r, c = a.shape
    for i in range(r):
        for j in range(c):
            dk = d[i] if by_row else d[j]
            if (dk > 0) if positive else (dk != 0):
                q, ok = fp._div_raw(a[i, j], dk)
                out[i, j] = q if ok else 0
            else:
                out[i, j] = a[i, j]


def _dense_divide(a: I64Array, d: I64Array, by_row: bool, positive: bool) -> I64Array:
    out = np.empty(a.shape, dtype=np.int64)
    _dense_divide_kernel(a, np.ascontiguousarray(d, dtype=np.int64), by_row, positive, out)
    return out


def inplace_row_normalize(m: I64Array) -> I64Array:
    """``inplace_row_normalize``: rows with a positive sum are divided by it."""
    a = _mat(m)
    return _dense_divide(a, a.sum(axis=1), True, True)


def inplace_col_normalize(m: I64Array) -> I64Array:
    """``inplace_col_normalize``: entries divided by their column sum where it is non-zero."""
    a = _mat(m)
    return _dense_divide(a, a.sum(axis=0), False, False)


def inplace_col_max_upscale(m: I64Array) -> I64Array:
    """``inplace_col_max_upscale``: entries divided by their column max (max starts at 0)."""
    a = _mat(m)
    if a.size == 0:
        return a.copy()
    return _dense_divide(a, np.maximum(a.max(axis=0), 0), False, False)


def inplace_col_clip(m: I64Array, threshold: ArrayLike) -> I64Array:
    """``inplace_col_clip``: ``min(threshold_j, M_ij)`` (nothing is dropped)."""
    a = _mat(m)
    t = fp.i32(threshold)
    k = min(a.shape[1], t.size)
    out = a.copy()
    out[:, :k] = np.minimum(a[:, :k], t[:k])
    return out


def inplace_mask_rows(mask: Sequence[bool] | BoolArray, m: I64Array) -> I64Array:
    """``inplace_mask_rows``: masked rows become zero (missing mask entry masks)."""
    a = _mat(m).copy()
    a[_mask_get(mask, a.shape[0])] = 0
    return a


def inplace_mask_cols(mask: Sequence[bool] | BoolArray, m: I64Array) -> I64Array:
    """``inplace_mask_cols``: masked columns become zero (missing mask entry masks)."""
    a = _mat(m).copy()
    a[:, _mask_get(mask, a.shape[1])] = 0
    return a


def inplace_mask_matrix(mask: Sequence[Sequence[bool]] | BoolArray, m: I64Array) -> I64Array:
    """``inplace_mask_matrix``: zero where ``mask_ij`` (missing mask entries mask; an empty mask
    masks nothing)."""
    a = _mat(m).copy()
    mk = np.asarray(mask, dtype=np.bool_)
    if mk.size == 0:
        return a
    full = np.ones(a.shape, dtype=np.bool_)
    r, c = min(a.shape[0], mk.shape[0]), min(a.shape[1], mk.shape[1])
    full[:r, :c] = mk[:r, :c]
    a[full] = 0
    return a


def inplace_mask_diag(m: I64Array) -> I64Array:
    """``inplace_mask_diag``: zero the diagonal of a square matrix."""
    a = _mat(m).copy()
    if a.shape[0] == a.shape[1]:
        np.fill_diagonal(a, 0)
    return a


def inplace_mask_diag_except_index(m: I64Array, except_index: int) -> I64Array:
    """``inplace_mask_diag_except_index``: zero the diagonal but keep ``(k, k)``."""
    a = _mat(m)
    if a.shape[0] != a.shape[1] or a.size == 0:
        return a.copy()
    out = inplace_mask_diag(a)
    k = int(except_index)
    if k < a.shape[0]:
        out[k, k] = a[k, k]
    return out


def row_hadamard(m: I64Array, v: ArrayLike) -> I64Array:
    """``row_hadamard``: ``M_ij ⊗ v_i`` (saturating)."""
    a = _mat(m)
    x = fp.i32(v)
    r = min(a.shape[0], x.size)
    return fp.saturating_mul(x[:r, None], a[:r])


def matmul(m: I64Array, v: ArrayLike) -> I64Array:
    """``matmul``: ``out_j = Σ_i v_i ⊗ M_ij`` (missing v_i = 0)."""
    a = _mat(m)
    x = _vec_get(v, np.arange(a.shape[0], dtype=np.int64))
    return fp.i32(fp.saturating_mul(x[:, None], a).sum(axis=0))


def matmul_transpose(m: I64Array, v: ArrayLike) -> I64Array:
    """``matmul_transpose``: ``out_i = Σ_j M_ij ⊗ v_j``."""
    a = _mat(m)
    x = fp.i32(v)
    c = min(a.shape[1], x.size)
    return fp.i32(fp.saturating_mul(a[:, :c], x[None, :c]).sum(axis=1))


def mat_vec_mul(m: I64Array, v: ArrayLike) -> I64Array:
    """``mat_vec_mul``: ``vec_mul`` of each row with ``v`` (rows truncated to ``len(v)``)."""
    a = _mat(m)
    x = fp.i32(v)
    c = min(a.shape[1], x.size)
    out, _ = fp.checked_mul(a[:, :c], x[None, :c])
    return out


def interpolate(m1: I64Array, m2: I64Array, ratio: int) -> I64Array:
    """``interpolate``: ``A + ratio ⊗ (B − A)`` per cell; ratio 0 → A and 1 → B exactly."""
    if ratio == 0:
        return _mat(m1).copy()
    if ratio == ONE:
        return _mat(m2).copy()
    a, b = _mat(m1), _mat(m2)
    return fp.saturating_add(a, fp.saturating_mul(ratio, fp.saturating_sub(b, a)))


def mat_ema(new: I64Array, old: I64Array, alpha: int) -> I64Array:
    """``mat_ema``: ``α ⊗ new + (1 − α) ⊗ old`` per cell."""
    a, b = _mat(new), _mat(old)
    oma = int(fp.saturating_sub(ONE, alpha))
    if a.shape != b.shape:
        return fp.saturating_add(fp.saturating_mul(alpha, a), fp.saturating_mul(oma, b))
    out = np.empty(a.shape, dtype=np.int64)
    _mat_ema_kernel(a, b, int(alpha), oma, out)
    return out


@nb.njit(cache=True)
def _mat_ema_kernel(a: Any, b: Any, alpha: int, oma: int, out: Any) -> None:
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = fp._sat_add(fp._sat_mul(alpha, a[i, j]), fp._sat_mul(oma, b[i, j]))


def mat_ema_alpha(new: I64Array, old: I64Array, alpha: I64Array) -> I64Array:
    """``mat_ema_alpha``: ``min(1, (1 − A) ⊗ old + max(0, A ⊗ new))`` per cell."""
    a, b, al = _mat(new), _mat(old), _mat(alpha)
    decayed = fp.saturating_mul(fp.saturating_sub(ONE, al), b)
    inc = np.maximum(fp.saturating_mul(al, a), 0)
    return np.minimum(fp.saturating_add(decayed, inc), ONE)


# ------------------------------------------------------------------------------------------------
# Sparse matrices


def row_sum_sparse(m: SparseRows) -> I64Array:
    """``row_sum_sparse``: plain sum of each row's entries."""
    cs = np.zeros(m.nnz + 1, dtype=np.int64)
    np.cumsum(m.data, out=cs[1:])
    return cs[m.indptr[1:]] - cs[m.indptr[:-1]]


def inplace_row_normalize_sparse(m: SparseRows) -> SparseRows:
    """``inplace_row_normalize_sparse``: rows with a positive sum divided by it (zeros kept)."""
    return m.with_data(_divide_by_group(m.data, m.row_ids(), row_sum_sparse(m), True))


def _col_sums(m: SparseRows, columns: int) -> I64Array:
    return _scatter_sum(m.indices, m.data, int(columns))  # type: ignore[no-any-return]


def inplace_col_normalize_sparse(m: SparseRows, columns: int) -> SparseRows:
    """``inplace_col_normalize_sparse``: divide by the column sum (columns < ``columns``) where
    that sum is non-zero."""
    return m.with_data(_divide_by_group(m.data, m.indices, _col_sums(m, columns), False))


def inplace_col_max_upscale_sparse(m: SparseRows, columns: int) -> SparseRows:
    """``inplace_col_max_upscale_sparse``: divide by the column max (starting at 0) where ≠ 0."""
    mx = _scatter_max(m.indices, m.data, int(columns))
    return m.with_data(_divide_by_group(m.data, m.indices, mx, False))


def col_clip_sparse(m: SparseRows, threshold: ArrayLike) -> SparseRows:
    """``col_clip_sparse``: entries above ``threshold_j`` become ``threshold_j``, or are removed
    when ``threshold_j ≤ 0``; other entries (zeros included) are kept."""
    th = _vec_get(threshold, m.indices)
    above = th < m.data
    keep = ~above | (th > 0)
    return m.with_data(np.where(above, th, m.data)).filter(keep)


def mask_rows_sparse(mask: Sequence[bool] | BoolArray, m: SparseRows) -> SparseRows:
    """``mask_rows_sparse``: masked rows become empty (missing mask entry masks)."""
    rowmask = _mask_get(mask, m.n_rows)
    return m.filter(~rowmask[m.row_ids()])


def mask_diag_sparse(m: SparseRows) -> SparseRows:
    """``mask_diag_sparse``: drop entries ``(i, i)``."""
    return m.filter(m.indices != m.row_ids())


def mask_diag_sparse_except_index(m: SparseRows, except_index: int) -> SparseRows:
    """``mask_diag_sparse_except_index``: drop ``(i, i)`` except ``(k, k)``."""
    r = m.row_ids()
    return m.filter((m.indices != r) | (r == int(except_index)))


def vec_mask_sparse_matrix(
    m: SparseRows, first: ArrayLike, second: ArrayLike, f: str
) -> SparseRows:
    """``vec_mask_sparse_matrix``: drop ``(i, j)`` where ``f(first[i], second[j])``; ``f`` is
    ``"eq"``, ``"lt"`` or ``"le"``; missing values read as 0. Values are u64 (Python ints ok)."""
    a = np.asarray(first, dtype=np.uint64)
    b = np.asarray(second, dtype=np.uint64)
    masked = _vec_mask_kernel(m.row_ids(), m.indices, a, b, _MODES[f] if f in _MODES else -1)
    if masked is None:
        raise ValueError(f"f: unknown comparison {f!r}")
    return m.filter(~masked)


_MODES = {"eq": 0, "lt": 1, "le": 2}


@nb.njit(cache=True)
def _vec_mask_kernel(rows: Any, cols: Any, first: Any, second: Any, mode: int) -> Any:
    """``f(first[rows[e]], second[cols[e]])`` per entry (missing values read as 0)."""
    if mode < 0:
        return None
    out = np.empty(cols.size, dtype=np.bool_)
    zero = np.uint64(0)
    for e in range(cols.size):
        r = rows[e]
        c = cols[e]
        x = first[r] if 0 <= r < first.size else zero
        y = second[c] if 0 <= c < second.size else zero
        out[e] = (x == y) if mode == 0 else (x < y) if mode == 1 else (x <= y)
    return out


def scalar_vec_mask_sparse_matrix(
    m: SparseRows, scalar: int, second: ArrayLike, f: str
) -> SparseRows:
    """``scalar_vec_mask_sparse_matrix``: drop ``(i, j)`` where ``f(scalar, second[j])``."""
    a = np.array([int(scalar)], dtype=np.uint64)
    b = np.asarray(second, dtype=np.uint64)
    masked = _vec_mask_kernel(
        np.zeros(m.nnz, dtype=np.int64), m.indices, a, b, _MODES[f] if f in _MODES else -1
    )
    if masked is None:
        raise ValueError(f"f: unknown comparison {f!r}")
    return m.filter(~masked)


def row_hadamard_sparse(m: SparseRows, v: ArrayLike) -> SparseRows:
    """``row_hadamard_sparse``: ``M_ij ⊗ v_i``; rows past ``len(v)`` are dropped."""
    x = fp.i32(v)
    if x.size < m.n_rows:
        end = int(m.indptr[x.size])
        m = SparseRows(m.indptr[: x.size + 1], m.indices[:end], m.data[:end])
    return m.with_data(fp.saturating_mul(m.data, x[m.row_ids()]))


def matmul_sparse(m: SparseRows, v: ArrayLike, columns: int) -> I64Array:
    """``matmul_sparse``: ``out_j = Σ_i v_i ⊗ M_ij`` over entries with ``j < columns``."""
    x = _vec_get(v, np.arange(m.n_rows, dtype=np.int64))
    prod = fp.saturating_mul(x[m.row_ids()], m.data)
    return _scatter_sum(m.indices, prod, int(columns))  # type: ignore[no-any-return]


def matmul_transpose_sparse(m: SparseRows, v: ArrayLike) -> I64Array:
    """``matmul_transpose_sparse``: ``out_i = Σ_(j, M_ij) v_j ⊗ M_ij`` (missing v_j = 0)."""
    prod = fp.saturating_mul(_vec_get(v, m.indices), m.data)
    return row_sum_sparse(m.with_data(prod))


def mat_vec_mul_sparse(m: SparseRows, v: ArrayLike) -> SparseRows:
    """``mat_vec_mul_sparse``: ``M_ij ⊗ v_j`` for ``j < len(v)``; zero products dropped."""
    prod, keep = _mat_vec_mul_kernel(m.indices, m.data, fp.i32(v))
    return m.with_data(prod).filter(keep)


@nb.njit(cache=True)
def _mat_vec_mul_kernel(idx: Any, data: Any, x: Any) -> tuple[Any, Any]:
    prod = np.zeros(data.size, dtype=np.int64)
    keep = np.zeros(data.size, dtype=np.bool_)
    for e in range(data.size):
        j = idx[e]
        if 0 <= j < x.size:
            prod[e] = fp._sat_mul(data[e], x[j])
            keep[e] = prod[e] != 0
    return prod, keep


def _last_by_key(keys: I64Array, vals: I64Array) -> tuple[I64Array, I64Array]:
    """Unique sorted keys and, per key, the value of its **last** occurrence."""
    if keys.size == 0:
        return keys, vals
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    last = np.ones(k.size, dtype=np.bool_)
    last[:-1] = k[1:] != k[:-1]
    return k[last], vals[order][last]


def _lookup(ukeys: I64Array, uvals: I64Array, keys: I64Array) -> I64Array:
    """Value for each key (0 when absent), given unique sorted ``ukeys``."""
    if ukeys.size == 0:
        return np.zeros(keys.shape, dtype=np.int64)
    pos = np.minimum(np.searchsorted(ukeys, keys), ukeys.size - 1)
    return np.where(ukeys[pos] == keys, uvals[pos], 0)


def _from_keys(n_rows: int, columns: int, keys: I64Array, vals: I64Array) -> SparseRows:
    """Entries from sorted row-major keys ``row * columns + col``."""
    return SparseRows.from_entries(n_rows, keys // columns, keys % columns, vals)


@nb.njit(cache=True)
def _row_union_kernel(
    n_rows: int,
    columns: int,
    p1: Any,
    c1: Any,
    v1: Any,
    p2: Any,
    c2: Any,
    v2: Any,
    last: bool,
) -> tuple[Any, Any, Any, Any]:
    """Row by row, the union of the columns ``< columns`` of two sparse matrices, ascending,
    with each side's value there: the last stored entry (``last``) or the sum of all of them
    (0 where a side has none). Rows of the second matrix past its own count are empty.
    O(nnz + rows · log(row length)) time, O(columns) scratch: the chain's densified row."""
    cap = v1.size + v2.size
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    oc = np.empty(cap, dtype=np.int64)
    oa = np.empty(cap, dtype=np.int64)
    ob = np.empty(cap, dtype=np.int64)
    acc1 = np.zeros(columns, dtype=np.int64)
    acc2 = np.zeros(columns, dtype=np.int64)
    seen = np.full(columns, -1, dtype=np.int64)
    touched = np.empty(columns, dtype=np.int64)
    rows2 = p2.size - 1
    k = 0
    for i in range(n_rows):
        t = 0
        for e in range(p1[i], p1[i + 1]):
            j = c1[e]
            if j < 0 or j >= columns:
                continue
            if seen[j] != i:
                seen[j] = i
                acc1[j] = 0
                acc2[j] = 0
                touched[t] = j
                t += 1
            acc1[j] = v1[e] if last else acc1[j] + v1[e]
        if i < rows2:
            for e in range(p2[i], p2[i + 1]):
                j = c2[e]
                if j < 0 or j >= columns:
                    continue
                if seen[j] != i:
                    seen[j] = i
                    acc1[j] = 0
                    acc2[j] = 0
                    touched[t] = j
                    t += 1
                acc2[j] = v2[e] if last else acc2[j] + v2[e]
        if t * 16 < columns:
            ts = np.sort(touched[:t])
            for q in range(t):
                j = ts[q]
                oc[k] = j
                oa[k] = acc1[j]
                ob[k] = acc2[j]
                k += 1
        else:
            # a dense row: one scan of the columns is cheaper than a sort
            for j in range(columns):
                if seen[j] == i:
                    oc[k] = j
                    oa[k] = acc1[j]
                    ob[k] = acc2[j]
                    k += 1
        ptr[i + 1] = k
    return ptr, oc[:k], oa[:k], ob[:k]


def _row_union(
    n_rows: int,
    columns: int,
    m1: SparseRows,
    v1: I64Array,
    m2: SparseRows,
    v2: I64Array,
    last: bool,
) -> tuple[I64Array, I64Array, I64Array, I64Array]:
    return _row_union_kernel(  # type: ignore[no-any-return]
        int(n_rows),
        int(columns),
        m1.indptr,
        m1.indices,
        fp.i32(v1),
        m2.indptr,
        m2.indices,
        fp.i32(v2),
        last,
    )


def _keep_positive(ptr: I64Array, cols: I64Array, v: I64Array) -> SparseRows:
    return SparseRows(ptr, cols, v).filter(v > 0)


def interpolate_sparse(m1: SparseRows, m2: SparseRows, columns: int, ratio: int) -> SparseRows:
    """``interpolate_sparse``: ratio 0 → ``m1``, 1 → ``m2`` (copies); else for every column
    ``j < columns`` (ascending) ``v = A + ratio ⊗ (B − A)`` (absent = 0, later duplicates win),
    kept only if ``v > 0``."""
    if ratio == 0:
        return m1
    if ratio == ONE:
        return m2
    if m1.n_rows != m2.n_rows:
        return m2
    if columns == 0:
        return SparseRows.empty(m1.n_rows)
    ptr, cols, a, b = _row_union(m1.n_rows, columns, m1, m1.data, m2, m2.data, True)
    v = fp.saturating_add(a, fp.saturating_mul(ratio, fp.saturating_sub(b, a)))
    return _keep_positive(ptr, cols, v)


def mat_ema_sparse(new: SparseRows, old: SparseRows, alpha: int) -> SparseRows:
    """``mat_ema_sparse``: rows densified to ``n = len(new)`` columns,
    ``α ⊗ new + (1 − α) ⊗ old`` (an old entry with no new entry decays), positive values kept,
    each row sorted by column."""
    n = new.n_rows
    if n == 0:
        return SparseRows.empty(0)
    oma = int(fp.saturating_sub(ONE, alpha))
    if _all_ascending(new.indptr, new.indices) and _all_ascending(old.indptr, old.indices):
        # the chain's sorted rows: a merge, no densified row nor product temporaries
        return SparseRows(
            *_mat_ema_merge_kernel(
                n,
                new.indptr,
                new.indices,
                new.data,
                old.indptr,
                old.indices,
                old.data,
                int(alpha),
                oma,
            )
        )
    ptr, cols, a, b = _row_union(
        n, n, new, fp.saturating_mul(alpha, new.data), old, fp.saturating_mul(oma, old.data), False
    )
    return _keep_positive(ptr, cols, a + b)


def _mat_ema_sparse_reference(new: SparseRows, old: SparseRows, alpha: int) -> SparseRows:
    """:func:`mat_ema_sparse` by sorting row-major keys (the readable reference)."""
    n = new.n_rows
    if n == 0:
        return SparseRows.empty(0)
    oma = int(fp.saturating_sub(ONE, alpha))
    old_rows = old.row_ids()
    in_new = new.indices < n
    in_old = (old.indices < n) & (old_rows < n)
    keys = np.concatenate(
        [
            new.row_ids()[in_new] * n + new.indices[in_new],
            old_rows[in_old] * n + old.indices[in_old],
        ]
    )
    vals = np.concatenate(
        [fp.saturating_mul(alpha, new.data[in_new]), fp.saturating_mul(oma, old.data[in_old])]
    )
    if keys.size == 0:
        return SparseRows.empty(n)
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    start = np.ones(k.size, dtype=np.bool_)
    start[1:] = k[1:] != k[:-1]
    sums = np.add.reduceat(vals[order], np.flatnonzero(start))
    uk = k[start]
    keep = sums > 0
    return _from_keys(n, n, uk[keep], sums[keep])


def _interpolate_sparse_reference(
    m1: SparseRows, m2: SparseRows, columns: int, ratio: int
) -> SparseRows:
    """:func:`interpolate_sparse` by sorting row-major keys (the readable reference)."""
    if ratio == 0:
        return m1
    if ratio == ONE:
        return m2
    if m1.n_rows != m2.n_rows:
        return m2
    if columns == 0:
        return SparseRows.empty(m1.n_rows)
    k1 = m1.row_ids() * columns + m1.indices
    k2 = m2.row_ids() * columns + m2.indices
    in1, in2 = m1.indices < columns, m2.indices < columns
    u1, v1 = _last_by_key(k1[in1], m1.data[in1])
    u2, v2 = _last_by_key(k2[in2], m2.data[in2])
    keys = np.union1d(u1, u2)
    a = _lookup(u1, v1, keys)
    b = _lookup(u2, v2, keys)
    v = fp.saturating_add(a, fp.saturating_mul(ratio, fp.saturating_sub(b, a)))
    keep = v > 0
    return _from_keys(m1.n_rows, columns, keys[keep], v[keep])


@nb.njit(cache=True)
def _merge_read_kernel(
    w_ptr: Any,
    w_idx: Any,
    w_val: Any,
    b_ptr: Any,
    b_idx: Any,
    b_val: Any,
    columns: int,
    w_out: Any,
    b_out: Any,
) -> None:
    """The chain's liquid-alpha merge: walking j = 0..columns, each row iterator skips entries
    with column < j and reads the value only if the next entry's column equals j. Rows that are
    not sorted by column therefore read some entries as 0. Writes, for every entry of ``W``, the
    (w, b) pair the chain reads at that entry's column.

    The walk is simulated by jumping: at the iterator's entry of column c ≥ j the columns
    j..c−1 read 0, column c reads that entry, and the walk resumes at c + 1, so a row costs
    O(its length) instead of O(columns)."""
    n_rows = w_ptr.size - 1
    b_rows = b_ptr.size - 1
    w_read = np.zeros(columns, dtype=np.int64)
    b_read = np.zeros(columns, dtype=np.int64)
    w_stamp = np.full(columns, -1, dtype=np.int64)
    b_stamp = np.full(columns, -1, dtype=np.int64)
    for i in range(n_rows):
        ws, we = w_ptr[i], w_ptr[i + 1]
        if ws == we:
            continue
        j = 0
        for p in range(ws, we):
            c = w_idx[p]
            if c < j or c >= columns:
                # skipped by the iterator (or past the walk's end)
                if c >= columns:
                    break
                continue
            w_read[c] = w_val[p]
            w_stamp[c] = i
            j = c + 1
        if i < b_rows:
            j = 0
            for p in range(b_ptr[i], b_ptr[i + 1]):
                c = b_idx[p]
                if c < j or c >= columns:
                    if c >= columns:
                        break
                    continue
                b_read[c] = b_val[p]
                b_stamp[c] = i
                j = c + 1
        for k in range(ws, we):
            c = w_idx[k]
            if 0 <= c < columns:
                w_out[k] = w_read[c] if w_stamp[c] == i else 0
                b_out[k] = b_read[c] if b_stamp[c] == i else 0


@nb.njit(cache=True)
def _merge_read_kernel_reference(
    w_ptr: Any,
    w_idx: Any,
    w_val: Any,
    b_ptr: Any,
    b_idx: Any,
    b_val: Any,
    columns: int,
    w_out: Any,
    b_out: Any,
) -> None:
    """The literal column walk of :func:`_merge_read_kernel` (O(rows × columns))."""
    n_rows = w_ptr.size - 1
    w_read = np.zeros(columns, dtype=np.int64)
    b_read = np.zeros(columns, dtype=np.int64)
    for i in range(n_rows):
        ws, we = w_ptr[i], w_ptr[i + 1]
        if ws == we:
            continue
        bs, be = b_ptr[i], b_ptr[i + 1]
        pw, pb = ws, bs
        for j in range(columns):
            w_read[j] = 0
            while pw < we and w_idx[pw] < j:
                pw += 1
            if pw < we and w_idx[pw] == j:
                w_read[j] = w_val[pw]
            b_read[j] = 0
            while pb < be and b_idx[pb] < j:
                pb += 1
            if pb < be and b_idx[pb] == j:
                b_read[j] = b_val[pb]
        for k in range(ws, we):
            j = w_idx[k]
            if j < columns:
                w_out[k] = w_read[j]
                b_out[k] = b_read[j]


def liquid_alpha_sparse(
    weights: SparseRows,
    bonds: SparseRows,
    consensus: ArrayLike,
    alpha_low: int,
    alpha_high: int,
    steepness: int,
) -> I64Array:
    """Liquid-alpha rates of ``compute_liquid_alpha_values_sparse``, for the entries of
    ``weights`` only (the EMA reads no other column). Returns (nnz(weights),) raw I32F32;
    entries with a column ≥ ``len(consensus)`` get 0 (the EMA drops them).

    The chain computes α for every column from a merge that assumes each row is sorted by
    column; that quirk is reproduced.
    """
    c = fp.i32(consensus)
    nnz = weights.nnz
    w_read = np.zeros(nnz, dtype=np.int64)
    b_read = np.zeros(nnz, dtype=np.int64)
    if weights.n_rows != bonds.n_rows:
        bonds = SparseRows.empty(weights.n_rows)
    _merge_read_kernel(
        weights.indptr,
        weights.indices,
        weights.data,
        bonds.indptr,
        bonds.indices,
        bonds.data,
        int(c.size),
        w_read,
        b_read,
    )
    inside = weights.indices < c.size
    out = np.zeros(nnz, dtype=np.int64)
    if inside.any():
        out[inside] = fp.alpha_sigmoid(
            c[weights.indices[inside]],
            w_read[inside],
            b_read[inside],
            alpha_low,
            alpha_high,
            steepness,
        )
    return out


def mat_ema_alpha_sparse(
    new: SparseRows, old: SparseRows, alpha: SparseRows | I64Array
) -> SparseRows:
    """``mat_ema_alpha_sparse``: only entries of ``new`` produce output,
    ``v = min(1, (1 − a) ⊗ old + max(0, a ⊗ new))`` kept if > 0, in ``new``'s order; an old entry
    without a new entry is dropped.

    ``alpha`` is either a dense (R, C) matrix (the chain's form) or, as the epoch passes it, a
    :class:`SparseRows` with the same pattern as ``new`` holding each entry's rate.
    """
    if isinstance(alpha, SparseRows):
        a = alpha.data
        width = int(new.indices.max()) + 1 if new.nnz else 0
        inside = np.ones(new.nnz, dtype=np.bool_)
    else:
        al = _mat(alpha) if np.asarray(alpha).size else np.zeros((len(alpha), 0), np.int64)
        if new.n_rows != old.n_rows or new.n_rows != al.shape[0]:
            return new
        width = al.shape[1]
        inside = new.indices < width
        a = np.zeros(new.nnz, dtype=np.int64)
        a[inside] = al[new.row_ids()[inside], new.indices[inside]]
    if width == 0:
        return SparseRows.empty(new.n_rows)
    o_in = old.indices < width
    ok, ov = _last_by_key((old.row_ids() * width + old.indices)[o_in], old.data[o_in])
    o = _lookup(ok, ov, new.row_ids() * width + np.minimum(new.indices, width - 1))
    decayed = fp.saturating_mul(fp.saturating_sub(ONE, a), o)
    inc = np.maximum(fp.saturating_mul(a, new.data), 0)
    v = np.minimum(fp.saturating_add(decayed, inc), ONE)
    return new.with_data(v).filter(inside & (v > 0))


# ------------------------------------------------------------------------------------------------
# Fused epoch steps: several of the helpers above in one pass over the entries (or cells), for
# the n² matrices of a large subnet. Each states the composition it equals; the tests compare
# them with it bit for bit.


def _parallel_chunks(entries: int) -> int:
    """Row (or column) chunks for a kernel over ``entries`` entries: 1 runs the serial kernel,
    more its multi-threaded twin in :mod:`yuma.chain._parallel` (same results, bit for bit)."""
    from yuma.chain import _parallel

    return _parallel.chunks_for(entries)


@nb.njit(cache=True, inline="always")
def _wadd(a: Any, b: Any) -> Any:
    """``a + b`` wrapping like numpy's int64 sums (numba's signed add may not wrap)."""
    return np.int64(np.uint64(a) + np.uint64(b))


def _entries(size: int) -> I64Array:
    """An uninitialised int64 buffer for a fused kernel's output entries, allocated by numpy
    and passed in rather than allocated inside the kernel: numpy advises transparent huge pages
    for large arrays, so the first touch of 16.7 M entries costs a few hundred page faults, where
    numba's allocator costs ~33 000 (about 0.1 s of the kernel per 128 MiB on the issue's
    machine, as much as the arithmetic)."""
    return np.empty(size, dtype=np.int64)


def _entry_pair(size: int) -> tuple[I64Array, I64Array]:
    """Two :func:`_entries` buffers (a kernel's output columns and values) as the halves of one
    allocation. Two separate allocations of this size land back to back, a page apart, and a
    kernel streaming through both and its two inputs ran about twice as slow on the issue's
    machine (AMD EPYC, measured on the weights kernel) as with the halves of one block."""
    block = _entries(2 * size)
    return block[:size], block[size:]


def _all_ascending(indptr: Any, cols: Any) -> bool:
    """Whether every row has strictly ascending columns (the chain's stored layout); the one
    compiled pass the float path's input check uses too."""
    from yuma._sparse_kernels import rows_ascending

    return bool(rows_ascending(cols, indptr))


@nb.njit(cache=True, inline="always")
def _weight_kept(i: Any, j: Any, owner: Any, x: Any, reg: Any) -> bool:
    """Whether weight ``(i, j)`` survives the masks: not a self-weight (the owner's excepted),
    and set after uid ``j`` registered (``x``: row ``i``'s last update; a uid past
    ``registration`` counts as registered at block 0)."""
    if j == i and i != owner:
        return False
    y = reg[j] if 0 <= j < reg.size else np.uint64(0)
    return bool(x > y)


@nb.njit(cache=True, inline="always")
def _weights_row_kept(
    i: Any, indptr: Any, indices: Any, row_masked: Any, owner: Any, lu: Any, reg: Any
) -> Any:
    """How many entries of row ``i`` :func:`_weights_row` keeps (the parallel count pass)."""
    zero = np.uint64(0)
    kept = 0
    if not row_masked[i]:
        x = lu[i] if i < lu.size else zero
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if not _weight_kept(i, j, owner, x, reg):
                continue
            kept += 1
    return kept


@nb.njit(cache=True, inline="always")
def _weights_row(
    i: Any,
    indptr: Any,
    indices: Any,
    data: Any,
    row_masked: Any,
    owner: Any,
    lu: Any,
    reg: Any,
    idx: Any,
    val: Any,
    k: Any,
) -> tuple[Any, bool]:
    """Row ``i`` of :func:`_epoch_weights_sparse_kernel` written from entry ``k`` of ``idx`` /
    ``val``; returns the next free entry and whether the kept entries are strictly ascending."""
    zero = np.uint64(0)
    start = k
    ascending = True
    if not row_masked[i]:
        x = lu[i] if i < lu.size else zero
        total = 0
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if not _weight_kept(i, j, owner, x, reg):
                continue
            v = data[e] << np.int64(32)
            if k > start and j <= idx[k - 1]:
                ascending = False
            idx[k] = j
            val[k] = v
            total = _wadd(total, v)
            k += 1
        if total > 0:
            # a sum of u16 << 32 has no fraction bits: for a ≥ 0, _div_raw(a, total) is
            # then a // (total >> 32), a division by the row's one integer divisor
            d = total >> np.int64(32)
            exact_int = (total & np.int64(0xFFFFFFFF)) == 0 and d < np.int64(1) << np.int64(62)
            inv = 1.0 / np.float64(d) if exact_int else 0.0
            for q in range(start, k):
                a = val[q]
                if exact_int and a >= 0:
                    r, ok = fp._udiv_recip(np.uint64(a), d, inv)
                    if ok:
                        val[q] = r
                        continue
                r, ok = fp._div_raw(a, total)
                val[q] = r if ok else 0
    return k, ascending


@nb.njit(cache=True)
def _epoch_weights_sparse_kernel(
    indptr: Any,
    indices: Any,
    data: Any,
    row_masked: Any,
    owner: int,
    lu: Any,
    reg: Any,
    ptr: Any,
    idx: Any,
    val: Any,
) -> tuple[int, bool]:
    """Fills ``ptr`` (zeroed, R + 1) and the first entries of ``idx`` / ``val`` (nnz); returns
    how many entries were kept and whether the kept rows are strictly ascending (read here
    for free, where the later steps would otherwise pass over the columns again)."""
    n_rows = indptr.size - 1
    k = 0
    ascending = True
    for i in range(n_rows):
        k, row_ascending = _weights_row(
            i, indptr, indices, data, row_masked, owner, lu, reg, idx, val, k
        )
        if not row_ascending:
            ascending = False
        ptr[i + 1] = k
    return k, ascending


def epoch_weights_sparse(
    weights: SparseRows,
    forbids: Sequence[bool] | BoolArray,
    owner: int | None,
    last_update: ArrayLike,
    registration: ArrayLike,
) -> SparseRows:
    """The sparse epoch's weight preparation (spec §4.6) in one pass: the stored u16 weights as
    I32F32, then ``mask_rows_sparse(forbids)``, ``mask_diag_sparse_except_index(owner)`` (or
    ``mask_diag_sparse`` without an owner), ``vec_mask_sparse_matrix(LU, reg, "le")`` and
    ``inplace_row_normalize_sparse``. ``last_update`` (R,), ``registration`` (C,) u64 blocks."""
    ptr = np.zeros(weights.n_rows + 1, dtype=np.int64)
    idx, val = _entry_pair(weights.nnz)
    args = (
        weights.indptr,
        weights.indices,
        weights.data,
        _mask_get(forbids, weights.n_rows),
        -1 if owner is None else int(owner),
        np.asarray(last_update, dtype=np.uint64),
        np.asarray(registration, dtype=np.uint64),
        ptr,
        idx,
        val,
    )
    chunks = _parallel_chunks(weights.nnz)
    if chunks > 1:
        from yuma.chain import _parallel

        with numba_parallel_guard():
            k, ascending = _parallel.epoch_weights(*args, chunks)
    else:
        k, ascending = _epoch_weights_sparse_kernel(*args)
    out = SparseRows(ptr, idx[:k], val[:k])
    out.__dict__["_rows_ascending"] = bool(ascending)
    return out


@nb.njit(cache=True)
def _clip_sparse_kernel(
    indptr: Any, indices: Any, data: Any, th: Any, x: Any, columns: int
) -> tuple[Any, Any, Any, Any, Any, bool]:
    """The clipped entries, row sums and stake-weighted column sums. The column array is only
    written once an entry is removed (``compact``); until then it equals ``indices``."""
    n_rows = indptr.size - 1
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    idx = np.empty(0, dtype=np.int64)
    val = np.empty(indices.size, dtype=np.int64)
    rows = np.zeros(n_rows, dtype=np.int64)
    cols = np.zeros(columns, dtype=np.int64)
    compact = False
    k = 0
    for i in range(n_rows):
        xi = x[i] if i < x.size else 0
        total = 0
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            t = th[j] if j < th.size else 0
            v = data[e]
            if t < v:
                if t <= 0:
                    if not compact:
                        idx = np.empty(indices.size, dtype=np.int64)
                        idx[:k] = indices[:k]
                        compact = True
                    continue
                v = t
            if compact:
                idx[k] = j
            val[k] = v
            total = _wadd(total, v)
            k += 1
            if 0 <= j < columns:
                cols[j] = _wadd(cols[j], fp._sat_mul(xi, v))
        rows[i] = total
        ptr[i + 1] = k
    return ptr, idx[:k], val[:k], rows, cols, compact


def clip_trust_incentive_sparse(
    m: SparseRows, threshold: ArrayLike, stake: ArrayLike, columns: int
) -> tuple[SparseRows, I64Array, I64Array]:
    """§4.8–4.9 in one pass: ``clipped = col_clip_sparse(m, threshold)``, then
    ``(clipped, row_sum_sparse(clipped), matmul_sparse(clipped, stake, columns))``."""
    ptr, idx, val, rows, cols, compact = _clip_sparse_kernel(
        m.indptr, m.indices, m.data, fp.i32(threshold), fp.i32(stake), int(columns)
    )
    if not compact:
        # nothing removed: the pattern is shared (never written), not copied
        return m.with_data(val), rows, cols
    return SparseRows(ptr, idx, val), rows, cols


@nb.njit(cache=True)
def _bonds_sparse_kernel(
    indptr: Any, indices: Any, data: Any, scalar: Any, reg: Any
) -> tuple[Any, Any, Any, bool]:
    """Masked u16 proportions; the column array is only written once an entry is dropped."""
    n_rows = indptr.size - 1
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    idx = np.empty(0, dtype=np.int64)
    val = np.empty(indices.size, dtype=np.int64)
    zero = np.uint64(0)
    compact = False
    k = 0
    for i in range(n_rows):
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            y = reg[j] if 0 <= j < reg.size else zero
            if scalar <= y:
                if not compact:
                    idx = np.empty(indices.size, dtype=np.int64)
                    idx[:k] = indices[:k]
                    compact = True
                continue
            if compact:
                idx[k] = j
            val[k] = (data[e] << np.int64(32)) // np.int64(65535)
            k += 1
        ptr[i + 1] = k
    return ptr, idx[:k], val[:k], compact


def yuma3_bonds_sparse(bonds: SparseRows, last_tempo: int, registration: ArrayLike) -> SparseRows:
    """§4.11 bond preparation in one pass: ``u16_proportion_to_fixed`` of the stored bonds, then
    ``scalar_vec_mask_sparse_matrix(bonds, last_tempo, registration, "le")``."""
    ptr, idx, val, compact = _bonds_sparse_kernel(
        bonds.indptr,
        bonds.indices,
        bonds.data,
        np.uint64(int(last_tempo)),
        np.asarray(registration, dtype=np.uint64),
    )
    if not compact:
        return bonds.with_data(val)
    return SparseRows(ptr, idx, val)


@nb.njit(cache=True)
def _mat_ema_merge_kernel(
    n: int, p1: Any, c1: Any, v1: Any, p2: Any, c2: Any, v2: Any, alpha: int, oma: int
) -> tuple[Any, Any, Any]:
    """:func:`mat_ema_sparse` for rows with strictly ascending columns: a two-pointer merge per
    row instead of the densified row (same union, same sums, same order)."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    oc = np.empty(v1.size + v2.size, dtype=np.int64)
    ov = np.empty(v1.size + v2.size, dtype=np.int64)
    rows2 = p2.size - 1
    k = 0
    for i in range(n):
        pa, ea = p1[i], p1[i + 1]
        pb, eb = (p2[i], p2[i + 1]) if i < rows2 else (0, 0)
        while True:
            while pa < ea and (c1[pa] < 0 or c1[pa] >= n):
                pa += 1
            while pb < eb and (c2[pb] < 0 or c2[pb] >= n):
                pb += 1
            if pa >= ea and pb >= eb:
                break
            ja = c1[pa] if pa < ea else n
            jb = c2[pb] if pb < eb else n
            a = 0
            b = 0
            if ja <= jb:
                a = fp._sat_mul(alpha, v1[pa])
                pa += 1
            if jb <= ja:
                b = fp._sat_mul(oma, v2[pb])
                pb += 1
            v = _wadd(a, b)
            if v > 0:
                oc[k] = ja if ja <= jb else jb
                ov[k] = v
                k += 1
        ptr[i + 1] = k
    return ptr, oc[:k], ov[:k]


@nb.njit(cache=True)
def _col_normalized_dot_kernel(indptr: Any, indices: Any, data: Any, columns: int, x: Any) -> Any:
    n_rows = indptr.size - 1
    sums = np.zeros(columns, dtype=np.int64)
    for e in range(indices.size):
        j = indices[e]
        if 0 <= j < columns:
            sums[j] = _wadd(sums[j], data[e])
    out = np.zeros(n_rows, dtype=np.int64)
    for i in range(n_rows):
        total = 0
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            v = data[e]
            d = sums[j] if 0 <= j < columns else 0
            if d != 0:
                q, ok = fp._div_raw(v, d)
                v = q if ok else 0
            if 0 <= j < x.size:
                total = _wadd(total, fp._sat_mul(v, x[j]))
        out[i] = total
    return out


def col_normalized_dot_sparse(m: SparseRows, columns: int, v: ArrayLike) -> I64Array:
    """§4.11 dividends' term in one pass:
    ``row_sum_sparse(mat_vec_mul_sparse(inplace_col_normalize_sparse(m, columns), v))``."""
    return _col_normalized_dot_kernel(  # type: ignore[no-any-return]
        m.indptr, m.indices, m.data, int(columns), fp.i32(v)
    )


@nb.njit(cache=True)
def _u16_rows_kernel(indptr: Any, indices: Any, data: Any, keep: Any) -> tuple[Any, Any, Any]:
    n_rows = indptr.size - 1
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    cap = 0
    for i in range(n_rows):
        if i < keep.size and keep[i]:
            cap += indptr[i + 1] - indptr[i]
    idx = np.empty(cap, dtype=np.int64)
    val = np.empty(cap, dtype=np.int64)
    k = 0
    for i in range(n_rows):
        if i < keep.size and keep[i]:
            for e in range(indptr[i], indptr[i + 1]):
                idx[k] = indices[e]
                val[k] = fp._prop_to_u16(data[e])
                k += 1
        ptr[i + 1] = k
    return ptr, idx, val


def u16_rows_sparse(m: SparseRows, keep_rows: BoolArray) -> SparseRows:
    """The sparse bond storage (§4.14) in one pass: ``fixed_proportion_to_u16`` of every entry
    of the rows in ``keep_rows`` (R,); the other rows become empty."""
    keep = np.asarray(keep_rows, dtype=np.bool_)
    if keep.size >= m.n_rows and bool(keep[: m.n_rows].all()):
        # every row kept: same pattern (never written), new values only
        return m.with_data(fp.fixed_proportion_to_u16(m.data))
    return SparseRows(*_u16_rows_kernel(m.indptr, m.indices, m.data, keep))


@nb.njit(cache=True, inline="always")
def _clip_ema_row(
    i: Any,
    k: Any,
    w_ptr: Any,
    w_idx: Any,
    w_val: Any,
    th: Any,
    x: Any,
    columns: Any,
    b_ptr: Any,
    b_idx: Any,
    b_val: Any,
    scalar: Any,
    reg: Any,
    alpha: Any,
    oma: Any,
    ranks: Any,
    oc: Any,
    ov: Any,
    sums: Any,
) -> tuple[Any, Any]:
    """Row ``i`` of :func:`_clip_ema_kernel`, its EMA entries written from entry ``k``; returns
    the next free entry and the row's clipped sum (its trust)."""
    n = w_ptr.size - 1
    b_rows = b_ptr.size - 1
    zero = np.uint64(0)
    last = np.int64((1 << 63) - 1)
    xi = x[i] if i < x.size else 0
    pa, ea = w_ptr[i], w_ptr[i + 1]
    pb, eb = (b_ptr[i], b_ptr[i + 1]) if i < b_rows else (0, 0)
    total = 0
    while pa < ea or pb < eb:
        ja = w_idx[pa] if pa < ea else last
        jb = b_idx[pb] if pb < eb else last
        j = min(ja, jb)
        v = 0
        if pa < ea and ja == j:
            wv = w_val[pa]
            pa += 1
            t = th[j] if j < th.size else 0
            # rare first: a clip to a non-positive consensus removes the entry
            # (col_clip_sparse); otherwise min() rather than a branch, which the predictor
            # misses about half the time on real weights
            if not (t <= 0 and t < wv):
                wv = min(wv, t)
                total = _wadd(total, wv)
                if 0 <= j < columns:
                    ranks[j] = _wadd(ranks[j], fp._sat_mul(xi, wv))
                v = fp._sat_mul(alpha, wv)
        if pb < eb and jb == j:
            raw = b_val[pb]
            pb += 1
            y = reg[j] if 0 <= j < reg.size else zero
            b = fp._sat_mul(oma, (raw << np.int64(32)) // np.int64(65535))
            # a bond to a recently registered uid is dropped: selected, not branched on
            v = _wadd(v, b if scalar > y else 0)
        if v > 0 and 0 <= j < n:
            oc[k] = j
            ov[k] = v
            sums[j] = _wadd(sums[j], v)
            k += 1
    return k, total


@nb.njit(cache=True)
def _clip_ema_kernel(
    w_ptr: Any,
    w_idx: Any,
    w_val: Any,
    th: Any,
    x: Any,
    columns: int,
    b_ptr: Any,
    b_idx: Any,
    b_val: Any,
    scalar: Any,
    reg: Any,
    alpha: int,
    oma: int,
    trust: Any,
    ranks: Any,
    ptr: Any,
    oc: Any,
    ov: Any,
    sums: Any,
) -> int:
    """Per row: the clipped weights (row sums into ``trust``, stake-weighted column sums into
    ``ranks``) merged on the fly with the masked bond proportions into the EMA (``ptr``, the
    first entries of ``oc`` / ``ov``, column sums into ``sums``; all zeroed by the caller but
    ``oc`` / ``ov``); rows of both sides strictly ascending. Returns the EMA's entry count.

    One step per column of the union of the two rows: an entry that is absent, clipped away or
    dropped adds 0 to the cell's ``α·w + (1 − α)·b``, and a cell is stored when that sum is
    positive, so dropped entries need no separate skip loops (the reference's). When the rows
    share their columns (a validator weighting and bonding the same uids: the n² worst case) the
    column comparisons are always equal and predicted; the clip and the registration drop are
    selections, not branches."""
    n = w_ptr.size - 1
    k = 0
    for i in range(n):
        k, total = _clip_ema_row(
            i, k, w_ptr, w_idx, w_val, th, x, columns, b_ptr, b_idx, b_val, scalar, reg,
            alpha, oma, ranks, oc, ov, sums,
        )  # fmt: skip
        trust[i] = total
        ptr[i + 1] = k
    return k


def clip_ema_sparse(
    w: SparseRows,
    consensus: ArrayLike,
    stake: ArrayLike,
    bonds: SparseRows,
    last_tempo: int,
    registration: ArrayLike,
    alpha: int,
) -> tuple[I64Array, I64Array, SparseRows, I64Array] | None:
    """The Yuma3 epoch from clipping to the EMA with a full bonds penalty (``W_b`` = clipped
    weights) and a fixed rate, without materialising the clipped weights or the bonds:

    ``clipped = col_clip_sparse(w, consensus)``,
    ``b = yuma3_bonds_sparse(bonds, last_tempo, registration)``,
    ``ema = mat_ema_sparse(clipped, b, alpha)``; returns ``(row_sum_sparse(clipped),
    matmul_sparse(clipped, stake, n), ema, column sums of ema)`` with ``n = w.n_rows``, or
    ``None`` when a row of ``w`` or ``bonds`` is not strictly ascending (use the steps)."""
    if not (w.rows_ascending() and bonds.rows_ascending()):
        return None
    oma = int(fp.saturating_sub(ONE, alpha))
    n = w.n_rows
    # a row's EMA is the union of its two rows' columns below n: at most n entries
    b_nnz = int(bonds.indptr[min(n, bonds.n_rows)])
    cap = min(w.nnz + b_nnz, n * n)
    chunks = _parallel_chunks(w.nnz + b_nnz)
    if chunks > 1:
        from yuma.chain import _parallel

        bounds, starts, cap = _parallel.clip_ema_bounds(w.indptr, bonds.indptr, n, chunks)
    trust = np.zeros(n, dtype=np.int64)
    ranks = np.zeros(n, dtype=np.int64)
    ptr = np.zeros(n + 1, dtype=np.int64)
    idx, val = _entry_pair(cap)
    sums = np.zeros(n, dtype=np.int64)
    args = (
        w.indptr,
        w.indices,
        w.data,
        fp.i32(consensus),
        fp.i32(stake),
        w.n_rows,
        bonds.indptr,
        bonds.indices,
        bonds.data,
        np.uint64(int(last_tempo)),
        np.asarray(registration, dtype=np.uint64),
        int(alpha),
        oma,
        trust,
        ranks,
        ptr,
        idx,
        val,
        sums,
    )
    if chunks > 1:
        with numba_parallel_guard():
            k = _parallel.clip_ema(*args, bounds=bounds, starts=starts)
    else:
        k = _clip_ema_kernel(*args)
    return trust, ranks, SparseRows(ptr, idx[:k], val[:k]), sums


@nb.njit(cache=True)
def _column_recips(sums: Any) -> Any:
    """``1.0 / sums[j]`` where :func:`fp._udiv_recip` may divide by ``sums[j]``, else 0."""
    inv = np.zeros(sums.size, dtype=np.float64)
    for j in range(sums.size):
        if 0 < sums[j] < np.int64(1) << np.int64(62):
            inv[j] = 1.0 / np.float64(sums[j])
    return inv


@nb.njit(cache=True, inline="always")
def _dot_u16_row(
    i: Any, indptr: Any, indices: Any, data: Any, sums: Any, inv: Any, x: Any, u16: Any
) -> Any:
    """Row ``i`` of :func:`_dot_u16_kernel`: writes its u16 values, returns its dot product."""
    total = 0
    for e in range(indptr[i], indptr[i + 1]):
        j = indices[e]
        v = data[e]
        u16[e] = fp._prop_to_u16(v)
        d = sums[j] if 0 <= j < sums.size else 0
        if d != 0:
            ok = False
            if 0 <= v < np.int64(1) << np.int64(32) and inv[j] != 0.0:
                q, ok = fp._udiv_recip(np.uint64(v) << np.uint64(32), d, inv[j])
            if not ok:
                q, ok = fp._div_raw(v, d)
            v = q if ok else 0
        if 0 <= j < x.size:
            total = _wadd(total, fp._sat_mul(v, x[j]))
    return total


@nb.njit(cache=True)
def _dot_u16_kernel(
    indptr: Any, indices: Any, data: Any, sums: Any, x: Any, tb: Any, u16: Any
) -> None:
    """Row dot products into ``tb`` (zeroed), stored u16 values into ``u16`` (may be ``data``
    itself: each entry is read before it is written)."""
    n_rows = indptr.size - 1
    # one reciprocal a column: for 0 ≤ v < 2**32 and a divisor below 2**62, _div_raw(v, d) is
    # floor((v << 32) / d), which fp._udiv_recip computes without a 64-bit division
    inv = _column_recips(sums)
    for i in range(n_rows):
        tb[i] = _dot_u16_row(i, indptr, indices, data, sums, inv, x, u16)


def dividend_terms_sparse(
    ema: SparseRows,
    col_sums: I64Array,
    v: ArrayLike,
    keep_rows: BoolArray,
    overwrite: bool = False,
) -> tuple[I64Array, SparseRows]:
    """One pass over the EMA bonds: ``row_sum_sparse(mat_vec_mul_sparse(
    inplace_col_normalize_sparse(ema), v))`` given the column sums, and the stored bonds
    ``u16_rows_sparse(ema, keep_rows)``.

    With ``overwrite`` the caller gives up ``ema`` (it reads it no more): when every row is
    kept, the u16 values are written over ``ema.data``, saving an nnz-sized array."""
    keep = np.asarray(keep_rows, dtype=np.bool_)
    all_kept = keep.size >= ema.n_rows and bool(keep[: ema.n_rows].all())
    tb = np.zeros(ema.n_rows, dtype=np.int64)
    if not all_kept:
        # u16_rows_sparse reads the EMA values again, so they must survive the pass
        u16 = _entries(ema.nnz)
        _dot_u16(ema, fp.i32(col_sums), fp.i32(v), tb, u16)
        return tb, u16_rows_sparse(ema, keep)
    u16 = ema.data if overwrite and ema.data.flags.writeable else _entries(ema.nnz)
    _dot_u16(ema, fp.i32(col_sums), fp.i32(v), tb, u16)
    return tb, ema.with_data(u16)


def _dot_u16(ema: SparseRows, sums: I64Array, x: I64Array, tb: I64Array, u16: I64Array) -> None:
    """:func:`_dot_u16_kernel`, on several threads for a large EMA."""
    chunks = _parallel_chunks(ema.nnz)
    if chunks > 1:
        from yuma.chain import _parallel

        with numba_parallel_guard():
            _parallel.dot_u16(ema.indptr, ema.indices, ema.data, sums, x, tb, u16, chunks)
    else:
        _dot_u16_kernel(ema.indptr, ema.indices, ema.data, sums, x, tb, u16)


# Dense path (spec §6): the same steps on (n, n) cells, written into as few matrices as possible.


@nb.njit(cache=True)
def _epoch_weights_dense_kernel(
    indptr: Any, indices: Any, data: Any, row_masked: Any, lu: Any, reg: Any, out: Any
) -> None:
    r, c = out.shape
    for i in range(r):
        if row_masked[i]:
            continue
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if 0 <= j < c:
                out[i, j] = data[e] << np.int64(32)
        out[i, i] = 0
        x = lu[i]
        total = 0
        for j in range(c):
            if x <= reg[j]:
                out[i, j] = 0
            total = _wadd(total, out[i, j])
        if total > 0:
            for j in range(c):
                q, ok = fp._div_raw(out[i, j], total)
                out[i, j] = q if ok else 0


def epoch_weights_dense(
    weights: SparseRows,
    n: int,
    forbids: Sequence[bool] | BoolArray,
    last_update: ArrayLike,
    registration: ArrayLike,
) -> I64Array:
    """The dense epoch's weight preparation (spec §6.2) straight from the stored rows:
    ``to_dense(n)`` of the u16 weights as I32F32, ``inplace_mask_rows(forbids)``,
    ``inplace_mask_diag`` (the whole diagonal, the owner's cell included: the owner exemption
    is masked again), ``inplace_mask_outdated`` and ``inplace_row_normalize``, on one (n, n)
    matrix. Needs ``n`` rows, ``last_update`` (n,) and ``registration`` (n,)."""
    lu = np.asarray(last_update, dtype=np.uint64)
    reg = np.asarray(registration, dtype=np.uint64)
    if weights.n_rows != n or lu.size != n or reg.size != n:
        raise ValueError("epoch_weights_dense needs n rows and (n,) blocks")
    out = np.zeros((n, n), dtype=np.int64)
    _epoch_weights_dense_kernel(
        weights.indptr, weights.indices, weights.data, _mask_get(forbids, n), lu, reg, out
    )
    return out


@nb.njit(cache=True)
def _clip_dense_kernel(w: Any, th: Any, x: Any, ratio: int, wb: Any) -> tuple[Any, Any]:
    r, c = w.shape
    k = min(c, th.size)
    one = np.int64(1) << np.int64(32)
    trust = np.zeros(r, dtype=np.int64)
    ranks = np.zeros(c, dtype=np.int64)
    for i in range(r):
        xi = x[i] if i < x.size else 0
        total = 0
        for j in range(c):
            v = w[i, j]
            cl = min(v, th[j]) if j < k else v
            total = _wadd(total, cl)
            ranks[j] = _wadd(ranks[j], fp._sat_mul(xi, cl))
            if ratio == one:
                wb[i, j] = cl
            elif ratio == 0:
                wb[i, j] = v
            else:
                wb[i, j] = fp._sat_add(v, fp._sat_mul(ratio, fp._sat_sub(cl, v)))
        trust[i] = total
    return trust, ranks


def clip_trust_incentive_dense(
    w: I64Array, threshold: ArrayLike, stake: ArrayLike, ratio: int
) -> tuple[I64Array, I64Array, I64Array]:
    """§6.3 in one pass over ``w`` (R, C): ``clipped = inplace_col_clip(w, threshold)``, then
    ``(row_sum(clipped), matmul(clipped, stake), interpolate(w, clipped, ratio))``."""
    a = np.ascontiguousarray(_mat(w))
    wb = np.empty(a.shape, dtype=np.int64)
    trust, ranks = _clip_dense_kernel(a, fp.i32(threshold), fp.i32(stake), int(ratio), wb)
    return trust, ranks, wb


@nb.njit(cache=True)
def _bonds_dense_kernel(indptr: Any, indices: Any, data: Any, colmask: Any, out: Any) -> None:
    c = out.shape[1]
    for i in range(out.shape[0]):
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            if 0 <= j < c and not colmask[j]:
                out[i, j] = (data[e] << np.int64(32)) // np.int64(65535)


def yuma3_bonds_dense(bonds: SparseRows, n: int, recently_registered: BoolArray) -> I64Array:
    """§6.4 bond preparation straight from the stored rows:
    ``inplace_mask_cols(recently_registered, u16_proportion_to_fixed(bonds.to_dense(n)))``."""
    out = np.zeros((bonds.n_rows, n), dtype=np.int64)
    _bonds_dense_kernel(
        bonds.indptr, bonds.indices, bonds.data, _mask_get(recently_registered, n), out
    )
    return out


@nb.njit(cache=True)
def _ema_dense_kernel(new: Any, old: Any, alpha: int, oma: int) -> Any:
    sums = np.zeros(new.shape[1], dtype=np.int64)
    for i in range(new.shape[0]):
        for j in range(new.shape[1]):
            v = fp._sat_add(fp._sat_mul(alpha, new[i, j]), fp._sat_mul(oma, old[i, j]))
            old[i, j] = v
            sums[j] = _wadd(sums[j], v)
    return sums


def mat_ema_into(new: I64Array, old: I64Array, alpha: int) -> I64Array:
    """``mat_ema(new, old, alpha)`` written over ``old`` (same shape, C-contiguous, owned by the
    caller); returns the EMA's column sums."""
    if new.shape != old.shape or not old.flags.c_contiguous or not old.flags.writeable:
        raise ValueError("mat_ema_into needs two matrices of one shape, the second writable")
    oma = int(fp.saturating_sub(ONE, alpha))
    return _ema_dense_kernel(new, old, int(alpha), oma)  # type: ignore[no-any-return]


@nb.njit(cache=True)
def _dot_u16_dense_kernel(m: Any, sums: Any, x: Any) -> Any:
    r, c = m.shape
    k = min(c, x.size)
    out = np.zeros(r, dtype=np.int64)
    for i in range(r):
        total = 0
        for j in range(c):
            v = m[i, j]
            m[i, j] = fp._prop_to_u16(v)
            if j < k:
                d = sums[j]
                if d != 0:
                    q, ok = fp._div_raw(v, d)
                    v = q if ok else 0
                p, ok = fp._mul_raw(v, x[j])
                total = _wadd(total, p if ok else 0)
        out[i] = total
    return out


def dividend_terms_dense_into(ema: I64Array, col_sums: I64Array, v: ArrayLike) -> I64Array:
    """``row_sum(mat_vec_mul(inplace_col_normalize(ema), v))`` given the column sums, and
    ``fixed_proportion_to_u16(ema)`` written over ``ema`` (owned by the caller)."""
    if not ema.flags.c_contiguous or not ema.flags.writeable:
        raise ValueError("dividend_terms_dense_into needs a writable C-contiguous matrix")
    return _dot_u16_dense_kernel(ema, fp.i32(col_sums), fp.i32(v))  # type: ignore[no-any-return]
