"""The numba dense epoch's row passes, cell for cell the reference's building blocks.

The epoch-level tests (``test_backends.py``) compare whole epochs to 1e-9; these pin the fused
loops of :mod:`yuma.backends.numba_dense` to the reference's own arithmetic, bit for bit where
the reference's formula is evaluated cell by cell (the clip, the bonds penalty, the EMA).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import yuma
from yuma.backends import numba_dense as nd
from yuma.clip import col_clip
from yuma.ema import mat_ema
from yuma.interpolate import interpolate

SETTINGS = settings(max_examples=40, deadline=None)


def _yuma3_rows(
    w: Any, consensus: Any, a: Any, bonds: Any, recent: Any, beta: float, rate: float
) -> tuple[Any, ...]:
    """``_rows_clip_ema`` on Yuma3 without liquid alpha, over two row ranges."""
    n_rows, n_cols = w.shape
    clipped, ema = np.empty((n_rows, n_cols)), np.empty((n_rows, n_cols))
    vtrust = np.empty(n_rows)
    ranks, sum1, sum2 = np.zeros(n_cols), np.zeros(n_cols), np.zeros(n_cols)
    half = n_rows // 2
    for r0, r1 in ((0, half), (half, n_rows)):
        status = nd._rows_clip_ema(
            w, consensus, a, bonds, recent, beta, rate, True, False, 0.7, 0.9, 10.0,
            clipped, ema, vtrust, ranks, sum1, sum2, r0, r1, True,
        )  # fmt: skip
        assert status == nd.VALUES_OK
    return clipped, ema, vtrust, ranks, sum1


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 40), st.integers(1, 70)),
    beta=st.sampled_from([0.0, 1.0, 0.37]),
    rate=st.sampled_from([0.1, 0.5, 1.0]),
)
def test_yuma3_clip_and_ema_rows_are_the_reference_cells(
    seed: int, shape: tuple[int, int], beta: float, rate: float
) -> None:
    rng = np.random.default_rng(seed)
    w = rng.random(shape) * (rng.random(shape) < 0.8)
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    consensus = np.quantile(w, 0.5, axis=0) * rng.random(shape[1])
    a = rng.random(shape[0])
    bonds = rng.random(shape) * (rng.random(shape) < 0.7)
    recent = rng.random(shape[1]) < 0.2
    clipped, ema, vtrust, ranks, sum1 = _yuma3_rows(w, consensus, a, bonds, recent, beta, rate)

    want_clip = col_clip(w, consensus)
    np.testing.assert_array_equal(clipped, want_clip)
    previous = np.where(recent[None, :], 0.0, bonds)
    want_ema = mat_ema(interpolate(w, want_clip, beta), previous, rate)
    # bit for bit: β = 1 takes the clip itself (``w + (clip − w)`` can differ from it)
    assert ema.tobytes() == want_ema.tobytes()
    np.testing.assert_allclose(vtrust, want_clip.sum(axis=1), rtol=1e-13, atol=0)
    np.testing.assert_allclose(ranks, (a[:, None] * want_clip).sum(axis=0), rtol=1e-13, atol=0)
    np.testing.assert_allclose(sum1, want_ema.sum(axis=0), rtol=1e-13, atol=0)


def test_previous_bonds_enter_to_the_bit_at_every_rate() -> None:
    """The previous bond enters as ``retain_j · B_ij`` (``retain`` = 1 − rate, or 0 in a
    recently registered column): bit for bit the reference's ``(1 − rate) · prev``, signed zeros
    included (a -0.0 bond passes the checks), at rates 0, 1 and in between."""
    w = np.array([[0.0, 0.5, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]])
    consensus = np.array([0.1, 0.4, 0.3, 0.0])
    bonds = np.array([[-0.0, 0.3, -0.0, 1.0], [0.7, -0.0, 0.2, -0.0]])
    recent = np.array([True, False, False, True])
    for rate in (0.0, 0.1, 0.5, 1.0):
        for beta in (0.0, 1.0):
            clipped, ema, *_ = _yuma3_rows(w, consensus, np.ones(2), bonds, recent, beta, rate)
            want_clip = col_clip(w, consensus)
            np.testing.assert_array_equal(clipped, want_clip)
            previous = np.where(recent[None, :], 0.0, bonds)
            want = mat_ema(interpolate(w, want_clip, beta), previous, rate)
            assert ema.tobytes() == want.tobytes(), (rate, beta)


def test_full_bonds_penalty_keeps_the_clip_exactly() -> None:
    """A cell where ``w + (c − w)`` is not ``c``: β = 1 must still give ``rate·c + …``."""
    w = np.array([[0.7, 0.3]])
    consensus = np.array([0.1, 1.0])
    assert w[0, 0] + (consensus[0] - w[0, 0]) != consensus[0]  # the case exists
    no_bonds, none_recent = np.zeros((1, 2)), np.zeros(2, bool)
    _, ema, *_ = _yuma3_rows(w, consensus, np.ones(1), no_bonds, none_recent, 1.0, 1.0)
    assert ema[0, 0] == consensus[0]
    assert ema[0, 1] == w[0, 1]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_huge_self_weight_does_not_swamp_the_row_sum(backend: str) -> None:
    """The self-weight is masked before the row is summed (never subtracted afterwards, which
    would lose every other weight of the row to round-off)."""
    n = 300  # above 2**16 cells: the compiled epoch checks the values as it reads them
    rng = np.random.default_rng(5)
    w = rng.random((n, n))
    np.fill_diagonal(w, 1e300)
    stake = rng.random(n)
    params = yuma.YumaParams(max_allowed_validators=n)  # every row keeps its weights
    got = yuma.epoch(w, stake, params=params, backend=backend).weights
    off = ~np.eye(n, dtype=bool)
    want = np.where(off, w, 0.0)
    want /= want.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert np.all(np.diag(got) == 0.0)


def test_dividend_factors() -> None:
    """``I_j / s_j`` (``I_j`` on an empty column); none at all when one would overflow."""
    got = nd._dividend_factors(np.array([2.0, 0.0, 0.5]), np.array([0.5, 0.25, 0.25]))
    np.testing.assert_array_equal(got, [0.25, 0.25, 0.5])
    subnormal = np.array([1.0, 5e-324])
    assert nd._dividend_factors(subnormal, np.array([0.5, 0.5])).shape == (0,)


@pytest.mark.parametrize("yuma3", [True, False])
def test_dividends_by_factors_equal_dividends_by_division(yuma3: bool) -> None:
    rng = np.random.default_rng(3)
    n_rows, n_cols = 37, 53
    ema = rng.random((n_rows, n_cols)) * (rng.random((n_rows, n_cols)) < 0.6)
    ema[:, 4] = 0.0  # an empty column
    col_sum, col_max = ema.sum(axis=0), ema.max(axis=0)
    incentive = rng.random(n_cols)
    permit = rng.random(n_rows) < 0.8
    outs = []
    for factor in (nd._dividend_factors(col_sum, incentive), np.empty(0)):
        stored, raw = ema.copy(), np.empty(n_rows)
        nd._rows_dividends(
            stored, incentive, col_sum, col_max, yuma3, ema, permit, permit, raw, 0, n_rows,
            factor,
        )  # fmt: skip
        outs.append((stored, raw))
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-14, atol=0)
    want = np.where(col_sum > 0, ema / np.where(col_sum > 0, col_sum, 1.0), ema) @ incentive
    np.testing.assert_allclose(outs[0][1], want, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(outs[0][0], outs[1][0])


#: Edge values and what the row check must say of a row holding one (the error of
#: ``yuma._validate.check_values`` for the same value).
_EDGES = [
    (0.0, nd.VALUES_OK),
    (-0.0, nd.VALUES_OK),  # flagged by the bit test, passed by the exact look
    (5e-324, nd.VALUES_OK),
    (2.2250738585072009e-308, nd.VALUES_OK),  # the largest subnormal
    (float(np.finfo(np.float64).max), nd.VALUES_OK),  # exponent 0x7FE: no carry
    (-5e-324, nd.VALUES_NEGATIVE),
    (-1.0, nd.VALUES_NEGATIVE),
    (-float(np.finfo(np.float64).max), nd.VALUES_NEGATIVE),
    (np.inf, nd.VALUES_NOT_FINITE),
    (-np.inf, nd.VALUES_NOT_FINITE),
    (np.nan, nd.VALUES_NOT_FINITE),
    (-np.nan, nd.VALUES_NOT_FINITE),
    (np.frombuffer(np.uint64(0x7FFFFFFFFFFFFFFF).tobytes())[0], nd.VALUES_NOT_FINITE),
]


@pytest.mark.parametrize(("value", "expected"), _EDGES)
@pytest.mark.parametrize("length", [1, 5, 16, 37])
def test_row_values_check_at_every_edge_and_position(
    value: float, expected: int, length: int
) -> None:
    """``values_status`` (one OR per value over the bit patterns) at each edge value, in every
    position of rows that fill its vector loop, its remainder, or only the remainder."""
    for at in range(length):
        row = np.linspace(1.0, 2.0, length)
        row[at] = value
        assert nd.values_status(row.view(np.uint64)) == expected, (value, length, at)


def test_row_values_check_ranks_a_non_finite_value_over_a_negative_one() -> None:
    """As the reference: NaN or infinity is named before a negative value, and -0.0 beside a
    negative value does not hide it."""
    cases = [
        ([-1.0, 0.5, np.nan], nd.VALUES_NOT_FINITE),
        ([np.inf, -1.0], nd.VALUES_NOT_FINITE),
        ([-0.0, 3.0, -2.0], nd.VALUES_NEGATIVE),
        ([-0.0, -0.0], nd.VALUES_OK),
        ([], nd.VALUES_OK),
    ]
    for row, expected in cases:
        assert nd.values_status(np.array(row, dtype=np.float64).view(np.uint64)) == expected


@pytest.mark.parametrize(("value", "expected"), _EDGES)
@pytest.mark.parametrize("n_cols", [1, 5, 16, 37])
def test_row_passes_flag_every_edge_value_as_they_read(
    value: float, expected: int, n_cols: int
) -> None:
    """The weights pass and the fused Yuma3 clip/EMA pass take ``values_status``'s flags in
    their own loops: each finds an edge value in any row and position, with and without
    ``outdated``, in a row without a permit too (whose values the reference checks as well),
    and says nothing when told not to check."""
    rng = np.random.default_rng(n_cols)
    n_rows = 3
    consensus = rng.random(n_cols)
    a = rng.random(n_rows)
    recent = rng.random(n_cols) < 0.3
    no_outdated = np.zeros((0, 0), dtype=np.bool_)
    some_outdated = rng.random((n_rows, n_cols)) < 0.3
    for row in range(n_rows):
        for at in range(n_cols):
            W = rng.random((n_rows, n_cols))
            W[row, at] = value
            for has_permit in (True, False):
                permit = np.ones(n_rows, dtype=np.bool_)
                permit[row] = has_permit
                for outdated in (no_outdated, some_outdated):
                    w = np.empty((n_rows, n_cols))
                    args = (W, permit, False, outdated, w, 0, n_rows)
                    assert nd._rows_weights(*args, True) == expected, (row, at, has_permit)
                    assert nd._rows_weights(*args, False) == nd.VALUES_OK
            B = rng.random((n_rows, n_cols))
            B[row, at] = value
            clipped, ema = np.empty((n_rows, n_cols)), np.empty((n_rows, n_cols))
            vtrust, ranks, sum1 = np.empty(n_rows), np.zeros(n_cols), np.zeros(n_cols)
            for check in (True, False):
                status = nd._rows_clip_plain_ema(
                    rng.random((n_rows, n_cols)), consensus, a, B, recent, 0.5, 0.1,
                    clipped, ema, vtrust, ranks, sum1, 0, n_rows, check,
                )  # fmt: skip
                assert status == (expected if check else nd.VALUES_OK), (row, at)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 3.0]), min_size=0, max_size=12),
    shift=st.integers(-3, 2),
)
def test_compiled_permits_equal_the_reference_around_k_equal_n(
    values: list[float], shift: int
) -> None:
    """``topk_nonzero`` (the compiled epochs' permits; no sort once ``k >= n``) equals
    :func:`yuma.is_topk_nonzero` with ``k`` just below, at and above the row count, ties and
    zeros included."""
    from yuma.backends import _nb_common

    x = np.array(values, dtype=np.float64)
    k = max(0, len(values) + shift)
    expected = np.asarray(yuma.is_topk_nonzero(x, k))
    np.testing.assert_array_equal(_nb_common.topk_nonzero(x, k), expected)
