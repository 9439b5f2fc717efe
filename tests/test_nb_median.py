"""The numba column-median kernels (:mod:`yuma.backends._nb_common`) against the numpy reference
:func:`yuma.median.weighted_median`: the very same selection, ties, zeros and zero stake included.

Stakes and the minority are dyadic (small integers times a power of two), so every partial sum
is exact in any order: the kernels sum in different orders from the reference (and under
fastmath), which only matters at knife-edge ties, and with exact sums there are none. A separate
test with arbitrary float stakes compares away from knife edges.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yuma.backends import _nb_common as nb
from yuma.median import weighted_median

FEW = nb.FEW

#: Score distributions: each stresses a different path of the sweep kernel.
KINDS = (
    "uniform",  # random floats in [0, 1]: the common path
    "levels",  # a handful of distinct values: ties everywhere
    "sparse",  # mostly zeros (a real subnet's column)
    "equal",  # one value (all validators copy one weight)
    "cluster",  # a tight cluster far below one outlier: stalls, then a second bracket
    "geometric",  # 2**-k: every order of magnitude, deep levels, the quickselect fallback
    "wide",  # magnitudes from 1e-300 to 1 (no subnormals)
    "adjacent",  # two to four adjacent floats: pivots coincide with scores
)


def column(draw: Any, n: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "uniform":
        v = rng.random(n)
    elif kind == "levels":
        v = rng.integers(0, draw(st.integers(1, 5)), n) / 4
    elif kind == "sparse":
        v = rng.random(n) * (rng.random(n) < draw(st.sampled_from([0.05, 0.3, 0.7])))
    elif kind == "equal":
        v = np.full(n, draw(st.sampled_from([0.0, 1e-300, 0.3, 1.0, 1e300])))
    elif kind == "cluster":
        v = 0.5 + rng.integers(0, 4, n) * 2.0**-45
        if n:
            v[rng.integers(0, n, max(1, n // 50))] = 1.0
        v[rng.random(n) < 0.1] = 0.0
    elif kind == "geometric":
        v = 2.0 ** -rng.integers(0, 1000, n).astype(np.float64)
    elif kind == "wide":
        v = 10.0 ** rng.uniform(-300, 0, n)
    else:
        x = draw(st.sampled_from([0.0, 1e-300, 0.3, 1.0, 1e300]))
        steps = [x]
        for _ in range(draw(st.integers(1, 3))):
            steps.append(float(np.nextafter(steps[-1], np.inf)))
        v = rng.choice(np.array(steps), n)
    if draw(st.booleans()):
        v = np.sort(v)[:: draw(st.sampled_from([1, -1]))].copy()  # presorted columns
    return v.astype(np.float64)


def dyadic_stakes(draw: Any, n: int) -> tuple[np.ndarray, float]:
    """``n`` dyadic stakes (zeros included) and a dyadic minority that may lie below zero (κ
    above the total) or at or above the total (nobody crosses)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    units = rng.integers(0, draw(st.sampled_from([2, 16, 2**20])), n)
    units[rng.random(n) < draw(st.sampled_from([0.0, 0.2]))] = 0  # zero-stake entries
    s = units * 2.0**-24
    total = float(s.sum())
    minority = draw(
        st.one_of(
            st.integers(0, max(1, int(units.sum()))).map(lambda k: k * 2.0**-24),
            st.sampled_from([-(2.0**-24), total, total + 1.0, total / 2]),
        )
    )
    return s, float(minority)


@st.composite
def cases(draw: Any, max_n: int = 300) -> tuple[np.ndarray, np.ndarray, float]:
    """(scores, stakes, minority): one column of a score distribution, :func:`dyadic_stakes`."""
    n = draw(st.one_of(st.integers(0, 20), st.integers(FEW + 1, max_n)))
    kind = draw(st.sampled_from(KINDS))
    v = column(draw, n, kind)
    s, minority = dyadic_stakes(draw, n)
    return v, s, minority


def reference(v: np.ndarray, s: np.ndarray, minority: float) -> float:
    return weighted_median(s, v, minority) if v.size else 0.0


def run_sweep(v: np.ndarray, s: np.ndarray, minority: float) -> float:
    n = v.size
    n_float, n_int = nb.sweep_scratch(n)
    bv = np.full(n_float, np.nan)  # garbage scratch: nothing may be read before it is written
    bs = np.full(n_float, np.nan)
    idx = np.full(n_int, -7, dtype=np.int64)
    return float(nb.wmedian_sweep(v, s, n, minority, bv, bs, idx))


@settings(max_examples=600, deadline=None)
@given(cases())
def test_sweep_median_equals_the_reference(case: Any) -> None:
    v, s, minority = case
    v0, s0 = v.copy(), s.copy()
    got = run_sweep(v, s, minority)
    np.testing.assert_array_equal(v, v0)  # inputs untouched
    np.testing.assert_array_equal(s, s0)
    assert got == reference(v, s, minority)


@settings(max_examples=40, deadline=None)
@given(cases(max_n=5000))
def test_sweep_median_on_long_columns(case: Any) -> None:
    v, s, minority = case
    assert run_sweep(v, s, minority) == reference(v, s, minority)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_kernel_selects_alike(case: Any) -> None:
    """The sweep, the quickselects and the sort pick the same score."""
    v, s, minority = case
    n = v.size
    expected = reference(v, s, minority)
    assert run_sweep(v, s, minority) == expected
    assert nb.wmedian(v.copy(), s.copy(), n, minority, 0) == expected
    assert nb.wmedian(v.copy(), s.copy(), n, minority, 1) == expected
    if n:
        bv, bs = np.empty(2 * n), np.empty(2 * n)
        assert nb.wmedian_split(v.copy(), s.copy(), n, minority, bv, bs) == expected


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 600),
    kappa=st.sampled_from([0.1, 0.5, 32767 / 65535, 0.9]),
    kind=st.sampled_from(KINDS),
    data=st.data(),
)
def test_sweep_median_with_float_stakes(
    seed: int, n: int, kappa: float, kind: str, data: st.DataObject
) -> None:
    """Normalised random stakes, as in an epoch: the reference's choice away from knife edges
    (a running sum within round-off of the minority)."""
    rng = np.random.default_rng(seed)
    v = column(data.draw, n, kind)
    s = rng.lognormal(0.0, 2.0, n)
    s /= s.sum()
    minority = float(s.sum()) - kappa
    order = np.argsort(v, kind="stable")
    if np.any(np.abs(np.cumsum(s[order]) - minority) < 1e-12):
        return
    assert run_sweep(v, s, minority) == reference(v, s, minority)


@pytest.mark.parametrize("n", [0, 1, 2, nb.FEW, nb.FEW + 1, 64, 257])
def test_sweep_median_small_and_edge_sizes(n: int) -> None:
    rng = np.random.default_rng(n)
    v = rng.random(n) * (rng.random(n) < 0.5)
    s = rng.integers(1, 9, n) * 2.0**-8
    for minority in (-1.0, 0.0, float(s.sum()) / 2, float(s.sum()), 5.0):
        assert run_sweep(v, s, minority) == reference(v, s, minority)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.sampled_from([0, 1, 2, 63, 64, 65, 127, 128, 129, 200, 300]),
    at=st.integers(0, 5),
    to=st.integers(0, 5),
    quantiles=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
def test_copy_range_keeps_the_bracket_in_order(
    seed: int, n: int, at: int, to: int, quantiles: tuple[float, float]
) -> None:
    """``_copy_range`` (the bit-word copy) against a numpy mask: exactly the entries in
    ``(lo, hi]`` with their stakes, in their order, across word boundaries; nothing else of the
    destination written."""
    rng = np.random.default_rng(seed)
    v = np.zeros(at + n)
    v[at:] = rng.random(n) * (rng.random(n) < 0.7)
    s = rng.random(at + n)
    lo, hi = (float(np.quantile(v[at:], q)) if n else 0.5 for q in sorted(quantiles))
    bv = np.full(to + n + 3, np.nan)
    bs = np.full(to + n + 3, np.nan)
    m = nb._copy_range(v, s, at, n, lo, hi, bv, bs, to)
    keep = (v[at:] > lo) & (v[at:] <= hi)
    assert m == int(keep.sum())
    np.testing.assert_array_equal(bv[to : to + m], v[at:][keep])
    np.testing.assert_array_equal(bs[to : to + m], s[at:][keep])
    assert np.isnan(bv[:to]).all() and np.isnan(bv[to + m :]).all()
    assert np.isnan(bs[:to]).all() and np.isnan(bs[to + m :]).all()
