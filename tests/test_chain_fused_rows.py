"""The fused clip-and-EMA step of the sparse epoch on rows shaped like the chain's, exactly.

:func:`yuma.chain.ops.clip_ema_sparse` walks the union of a weight row and a bond row one column
at a time, with the clip and the recently-registered drop as selections; the chain's worst case
(every validator weighting and bonding the same uids) makes the two rows share their columns.
These tests draw bond rows from the weight rows — the same columns, the same columns with some
added or removed (the masked diagonal), unrelated, or empty — with consensus values that clip
entries to zero and registrations that drop bonds, and compare the kernel bit for bit with the
literal merge it replaced (:func:`_merge_kernel`, kept here) and with the chain
helpers it fuses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numba import njit
from test_chain_fused import I64_MAX, PROPORTION, RAW, SETTINGS

from yuma.chain import fixedpoint as fp
from yuma.chain import ops
from yuma.chain.ops import SparseRows

U16 = st.one_of(st.integers(0, fp.U16_MAX), st.sampled_from([0, 1, fp.U16_MAX - 1, fp.U16_MAX]))


@njit(cache=False)
def _merge_kernel(
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
    """The literal merge that ``ops._clip_ema_kernel`` replaced, kept as its reference: each
    side skips its dropped entries before the columns are compared."""
    n = w_ptr.size - 1
    b_rows = b_ptr.size - 1
    zero = np.uint64(0)
    k = 0
    for i in range(n):
        xi = x[i] if i < x.size else 0
        pa, ea = w_ptr[i], w_ptr[i + 1]
        pb, eb = (b_ptr[i], b_ptr[i + 1]) if i < b_rows else (0, 0)
        total = 0
        has_a = False
        has_b = False
        ja = 0
        jb = 0
        va = 0
        vb = 0
        while True:
            while not has_a and pa < ea:
                j = w_idx[pa]
                v = w_val[pa]
                pa += 1
                t = th[j] if j < th.size else 0
                if t < v:
                    if t <= 0:
                        continue  # col_clip_sparse removes it
                    v = t
                total = ops._wadd(total, v)
                if 0 <= j < columns:
                    ranks[j] = ops._wadd(ranks[j], fp._sat_mul(xi, v))
                if 0 <= j < n:
                    ja = j
                    va = v
                    has_a = True
            while not has_b and pb < eb:
                j = b_idx[pb]
                raw = b_val[pb]
                pb += 1
                y = reg[j] if 0 <= j < reg.size else zero
                if scalar <= y:
                    continue  # a bond to a recently registered uid is dropped
                if 0 <= j < n:
                    jb = j
                    vb = (raw << np.int64(32)) // np.int64(65535)
                    has_b = True
            if not has_a and not has_b:
                break
            if has_a and (not has_b or ja <= jb):
                j = ja
            else:
                j = jb
            a = 0
            b = 0
            if has_a and ja == j:
                a = fp._sat_mul(alpha, va)
                has_a = False
            if has_b and jb == j:
                b = fp._sat_mul(oma, vb)
                has_b = False
            v = ops._wadd(a, b)
            if v > 0:
                oc[k] = j
                ov[k] = v
                sums[j] = ops._wadd(sums[j], v)
                k += 1
        trust[i] = total
        ptr[i + 1] = k
    return k


# how a bond row relates to its weight row
ROW_KINDS = ["same", "more", "fewer", "shifted", "other", "empty"]


def _rows(cols: list[list[int]], values: list[int]) -> SparseRows:
    indptr = np.zeros(len(cols) + 1, dtype=np.int64)
    np.cumsum([len(c) for c in cols], out=indptr[1:])
    flat = np.array([j for c in cols for j in c], dtype=np.int64)
    return SparseRows(indptr, flat, np.array(values, dtype=np.int64))


@st.composite
def paired_rows(draw: Any, n: int, values: Any) -> tuple[SparseRows, SparseRows]:
    """Weight rows (strictly ascending, some columns past ``n``) and bond rows drawn from them,
    each row of a kind of ``ROW_KINDS``; sometimes one bond row more than weight rows."""
    universe = st.integers(0, n + 1)
    w_cols: list[list[int]] = []
    b_cols: list[list[int]] = []
    for i in range(n):
        full = draw(st.booleans())
        row = set(range(n + 2)) if full else draw(st.sets(universe, max_size=n + 2))
        if full and draw(st.booleans()):
            row.discard(i)  # the masked diagonal: the bond row keeps it ("more")
        w = sorted(row)
        kind = draw(st.sampled_from(ROW_KINDS))
        if kind == "same":
            b = list(w)
        elif kind == "more":
            b = sorted(row | draw(st.sets(universe, max_size=3)) | {i})
        elif kind == "fewer":
            b = sorted(row - draw(st.sets(universe, max_size=3)))
        elif kind == "shifted":
            b = sorted({j + 1 for j in row})
        elif kind == "other":
            b = sorted(draw(st.sets(universe, max_size=n + 2)))
        else:
            b = []
        if draw(st.integers(0, 5)) == 0:
            w = []  # an empty weight row against a bond row
        w_cols.append(w)
        b_cols.append(b)
    if draw(st.booleans()):
        b_cols.append(sorted(draw(st.sets(universe, max_size=n + 2))))
    w_vals = [draw(values) for c in w_cols for _ in c]
    b_vals = [draw(U16) for c in b_cols for _ in c]
    return _rows(w_cols, w_vals), _rows(b_cols, b_vals)


def same(a: SparseRows, b: SparseRows) -> bool:
    return bool(
        a.n_rows == b.n_rows
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


def _reference(
    w: SparseRows,
    consensus: Any,
    stake: Any,
    bonds: SparseRows,
    tempo: int,
    reg: Any,
    alpha: int,
) -> tuple[Any, Any, SparseRows, Any]:
    """The literal merge kernel, with buffers of the same bounds as the wrapper's."""
    n = w.n_rows
    cap = w.nnz + bonds.nnz
    trust, ranks, ptr, sums = (np.zeros(s, dtype=np.int64) for s in (n, n, n + 1, n))
    idx = np.empty(cap, dtype=np.int64)
    val = np.empty(cap, dtype=np.int64)
    k = _merge_kernel(
        w.indptr, w.indices, w.data, fp.i32(consensus), fp.i32(stake), n,
        bonds.indptr, bonds.indices, bonds.data, np.uint64(tempo),
        np.asarray(reg, dtype=np.uint64), alpha, int(fp.saturating_sub(fp.ONE, alpha)),
        trust, ranks, ptr, idx, val, sums,
    )  # fmt: skip
    return trust, ranks, SparseRows(ptr, idx[:k], val[:k]), sums


@st.composite
def clip_ema_case(
    draw: Any, n: int, stake_values: Any
) -> tuple[SparseRows, Any, Any, SparseRows, int, Any]:
    """``(w, consensus, stake, bonds, tempo, registration)`` for the fused clip + EMA on ``n``
    columns: 0 and negative consensus clips weights away (cells that store nothing), short
    vectors read as 0, and registrations at or after the last tempo drop the bonds to those
    uids."""
    values = draw(st.sampled_from([PROPORTION, RAW]))
    w, bonds = draw(paired_rows(n, values))
    consensus = draw(
        hnp.arrays(
            np.int64,
            draw(st.integers(max(0, n - 2), n + 1)),
            elements=st.one_of(PROPORTION, st.sampled_from([0, -1, -fp.ONE]), RAW),
        )
    )
    stake = draw(hnp.arrays(np.int64, draw(st.integers(0, n + 1)), elements=stake_values))
    tempo = draw(st.integers(0, 6))
    reg = draw(hnp.arrays(np.uint64, draw(st.integers(0, n)), elements=st.integers(0, 7)))
    return w, consensus, stake, bonds, tempo, reg


@SETTINGS
@given(data=st.data(), n=st.integers(0, 9), alpha=st.integers(0, fp.ONE))
def test_clip_ema_on_aligned_rows_is_the_merge_and_the_composition(
    data: Any, n: int, alpha: int
) -> None:
    w, consensus, stake, bonds, tempo, reg = data.draw(clip_ema_case(n, PROPORTION))
    got = ops.clip_ema_sparse(w, consensus, stake, bonds, tempo, reg, alpha)
    assert got is not None
    trust, ranks, ema, sums = got

    want_trust, want_ranks, want_ema, want_sums = _reference(
        w, consensus, stake, bonds, tempo, reg, alpha
    )
    assert np.array_equal(trust, want_trust) and np.array_equal(ranks, want_ranks)
    assert same(ema, want_ema) and np.array_equal(sums, want_sums)

    clipped, step_trust, step_ranks = ops.clip_trust_incentive_sparse(w, consensus, stake, n)
    assert np.array_equal(trust, step_trust) and np.array_equal(ranks, step_ranks)
    b = ops.yuma3_bonds_sparse(bonds, tempo, reg)
    step_ema = ops.mat_ema_sparse(clipped, b, alpha)
    assert same(ema, step_ema)
    assert np.array_equal(sums, ops._col_sums(step_ema, n))


U64_MAX = (1 << 64) - 1
DEN = st.one_of(
    st.integers(1, (1 << 62) - 1),
    st.integers(1, 1 << 20),
    st.sampled_from([1, 2, 3, 65535, 65536, fp.ONE - 1, fp.ONE, fp.ONE + 1, (1 << 62) - 1]),
)


@SETTINGS
@given(data=st.data(), den=DEN)
def test_reciprocal_division_is_floor_division(data: Any, den: int) -> None:
    """fp._udiv_recip, the fused kernels' division by a repeated divisor, against Python's."""
    q_near = data.draw(st.one_of(st.integers(0, 1 << 50), st.integers(0, 1 << 12)))
    # quotients near and at exact multiples, where a truncated float estimate is off by one
    num = data.draw(
        st.one_of(
            st.integers(0, U64_MAX),
            st.integers(-2, 2).map(lambda d: q_near * den + d),
            st.integers(0, 1 << 32).map(lambda v: v << 32),
        ).filter(lambda x: 0 <= x <= U64_MAX)
    )
    q, ok = fp._udiv_recip(np.uint64(num), np.int64(den), 1.0 / den)
    want = num // den
    if want < 1 << 49:
        assert ok  # the fast path covers the epoch's quotients
    if ok:
        assert q == want


@SETTINGS
@given(data=st.data(), den=st.integers(1, (1 << 62) - 1))
def test_reciprocal_division_matches_div_raw_where_the_kernels_use_it(data: Any, den: int) -> None:
    """The two uses: ``_div_raw(v, d)`` for 0 ≤ v < 2**32 (the dividends' column division),
    and ``_div_raw(a, d << 32)`` for a ≥ 0 (the weights' row normalisation)."""
    v = data.draw(st.one_of(st.integers(0, (1 << 32) - 1), st.sampled_from([0, 1, fp.ONE - 1])))
    q, ok = fp._udiv_recip(np.uint64(v << 32), np.int64(den), 1.0 / den)
    want, want_ok = fp._div_raw(v, den)
    if ok:
        assert want_ok and q == want
    d = data.draw(st.integers(1, (1 << 31) - 1))
    a = data.draw(
        st.one_of(st.integers(0, fp.U16_MAX).map(lambda x: x << 32), st.integers(0, I64_MAX))
    )
    q, ok = fp._udiv_recip(np.uint64(a), np.int64(d), 1.0 / d)
    want, want_ok = fp._div_raw(a, d << 32)
    if ok:
        assert want_ok and q == want
    if a < d << 49:
        assert ok


@settings(SETTINGS, max_examples=4 * SETTINGS.max_examples)  # cheap; a repeat must be kept
@given(data=st.data(), rows=st.integers(0, 7), width=st.integers(0, 7))
def test_weights_report_their_row_order(data: Any, rows: int, width: int) -> None:
    """The order flag that epoch_weights_sparse sets on its rows (read by the median and the
    fused EMA instead of another pass) is the one a pass over the columns finds."""
    sort = data.draw(st.booleans())
    col_rows = []
    for _ in range(rows):
        row = data.draw(st.lists(st.integers(0, width + 1), max_size=5))
        if row and data.draw(st.booleans()):
            row.insert(0, row[0])  # a repeated column: not strictly ascending
        col_rows.append(sorted(set(row)) if sort else row)
    weights = _rows(col_rows, [data.draw(U16) for c in col_rows for _ in c])
    forbids = data.draw(st.lists(st.booleans(), max_size=rows + 1))
    owner = data.draw(st.one_of(st.none(), st.integers(0, rows + 1)))
    # updates mostly after the registrations: most entries kept, repeated columns included
    lu = data.draw(hnp.arrays(np.uint64, rows, elements=st.integers(0, 9)))
    reg = data.draw(hnp.arrays(np.uint64, width, elements=st.integers(0, 5)))
    w = ops.epoch_weights_sparse(weights, forbids, owner, lu, reg)
    assert w.rows_ascending() == ops._all_ascending(w.indptr, w.indices)
    assert w.with_data(w.data).rows_ascending() == w.rows_ascending()
