"""The fused epoch kernels of :mod:`yuma.chain.ops` against the chain helpers they fuse, exactly.

Each fused step (weights preparation, clipping with trust and ranks, bond preparation, the EMA
merge, the dividends' dot product, the u16 storage, the histogram selection of the medians and
the block-gathered medians) is compared bit for bit with the composition of the one-step helpers
it replaces, on hypothesis inputs with the chain's sorted rows (and unsorted ones where the
fused path must decline), out-of-width columns and I32F32 extremes.
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
    st.sampled_from([0, 1, -1, fp.ONE, -fp.ONE, I64_MIN, I64_MAX, fp.ONE - 1]),
)
PROPORTION = st.one_of(st.integers(0, fp.ONE), st.just(0), st.just(fp.ONE))


@st.composite
def sorted_rows(draw: Any, rows: int, width: int, values: Any, density: float = 0.5) -> SparseRows:
    """Rows with strictly ascending columns (some past ``width``), as the chain stores them."""
    cols: list[int] = []
    counts = []
    for _ in range(rows):
        row = sorted(
            draw(st.sets(st.integers(0, width + 1), max_size=max(1, int((width + 2) * density))))
        )
        counts.append(len(row))
        cols.extend(row)
    vals = [draw(values) for _ in cols]
    indptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return SparseRows(indptr, np.array(cols, dtype=np.int64), np.array(vals, dtype=np.int64))


@st.composite
def any_rows(draw: Any, rows: int, width: int, values: Any) -> SparseRows:
    """Sorted rows, or rows with repeated / unsorted columns."""
    if draw(st.booleans()):
        return draw(sorted_rows(rows, width, values))
    counts = [draw(st.integers(0, 5)) for _ in range(rows)]
    cols = [draw(st.integers(0, width + 1)) for _ in range(sum(counts))]
    vals = [draw(values) for _ in cols]
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


U16 = st.integers(0, fp.U16_MAX)
BLOCK = st.integers(0, 6)


@SETTINGS
@given(data=st.data(), m=st.integers(1, 300))
def test_bucket_selection_matches_the_quickselect(data: Any, m: int) -> None:
    kind = data.draw(st.sampled_from(["small", "wide", "signed", "ties"]))
    elements = {
        "small": st.integers(0, 50),
        "wide": st.one_of(st.integers(0, I64_MAX), st.integers(0, fp.ONE)),
        "signed": RAW,
        "ties": st.sampled_from([0, 7, fp.ONE, I64_MAX]),
    }[kind]
    v = data.draw(hnp.arrays(np.int64, m, elements=elements))
    w = data.draw(hnp.arrays(np.int64, m, elements=st.integers(0, fp.ONE)))
    total = int(w.sum())
    minority = data.draw(st.one_of(st.integers(-5, total + 5), st.just(total // 2)))
    want = ops._select(v.copy(), w.copy(), m, minority)
    v0, w0 = v.copy(), w.copy()
    got = ops._select_buckets(v, w, m, minority, np.empty(2 * m + 2 * 4096, dtype=np.int64))
    assert got == want
    assert np.array_equal(v, v0) and np.array_equal(w, w0)  # inputs not reordered


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 90), width=st.integers(0, 12))
def test_gathered_medians_match_the_closed_form(data: Any, rows: int, width: int) -> None:
    stake = data.draw(hnp.arrays(np.int64, rows, elements=st.integers(-(1 << 31), 1 << 33)))
    kappa = data.draw(st.integers(0, 1 << 33))
    values = data.draw(st.sampled_from([PROPORTION, st.integers(0, 3), RAW]))
    m = data.draw(sorted_rows(rows, width, values, density=1.0))
    assert np.array_equal(
        ops.weighted_median_col_sparse(stake, m, width, kappa),
        ops._weighted_median_col_sparse_reference(stake, m, width, kappa),
    )
    dense = m.to_dense(width)
    pos, u, minority = ops._median_stake(stake, kappa)
    assert np.array_equal(
        ops.weighted_median_col(stake, dense, kappa), ops._median_columns(u, dense[pos], minority)
    )


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 7), width=st.integers(0, 7))
def test_epoch_weights_sparse_is_the_composition(data: Any, rows: int, width: int) -> None:
    weights = data.draw(any_rows(rows, width, U16))
    forbids = data.draw(st.lists(st.booleans(), max_size=rows + 1))
    owner = data.draw(st.one_of(st.none(), st.integers(0, rows + 1)))
    lu = data.draw(hnp.arrays(np.uint64, rows, elements=st.integers(0, 5)))
    reg = data.draw(hnp.arrays(np.uint64, width, elements=st.integers(0, 5)))
    w = weights.with_data(weights.data << 32)
    w = ops.mask_rows_sparse(forbids, w)
    w = ops.mask_diag_sparse(w) if owner is None else ops.mask_diag_sparse_except_index(w, owner)
    w = ops.vec_mask_sparse_matrix(w, lu, reg, "le")
    want = ops.inplace_row_normalize_sparse(w)
    assert same(ops.epoch_weights_sparse(weights, forbids, owner, lu, reg), want)


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 7), width=st.integers(0, 7))
def test_clip_bonds_dot_and_storage_are_the_compositions(data: Any, rows: int, width: int) -> None:
    m = data.draw(any_rows(rows, width, data.draw(st.sampled_from([PROPORTION, RAW]))))
    th = data.draw(hnp.arrays(np.int64, data.draw(BLOCK), elements=RAW))
    stake = data.draw(hnp.arrays(np.int64, data.draw(BLOCK), elements=RAW))
    clipped, trust, ranks = ops.clip_trust_incentive_sparse(m, th, stake, width)
    want = ops.col_clip_sparse(m, th)
    assert same(clipped, want)
    assert np.array_equal(trust, ops.row_sum_sparse(want))
    assert np.array_equal(ranks, ops.matmul_sparse(want, stake, width))

    bonds = data.draw(any_rows(rows, width, U16))
    reg = data.draw(hnp.arrays(np.uint64, width, elements=st.integers(0, 5)))
    tempo = data.draw(st.integers(0, 6))
    b = bonds.with_data(fp.u16_proportion_to_fixed(bonds.data))
    want = ops.scalar_vec_mask_sparse_matrix(b, tempo, reg, "le")
    assert same(ops.yuma3_bonds_sparse(bonds, tempo, reg), want)

    v = data.draw(hnp.arrays(np.int64, data.draw(BLOCK), elements=RAW))
    dot = ops.row_sum_sparse(ops.mat_vec_mul_sparse(ops.inplace_col_normalize_sparse(m, width), v))
    assert np.array_equal(ops.col_normalized_dot_sparse(m, width, v), dot)
    keep = data.draw(hnp.arrays(np.bool_, rows))
    stored = m.with_data(fp.fixed_proportion_to_u16(m.data)).filter(keep[m.row_ids()])
    assert same(ops.u16_rows_sparse(m, keep), stored)
    tb, got = ops.dividend_terms_sparse(m, ops._col_sums(m, width), v, keep)
    assert np.array_equal(tb, dot) and same(got, stored)


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 7), width=st.integers(0, 7), alpha=RAW)
def test_ema_merge_matches_the_sorted_reference(
    data: Any, rows: int, width: int, alpha: int
) -> None:
    values = data.draw(st.sampled_from([PROPORTION, RAW]))
    new = data.draw(sorted_rows(rows, width, values))
    old = data.draw(sorted_rows(data.draw(st.sampled_from([rows, rows + 1])), width, values))
    assert same(ops.mat_ema_sparse(new, old, alpha), ops._mat_ema_sparse_reference(new, old, alpha))


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 7), alpha=st.integers(0, fp.ONE))
def test_clip_ema_is_the_composition(data: Any, rows: int, alpha: int) -> None:
    w = data.draw(any_rows(rows, rows, data.draw(st.sampled_from([PROPORTION, RAW]))))
    bonds = data.draw(any_rows(data.draw(st.sampled_from([rows, rows + 1])), rows, U16))
    consensus = data.draw(hnp.arrays(np.int64, data.draw(BLOCK), elements=RAW))
    stake = data.draw(hnp.arrays(np.int64, data.draw(BLOCK), elements=PROPORTION))
    reg = data.draw(hnp.arrays(np.uint64, rows, elements=st.integers(0, 5)))
    tempo = data.draw(st.integers(0, 6))
    got = ops.clip_ema_sparse(w, consensus, stake, bonds, tempo, reg, alpha)
    ascending = ops._all_ascending(w.indptr, w.indices) and ops._all_ascending(
        bonds.indptr, bonds.indices
    )
    if not ascending:
        assert got is None
        return
    assert got is not None
    trust, ranks, ema, sums = got
    clipped, want_trust, want_ranks = ops.clip_trust_incentive_sparse(w, consensus, stake, rows)
    assert np.array_equal(trust, want_trust) and np.array_equal(ranks, want_ranks)
    b = ops.yuma3_bonds_sparse(bonds, tempo, reg)
    want = ops.mat_ema_sparse(clipped, b, alpha)
    assert same(ema, want)
    assert np.array_equal(sums, ops._col_sums(want, rows))


@SETTINGS
@given(x=hnp.arrays(np.int64, st.integers(0, 40), elements=RAW))
def test_u16_proportion_closed_form(x: Any) -> None:
    got = np.empty(x.size, dtype=np.int64)
    want = np.empty(x.size, dtype=np.int64)
    fp._prop_to_u16_kernel(x, got)
    fp._prop_to_u16_kernel_reference(x, want)
    assert np.array_equal(got, want)
    edges = np.array([(1 << 47) - 1, 1 << 47, fp.ONE, fp.ONE - 1, 65536], dtype=np.int64)
    a, b = np.empty(5, np.int64), np.empty(5, np.int64)
    fp._prop_to_u16_kernel(edges, a)
    fp._prop_to_u16_kernel_reference(edges, b)
    assert np.array_equal(a, b)


@SETTINGS
@given(data=st.data(), n=st.integers(0, 7), ratio=RAW, alpha=RAW)
def test_dense_steps_are_the_compositions(data: Any, n: int, ratio: int, alpha: int) -> None:
    weights = data.draw(any_rows(n, n, U16))
    forbids = data.draw(st.lists(st.booleans(), max_size=n + 1))
    lu = data.draw(hnp.arrays(np.uint64, n, elements=st.integers(0, 5)))
    reg = data.draw(hnp.arrays(np.uint64, n, elements=st.integers(0, 5)))
    w = ops.inplace_mask_rows(forbids, weights.with_data(weights.data << 32).to_dense(n))
    w = ops.inplace_mask_diag(ops.inplace_mask_diag_except_index(w, 0))
    want = ops.inplace_row_normalize(ops.inplace_mask_outdated(w, lu, reg))
    got = ops.epoch_weights_dense(weights, n, forbids, lu, reg)
    assert np.array_equal(got, want)

    m = data.draw(raw_matrix(n))
    th = data.draw(hnp.arrays(np.int64, data.draw(BLOCK), elements=RAW))
    stake = data.draw(hnp.arrays(np.int64, data.draw(BLOCK), elements=RAW))
    ratio = data.draw(st.sampled_from([ratio, 0, fp.ONE]))
    trust, ranks, wb = ops.clip_trust_incentive_dense(m, th, stake, ratio)
    clipped = ops.inplace_col_clip(m, th)
    assert np.array_equal(trust, ops.row_sum(clipped))
    assert np.array_equal(ranks, ops.matmul(clipped, stake))
    assert np.array_equal(wb, ops.interpolate(m, clipped, ratio))

    bonds = data.draw(any_rows(n, n, U16))
    recent = data.draw(st.lists(st.booleans(), max_size=n + 1))
    want_b = ops.inplace_mask_cols(recent, fp.u16_proportion_to_fixed(bonds.to_dense(n)))
    assert np.array_equal(ops.yuma3_bonds_dense(bonds, n, recent), want_b)

    new = data.draw(raw_matrix(n))
    old = data.draw(raw_matrix(n))
    ema = ops.mat_ema(new, old, alpha)
    sums = ops.mat_ema_into(new, old, alpha)
    assert np.array_equal(old, ema) and np.array_equal(sums, ema.sum(axis=0))
    v = data.draw(hnp.arrays(np.int64, data.draw(BLOCK), elements=RAW))
    dot = ops.row_sum(ops.mat_vec_mul(ops.inplace_col_normalize(ema), v))
    u16 = fp.fixed_proportion_to_u16(ema)
    assert np.array_equal(ops.dividend_terms_dense_into(old, sums, v), dot)
    assert np.array_equal(old, u16)


def raw_matrix(n: int) -> Any:
    return hnp.arrays(np.int64, (n, n), elements=st.one_of(RAW, PROPORTION))
