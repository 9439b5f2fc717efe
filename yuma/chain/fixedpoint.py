"""The chain's fixed-point primitives, on raw integers, vectorised.

Every value here is the raw bit pattern of a ``substrate-fixed`` number (spec §2, Appendix A):

* ``I32F32`` — value × 2**32 in a signed 64-bit integer: numpy ``int64`` arrays.
* ``I64F64`` / ``I96F32`` — value × 2**64 / × 2**32 in a signed 128-bit integer: these only occur
  in per-uid vectors (stake normalisation, emission amounts), so they are handled as Python ints.

Rounding rules, exactly as the chain's fixed-point crate applies them:

* multiplication floors (``(a * b) >> 32``, toward −∞);
* division truncates (``trunc((a << 32) / b)``, toward zero);
* ``saturating_*`` clamps to the type's range, ``checked_*`` reports failure, ``safe_div`` gives 0
  for a zero divisor or an overflowing quotient.

The two 128-bit operations (product, and quotient of a 96-bit numerator) are numba kernels that
split the operands into 32-bit limbs, so no intermediate is ever rounded. All public functions
accept scalars or arrays and return numpy arrays (0-d for scalar input).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numba as nb
import numpy as np
import numpy.typing as npt

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)

__all__ = [
    "FRAC",
    "I32F32_MAX",
    "I32F32_MIN",
    "I64F64_MAX",
    "ONE",
    "U16_MAX",
    "U64_MAX",
    "alpha_sigmoid",
    "checked_div",
    "checked_mul",
    "checked_sum",
    "emission_amount",
    "exp",
    "exp_safe",
    "fixed64_to_fixed32",
    "fixed64_to_u64",
    "fixed_proportion_to_u16",
    "fixed_to_u16",
    "fixed_to_u64",
    "from_float",
    "from_int",
    "i32",
    "one_minus_i64f64_ratio",
    "round_to_int",
    "safe_div",
    "saturating_add",
    "saturating_div",
    "saturating_mul",
    "saturating_sub",
    "sigmoid_safe",
    "u16_proportion_to_fixed",
    "u16_to_fixed",
    "u64_normalization",
    "wide_checked_div",
    "wide_checked_mul",
    "wide_safe_div",
    "wide_saturating_mul",
]

#: Fractional bits of ``I32F32`` (and of ``I96F32``).
FRAC = 32
#: Raw value of 1.0 in ``I32F32``.
ONE = 1 << FRAC
I32F32_MIN = -(1 << 63)
I32F32_MAX = (1 << 63) - 1
I64F64_MAX = (1 << 127) - 1
U16_MAX = 65535
U64_MAX = (1 << 64) - 1

I64Array: TypeAlias = np.ndarray[Any, np.dtype[np.int64]]
BoolArray: TypeAlias = np.ndarray[Any, np.dtype[np.bool_]]
U64Array: TypeAlias = np.ndarray[Any, np.dtype[np.uint64]]
ArrayLike: TypeAlias = npt.ArrayLike

# numba promotes mixed int64/uint64 arithmetic to float64, so every limb constant is typed.
_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_U0 = np.uint64(0)
_U1 = np.uint64(1)
_I64_MAX_U = np.uint64((1 << 63) - 1)
_I64_MIN_MAG = np.uint64(1 << 63)


def i32(x: ArrayLike) -> I64Array:
    """``x`` as an ``int64`` array of raw ``I32F32`` values (no conversion of the numbers)."""
    return np.asarray(x, dtype=np.int64)


# ------------------------------------------------------------------------------------------------
# 128-bit kernels (numba): magnitudes as uint64 limbs, signs handled separately.


@nb.njit(cache=True, inline="always")
def _mag(a: Any) -> Any:
    """|a| as uint64 (exact for INT64_MIN too)."""
    if a < 0:
        return np.uint64(-(a + 1)) + _U1
    return np.uint64(a)


@nb.njit(cache=True, inline="always")
def _umul128(a: Any, b: Any) -> tuple[Any, Any]:
    """Full 128-bit product of two uint64 values as (high, low) limbs."""
    a_lo = a & _M32
    a_hi = a >> _S32
    b_lo = b & _M32
    b_hi = b >> _S32
    ll = a_lo * b_lo
    lh = a_lo * b_hi
    hl = a_hi * b_lo
    hh = a_hi * b_hi
    mid = (ll >> _S32) + (lh & _M32) + (hl & _M32)
    lo = (ll & _M32) | ((mid & _M32) << _S32)
    hi = hh + (lh >> _S32) + (hl >> _S32) + (mid >> _S32)
    return hi, lo


@nb.njit(cache=True)
def _mul_raw(a: Any, b: Any) -> tuple[Any, bool]:
    """``floor(a * b / 2**32)`` for raw I32F32 values; (value, fits-in-I32F32)."""
    if 0 <= a < (1 << 32) and 0 <= b < (1 << 32):
        # both non-negative and below 2^32: the product fits in uint64
        return np.int64((np.uint64(a) * np.uint64(b)) >> _S32), True
    neg = (a < 0) != (b < 0)
    hi, lo = _umul128(_mag(a), _mag(b))
    if hi >= (_U1 << _S32):
        return 0, False
    m = (hi << _S32) | (lo >> _S32)
    if neg:
        # floor of a negative quotient = −ceil(|a·b| / 2**32)
        if (lo & _M32) != _U0:
            m = m + _U1
        if m > _I64_MIN_MAG:
            return 0, False
        if m == _I64_MIN_MAG:
            return -(1 << 63), True
        return -np.int64(m), True
    if m > _I64_MAX_U:
        return 0, False
    return np.int64(m), True


@nb.njit(cache=True)
def _udiv_shift(ua: Any, ub: Any) -> tuple[Any, bool]:
    """``floor(ua * 2**32 / ub)`` for uint64 magnitudes, ub > 0; (quotient, fits-in-uint64)."""
    if ua < (_U1 << _S32):
        # numerator fits in 64 bits
        return (ua << _S32) // ub, True
    if (ub & _M32) == _U0:
        # integer divisor: (ua·2^32)/(k·2^32) = ua/k exactly
        return ua // (ub >> _S32), True
    hi = ua >> _S32
    lo = ua << _S32
    if hi >= ub:
        return _U0, False
    # 128 / 64 restoring long division; the quotient fits in 64 bits because hi < ub.
    r = hi
    q = _U0
    for k in range(64):
        carry = r >> np.uint64(63)
        r = (r << _U1) | ((lo >> np.uint64(63 - k)) & _U1)
        q = q << _U1
        if carry != _U0 or r >= ub:
            r = r - ub
            q = q | _U1
    return q, True


@nb.njit(cache=True, inline="always")
def _udiv_recip(num: Any, den: Any, inv: Any) -> tuple[Any, bool]:
    """``floor(num / den)`` for a uint64 ``num`` and an int64 ``den`` in [1, 2**62) through
    ``inv = 1.0 / den`` (float64), for loops that divide many values by one divisor; (quotient,
    ok), not ok (the caller divides exactly) when the quotient may reach 2**50.

    Exact: three roundings leave the float quotient within 3·2**-53 relative, under 0.5 below
    2**50, so its truncation is off by at most one, which the remainder (wrapping uint64
    arithmetic: the true remainder lies in [−den, 2·den), inside int64) corrects. A multiply
    instead of a 64-bit division per value."""
    qf = np.float64(num) * inv
    if not qf < 1125899906842624.0:  # 2**50; NaN never comes (den ≥ 1)
        return np.int64(0), False
    q = np.int64(qf)
    r = np.int64(num - np.uint64(q) * np.uint64(den))
    if r < 0:
        q -= 1
    elif r >= den:
        q += 1
    return q, True


@nb.njit(cache=True)
def _div_raw(a: Any, b: Any) -> tuple[Any, bool]:
    """``trunc(a * 2**32 / b)`` for raw I32F32 values; (value, ok). ``b == 0`` is not ok."""
    if b == 0:
        return 0, False
    neg = (a < 0) != (b < 0)
    q, ok = _udiv_shift(_mag(a), _mag(b))
    if not ok:
        return 0, False
    if neg:
        if q > _I64_MIN_MAG:
            return 0, False
        if q == _I64_MIN_MAG:
            return -(1 << 63), True
        return -np.int64(q), True
    if q > _I64_MAX_U:
        return 0, False
    return np.int64(q), True


@nb.njit(cache=True)
def _mul_kernel(a: Any, b: Any, out: Any, ok: Any) -> None:
    for k in range(a.size):
        out[k], ok[k] = _mul_raw(a[k], b[k])


@nb.njit(cache=True)
def _div_kernel(a: Any, b: Any, out: Any, ok: Any) -> None:
    for k in range(a.size):
        out[k], ok[k] = _div_raw(a[k], b[k])


@nb.njit(cache=True)
def _exp_scalar(x: Any) -> tuple[Any, bool]:
    """substrate-fixed ``transcendental::exp`` on I32F32; (value, ok).

    A 31-term Taylor series: ``term ← checked_mul(term, |x|)``, ``term ← checked_div(term, i)``,
    ``result ← checked_add(result, term)``; the reciprocal for negative ``x``. Any overflow is an
    error of the whole call.
    """
    one = np.int64(1) << np.int64(32)
    if x == 0:
        return one, True
    if x == one:
        # the crate returns its constant E, which keeps 23 fractional bits
        return np.int64(22802600) << np.int64(9), True
    y = x
    if x < 0:
        if x == -(1 << 63):
            return 0, False
        y = -x
    if y > (1 << 63) - 1 - one:
        return 0, False
    result = y + one
    term = y
    for i in range(2, 32):
        if term == 0:
            # every later term is 0 too (0 ⊗ y = 0, 0 / i = 0)
            break
        term, ok = _mul_raw(term, y)
        if not ok:
            return 0, False
        # (term << 32) / (i << 32) == term / i exactly; term >= 0 so // truncates
        term = term // i
        if term > (1 << 63) - 1 - result:  # checked_add on non-negative values
            return 0, False
        result = result + term
    if x < 0:
        return _div_raw(one, result)
    return result, True


@nb.njit(cache=True)
def _exp_safe_scalar(x: Any) -> Any:
    lim = np.int64(20) << np.int64(32)
    c = min(max(x, -lim), lim)
    v, ok = _exp_scalar(c)
    if ok:
        return v
    return 0 if c <= 0 else (1 << 63) - 1


@nb.njit(cache=True)
def _exp_kernel(x: Any, out: Any, ok: Any) -> None:
    for k in range(x.size):
        out[k], ok[k] = _exp_scalar(x[k])


@nb.njit(cache=True)
def _exp_safe_kernel(x: Any, out: Any) -> None:
    for k in range(x.size):
        out[k] = _exp_safe_scalar(x[k])


@nb.njit(cache=True, inline="always")
def _sat_mul(a: Any, b: Any) -> Any:
    """``saturating_mul`` on raw I32F32 values.

    The common case of the epoch (two values in [0, 2**32): proportions) is :func:`_mul_raw`'s
    first branch, repeated here so that it is inlined at every call site: numba leaves
    ``_mul_raw`` an out-of-line call in the larger kernels, which cost about a fifth of the fused
    sparse EMA's time."""
    if 0 <= a < (1 << 32) and 0 <= b < (1 << 32):
        return np.int64((np.uint64(a) * np.uint64(b)) >> _S32)
    v, ok = _mul_raw(a, b)
    if ok:
        return v
    return -(1 << 63) if (a < 0) != (b < 0) else (1 << 63) - 1


@nb.njit(cache=True)
def _sat_div(a: Any, b: Any) -> Any:
    v, ok = _div_raw(a, b)
    if ok:
        return v
    return -(1 << 63) if (a < 0) != (b < 0) else (1 << 63) - 1


@nb.njit(cache=True)
def _sat_add(a: Any, b: Any) -> Any:
    # compared before adding: LLVM treats signed overflow as undefined, so a wrapped sum
    # cannot be tested afterwards
    if b > 0 and a > (1 << 63) - 1 - b:
        return (1 << 63) - 1
    if b < 0 and a < -(1 << 63) - b:
        return -(1 << 63)
    return a + b


@nb.njit(cache=True)
def _sat_sub(a: Any, b: Any) -> Any:
    if b < 0 and a > (1 << 63) - 1 + b:
        return (1 << 63) - 1
    if b > 0 and a < -(1 << 63) + b:
        return -(1 << 63)
    return a - b


@nb.njit(cache=True)
def _alpha_sigmoid_scalar(c: Any, w: Any, b: Any, lo: Any, hi: Any, steep: Any) -> Any:
    one = np.int64(1) << np.int64(32)
    half = one >> np.int64(1)
    if w >= b:
        x = min(max(_sat_sub(w, c), 0), one)
    else:
        x = min(max(_sat_sub(b, w), 0), one)
    ratio = _sat_div(steep, -np.int64(100) << np.int64(32))
    arg = _sat_mul(ratio, _sat_sub(x, half))
    den = _sat_add(one, _exp_safe_scalar(arg))
    sig = _sat_div(one, den)
    alpha = _sat_add(lo, _sat_mul(sig, _sat_sub(hi, lo)))
    # clamp_value: min with high first, then max with low (low wins when low > high)
    return max(min(alpha, hi), lo)


@nb.njit(cache=True)
def _alpha_sigmoid_kernel(c: Any, w: Any, b: Any, lo: int, hi: int, steep: int, out: Any) -> None:
    for k in range(c.size):
        out[k] = _alpha_sigmoid_scalar(c[k], w[k], b[k], lo, hi, steep)


# Element-wise kernels over 2-D views. Operands are broadcast (zero strides, no copies) and
# every element goes through the scalar-faithful helpers above, so a whole matrix costs one pass
# and no temporaries.


@nb.njit(cache=True)
def _mul2d(a: Any, b: Any, out: Any, ok: Any) -> None:
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j], ok[i, j] = _mul_raw(a[i, j], b[i, j])


@nb.njit(cache=True)
def _sat_mul2d(a: Any, b: Any, out: Any) -> None:
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = _sat_mul(a[i, j], b[i, j])


@nb.njit(cache=True)
def _div2d(a: Any, b: Any, out: Any, ok: Any) -> None:
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j], ok[i, j] = _div_raw(a[i, j], b[i, j])


@nb.njit(cache=True)
def _safe_div2d(a: Any, b: Any, out: Any) -> None:
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            v, ok = _div_raw(a[i, j], b[i, j])
            out[i, j] = v if ok else 0


@nb.njit(cache=True)
def _sat_div2d(a: Any, b: Any, out: Any) -> None:
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = _sat_div(a[i, j], b[i, j])


@nb.njit(cache=True)
def _sat_add2d(a: Any, b: Any, out: Any) -> None:
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = _sat_add(a[i, j], b[i, j])


@nb.njit(cache=True)
def _sat_sub2d(a: Any, b: Any, out: Any) -> None:
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = _sat_sub(a[i, j], b[i, j])


# ------------------------------------------------------------------------------------------------
# Public vectorised primitives (I32F32 raw int64 arrays).


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[Any, Any, tuple[int, ...]]:
    """Broadcast two operands to 2-D views (no copy where numpy can avoid one) and the shape."""
    x, y = (v.view() for v in np.broadcast_arrays(i32(a), i32(b)))
    # read-only views: numba then never asks whether a broadcast view may be written
    x.flags.writeable = False
    y.flags.writeable = False
    shape = x.shape
    if x.ndim != 2:
        cols = shape[-1] if x.ndim else 1
        x = x.reshape(-1, cols) if x.size else np.zeros((0, 1), dtype=np.int64)
        y = y.reshape(-1, cols) if y.size else np.zeros((0, 1), dtype=np.int64)
    return x, y, shape


def _run(kernel: Any, a: ArrayLike, b: ArrayLike) -> I64Array:
    x, y, shape = _pair(a, b)
    out = np.empty(x.shape, dtype=np.int64)
    kernel(x, y, out)
    return out.reshape(shape)


def _run_checked(kernel: Any, a: ArrayLike, b: ArrayLike) -> tuple[I64Array, BoolArray]:
    x, y, shape = _pair(a, b)
    out = np.empty(x.shape, dtype=np.int64)
    ok = np.empty(x.shape, dtype=np.bool_)
    kernel(x, y, out, ok)
    return out.reshape(shape), ok.reshape(shape)


def checked_mul(a: ArrayLike, b: ArrayLike) -> tuple[I64Array, BoolArray]:
    """I32F32 ``checked_mul``: ``(floor(a·b / 2**32), ok)``; where not ok the value is 0."""
    return _run_checked(_mul2d, a, b)


def saturating_mul(a: ArrayLike, b: ArrayLike) -> I64Array:
    """I32F32 ``saturating_mul``: floor of the product, clamped (sign = sign(a)·sign(b))."""
    return _run(_sat_mul2d, a, b)


def checked_div(a: ArrayLike, b: ArrayLike) -> tuple[I64Array, BoolArray]:
    """I32F32 ``checked_div``: ``(trunc(a·2**32 / b), ok)``; not ok for ``b == 0`` or overflow."""
    return _run_checked(_div2d, a, b)


def safe_div(a: ArrayLike, b: ArrayLike) -> I64Array:
    """``safe_math::safe_div``: the truncated quotient, or 0 on division by zero or overflow."""
    return _run(_safe_div2d, a, b)


def saturating_div(a: ArrayLike, b: ArrayLike) -> I64Array:
    """I32F32 ``saturating_div`` (truncates, clamps on overflow). The chain panics on ``b == 0``;
    here a zero divisor saturates like an overflow."""
    return _run(_sat_div2d, a, b)


def saturating_add(a: ArrayLike, b: ArrayLike) -> I64Array:
    """I32F32 ``saturating_add``."""
    return _run(_sat_add2d, a, b)


def saturating_sub(a: ArrayLike, b: ArrayLike) -> I64Array:
    """I32F32 ``saturating_sub``."""
    return _run(_sat_sub2d, a, b)


def checked_sum(x: ArrayLike, bits: int = 64, signed: bool = False) -> int | None:
    """``checked_sum``: the integer sum, or ``None`` if it leaves the type's range."""
    total = sum(int(v) for v in np.asarray(x, dtype=object).ravel())
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return total if lo <= total <= hi else None


# ------------------------------------------------------------------------------------------------
# 128-bit types (I64F64: 64 fractional bits, I96F32: 32), on Python ints. They only occur in
# per-uid vectors (stake, emission amounts), so exact Python integers are cheap enough.

I128_MIN = -(1 << 127)
I128_MAX = (1 << 127) - 1


def wide_checked_mul(a: int, b: int, frac: int) -> int | None:
    """``checked_mul`` of two 128-bit fixed-point raws with ``frac`` fractional bits (floor)."""
    p = (int(a) * int(b)) >> frac
    return p if I128_MIN <= p <= I128_MAX else None


def wide_saturating_mul(a: int, b: int, frac: int) -> int:
    """``saturating_mul`` of 128-bit fixed-point raws (floor, clamped by the product's sign)."""
    p = wide_checked_mul(a, b, frac)
    if p is not None:
        return p
    return I128_MIN if (a < 0) != (b < 0) else I128_MAX


def wide_checked_div(a: int, b: int, frac: int) -> int | None:
    """``checked_div`` of 128-bit fixed-point raws: ``trunc(a · 2**frac / b)``; None for a zero
    divisor or an overflowing quotient."""
    if b == 0:
        return None
    num = int(a) << frac
    q = abs(num) // abs(int(b))
    q = q if (num < 0) == (b < 0) else -q
    return q if I128_MIN <= q <= I128_MAX else None


def wide_safe_div(a: int, b: int, frac: int) -> int:
    """``safe_div`` of 128-bit fixed-point raws (0 on a zero divisor or overflow)."""
    q = wide_checked_div(a, b, frac)
    return 0 if q is None else q


# ------------------------------------------------------------------------------------------------
# Conversions.


def from_int(k: ArrayLike) -> I64Array:
    """``I32F32::saturating_from_num(k)`` for integers: ``k << 32``, clamped."""
    arr = np.asarray(k, dtype=object)
    lo, hi = I32F32_MIN >> FRAC, I32F32_MAX >> FRAC
    flat = [I32F32_MAX if v > hi else I32F32_MIN if v < lo else int(v) << FRAC for v in arr.ravel()]
    return np.array(flat, dtype=np.int64).reshape(arr.shape)


def from_float(x: float, frac: int = FRAC) -> int:
    """Fixed-point raw value of a binary float: round to nearest, ties to even (f64 literals).

    For an f32 literal pass ``float(numpy.float32(x))``.
    """
    # scaling by a power of two is exact, so Python's round() (ties to even) sees the exact value
    return round(float(x) * (1 << frac))


def u16_to_fixed(x: ArrayLike) -> I64Array:
    """``I32F32::from_num(u16)``: the integer value itself (raw ``x << 32``)."""
    return np.asarray(x, dtype=np.int64) << FRAC


def u16_proportion_to_fixed(x: ArrayLike) -> I64Array:
    """``u16_proportion_to_fixed``: ``safe_div(I32F32(x), I32F32(65535))``.

    That is ``raw = floor(x · 2**32 / 65535)`` (u16 input).
    """
    arr = np.array(x, dtype=np.int64, order="C", copy=None)
    out = np.empty(arr.shape, dtype=np.int64)
    _u16_prop_kernel(arr.reshape(-1), out.reshape(-1))
    return out


@nb.njit(cache=True)
def _u16_prop_kernel(x: Any, out: Any) -> None:
    for k in range(x.size):
        out[k] = (x[k] << np.int64(32)) // np.int64(65535)


@nb.njit(cache=True, inline="always")
def _prop_to_u16(x: Any) -> Any:
    """``to_u16(saturating_mul(x, 65535))``. The product by the integer 65535 is exact, so the
    floor is ``(65535·x) >> 32``: 0 for x ≤ 0, 65535 from x ≥ 2**47 on (where the product
    would leave int64 and the chain's saturates), no 128-bit multiply in between."""
    if x <= 0:
        return np.int64(0)
    if x >= np.int64(1) << np.int64(47):
        return np.int64(65535)
    v = (x * np.int64(65535)) >> np.int64(32)
    return v if v < 65535 else np.int64(65535)


@nb.njit(cache=True)
def _prop_to_u16_kernel(x: Any, out: Any) -> None:
    for k in range(x.size):
        out[k] = _prop_to_u16(x[k])


@nb.njit(cache=True)
def _prop_to_u16_kernel_reference(x: Any, out: Any) -> None:
    """:func:`_prop_to_u16_kernel` through the saturating 128-bit product (the definition)."""
    u16max = np.int64(65535) << np.int64(32)
    for k in range(x.size):
        v = _sat_mul(x[k], u16max) >> np.int64(32)
        out[k] = 0 if v < 0 else (65535 if v > 65535 else v)


def fixed_to_u16(x: ArrayLike) -> I64Array:
    """``saturating_to_num::<u16>``: floor, clamped to [0, 65535]."""
    return i32(np.clip(i32(x) >> FRAC, 0, U16_MAX))


def fixed_to_u64(x: ArrayLike) -> I64Array:
    """``saturating_to_num::<u64>`` of an I32F32: floor, negative → 0 (fits int64)."""
    return i32(np.maximum(i32(x) >> FRAC, 0))


def fixed_proportion_to_u16(x: ArrayLike) -> I64Array:
    """``fixed_proportion_to_u16``: ``to_u16(saturating_mul(x, 65535))`` — this floors."""
    arr = np.array(x, dtype=np.int64, order="C", copy=None)
    out = np.empty(arr.shape, dtype=np.int64)
    _prop_to_u16_kernel(arr.reshape(-1), out.reshape(-1))
    return out


def fixed64_to_fixed32(x: int) -> int:
    """I64F64 raw → I32F32 raw: ``x >> 32`` (floor), saturated to the I32F32 range."""
    return min(max(int(x) >> FRAC, I32F32_MIN), I32F32_MAX)


def fixed64_to_u64(x: int) -> int:
    """``saturating_to_num::<u64>`` of an I64F64 raw value: floor, clamped to [0, 2**64 − 1]."""
    return min(max(int(x) >> 64, 0), U64_MAX)


def u64_normalization(x: int, total: int) -> tuple[int, int]:
    """Stake normalisation: ``I64F64(x) / I64F64(total)`` (truncating) and its I32F32 floor.

    Returns ``(raw_i64f64, raw_i32f32)``; 0 when ``total == 0`` (``safe_div``).
    """
    q = wide_safe_div(min(int(x) << 64, I64F64_MAX), min(int(total) << 64, I64F64_MAX), 64)
    return q, fixed64_to_fixed32(q)


def one_minus_i64f64_ratio(a: int, b: int) -> int:
    """``I32F32(1) − I32F32(I64F64(a) / I64F64(b))`` on raw I64F64 inputs (the fixed EMA rate).

    The I64F64 division truncates and the conversion to I32F32 floors.
    """
    q = (int(a) << 64) // int(b) if b else 0
    return ONE - fixed64_to_fixed32(q)


def round_to_int(raw: ArrayLike) -> I64Array:
    """``round()`` of I32F32 values to integers, ties away from zero (returns integers)."""
    x = i32(raw)
    half = np.int64(1) << (FRAC - 1)
    mag = np.abs(x)
    r = (mag + half) >> FRAC
    return np.where(x < 0, -r, r)


def emission_amount(share: ArrayLike, emission: int) -> list[int]:
    """``(I96F32(share) * I96F32(E)).saturating_to_num::<u64>()``: floor(share·E / 2**32), u64.

    ``share`` are raw I32F32 values (the normalised emission shares), ``emission`` a u64.
    """
    # I96F32::saturating_from_num(u64) is exact (u64 < 2^95)
    e = int(emission) << FRAC
    return [
        min(max(wide_saturating_mul(int(s), e, FRAC) >> FRAC, 0), U64_MAX)
        for s in np.asarray(share).ravel()
    ]


# ------------------------------------------------------------------------------------------------
# Transcendental functions.


def exp(x: ArrayLike) -> tuple[I64Array, BoolArray]:
    """substrate-fixed ``exp`` on I32F32 raw values: ``(value, ok)`` (not ok = the call errs)."""
    arr = i32(x)
    flat = np.ascontiguousarray(arr).ravel()
    out = np.empty(flat.size, dtype=np.int64)
    ok = np.empty(flat.size, dtype=np.bool_)
    _exp_kernel(flat, out, ok)
    return out.reshape(arr.shape), ok.reshape(arr.shape)


def exp_safe(x: ArrayLike) -> I64Array:
    """``exp_safe``: clamp to [−20, 20], then ``exp``; on error 0 (input ≤ 0) or I32F32::MAX."""
    arr = i32(x)
    flat = np.ascontiguousarray(arr).ravel()
    out = np.empty(flat.size, dtype=np.int64)
    _exp_safe_kernel(flat, out)
    return out.reshape(arr.shape)


def sigmoid_safe(x: ArrayLike, rho: ArrayLike, kappa: ArrayLike) -> I64Array:
    """``sigmoid_safe = 1 / (1 + exp_safe(−rho·(x − kappa)))`` with saturating ops and safe_div."""
    diff = saturating_sub(x, kappa)
    neg_rho = saturating_sub(0, rho)
    e = exp_safe(saturating_mul(neg_rho, diff))
    return safe_div(ONE, saturating_add(ONE, e))


def alpha_sigmoid(
    consensus: ArrayLike,
    weight: ArrayLike,
    bond: ArrayLike,
    alpha_low: int,
    alpha_high: int,
    steepness: int,
) -> I64Array:
    """Liquid-alpha rate per validator–miner pair (spec §5), element-wise on I32F32 raw values.

    ``x = clamp(w − c, 0, 1)`` if ``w ≥ b`` else ``clamp(b − w, 0, 1)``;
    ``sig = 1 ⊘ (1 + exp_safe((steep ⊘ −100) ⊗ (x − ½)))``;
    ``alpha = max(min(lo + sig ⊗ (hi − lo), hi), lo)`` (the chain's ``clamp_value``, so ``lo``
    when ``lo > hi``). ``steepness`` is the raw I32F32 of the i16.
    """
    c, w = np.broadcast_arrays(i32(consensus), i32(weight))
    c, w, b = np.broadcast_arrays(c, w, i32(bond))
    shape = c.shape
    out = np.empty(c.size, dtype=np.int64)
    _alpha_sigmoid_kernel(
        np.ascontiguousarray(c).ravel(),
        np.ascontiguousarray(w).ravel(),
        np.ascontiguousarray(b).ravel(),
        int(alpha_low),
        int(alpha_high),
        int(steepness),
        out,
    )
    return out.reshape(shape)
