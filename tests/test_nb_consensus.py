"""The row-major consensus (:func:`yuma.backends._nb_consensus.consensus_rows`) against the
reference weighted median, column by column, and against the gather path of the dense epoch.

Each matrix mixes columns of every score distribution of ``test_nb_median`` (ties, zeros,
clusters, 2**-k, magnitudes down to 1e-300, presorted), among rows that do not vote (whose
scores must not count), with dyadic stakes, so every partial sum is exact in any order (see
``test_nb_median``), and a separate test with lognormal stakes away from knife edges.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_nb_median import KINDS, column, dyadic_stakes

from yuma.backends import _nb_common as nb
from yuma.backends import _nb_consensus as nc
from yuma.backends import numba_dense as nd
from yuma.median import weighted_median


@st.composite
def matrices(draw: Any, max_voters: int = 160, max_cols: int = 70) -> dict[str, Any]:
    """Weights ``(R, C)`` with voters a subset of the rows, dyadic stakes and minority."""
    n_voters = draw(st.integers(nc.ROWS_MIN, max_voters))
    n_rows = n_voters + draw(st.integers(0, 6))
    n_cols = draw(st.integers(1, max_cols))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = np.empty((n_rows, n_cols))
    for j in range(n_cols):
        w[:, j] = column(draw, n_rows, draw(st.sampled_from(KINDS)))
    voters = np.sort(rng.choice(n_rows, n_voters, replace=False)).astype(np.int64)
    u, minority = dyadic_stakes(draw, n_voters)
    return {"w": w, "voters": voters, "u": u, "minority": float(minority)}


def reference(w: np.ndarray, voters: np.ndarray, u: np.ndarray, minority: float) -> np.ndarray:
    return np.array([weighted_median(u, w[voters, j], minority) for j in range(w.shape[1])])


def rows_consensus(case: dict[str, Any], c0: int = 0, c1: int = -1, block: int = 0) -> Any:
    w = case["w"]
    c1 = w.shape[1] if c1 < 0 else c1
    out = np.full(w.shape[1], -7.0)  # columns outside [c0, c1) must stay untouched
    nc.consensus_rows(w, case["voters"], case["u"], case["minority"], out, c0, c1, block)
    return out


@settings(max_examples=300, deadline=None)
@given(case=matrices(), data=st.data())
def test_every_column_is_the_reference_median(case: dict[str, Any], data: Any) -> None:
    w = case["w"]
    w0 = w.copy()
    expected = reference(w, case["voters"], case["u"], case["minority"])
    # the whole range as one block, and blocks of 1, 3, 8, 64 columns: every block boundary
    block = data.draw(st.sampled_from([0, 1, 3, 8, 64]))
    got = rows_consensus(case, block=block)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(w, w0)  # the weights are read only


@settings(max_examples=100, deadline=None)
@given(case=matrices(), data=st.data())
def test_a_column_range_writes_only_its_columns(case: dict[str, Any], data: Any) -> None:
    n_cols = case["w"].shape[1]
    c0 = data.draw(st.integers(0, n_cols))
    c1 = data.draw(st.integers(c0, n_cols))
    got = rows_consensus(case, c0, c1, data.draw(st.sampled_from([0, 5])))
    expected = reference(case["w"], case["voters"], case["u"], case["minority"])
    np.testing.assert_array_equal(got[c0:c1], expected[c0:c1])
    assert np.all(got[:c0] == -7.0) and np.all(got[c1:] == -7.0)


@settings(max_examples=100, deadline=None)
@given(case=matrices())
def test_rows_and_gather_paths_agree(case: dict[str, Any]) -> None:
    """The dense epoch's gather path, with the sweep (method 0) and with the sort (method 1),
    picks the same scores."""
    w = case["w"]
    for method in (0, 1):
        gathered = np.empty(w.shape[1])
        nd._cols_gathered(
            w, case["voters"], case["u"], case["minority"], gathered, 0, w.shape[1], method
        )
        np.testing.assert_array_equal(rows_consensus(case), gathered)


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_voters=st.integers(nc.ROWS_MIN, 400),
    n_cols=st.integers(1, 40),
    kappa=st.sampled_from([0.1, 0.5, 32767 / 65535, 0.9]),
    data=st.data(),
)
def test_float_stakes_away_from_knife_edges(
    seed: int, n_voters: int, n_cols: int, kappa: float, data: Any
) -> None:
    """Normalised lognormal stakes, as in an epoch; a column whose running sum comes within
    round-off of the minority is skipped (the sums' order differs from the reference's)."""
    rng = np.random.default_rng(seed)
    w = np.empty((n_voters, n_cols))
    for j in range(n_cols):
        w[:, j] = column(data.draw, n_voters, data.draw(st.sampled_from(KINDS)))
    u = rng.lognormal(0.0, 2.0, n_voters)
    u /= u.sum()
    minority = float(u.sum()) - kappa
    voters = np.arange(n_voters, dtype=np.int64)
    got = rows_consensus({"w": w, "voters": voters, "u": u, "minority": minority})
    for j in range(n_cols):
        order = np.argsort(w[:, j], kind="stable")
        if np.any(np.abs(np.cumsum(u[order]) - minority) < 1e-12):
            continue
        assert got[j] == weighted_median(u, w[:, j], minority)


@pytest.mark.parametrize("n_voters", [nc.ROWS_MIN, 64, 257, nc.ROWS_MAX])
def test_a_wide_matrix_whole_and_in_blocks(n_voters: int) -> None:
    """600 u16-like columns, every seventh tied, as one range and in blocks of 64 columns."""
    rng = np.random.default_rng(n_voters)
    w = rng.integers(0, 65536, (n_voters, 600)) * (rng.random((n_voters, 600)) < 0.7) / 65535
    w[:, ::7] = np.round(w[:, ::7] * 4) / 4
    u = rng.integers(1, 2**10, n_voters) * 2.0**-24
    voters = np.arange(n_voters, dtype=np.int64)
    minority = float(u.sum()) / 2
    case = {"w": w, "voters": voters, "u": u, "minority": minority}
    expected = reference(w, voters, u, minority)
    np.testing.assert_array_equal(rows_consensus(case), expected)
    np.testing.assert_array_equal(rows_consensus(case, block=64), expected)


def test_the_dense_consensus_at_and_around_the_bounds() -> None:
    """``_cols_consensus`` (method 0) hands voter counts in ``[ROWS_MIN, ROWS_MAX]`` to
    ``consensus_rows`` and the rest to the gather path: the reference on either side."""
    rng = np.random.default_rng(5)
    for n_voters in (nb.FEW, nc.ROWS_MIN, 300, nc.ROWS_MAX + 1):
        w = rng.random((n_voters, 20)) * (rng.random((n_voters, 20)) < 0.6)
        u = rng.integers(1, 64, n_voters) * 2.0**-20
        voters = np.arange(n_voters, dtype=np.int64)
        minority = float(u.sum()) * 0.5
        got = np.empty(20)
        nd._cols_consensus(w, voters, u, minority, got, 0, 20, 0)
        np.testing.assert_array_equal(got, reference(w, voters, u, minority))


def test_a_bracket_holding_more_than_the_pool_reads_its_column_again() -> None:
    """A tie of ``2 * CAP`` scores (or more) inside the bracket after the rounds: the copy pass
    keeps ``CAP`` of them, so the column's entries are read from the matrix again."""
    n_voters = 4 * nc.CAP + 8
    rng = np.random.default_rng(0)
    tie = rng.permutation(n_voters)
    w = np.zeros((n_voters, 3))
    w[tie[: n_voters // 2], 0] = 0.5  # the median, tied n_voters / 2 times
    w[tie[n_voters // 2 : 3 * n_voters // 4], 0] = 1.0
    w[:, 1] = w[:, 0] * 0.3 + 0.1 * (w[:, 0] == 0.0)  # the same shape, other values
    w[:, 2] = rng.random(n_voters)
    u = np.full(n_voters, 2.0**-10)
    voters = np.arange(n_voters, dtype=np.int64)
    for minority in (float(u.sum()) / 2, float(u.sum()) / 4, float(u.sum()) * 0.7):
        case = {"w": w, "voters": voters, "u": u, "minority": minority}
        expected = reference(w, voters, u, minority)
        assert expected[0] == 0.5  # the tie is the answer, as built
        np.testing.assert_array_equal(rows_consensus(case), expected)


@pytest.mark.parametrize("n_validators", [8, 20, 300])
def test_an_epoch_where_nobody_crosses_on_adjacent_floats(n_validators: int) -> None:
    """κ so small that ``U − κ`` rounds to ``U``: no score's stake exceeds the minority, and
    the column's scores are adjacent floats (so the top pivot is the top score and the
    bracket above it is empty). The consensus is the largest score, as in the reference: 8
    voters (finished directly), 20 and 300 (the rows). It was 0.0 wherever a bracket was
    swept (the rows, and the column sweep: ``test_nb_median``'s ``adjacent`` columns)."""
    import yuma

    x = 0.3
    up = float(np.nextafter(x, 1.0))
    rng = np.random.default_rng(n_validators)
    first = rng.choice(np.array([x, up]), n_validators)
    first[0], first[1] = x, up
    W = np.stack([first, 1.0 - first], axis=1)  # rows sum to 1: normalised exactly
    S = rng.integers(1, 9, n_validators).astype(np.float64)
    params = yuma.YumaParams(kappa=1e-300, max_allowed_validators=n_validators)
    fast = yuma.epoch(W, S, params=params, layout="bipartite", backend="numba")
    ref = yuma.epoch(W, S, params=params, layout="bipartite", backend="numpy")
    np.testing.assert_array_equal(fast.consensus, ref.consensus)
    assert fast.consensus[0] == up


def test_more_columns_than_a_block() -> None:
    """The default block (:data:`~yuma.backends._nb_consensus.BLOCK` columns) and a last,
    shorter one; few voters, so the pool holds every voter's score (``cap = V``)."""
    n_voters, n_cols = nc.ROWS_MIN, nc.BLOCK + 104
    rng = np.random.default_rng(11)
    w = rng.integers(0, 4, (n_voters, n_cols)) / 4  # ties everywhere
    w[:, 1::2] = rng.random((n_voters, n_cols // 2))
    u = rng.integers(1, 2**10, n_voters) * 2.0**-24
    voters = np.arange(n_voters, dtype=np.int64)
    minority = float(u.sum()) * 0.4
    case = {"w": w, "voters": voters, "u": u, "minority": minority}
    np.testing.assert_array_equal(rows_consensus(case), reference(w, voters, u, minority))
