"""Hostile input at every public entry point (issue 14, items 1, 3 and 10's parameters).

Generated with hypothesis: malformed sparse matrices (out-of-range and negative indices, broken
indptr, wrong lengths) in every scipy format, negative entries hidden behind duplicates, odd
dtypes (complex, strings, booleans, objects, dates), overflowing magnitudes, and numpy scalars
as hyperparameters. Each class runs a few examples in the main test step and thousands in the
``slow`` step (``pytest -m slow``: at least 10 000 examples in all). A crash of the interpreter
(the numba backend reading through a bad index) fails the run outright.
"""

from __future__ import annotations

import decimal
import fractions
import itertools
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yuma

HAVE_NUMBA = yuma.backends.available_backends().count("numba") == 1
BACKENDS = ["numpy", "numba"] if HAVE_NUMBA else ["numpy"]

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
#: The main step: a handful per class.
FAST = settings(max_examples=25, **_COMMON)  # type: ignore[arg-type]
#: The slow step; the slow tests below add up to more than 10 000 examples.
SLOW = settings(max_examples=2500, **_COMMON)  # type: ignore[arg-type]


def fast_and_slow(
    strategy: st.SearchStrategy[Any], slow_examples: int = 2500
) -> Callable[[Callable[[Any], None]], tuple[Any, Any]]:
    """One property, two tests: ``FAST`` in the main step, ``slow_examples`` under ``slow``."""

    def wrap(check: Callable[[Any], None]) -> tuple[Any, Any]:
        fast = FAST(given(strategy)(check))
        slow = pytest.mark.slow(settings(SLOW, max_examples=slow_examples)(given(strategy)(check)))
        return fast, slow

    return wrap


def call(entry: str, weights: Any, stake: Any, **kwargs: Any) -> Any:
    """One public entry point on one epoch's inputs."""
    if entry == "prepare_inputs":
        return yuma.prepare_inputs(weights, stake, **kwargs)
    return yuma.epoch(weights, stake, backend=entry, **kwargs)


ENTRIES = ["prepare_inputs", *BACKENDS]

# --------------------------------------------------------------------------------------------
# Item 1: malformed sparse structure is refused before any kernel reads through it
# --------------------------------------------------------------------------------------------

FORMATS = ["csr", "csc", "coo"]
CORRUPTIONS = [
    "index_too_high",  # == dim or beyond (numba segfaulted on these)
    "index_negative",  # -1, -7 (read out of bounds as bonds)
    "indptr_decreasing",
    "indptr_not_from_zero",
    "indptr_past_the_entries",
    "indptr_wrong_length",
    "float_indices",
    "coo_lengths_differ",
]


@dataclass(frozen=True)
class Case:
    """One hostile call: which argument carries the bad value, and how to call."""

    role: str
    entry: str
    weights: Any
    stake: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    what: str = ""

    def run(self) -> Any:
        return call(self.entry, self.weights, self.stake, **self.kwargs)


@st.composite
def triplets(
    draw: st.DrawFn, rows: int, cols: int, min_size: int = 0, max_size: int = 14
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO triplets in range (duplicates and explicit zeros allowed), values >= 0."""
    k = draw(st.integers(min_size, max_size))
    r = draw(st.lists(st.integers(0, rows - 1), min_size=k, max_size=k))
    c = draw(st.lists(st.integers(0, cols - 1), min_size=k, max_size=k))
    v = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 65535.0]), min_size=k, max_size=k))
    return np.array(r, dtype=np.int64), np.array(c, dtype=np.int64), np.array(v)


def build(
    fmt: str, data: np.ndarray, row: np.ndarray, col: np.ndarray, shape: tuple[int, int]
) -> Any:
    m = sp.coo_array((data, (row, col)), shape=shape)
    return m if fmt == "coo" else m.asformat(fmt)


def corrupt(draw: st.DrawFn, m: Any, how: str) -> Any:
    """Break one thing in ``m`` the way a user (or a buggy producer) could."""
    rows, cols = m.shape
    if m.format == "coo":
        row, col = (np.array(a, dtype=np.int64) for a in m.coords)
        pick_row = draw(st.booleans())
        arr, dim = (row, rows) if pick_row else (col, cols)
        k = draw(st.integers(0, len(arr) - 1))
        if how == "index_too_high":
            arr[k] = dim + draw(st.sampled_from([0, 1, 7, 2**31]))
        elif how == "index_negative":
            arr[k] = -draw(st.sampled_from([1, 7, 2**40]))
        elif how == "float_indices":
            arr = arr.astype(np.float64)
            row, col = (arr, col) if pick_row else (row, arr)
        elif how == "coo_lengths_differ":
            arr = np.append(arr, 0)
            row, col = (arr, col) if pick_row else (row, arr)
        m.coords = (row, col)
        return m
    n_minor = cols if m.format == "csr" else rows
    indices = np.array(m.indices, dtype=np.int64)
    indptr = np.array(m.indptr, dtype=np.int64)
    if how == "index_too_high":
        indices[draw(st.integers(0, len(indices) - 1))] = n_minor + draw(
            st.sampled_from([0, 1, 7, 2**31])
        )
    elif how == "index_negative":
        indices[draw(st.integers(0, len(indices) - 1))] = -draw(st.sampled_from([1, 7, 2**40]))
    elif how == "indptr_decreasing":
        # A major line whose end comes before its start (the total stays consistent).
        i = draw(st.integers(1, len(indptr) - 2))
        indptr[i] = indptr[-1] + 1
    elif how == "indptr_not_from_zero":
        indptr[0] = draw(st.sampled_from([1, 3, -1]))
    elif how == "indptr_past_the_entries":
        indptr[-1] = len(indices) + draw(st.integers(1, 5))
    elif how == "indptr_wrong_length":
        indptr = indptr[:-1] if draw(st.booleans()) else np.append(indptr, indptr[-1])
    elif how == "float_indices":
        m.indices = indices.astype(np.float64)
        return m
    m.indices = indices
    m.indptr = indptr
    return m


@st.composite
def malformed_sparse(draw: st.DrawFn) -> Case:
    fmt = draw(st.sampled_from(FORMATS))
    allowed = [
        c
        for c in CORRUPTIONS
        if (fmt == "coo")
        == (c in ("index_too_high", "index_negative", "float_indices", "coo_lengths_differ"))
        or c in ("index_too_high", "index_negative", "float_indices")
    ]
    how = draw(st.sampled_from(allowed))
    n_major_min = 2 if how == "indptr_decreasing" else 1
    rows = draw(st.integers(n_major_min if fmt != "csc" else 1, 6))
    cols = draw(st.integers(n_major_min if fmt == "csc" else 1, 6))
    if draw(st.booleans()):
        rows = cols = max(rows, cols)  # the chain's square uid layout too
    r, c, v = draw(triplets(rows, cols, min_size=1))
    role = draw(st.sampled_from(["weights", "bonds", "outdated"]))
    m = corrupt(draw, build(fmt, v if role != "outdated" else v > 0, r, c, (rows, cols)), how)
    good = sp.csr_array(np.ones((rows, cols)))
    stake = np.arange(1.0, rows + 1)
    entry = draw(st.sampled_from(ENTRIES))
    if role == "weights":
        return Case(role, entry, m, stake, what=f"{fmt}/{how}")
    return Case(role, entry, good, stake, {role: m}, what=f"{fmt}/{how}")


def check_malformed_sparse_is_refused(case: Case) -> None:
    with pytest.raises(ValueError, match=case.role):
        case.run()


test_malformed_sparse_is_refused, test_malformed_sparse_is_refused_slow = fast_and_slow(
    malformed_sparse(), slow_examples=3000
)(check_malformed_sparse_is_refused)


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("role", ["weights", "bonds"])
@pytest.mark.parametrize("bad", [4, 5, -1, -7])
def test_the_reported_out_of_range_indices(entry: str, role: str, bad: int) -> None:
    """The issue's examples: column index -7 or == n, as weights and as bonds."""
    m = sp.csr_array(
        (np.array([1.0, 1.0]), np.array([0, bad]), np.array([0, 1, 2, 2, 2])), shape=(4, 4)
    )
    w = sp.csr_array(np.ones((4, 4)))
    args = (m, np.ones(4)) if role == "weights" else (w, np.ones(4))
    kwargs = {} if role == "weights" else {"bonds": m}
    with pytest.raises(ValueError, match=rf"{role}: sparse column index {bad} is out of range"):
        call(entry, *args, **kwargs)


def test_a_stale_canonical_flag_is_not_trusted() -> None:
    """scipy caches ``has_canonical_format``; indices replaced afterwards are checked anew."""
    m = sp.csr_array(np.array([[1.0, 2.0], [3.0, 0.0]]))
    assert m.has_canonical_format
    m.indices = np.array([1, 0, 0], dtype=np.int32)  # row 0 now unsorted, flag still True
    inputs, _ = yuma.prepare_inputs(m, [1.0, 1.0])
    np.testing.assert_array_equal(inputs.weights.indices, [0, 1, 0])
    np.testing.assert_array_equal(inputs.weights.data, [2.0, 1.0, 3.0])
    np.testing.assert_array_equal(m.indices, [1, 0, 0])  # the caller's matrix is untouched


def test_sparse_shape_must_be_2d_and_match() -> None:
    with pytest.raises(ValueError, match="weights must be 2-D"):
        yuma.epoch(sp.coo_array(np.ones(3)), np.ones(3))
    with pytest.raises(ValueError, match=r"bonds has shape \(3, 2\), expected \(3, 3\)"):
        yuma.epoch(np.ones((3, 3)), np.ones(3), sp.csr_array(np.ones((3, 2))))
    with pytest.raises(ValueError, match="stake has length 2, expected 3"):
        yuma.epoch(sp.csr_array(np.ones((3, 3))), np.ones(2))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_validation_memory_is_sized_from_nnz_not_n_squared(fmt: str) -> None:
    """n = 65535 (a legal u16 uid count) with a few entries: checking and canonicalising must
    not allocate anything of size n^2 (34 GB as float64); O(n + nnz) is a few MB."""
    n = 65535
    rng = np.random.default_rng(3)
    r, c = rng.integers(0, n, 50), rng.integers(0, n, 50)
    m = sp.coo_array((np.ones(50), (r, c)), shape=(n, n)).asformat(fmt)
    stake = np.ones(n)
    tracemalloc.start()
    try:
        inputs, _ = yuma.prepare_inputs(m, stake, bonds=m)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert inputs.weights.shape == (n, n) and inputs.weights.nnz == len(set(zip(r, c, strict=True)))
    assert peak < 32 * 2**20, f"peak {peak / 2**20:.1f} MiB"


# --------------------------------------------------------------------------------------------
# Legal sparse input in every format and index/value dtype: accepted, canonicalised exactly
# --------------------------------------------------------------------------------------------


def reference_csr(
    row: np.ndarray, col: np.ndarray, data: np.ndarray, shape: tuple[int, int]
) -> sp.csr_array:
    """Canonical CSR built cell by cell (duplicates summed, explicit zeros kept), no scipy."""
    cells: dict[tuple[int, int], float] = {}
    for i, j, v in zip(row.tolist(), col.tolist(), data.tolist(), strict=True):
        cells[(i, j)] = cells.get((i, j), 0.0) + float(v)
    keys = sorted(cells)
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    for i, _ in keys:
        indptr[i + 1] += 1
    return sp.csr_array(
        (
            np.array([cells[k] for k in keys], dtype=np.float64),
            np.array([j for _, j in keys], dtype=np.int64),
            np.cumsum(indptr),
        ),
        shape=shape,
    )


@st.composite
def legal_sparse(draw: st.DrawFn) -> tuple[Any, sp.csr_array, np.ndarray, str]:
    rows = draw(st.integers(1, 6))
    cols = rows if draw(st.booleans()) else draw(st.integers(1, 6))
    r, c, v = draw(triplets(rows, cols))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64, np.uint16, np.int32]))
    # Integers small enough that scipy's own conversions (which sum in the input dtype) cannot
    # wrap around while building the test matrix.
    v = v.astype(dtype) if np.issubdtype(dtype, np.floating) else np.minimum(v, 255).astype(dtype)
    fmt = draw(st.sampled_from(["csr", "csc", "coo", "csr_unsorted", "bsr", "dia", "lil", "dok"]))
    shape = (rows, cols)
    if fmt in ("csr", "csc", "coo"):
        # Explicit zeros and duplicates travel through these formats as given.
        expected = reference_csr(r, c, v, shape)
        m = build(fmt, v, r, c, shape)
    elif fmt == "csr_unsorted":
        # Hand-built CSR with each row's entries shuffled (duplicates kept).
        order = np.lexsort((draw(st.permutations(range(len(r)))), r)) if len(r) else np.arange(0)
        counts = np.bincount(r, minlength=rows)
        m = sp.csr_array(
            (v[order], c[order].astype(np.int32), np.concatenate([[0], np.cumsum(counts)])),
            shape=shape,
        )
        expected = reference_csr(r, c, v, shape)
    else:
        # Built by scipy from the summed cells. What these formats store is scipy's to say
        # (BSR stores the zeros inside its blocks, DIA, LIL and DOK none): the expected
        # entries are the ones ``tocoo()`` reports, summed cell by cell.
        dense = reference_csr(r, c, v, shape).toarray().astype(dtype)
        m = sp.csr_array(dense).asformat(fmt)
        stored = m.tocoo()
        expected = reference_csr(
            np.asarray(stored.row), np.asarray(stored.col), np.asarray(stored.data), shape
        )
    stake = np.array(
        draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 10.0]), min_size=rows, max_size=rows))
    )
    return m, expected, stake, fmt


def check_legal_sparse_is_canonicalised(case: tuple[Any, sp.csr_array, np.ndarray, str]) -> None:
    m, expected, stake, _ = case
    inputs, _ = yuma.prepare_inputs(m, stake, bonds=m)
    for got in (inputs.weights, inputs.bonds):
        assert isinstance(got, sp.csr_array) and got.has_canonical_format
        np.testing.assert_array_equal(got.indptr, expected.indptr)
        np.testing.assert_array_equal(got.indices, expected.indices)
        np.testing.assert_array_equal(got.data, expected.data)
    ref = yuma.epoch(expected, stake, bonds=expected, backend="numpy")
    for backend in BACKENDS:
        out = yuma.epoch(m, stake, bonds=m, backend=backend)
        np.testing.assert_allclose(out.dividends, ref.dividends, rtol=0, atol=1e-9)
        np.testing.assert_allclose(out.incentive, ref.incentive, rtol=0, atol=1e-9)
        np.testing.assert_allclose(
            out.bonds.toarray(),
            ref.bonds.toarray(),
            rtol=0,
            atol=1e-9,  # type: ignore[union-attr]
        )


test_legal_sparse_is_canonicalised, test_legal_sparse_is_canonicalised_slow = fast_and_slow(
    legal_sparse(), slow_examples=2000
)(check_legal_sparse_is_canonicalised)


# --------------------------------------------------------------------------------------------
# Item 3: a negative entry hidden by a duplicate at the same cell
# --------------------------------------------------------------------------------------------


@st.composite
def hidden_negative(draw: st.DrawFn) -> Case:
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    r, c, v = draw(triplets(rows, cols))
    i, j = draw(st.integers(0, rows - 1)), draw(st.integers(0, cols - 1))
    neg = draw(st.sampled_from([-1.0, -0.5, -1e-300, -65535.0]))
    pos = draw(st.sampled_from([2.0, 1.0, 65535.0, 1e300])) + abs(neg)  # the cell sums >= 0
    pair = [neg, pos] if draw(st.booleans()) else [pos, neg]
    r = np.concatenate([r, [i, i]])
    c = np.concatenate([c, [j, j]])
    v = np.concatenate([v, pair])
    # Built from raw arrays: scipy's own conversions would sum the duplicates first.
    fmt = draw(st.sampled_from(["csr", "csc", "coo"]))
    if fmt == "coo":
        m: Any = sp.coo_array((v, (r, c)), shape=(rows, cols))
    else:
        major, minor, n_major = (r, c, rows) if fmt == "csr" else (c, r, cols)
        order = np.argsort(major, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(major, minlength=n_major))])
        parts = (v[order], minor[order], indptr)
        m = (sp.csr_array if fmt == "csr" else sp.csc_array)(parts, shape=(rows, cols))
    assert m.nnz == len(v)  # the duplicates are still stored separately
    role = draw(st.sampled_from(["weights", "bonds"]))
    entry = draw(st.sampled_from(ENTRIES))
    stake = np.ones(rows)
    if role == "weights":
        return Case(role, entry, m, stake, what=fmt)
    return Case(role, entry, sp.csr_array(np.ones((rows, cols))), stake, {"bonds": m}, fmt)


def check_hidden_negative_is_refused(case: Case) -> None:
    with pytest.raises(ValueError, match=f"{case.role} must be non-negative"):
        case.run()


test_hidden_negative_is_refused, test_hidden_negative_is_refused_slow = fast_and_slow(
    hidden_negative(), slow_examples=1500
)(check_hidden_negative_is_refused)


def test_the_reported_hidden_negative() -> None:
    m = sp.coo_array((np.array([-1.0, 2.0]), (np.array([0, 0]), np.array([1, 1]))), shape=(2, 2))
    for entry in ENTRIES:
        with pytest.raises(ValueError, match="weights must be non-negative"):
            call(entry, m, np.ones(2))


def test_integer_duplicates_are_summed_without_wrapping() -> None:
    """uint16 entries 65535 + 1 at one cell: summed in float64 (65536), not wrapped to 0."""
    m = sp.coo_array(
        (np.array([65535, 1], dtype=np.uint16), (np.array([0, 0]), np.array([1, 1]))),
        shape=(2, 2),
    )
    inputs, _ = yuma.prepare_inputs(m, np.ones(2))
    np.testing.assert_array_equal(inputs.weights.toarray(), [[0.0, 65536.0], [0.0, 0.0]])


def test_duplicates_that_sum_past_float64_are_refused() -> None:
    big = np.finfo(np.float64).max
    m = sp.coo_array((np.array([big, big]), (np.array([0, 0]), np.array([1, 1]))), shape=(2, 2))
    for entry in ENTRIES:
        with pytest.raises(ValueError, match="weights must be finite"):
            call(entry, m, np.ones(2))


# --------------------------------------------------------------------------------------------
# Item 3: odd dtypes are refused with the field's name, never coerced
# --------------------------------------------------------------------------------------------


def hostile_values(kind: str, shape: tuple[int, ...]) -> Any:
    """An array-like of ``shape`` of the given hostile kind (values otherwise legal)."""
    ones = np.ones(shape)
    if kind == "complex":
        return ones.astype(np.complex128)  # zero imaginary part: still refused
    if kind == "complex_imag":
        return ones + 1j
    if kind == "bool":
        return ones.astype(bool)
    if kind == "numeric_strings":
        return ones.astype(str)
    if kind == "bytes":
        return ones.astype("S8")
    if kind == "none":
        out = ones.astype(object)
        out.flat[0] = None
        return out
    if kind == "decimal":
        return np.vectorize(lambda x: decimal.Decimal(str(x)), otypes=[object])(ones)
    if kind == "fraction":
        return np.vectorize(lambda x: fractions.Fraction(int(x)), otypes=[object])(ones)
    if kind == "huge_int":
        return (ones.astype(np.int64).astype(object) * 2**70).tolist()
    if kind == "datetime":
        return ones.astype("datetime64[s]")
    if kind == "timedelta":
        return ones.astype("timedelta64[s]")
    if kind == "bool_in_list":
        out_list: Any = ones.tolist()
        cell = out_list
        while isinstance(cell[0], list):
            cell = cell[0]
        cell[0] = True
        return out_list
    raise AssertionError(kind)


DENSE_KINDS = [
    "complex",
    "complex_imag",
    "bool",
    "numeric_strings",
    "bytes",
    "none",
    "decimal",
    "fraction",
    "huge_int",
    "datetime",
    "timedelta",
    "bool_in_list",
]
#: scipy.sparse holds numbers only; of the hostile kinds it can carry these.
SPARSE_KINDS = ["complex", "complex_imag", "bool"]


@st.composite
def odd_dtype(draw: st.DrawFn) -> Case:
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    role = draw(st.sampled_from(["weights", "stake", "bonds"]))
    sparse = role != "stake" and draw(st.booleans())
    kind = draw(st.sampled_from(SPARSE_KINDS if sparse else DENSE_KINDS))
    shape = (rows,) if role == "stake" else (rows, cols)
    bad = hostile_values(kind, shape)
    if sparse:
        bad = sp.csr_array(np.asarray(bad))
    entry = draw(st.sampled_from([*ENTRIES, "epoch_batch", "simulate"]))
    weights: Any = np.ones((rows, cols))
    stake: Any = np.ones(rows)
    if role == "weights":
        weights = bad
    elif role == "stake":
        stake = bad
    if entry == "epoch_batch" and sparse:
        entry = "numpy"  # epoch_batch takes dense stacks only
    if entry == "simulate":
        # simulate validates its bonds and a weights callable's output here (array schedules
        # and stake: test_simulate_array_schedules_follow_the_dtype_rule).
        if role == "stake" or sparse:
            entry = "numpy"
        elif role == "weights":
            return Case("weights", "simulate_callable", None, np.ones(rows), {"fn_out": bad}, kind)
    return Case(role, entry, weights, stake, {} if role != "bonds" else {"bonds": bad}, kind)


def stacked(weights: Any) -> Any:
    """One epoch's (R, C) weights as a (1, R, C) batch, hostile contents kept as they are."""
    return [weights] if isinstance(weights, list) else np.asarray(weights)[None]


def run_odd(case: Case) -> Any:
    if case.entry == "epoch_batch":
        w = stacked(case.weights)
        return yuma.epoch_batch(w, case.stake, backend="numpy", **case.kwargs)
    if case.entry == "simulate":
        return yuma.simulate(case.weights, case.stake, epochs=2, **case.kwargs)
    if case.entry == "simulate_callable":
        out = case.kwargs["fn_out"]
        return yuma.simulate(lambda t, state: out, case.stake, epochs=2)
    return case.run()


def check_odd_dtype_is_refused(case: Case) -> None:
    with pytest.raises(ValueError, match=case.role):
        run_odd(case)


test_odd_dtype_is_refused, test_odd_dtype_is_refused_slow = fast_and_slow(
    odd_dtype(), slow_examples=2500
)(check_odd_dtype_is_refused)


@pytest.mark.parametrize("kind", DENSE_KINDS)
@pytest.mark.parametrize("role", ["weights", "stake", "bonds"])
def test_every_odd_dtype_on_every_dense_entry(kind: str, role: str) -> None:
    """The full table (the generated test samples it): each kind, each field, each entry."""
    shape = (3,) if role == "stake" else (3, 3)
    bad = hostile_values(kind, shape)
    w: Any = bad if role == "weights" else np.ones((3, 3))
    s: Any = bad if role == "stake" else np.ones(3)
    kwargs = {"bonds": bad} if role == "bonds" else {}
    for entry in ENTRIES:
        with pytest.raises(ValueError, match=role):
            call(entry, w, s, **kwargs)
    with pytest.raises(ValueError, match=role):
        yuma.epoch_batch(stacked(w), s, backend="numpy", **kwargs)


@pytest.mark.parametrize("kind", ["numeric_strings", "complex", "bool"])
@pytest.mark.parametrize("role", ["weights", "stake"])
def test_simulate_array_schedules_follow_the_dtype_rule(kind: str, role: str) -> None:
    bad = hostile_values(kind, (3,) if role == "stake" else (3, 3))
    w = bad if role == "weights" else np.ones((3, 3))
    s = bad if role == "stake" else np.ones(3)
    with pytest.raises(ValueError, match=role):
        yuma.simulate(w, s, epochs=2)


@st.composite
def legal_odd_dtype(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, str]:
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dtype = draw(
        st.sampled_from(
            [
                np.float16,
                np.float32,
                np.longdouble,
                np.int8,
                np.uint8,
                np.int32,
                np.uint16,
                np.int64,
                np.uint64,
            ]
        )
    )
    cells = st.sampled_from([0, 1, 2, 3, 100])
    w = np.array(draw(st.lists(cells, min_size=rows * cols, max_size=rows * cols))).reshape(
        rows, cols
    )
    s = np.array(draw(st.lists(cells, min_size=rows, max_size=rows)))
    return w.astype(dtype), s.astype(dtype), draw(st.sampled_from(ENTRIES[1:]))


def check_legal_dtypes_equal_float64(case: tuple[np.ndarray, np.ndarray, str]) -> None:
    """Real dtypes other than float64 are accepted and read as their float64 values."""
    w, s, backend = case
    got = yuma.epoch(w, s, bonds=w, backend=backend)
    ref = yuma.epoch(
        w.astype(np.float64), s.astype(np.float64), bonds=w.astype(np.float64), backend=backend
    )
    np.testing.assert_array_equal(got.dividends, ref.dividends)
    np.testing.assert_array_equal(got.bonds, ref.bonds)


test_legal_dtypes_equal_float64, test_legal_dtypes_equal_float64_slow = fast_and_slow(
    legal_odd_dtype(), slow_examples=1000
)(check_legal_dtypes_equal_float64)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("validator_permit", np.array([1.0, 0.0, 1.0]), "validator_permit must be boolean"),
        ("active", np.array(["1", "0", "1"]), "active must be boolean"),
        ("active", np.array([1 + 0j, 0, 1]), "active must be boolean"),
        ("recently_registered", np.array([2, 0, 1]), "recently_registered must be boolean"),
        ("outdated", np.full((3, 3), 0.5), "outdated must be boolean"),
        ("outdated", sp.csr_array(np.full((3, 3), 2)), "outdated must be boolean"),
        ("outdated", sp.csr_array(np.full((3, 3), 1.0)), "outdated must be boolean"),
        ("outdated", sp.csr_array(np.full((3, 3), 1 + 0j)), "outdated must be boolean"),
        (
            "validator_permit",
            sp.csr_array(np.ones((1, 3), bool)),
            "validator_permit must be a dense",
        ),
    ],
)
def test_masks_take_booleans_or_0_1_integers(name: str, value: Any, message: str) -> None:
    for entry in ENTRIES:
        with pytest.raises(ValueError, match=message):
            call(entry, np.ones((3, 3)), np.ones(3), **{name: value})


def test_sparse_masks_read_nonzero_cells_and_leave_the_input_alone() -> None:
    mask = sp.csr_array(
        (np.array([1, 0, 1], dtype=np.int8), np.array([0, 1, 2]), np.array([0, 2, 3, 3])),
        shape=(3, 3),
    )
    before = (mask.data.copy(), mask.indices.copy(), mask.indptr.copy())
    inputs, _ = yuma.prepare_inputs(sp.csr_array(np.ones((3, 3))), np.ones(3), outdated=mask)
    np.testing.assert_array_equal(inputs.outdated.toarray(), [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    for backend in BACKENDS:
        yuma.epoch(sp.csr_array(np.ones((3, 3))), np.ones(3), outdated=mask, backend=backend)
    for a, b in zip(before, (mask.data, mask.indices, mask.indptr), strict=True):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------------
# Overflowing and extreme magnitudes
# --------------------------------------------------------------------------------------------

TINY = float(np.nextafter(0.0, 1.0))  # the smallest subnormal
BIG = float(np.finfo(np.float64).max)


@st.composite
def extreme_magnitudes(draw: st.DrawFn) -> tuple[Any, Any, str, str | None]:
    """Weights and stake with entries from the subnormal to float64's maximum (sums that stay
    finite: the overflowing sums are issue 14 item 2), or one entry past float64 that must be
    refused: inf, NaN, a long double beyond float64, a Python int beyond 64 bits."""
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    mags = st.sampled_from([0.0, TINY, 1e-300, 1e-10, 1.0, 1e10, 1e300, BIG / 8])
    w = np.array(draw(st.lists(mags, min_size=rows * cols, max_size=rows * cols))).reshape(
        rows, cols
    )
    s = np.array(draw(st.lists(mags, min_size=rows, max_size=rows)))
    # Keep every row sum and the stake sum finite (at most 8 of BIG / 8 in each).
    sparse = draw(st.booleans())
    backend = draw(st.sampled_from(BACKENDS))
    bad = draw(st.sampled_from([None, None, "inf", "nan", "longdouble", "python_int"]))
    role = draw(st.sampled_from(["weights", "stake"]))
    if bad is None:
        return (sp.csr_array(w) if sparse else w), s, backend, None
    target = w if role == "weights" else s
    if bad == "longdouble":
        if np.finfo(np.longdouble).max <= BIG:
            bad = "inf"  # no wider long double on this platform
        else:
            target = target.astype(np.longdouble)
            target.flat[0] = np.longdouble(BIG) * 4
    if bad == "python_int":
        target = target.tolist()
        cell = target
        while isinstance(cell[0], list):
            cell = cell[0]
        cell[0] = 10**400
        sparse = False
    elif bad in ("inf", "nan"):
        target = target.copy()
        target.flat[0] = np.inf if bad == "inf" else np.nan
    if role == "weights":
        w_out: Any = sp.csr_array(target) if sparse and not isinstance(target, list) else target
        return w_out, s, backend, "weights"
    return (sp.csr_array(w) if sparse else w), target, backend, "stake"


def check_extreme_magnitudes(case: tuple[Any, Any, str, str | None]) -> None:
    w, s, backend, refused = case
    if refused is not None:
        with pytest.raises(ValueError, match=refused):
            yuma.epoch(w, s, backend=backend)
        return
    out = yuma.epoch(w, s, backend=backend)
    for name in ("stake", "consensus", "incentive", "dividends", "validator_trust"):
        assert np.all(np.isfinite(getattr(out, name))), name
    bonds = out.bonds.toarray() if sp.issparse(out.bonds) else out.bonds  # type: ignore[union-attr]
    assert np.all(np.isfinite(bonds)) and np.all(bonds >= 0)
    total = float(np.sum(out.combined_emission))
    assert total == pytest.approx(1.0, abs=1e-9) or total == 0.0


test_extreme_magnitudes, test_extreme_magnitudes_slow = fast_and_slow(
    extreme_magnitudes(), slow_examples=1000
)(check_extreme_magnitudes)


# --------------------------------------------------------------------------------------------
# Item 10 (parameters): numpy scalars are numbers too; bad values are still refused
# --------------------------------------------------------------------------------------------

FLOAT_FIELDS = {
    "kappa": (0.01, 0.99),
    "bonds_moving_average": (0.0, 1.0),
    "bonds_penalty": (0.0, 1.0),
    "alpha_sigmoid_steepness": (-100.0, 3000.0),
}
FLOAT_TYPES = [float, np.float64, np.float32, np.float16, np.longdouble]
INT_TYPES = [int, np.int64, np.int32, np.int16, np.uint16, np.uint64, np.uint8]


@st.composite
def numpy_scalar_params(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(constructor, kwargs with numpy scalars, the same as Python numbers)."""
    if draw(st.booleans()):
        name = draw(
            st.sampled_from([*FLOAT_FIELDS, "max_allowed_validators", "yuma3", "liquid_alpha"])
        )
        if name in FLOAT_FIELDS:
            lo, hi = FLOAT_FIELDS[name]
            t = draw(st.sampled_from(FLOAT_TYPES))
            v = t(draw(st.floats(lo, hi)))
            if name == "kappa" and not 0 < float(v) < 1:
                v = t(0.5)
            return "init", {name: v}, {name: float(v)}
        if name == "max_allowed_validators":
            k = draw(st.integers(0, 255))
            return "init", {name: draw(st.sampled_from(INT_TYPES))(k)}, {name: k}
        b = draw(st.booleans())
        return "init", {name: np.bool_(b)}, {name: b}
    name = draw(
        st.sampled_from(
            ["kappa", "bonds_moving_average", "bonds_penalty", "alpha_sigmoid_steepness",
             "max_allowed_validators", "yuma3_enabled", "liquid_alpha_enabled"]
        )
    )  # fmt: skip
    if name.endswith("_enabled"):
        b = draw(st.booleans())
        return "chain", {name: np.bool_(b)}, {name: b}
    lo, hi = {"kappa": (1, 65534), "bonds_moving_average": (0, 1_000_000),
              "alpha_sigmoid_steepness": (-32768, 32767)}.get(name, (0, 65535))  # fmt: skip
    k = draw(st.integers(lo, hi))
    types = [np.int64, np.int32] + ([np.uint32, np.uint64] if lo >= 0 else [])
    if hi <= 32767 and lo >= -32768:
        types.append(np.int16)
    return "chain", {name: draw(st.sampled_from(types))(k)}, {name: k}


def check_numpy_scalar_params(case: tuple[str, dict[str, Any], dict[str, Any]]) -> None:
    how, numpy_kwargs, python_kwargs = case
    build_params = yuma.YumaParams if how == "init" else yuma.YumaParams.from_chain
    got = build_params(**numpy_kwargs)
    ref = build_params(**python_kwargs)
    assert got == ref
    for name in ("kappa", "bonds_moving_average", "alpha_sigmoid_steepness"):
        assert type(getattr(got, name)) is float  # backends see Python floats, not float32
    assert type(got.max_allowed_validators) is int and type(got.yuma3) is bool


test_numpy_scalar_params, test_numpy_scalar_params_slow = fast_and_slow(
    numpy_scalar_params(), slow_examples=2000
)(check_numpy_scalar_params)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kappa": np.float32(1.0)}, "kappa must lie in the open interval"),
        ({"kappa": np.float64("nan")}, "kappa must be finite"),
        ({"kappa": np.complex128(0.5)}, "kappa must be a real number"),
        ({"kappa": np.bool_(True)}, "kappa must be a real number"),
        ({"kappa": "0.5"}, "kappa must be a real number"),
        ({"bonds_penalty": np.float16(-0.5)}, r"bonds_penalty must lie in \[0, 1\]"),
        ({"alpha_sigmoid_steepness": 10**400}, "alpha_sigmoid_steepness must be finite"),
        (
            {"alpha_sigmoid_steepness": np.longdouble("inf")},
            "alpha_sigmoid_steepness must be finite",
        ),
        (
            {"max_allowed_validators": np.float64(3.0)},
            "max_allowed_validators must be a non-negative int",
        ),
        (
            {"max_allowed_validators": np.int64(-1)},
            "max_allowed_validators must be a non-negative int",
        ),
        (
            {"max_allowed_validators": np.bool_(True)},
            "max_allowed_validators must be a non-negative int",
        ),
        ({"yuma3": np.int64(1)}, "yuma3 must be a bool"),
        ({"liquid_alpha": "yes"}, "liquid_alpha must be a bool"),
        ({"alpha_low": np.float32(0.9), "alpha_high": np.float32(0.5)}, "alpha_low"),
    ],
)
def test_bad_params_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        yuma.YumaParams(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kappa": np.int64(65536)}, r"kappa must be an integer in \[0, 65535\]"),
        ({"kappa": np.float64(32767)}, "kappa must be an integer"),
        ({"kappa": np.bool_(True)}, "kappa must be an integer"),
        ({"bonds_moving_average": np.uint64(2**63)}, "bonds_moving_average must be an integer"),
        ({"alpha_sigmoid_steepness": np.int32(40000)}, "alpha_sigmoid_steepness must be an i16"),
        ({"max_allowed_validators": np.int64(-1)}, "max_allowed_validators must be an integer"),
        ({"yuma3_enabled": 1}, "yuma3_enabled must be a bool"),
        ({"liquid_alpha_enabled": "false"}, "liquid_alpha_enabled must be a bool"),
        ({"alpha_low": np.uint16(60000), "alpha_high": np.uint16(50000)}, "alpha_low"),
    ],
)
def test_bad_chain_params_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        yuma.YumaParams.from_chain(**kwargs)


def test_numpy_scalar_params_run_an_epoch_like_python_numbers() -> None:
    w, s = np.array([[0.0, 1.0], [2.0, 1.0]]), np.array([3.0, 1.0])
    p_np = yuma.YumaParams(kappa=np.float32(0.25), bonds_penalty=np.float64(0.5),
                           max_allowed_validators=np.int64(2), yuma3=np.bool_(False))  # fmt: skip
    p_py = yuma.YumaParams(kappa=0.25, bonds_penalty=0.5, max_allowed_validators=2, yuma3=False)
    for backend in BACKENDS:
        a = yuma.epoch(w, s, params=p_np, backend=backend)
        b = yuma.epoch(w, s, params=p_py, backend=backend)
        np.testing.assert_array_equal(a.dividends, b.dividends)
        np.testing.assert_array_equal(a.bonds, b.bonds)


# --- the compiled canonical-order pass equals the numpy one -------------------------------------


@st.composite
def index_structures(draw: Any) -> tuple[np.ndarray, np.ndarray]:
    """Rows of column indices: ascending, or with repeats and descents anywhere."""
    rows = draw(st.integers(0, 6))
    counts = draw(st.lists(st.integers(0, 5), min_size=rows, max_size=rows))
    index_dtype = draw(st.sampled_from([np.int32, np.int64]))
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(index_dtype)
    nnz = int(indptr[-1])
    cols = draw(st.lists(st.integers(-3, 9), min_size=nnz, max_size=nnz))  # some out of range
    indices = np.asarray(cols, dtype=draw(st.sampled_from([np.int32, np.int64])))
    if draw(st.booleans()):  # most real input is sorted: sort each row, sometimes uniquely
        for i in range(rows):
            indices[indptr[i] : indptr[i + 1]] = np.sort(indices[indptr[i] : indptr[i + 1]])
    return indices, indptr


def check_compiled_canonical_pass_equals_numpy(case: tuple[np.ndarray, np.ndarray]) -> None:
    from yuma._sparse import _is_canonical, _is_canonical_numpy
    from yuma._sparse_kernels import rows_ascending

    indices, indptr = case
    expected = all(
        bool(np.all(np.diff(indices[indptr[i] : indptr[i + 1]].astype(np.int64)) > 0))
        for i in range(indptr.shape[0] - 1)
    )
    assert _is_canonical_numpy(indices, indptr) == expected
    assert bool(rows_ascending(indices, indptr)) == expected
    assert _is_canonical(indices, indptr) == expected
    if indices.size:
        from yuma._sparse_kernels import scan_indices

        lo, hi, ascending = scan_indices(indices, indptr)
        assert (lo, hi, ascending) == (int(indices.min()), int(indices.max()), expected)


test_compiled_canonical_pass, test_compiled_canonical_pass_slow = fast_and_slow(
    index_structures(), slow_examples=3000
)(check_compiled_canonical_pass_equals_numpy)


# --- the fused compiled check (index range, order and values) equals a plain loop ---------------

#: Stored values a CSR may carry: legal ones (a negative zero too) and every kind of bad one.
_LEGAL_VALUES = [0.0, -0.0, 0.5, 2.0, 65535.0, 5e-324, float(np.finfo(np.float64).max)]
_BAD_VALUES = [-1.0, -5e-324, np.nan, np.inf, -np.inf]

_INDPTR_CORRUPTIONS = ["none", "not_from_zero", "decreasing", "middle_past_nnz", "past_entries"]


@st.composite
def csr_parts(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(data, indices, indptr, n_minor): rows of indices ascending or not (repeats, descents),
    some out of range or negative, values legal or not, an indptr sometimes broken, arrays
    sometimes longer than the stored entries or shorter than indptr says."""
    rows = draw(st.integers(0, 6))
    n_minor = draw(st.integers(0, 8))
    counts = draw(st.lists(st.integers(0, 5), min_size=rows, max_size=rows))
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    nnz = int(indptr[-1])
    low = -3 if draw(st.booleans()) else 0
    high = n_minor + 2 if draw(st.booleans()) else max(n_minor - 1, 0)
    indices = np.array(draw(st.lists(st.integers(low, high), min_size=nnz, max_size=nnz)))
    if draw(st.booleans()):  # most real input is sorted: sort each row, sometimes uniquely
        for i in range(rows):
            row = indices[indptr[i] : indptr[i + 1]]
            indices[indptr[i] : indptr[i + 1]] = (
                np.sort(row) if draw(st.booleans()) else np.arange(row.size) + (row.min(initial=0))
            )
    pool = _LEGAL_VALUES + (_BAD_VALUES if draw(st.booleans()) else [])
    data = np.array(draw(st.lists(st.sampled_from(pool), min_size=nnz, max_size=nnz)))
    spare = draw(st.integers(0, 2))  # scipy allows arrays longer than nnz
    indices = np.concatenate((indices, np.full(spare, draw(st.sampled_from([0, -1, 99])))))
    data = np.concatenate((data, np.full(spare, draw(st.sampled_from([1.0, -1.0, np.nan])))))
    how = draw(st.sampled_from(_INDPTR_CORRUPTIONS))
    if how == "not_from_zero":
        indptr[0] = draw(st.sampled_from([1, -1, 3]))
    elif how == "decreasing" and rows >= 2:
        indptr[draw(st.integers(1, rows - 1))] = nnz + 1
    elif how == "middle_past_nnz" and rows >= 2:
        indptr[draw(st.integers(1, rows - 1))] = nnz + draw(st.integers(1, 4)) + spare
    elif how == "past_entries":
        indptr[-1] = nnz + spare + draw(st.integers(1, 3))
    if draw(st.booleans()) and data.size:  # fewer values than indices
        data = data[: draw(st.integers(0, data.size - 1))]
    index_dtype = draw(st.sampled_from([np.int32, np.int64]))
    return data, indices.astype(index_dtype), indptr.astype(index_dtype), n_minor


def scan_csr_loop(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, n_minor: int) -> int:
    """:func:`yuma._sparse_kernels.scan_csr` as a plain loop over Python numbers."""
    from yuma._sparse_kernels import CANONICAL, REFUSED, UNSORTED

    ptr = [int(p) for p in indptr]
    if not ptr or ptr[0] != 0:
        return REFUSED
    nnz = ptr[-1]
    if nnz > len(indices) or nnz > len(data):
        return REFUSED
    if any(b < a for a, b in itertools.pairwise(ptr)):
        return REFUSED
    for k in range(nnz):
        x = float(data[k])
        if not 0 <= int(indices[k]) < n_minor or not np.isfinite(x) or x < 0:
            return REFUSED
    for a, b in itertools.pairwise(ptr):
        row = [int(j) for j in indices[a:b]]
        if any(q <= p for p, q in itertools.pairwise(row)):
            return UNSORTED
    return CANONICAL


def check_fused_pass_equals_loop(case: tuple[np.ndarray, np.ndarray, np.ndarray, int]) -> None:
    from yuma._sparse_kernels import scan_csr

    data, indices, indptr, n_minor = case
    assert scan_csr(data, indices, indptr, n_minor) == scan_csr_loop(*case)


test_fused_pass, test_fused_pass_slow = fast_and_slow(csr_parts(), slow_examples=1500)(
    check_fused_pass_equals_loop
)


def check_fast_check_equals_full_check(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, int],
) -> None:
    """The fast path answers exactly as the full check, or leaves the answer to it."""
    from yuma._sparse import checked_csr, checked_csr_fast
    from yuma._validate import _value_entries, check_matrix

    data, indices, indptr, n_minor = case
    rows = max(indptr.shape[0] - 1, 0)
    for kind in (sp.csr_array, sp.csr_matrix):
        m = kind((rows, n_minor))
        m.data, m.indices, m.indptr = data, indices, indptr  # scipy checks nothing here
        fast = checked_csr_fast(m)
        try:
            full = checked_csr("weights", m, _value_entries)
            check_matrix("weights", m)
        except ValueError:
            assert fast is None
            continue
        if fast is None:
            continue
        assert isinstance(fast, sp.csr_array) and fast.shape == full.shape
        assert (fast is m) == (full is m) == (kind is sp.csr_array)
        for a, b in ((fast.data, full.data), (fast.indices, full.indices)):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(fast.indptr, full.indptr)
        assert fast.indptr.dtype == full.indptr.dtype
    # nothing was changed in place
    np.testing.assert_array_equal(data, case[0])
    np.testing.assert_array_equal(indices, case[1])


test_fast_check, test_fast_check_slow = fast_and_slow(csr_parts(), slow_examples=1000)(
    check_fast_check_equals_full_check
)


@pytest.mark.parametrize(
    "how", ["none", "nan_last", "negative_last", "index_too_high", "unsorted", "indptr_break"]
)
def test_the_fast_check_of_a_large_csr(how: str) -> None:
    """A large canonical CSR (2^18 entries) takes the one-pass check: each defect, anywhere,
    still reaches the full check (and its message); a clean matrix comes back as itself."""
    n, per_row = 1024, 2**18 // 1024 + 8
    rng = np.random.default_rng(7)
    indices = np.sort(rng.permuted(np.tile(np.arange(n), (n, 1)), axis=1)[:, :per_row], axis=1)
    indptr = np.arange(0, n * per_row + 1, per_row)
    data = rng.random(n * per_row)
    indices = indices.ravel().astype(np.int32)
    indptr = indptr.astype(np.int32)
    message = None
    if how == "nan_last":
        data[-1], message = np.nan, "weights must be finite"
    elif how == "negative_last":
        data[-1], message = -1.0, "weights must be non-negative"
    elif how == "index_too_high":
        indices[n * per_row // 2 + 3], message = n, "out of range"
    elif how == "unsorted":
        k = n * per_row // 3 + 5
        indices[k], indices[k + 1] = indices[k + 1], indices[k]
    elif how == "indptr_break":
        indptr[n // 2], message = n * per_row + 1, "indptr must be non-decreasing"
    m = sp.csr_array((n, n))
    m.data, m.indices, m.indptr = data, indices, indptr
    if message is not None:
        with pytest.raises(ValueError, match=message):
            yuma.prepare_inputs(m, np.ones(n))
        return
    got = yuma.prepare_inputs(m, np.ones(n))[0].weights
    assert (got is m) == (how == "none")
    assert got.has_canonical_format
    np.testing.assert_array_equal(got.toarray(), m.toarray())


# --- values left to the compiled dense epoch ----------------------------------------------------
# From 2^16 cells a dense epoch bound for numba skips the two reductions over its weights and
# bonds: the kernel checks every value as it reads it. It must refuse exactly what the reference
# refuses, wherever the value sits: rows without a permit (never copied), the diagonal and
# outdated cells (masked), the bonds of a recently registered miner (never read by the EMA).

BAD_VALUES = [
    (np.nan, "finite"),
    (np.inf, "finite"),
    (-np.inf, "finite"),
    (-1e-300, "non-negative"),
]


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")
@pytest.mark.parametrize("n", [256, 512])  # 512 x 512 runs the parallel passes
@pytest.mark.parametrize("role", ["weights", "bonds"])
@pytest.mark.parametrize("where", ["plain", "no permit", "diagonal", "outdated", "recent"])
@pytest.mark.parametrize(("value", "message"), BAD_VALUES)
def test_the_compiled_epoch_refuses_what_the_reference_refuses(
    n: int, role: str, where: str, value: float, message: str
) -> None:
    w = np.ones((n, n))
    bonds = np.full((n, n), 0.5)
    permit = np.ones(n, dtype=bool)
    permit[7] = False
    outdated = np.zeros((n, n), dtype=bool)
    outdated[n - 1, 3] = True
    recent = np.zeros(n, dtype=bool)
    recent[5] = True
    cell = {"plain": (n - 2, 1), "no permit": (7, 2), "diagonal": (9, 9),
            "outdated": (n - 1, 3), "recent": (4, 5)}[where]  # fmt: skip
    (w if role == "weights" else bonds)[cell] = value
    kwargs = {"validator_permit": permit, "outdated": outdated, "recently_registered": recent}
    for backend in (None, "numba", "numpy"):
        with pytest.raises(ValueError, match=f"{role} must be {message}"):
            yuma.epoch(w, np.ones(n), bonds, backend=backend, **kwargs)


@pytest.mark.parametrize("entry", ENTRIES)
def test_deciding_where_values_are_checked_reads_no_malformed_input(entry: str) -> None:
    # The choice of who checks the values must not touch the input: a COO matrix whose
    # coordinate and data lengths differ raises even from ``.size``, before the check that
    # names the argument (found by the slow step).
    m = sp.coo_array((np.ones(3), (np.array([0, 1, 2]), np.array([0, 1, 2]))), shape=(3, 3))
    m.coords = (np.array([0, 1, 2, 0]), m.coords[1])
    with pytest.raises(ValueError, match="weights"):
        call(entry, m, np.ones(3))


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")
def test_a_finite_value_comes_first_as_in_the_reference() -> None:
    w = np.ones((300, 300))
    w[0, 0] = -1.0
    w[299, 299] = np.nan
    for backend in ("numba", "numpy"):
        with pytest.raises(ValueError, match="weights must be finite"):
            yuma.epoch(w, np.ones(300), backend=backend)


def test_values_left_to_the_kernel_are_checked_by_any_other_path() -> None:
    w = np.ones((300, 300))
    w[3, 4] = np.nan
    inputs, params = yuma.prepare_inputs(w, np.ones(300), defer_dense_values=True)
    assert not inputs.values_checked
    with pytest.raises(ValueError, match="weights must be finite"):
        yuma.backends.run_epoch(inputs, params, "numpy")
    checked, _ = yuma.prepare_inputs(np.ones((300, 300)), np.ones(300))
    assert checked.values_checked


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")
def test_good_values_left_to_the_kernel_give_the_checked_result() -> None:
    rng = np.random.default_rng(3)
    w = rng.random((300, 300)) * (rng.random((300, 300)) < 0.6)
    s = rng.random(300)
    b = rng.random((300, 300))
    deferred = yuma.epoch(w, s, b, backend="numba")
    inputs, params = yuma.prepare_inputs(w, s, b)  # values checked first
    checked = yuma.backends.run_epoch(inputs, params, "numba")
    for name, value in checked.as_dict().items():
        np.testing.assert_array_equal(getattr(deferred, name), value, err_msg=name)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (0.0, None),
        (-0.0, None),  # fails the bit-pattern test, passes the exact checks
        (5e-324, None),
        (float(np.finfo(np.float64).max), None),
        (-5e-324, "non-negative"),
        (-1.0, "non-negative"),
        (np.inf, "finite"),
        (-np.inf, "finite"),
        (np.nan, "finite"),
        (-np.nan, "finite"),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_check_values_at_every_edge(value: float, error: str | None, dtype: Any) -> None:
    """The one-reduction test on float64 bit patterns (and the two reductions on any other
    dtype) at each edge value, in the array and in strided views of it."""
    from yuma._validate import check_values

    if dtype == np.float32 and value in (5e-324, -5e-324, np.finfo(np.float64).max):
        pytest.skip("not a float32 value")
    values = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=dtype)
    values[1, 2] = value
    for view in (values, values[:, ::2], values.T):
        if error is None:
            check_values("x", view)
        else:
            with pytest.raises(ValueError, match=error):
                check_values("x", view)
