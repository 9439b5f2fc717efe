"""The vectorised fixed-point kernels against their readable references, exactly (issue 12).

Each fast path of :mod:`yuma.chain.fixedpoint` / :mod:`yuma.chain.ops` (2-D element-wise
kernels, quickselect medians, row-union merges, the O(row) liquid-alpha walk, one-pass filters
and divisions, the dense storage rule) is compared bit for bit with the scalar-faithful or
sort-based reference it replaced, on hypothesis inputs that include the I32F32 extremes,
repeated columns, unsorted rows and columns past the matrix width.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from yuma.chain import fixedpoint as fp
from yuma.chain import ops
from yuma.chain.ops import SparseRows

SETTINGS = settings(
    max_examples=int(os.environ.get("YUMA_KERNEL_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
RAW = st.one_of(
    st.integers(I64_MIN, I64_MAX),
    st.integers(-(1 << 33), 1 << 33),
    st.sampled_from([0, 1, -1, fp.ONE, -fp.ONE, I64_MIN, I64_MAX, fp.ONE - 1, 1 << 32 | 1]),
)


def raw_arrays(shape: Any) -> Any:
    return hnp.arrays(np.int64, shape, elements=RAW)


def _flat(kernel: Any, a: Any, b: Any) -> tuple[Any, Any]:
    x, y = np.broadcast_arrays(a, b)
    x, y = np.ascontiguousarray(x).ravel(), np.ascontiguousarray(y).ravel()
    out = np.empty(x.size, dtype=np.int64)
    ok = np.empty(x.size, dtype=np.bool_)
    kernel(x, y, out, ok)
    return out.reshape(np.broadcast_shapes(a.shape, b.shape)), ok


@SETTINGS
@given(
    a=raw_arrays(hnp.array_shapes(min_dims=0, max_dims=2, max_side=6)),
    data=st.data(),
)
def test_elementwise_kernels_match_the_scalar_reference(a: Any, data: Any) -> None:
    # b broadcasts against a: same shape, a row, a column or a scalar
    shape = data.draw(
        st.sampled_from([a.shape, a.shape[-1:], (), *([(a.shape[0], 1)] if a.ndim == 2 else [])])
    )
    b = data.draw(raw_arrays(shape))
    mul, mul_ok = _flat(fp._mul_kernel, a, b)
    div, div_ok = _flat(fp._div_kernel, a, b)
    got, ok = fp.checked_mul(a, b)
    assert (got == mul).all() and (ok.ravel() == mul_ok).all()
    got, ok = fp.checked_div(a, b)
    assert (got == div).all() and (ok.ravel() == div_ok).all()
    assert (fp.safe_div(a, b) == div).all()
    x, y = np.broadcast_arrays(a, b)
    pairs = list(zip(x.ravel().tolist(), y.ravel().tolist(), strict=True))
    shape_out = x.shape
    for name, scalar in (
        ("saturating_mul", fp._sat_mul),
        ("saturating_div", fp._sat_div),
        ("saturating_add", fp._sat_add),
        ("saturating_sub", fp._sat_sub),
    ):
        want = np.array([scalar(p, q) for p, q in pairs], dtype=np.int64).reshape(shape_out)
        assert (getattr(fp, name)(a, b) == want).all(), name
    # and the exact big-integer definitions of the two rounding rules
    for (p, q), m, mo in zip(pairs, mul.ravel().tolist(), mul_ok.tolist(), strict=True):
        exact = (p * q) >> 32
        assert mo == (I64_MIN <= exact <= I64_MAX) and (not mo or m == exact)


@SETTINGS
@given(x=hnp.arrays(np.int64, st.integers(0, 20), elements=st.integers(-(1 << 40), 1 << 40)))
def test_u16_conversions(x: Any) -> None:
    u = np.clip(x, 0, fp.U16_MAX)
    assert (fp.u16_proportion_to_fixed(u) == (u << 32) // fp.U16_MAX).all()
    want = fp.fixed_to_u16(fp.saturating_mul(x, np.int64(fp.U16_MAX) << 32))
    assert (fp.fixed_proportion_to_u16(x) == want).all()


@st.composite
def sparse_rows(draw: Any, rows: int, width: int, max_nnz: int = 24) -> SparseRows:
    """Rows with unsorted, repeated and out-of-width columns and signed raw values."""
    counts = [draw(st.integers(0, max_nnz // max(rows, 1) + 2)) for _ in range(rows)]
    cols = [draw(st.integers(0, width + 1)) for _ in range(sum(counts))]
    vals = [draw(st.one_of(st.integers(-(1 << 33), 1 << 33), st.just(0))) for _ in cols]
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return SparseRows(indptr, np.array(cols, dtype=np.int64), np.array(vals, dtype=np.int64))


def same(a: SparseRows, b: SparseRows) -> bool:
    return bool(
        a.n_rows == b.n_rows
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 7), width=st.integers(0, 6))
def test_weighted_medians_match_the_closed_form(data: Any, rows: int, width: int) -> None:
    stake = data.draw(hnp.arrays(np.int64, rows, elements=st.integers(-(1 << 31), 1 << 33)))
    kappa = data.draw(st.integers(0, 1 << 33))
    m = data.draw(sparse_rows(rows, width))
    assert np.array_equal(
        ops.weighted_median_col_sparse(stake, m, width, kappa),
        ops._weighted_median_col_sparse_reference(stake, m, width, kappa),
    )
    dense = data.draw(raw_arrays((rows, width)))
    pos, u, minority = ops._median_stake(stake, kappa)
    assert np.array_equal(
        ops.weighted_median_col(stake, dense, kappa), ops._median_columns(u, dense[pos], minority)
    )


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 6), width=st.integers(0, 6), ratio=RAW)
def test_row_merges_match_the_sorted_references(
    data: Any, rows: int, width: int, ratio: int
) -> None:
    m1 = data.draw(sparse_rows(rows, width))
    m2 = data.draw(sparse_rows(data.draw(st.sampled_from([rows, rows + 1])), width))
    assert same(
        ops.interpolate_sparse(m1, m2, width, ratio),
        ops._interpolate_sparse_reference(m1, m2, width, ratio),
    )
    assert same(ops.mat_ema_sparse(m1, m2, ratio), ops._mat_ema_sparse_reference(m1, m2, ratio))
    b = data.draw(sparse_rows(rows, width))
    got = [np.zeros(m1.nnz, np.int64), np.zeros(m1.nnz, np.int64)]
    want = [np.zeros(m1.nnz, np.int64), np.zeros(m1.nnz, np.int64)]
    args = (m1.indptr, m1.indices, m1.data, b.indptr, b.indices, b.data, width)
    ops._merge_read_kernel(*args, *got)
    ops._merge_read_kernel_reference(*args, *want)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 6), width=st.integers(1, 6))
def test_entry_kernels_match_numpy(data: Any, rows: int, width: int) -> None:
    m = data.draw(sparse_rows(rows, width))
    keep = data.draw(hnp.arrays(np.bool_, m.nnz))
    r = m.row_ids()
    f = m.filter(keep)
    ref = SparseRows.from_entries(rows, r[keep], m.indices[keep], m.data[keep])
    assert same(f, ref)
    dense = np.zeros((rows, width), dtype=np.int64)
    inside = m.indices < width
    for k in np.flatnonzero(inside):  # later entries win
        dense[r[k], m.indices[k]] = m.data[k]
    assert np.array_equal(m.to_dense(width), dense)
    sums = np.zeros(width, dtype=np.int64)
    np.add.at(sums, m.indices[inside], m.data[inside])
    assert np.array_equal(ops._col_sums(m, width), sums)
    a = data.draw(raw_arrays((rows, width)))
    for got, d, axis, positive in (
        (ops.inplace_row_normalize(a), a.sum(axis=1, keepdims=True), 1, True),
        (ops.inplace_col_normalize(a), a.sum(axis=0, keepdims=True), 0, False),
    ):
        cond = d > 0 if positive else d != 0
        want = np.where(cond, fp.safe_div(a, np.where(cond, d, 1)), a)
        assert np.array_equal(got, want), axis
    lu = data.draw(hnp.arrays(np.uint64, rows, elements=st.integers(0, 5)))
    reg = data.draw(hnp.arrays(np.uint64, width, elements=st.integers(0, 5)))
    if rows:
        mask = lu[:, None] <= reg[None, :]
        assert np.array_equal(
            ops.inplace_mask_outdated(a, lu, reg), ops.inplace_mask_matrix(mask, a)
        )
    alpha = data.draw(RAW)
    b2 = data.draw(raw_arrays((rows, width)))
    oma = fp.saturating_sub(fp.ONE, alpha)
    want = fp.saturating_add(fp.saturating_mul(alpha, a), fp.saturating_mul(oma, b2))
    assert np.array_equal(ops.mat_ema(a, b2, alpha), want)


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 6), width=st.integers(0, 6))
def test_dense_bond_storage_rule(data: Any, rows: int, width: int) -> None:
    old = data.draw(sparse_rows(rows, width))
    new = data.draw(hnp.arrays(np.int64, (rows, width), elements=st.integers(0, fp.U16_MAX)))
    full = data.draw(hnp.arrays(np.bool_, rows))
    emptied = data.draw(hnp.arrays(np.bool_, rows)) & ~full
    got = ops.dense_bond_storage(new, full, emptied, old).to_rows()
    old_rows = old.to_rows()
    want = [
        [[j, int(new[i, j])] for j in range(width)]
        if full[i]
        else []
        if emptied[i]
        else old_rows[i]
        for i in range(rows)
    ]
    assert got == want
