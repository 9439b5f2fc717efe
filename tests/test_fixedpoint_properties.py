"""The numba fixed-point kernels against plain Python-int definitions (spec Appendix A), and the
closed-form column median against the chain's literal quick-select."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from yuma.chain import fixedpoint as fp
from yuma.chain import ops

MIN, MAX = fp.I32F32_MIN, fp.I32F32_MAX
raw = st.one_of(
    st.integers(MIN, MAX),
    st.integers(-(1 << 40), 1 << 40),
    st.integers(0, 1 << 33),
    st.sampled_from([MIN, MAX, 0, 1, -1, fp.ONE, -fp.ONE, 1 << 32 - 1]),
)
FAST = settings(max_examples=300, deadline=None)


def ref_mul(a: int, b: int) -> int | None:
    p = (a * b) >> 32
    return p if MIN <= p <= MAX else None


def ref_div(a: int, b: int) -> int | None:
    if b == 0:
        return None
    num = a << 32
    q = abs(num) // abs(b)
    q = q if (num < 0) == (b < 0) else -q
    return q if MIN <= q <= MAX else None


def ref_exp(x: int) -> int | None:
    """substrate-fixed ``exp`` written with Python ints."""
    if x == 0:
        return fp.ONE
    if x == fp.ONE:
        return 22802600 << 9
    y = abs(x)
    result = y + fp.ONE
    term = y
    for i in range(2, 32):
        term = ref_mul(term, y)  # type: ignore[arg-type]
        if term is None:
            return None
        term = ref_div(term, i << 32)  # type: ignore[assignment]
        if term is None:
            return None
        result += term
        if result > MAX:
            return None
    if x < 0:
        return ref_div(fp.ONE, result)
    return result


@FAST
@given(raw, raw)
def test_mul_matches_python_ints(a: int, b: int) -> None:
    v, ok = fp.checked_mul(a, b)
    want = ref_mul(a, b)
    assert bool(ok) == (want is not None)
    if want is not None:
        assert int(v) == want
    sat = int(fp.saturating_mul(a, b))
    assert sat == (want if want is not None else (MIN if (a < 0) != (b < 0) else MAX))


@FAST
@given(raw, raw)
def test_div_matches_python_ints(a: int, b: int) -> None:
    v, ok = fp.checked_div(a, b)
    want = ref_div(a, b)
    assert bool(ok) == (want is not None)
    if want is not None:
        assert int(v) == want
    assert int(fp.safe_div(a, b)) == (want if want is not None else 0)


@FAST
@given(raw, raw)
def test_saturating_add_sub(a: int, b: int) -> None:
    assert int(fp.saturating_add(a, b)) == min(max(a + b, MIN), MAX)
    assert int(fp.saturating_sub(a, b)) == min(max(a - b, MIN), MAX)


@FAST
@given(st.one_of(st.integers(-(25 << 32), 25 << 32), raw))
def test_exp_matches_python_ints(x: int) -> None:
    v, ok = fp.exp(x)
    want = ref_exp(x)
    assert bool(ok) == (want is not None)
    if want is not None:
        assert int(v) == want
    clamped = min(max(x, -20 << 32), 20 << 32)
    safe = ref_exp(clamped)
    assert int(fp.exp_safe(x)) == (safe if safe is not None else (0 if clamped <= 0 else MAX))


@FAST
@given(st.integers(0, 65535))
def test_u16_round_trip_floors(q: int) -> None:
    p = int(fp.u16_proportion_to_fixed(q))
    assert p == (q << 32) // 65535
    # storing a loaded proportion again floors: q or q − 1, never more
    assert int(fp.fixed_proportion_to_u16(p)) in (q, q - 1)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1 << 32), st.sampled_from([0, 1, 2, 3, 1 << 31, 1 << 32])),
        min_size=0,
        max_size=9,
    ),
    st.integers(-(1 << 33), 1 << 33),
)
def test_closed_form_median_equals_quickselect(pairs: list[tuple[int, int]], minority: int) -> None:
    """``weighted_median_col``'s closed form equals the chain's literal algorithm, ties and zero
    stakes included (partition lo = 0, hi = Σ stake, as the chain calls it)."""
    stake = [s for s, _ in pairs]
    score = [c for _, c in pairs]
    total = sum(stake)
    literal = ops.weighted_median(stake, score, list(range(len(pairs))), minority, 0, total)
    closed = ops._median_columns(
        np.array(stake, dtype=np.int64),
        np.array(score, dtype=np.int64).reshape(len(pairs), 1),
        minority,
    )
    assert int(closed[0]) == literal


def test_wide_types_saturate_and_truncate() -> None:
    top, bottom = fp.I128_MAX, fp.I128_MIN
    assert fp.wide_checked_mul(top, 2 << 64, 64) is None
    assert fp.wide_saturating_mul(top, 2 << 64, 64) == top
    assert fp.wide_saturating_mul(top, -(2 << 64), 64) == bottom
    assert fp.wide_checked_mul(3 << 64, 1 << 63, 64) == 3 << 63  # 3 * 0.5, floored exactly
    assert fp.wide_checked_mul(-1, 1, 64) == -1  # floors toward -inf
    assert fp.wide_checked_div(1 << 64, 0, 64) is None
    assert fp.wide_safe_div(1 << 64, 0, 64) == 0
    assert fp.wide_checked_div(-(1 << 64), 3 << 64, 64) == -((1 << 64) // 3)  # truncates
    assert fp.wide_safe_div(top, 1, 64) == 0  # quotient overflows
    # I96F32 emission: share 0.5 of u64::MAX rao floors to (2^64 - 1) // 2
    assert fp.emission_amount([1 << 31], fp.U64_MAX) == [fp.U64_MAX // 2]
    assert fp.emission_amount([fp.I32F32_MAX], fp.U64_MAX) == [fp.U64_MAX]
