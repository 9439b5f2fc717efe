"""numba building blocks shared by the dense, sparse and batched kernels.

Everything here is a serial ``@njit`` function: the parallel drivers in
:mod:`yuma.backends.numba_dense` and :mod:`yuma.backends.numba_sparse` call them over row or
column ranges inside ``prange``, and the batched driver calls them over whole epochs inside its
own ``prange``, so no kernel ever launches a nested parallel region.

The vector steps (stake normalisation, permits, the emission split) mirror the numpy reference
line by line; they are O(n) or O(n log n) and live here so that a whole epoch can run inside one
compiled call (what :func:`yuma.epoch_batch` needs at small ``n``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit
from numba.core import cpu as numba_cpu
from numba.cpython.unsafe.numbers import trailing_zeros

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)

#: Exponent clamp of the liquid-alpha sigmoid (the chain's ``exp_safe``), as in the reference.
EXP_CLAMP = 20.0

#: Median kernel used by the backends: 0 = the fast one (:func:`wmedian_sweep`, dense and
#: sparse epochs), 1 = stable sort and running sum (:func:`wmedian_sort`). Measured by
#: ``benchmarks/test_bench_median.py`` on a different random column per call: quickselect was
#: 1.4x (64 entries) to 10x (4096 entries) faster than the sort, and the sweep about 1.5x (64)
#: to 2x (256, 4096) faster than the dense epoch's previous sampled-pivot bracket.
MEDIAN_METHOD = 0


#: The ``parallel=`` option of every parallel kernel: only its explicit ``prange`` loops run on
#: threads. With plain ``parallel=True`` numba also turns each array expression of the function
#: (``np.zeros``, ``a.sum(axis=0)``, ``a[:] = b``) into a parallel region of its own, and every
#: region costs a fork and a join of the threads (4-6 µs each on 2 threads): the dense epoch's
#: per-chunk buffers and reductions cost it 23-38 µs per call that way (64² to 256²), more than
#: the launches of its ``prange`` passes (10-15 µs together). Those arrays are a few rows long;
#: serial, they cost nothing. An options object, not a dict: numba empties a dict as it reads
#: it, so a second signature of the same kernel would compile with every option on again.
PRANGE_ONLY: Any = getattr(numba_cpu, "ParallelOptions")(  # noqa: B009 - not in numba's stubs
    {
        "prange": True,
        "comprehension": False,
        "fusion": False,
        "inplace_binop": False,
        "numpy": False,
        "reduction": False,
        "setitem": False,
        "stencil": False,
    }
)


#: Sums up to this are divided directly; larger values are scaled first (as the reference).
SAFE_SUM = 2.0**1000
#: Exact scaling applied to both sides of those divisions (as the reference does).
SHRINK = 2.0**-64


@njit(cache=True, nogil=True)
def normalize_vec(x: Any) -> Any:
    """``x / Σx``, or a copy of ``x`` when the sum is 0 (reference: ``normalize``; values
    that could sum past the float64 range are divided by their maximum first, as there)."""
    n = x.shape[0]
    out = x.copy()
    if n == 0:
        return out
    peak = x[0]
    for k in range(n):
        peak = max(peak, x[k])
    if peak > SAFE_SUM / n:
        for k in range(n):
            out[k] = (x[k] * SHRINK) / (peak * SHRINK)
    total = 0.0
    for k in range(n):
        total += out[k]
    if total != 0.0:
        for k in range(n):
            out[k] = out[k] / total
    return out


@njit(cache=True, nogil=True)
def topk_nonzero(values: Any, k: int) -> Any:
    """Top-``k`` non-zero permits; ties at the cut go to the higher index (``is_topk_nonzero``)."""
    n = values.shape[0]
    out = values != 0.0
    if n <= k:
        return out  # nothing to drop (n - k <= 0): no sort
    # A stable ascending sort drops the lowest n - k: among equal values the lower uid goes first.
    order = np.argsort(values, kind="mergesort")
    for t in range(n - k):
        out[order[t]] = False
    return out


@njit(cache=True, nogil=True)
def majority_stake(active_stake: Any, kappa: float) -> tuple[Any, Any, float]:
    """Voters (rows with positive active stake), their renormalised stake, and the minority.

    Reference: ``median._majority_stake``; ``minority = U − κ`` with ``U`` the voters' total.
    Returns ``(voters (V,) int64, u (V,), minority)``; ``V == 0`` means every consensus is 0.
    """
    n = active_stake.shape[0]
    total = 0.0
    count = 0
    for i in range(n):
        if active_stake[i] > 0.0:
            total += active_stake[i]
            count += 1
    voters = np.empty(count, dtype=np.int64)
    u = np.empty(count)
    k = 0
    for i in range(n):
        if active_stake[i] > 0.0:
            voters[k] = i
            u[k] = active_stake[i] / total if total > 0.0 else active_stake[i]
            k += 1
    utotal = 0.0
    for k in range(count):
        utotal += u[k]
    return voters, u, utotal - kappa


@njit(cache=True, nogil=True, fastmath=True)
def wmedian_select(v: Any, s: Any, n: int, minority: float) -> float:
    """Smallest score whose cumulative stake exceeds ``minority`` (spec §4.7 closed form).

    Weighted quickselect on the first ``n`` entries of ``v`` (scores) and ``s`` (stakes), which
    it permutes, keeping the stake known to lie below the current range. Expected O(n).

    Each level is two branch-free Lomuto passes: scores ``< pivot`` to the front (their stake
    is ``L``), then, only when the answer is not below the pivot, scores ``== pivot`` after them
    (stake ``E``). Every element is swapped unconditionally and the boundary moves by the
    comparison's 0/1, so the loop has no data-dependent branch: on random scores a branchy
    three-way partition mispredicts about every other element, which cost ~2.5x here.

    When no prefix exceeds ``minority`` (only by round-off, since κ > 0) it returns the largest
    score of the last range, the reference's ``v_k``.
    """
    if n == 0:
        return 0.0
    lo = 0
    hi = n
    below = 0.0
    while True:
        size = hi - lo
        if size == 1:
            return float(v[lo])
        a = v[lo]
        b = v[lo + size // 2]
        c = v[hi - 1]
        # Median of three: cheap protection against sorted columns.
        if a < b:
            pivot = b if b < c else (c if a < c else a)
        else:
            pivot = a if a < c else (c if b < c else b)
        lt = lo
        s_lt = 0.0
        for i in range(lo, hi):
            x = v[i]
            w = s[i]
            v[i] = v[lt]
            s[i] = s[lt]
            v[lt] = x
            s[lt] = w
            less = int(x < pivot)
            s_lt += w * less
            lt += less
        if below + s_lt > minority and lt > lo:
            hi = lt
            continue
        eq = lt
        s_eq = 0.0
        for i in range(lt, hi):
            x = v[i]
            w = s[i]
            v[i] = v[eq]
            s[i] = s[eq]
            v[eq] = x
            s[eq] = w
            same = int(x <= pivot)
            s_eq += w * same
            eq += same
        if below + s_lt + s_eq > minority or eq == hi:
            return float(pivot)
        below += s_lt + s_eq
        lo = eq


#: Ranges of at most this many entries are finished by :func:`_wmedian_small`.
SMALL_RANGE = 16


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _wmedian_small(v: Any, s: Any, lo: int, hi: int, below: float, minority: float) -> float:
    """The closed form on ``[lo, hi)`` directly: for every entry, the stake at or below it.

    The answer is the smallest score whose stake at or below exceeds ``minority`` (``below``
    is the stake known to lie under the range), else the largest score. Quadratic, but with no
    data-dependent branch, which beats further partition levels on a handful of entries.
    """
    best = v[lo]
    found = False
    top = v[lo]
    for i in range(lo, hi):
        x = v[i]
        acc = 0.0
        for k in range(lo, hi):
            acc += s[k] * (v[k] <= x)
        take = below + acc > minority and (not found or x < best)
        best = x if take else best
        found = found or take
        top = max(top, x)
    return float(best if found else top)


@njit(cache=True, nogil=True, fastmath=True)
def wmedian_split(v: Any, s: Any, n: int, minority: float, bv: Any, bs: Any) -> float:
    """Same result as :func:`wmedian_select`, without touching ``v`` and ``s``.

    Weighted quickselect whose partitions are out of place: each level streams its range once
    and writes every entry both at the next free slot from the front (kept when it is below the
    pivot) and at the next free slot from the back (kept when it is above), in the other half
    of the scratch ``bv`` / ``bs`` (each at least ``2 n`` long). The slots advance by the
    comparisons' 0/1, so the loop has no data-dependent branch and, unlike an in-place Lomuto
    pass, no store that the next iteration must load back. One pass per level yields the
    stake below the pivot and at it, so the decision rule is :func:`wmedian_select`'s.
    """
    if n == 0:
        return 0.0
    src_v = v
    src_s = s
    lo = 0
    hi = n
    dst = 0
    below = 0.0
    while True:
        size = hi - lo
        if size <= SMALL_RANGE:
            return _wmedian_small(src_v, src_s, lo, hi, below, minority)
        a = src_v[lo]
        b = src_v[lo + size // 2]
        c = src_v[hi - 1]
        if a < b:
            pivot = b if b < c else (c if a < c else a)
        else:
            pivot = a if a < c else (c if b < c else b)
        front = dst
        back = dst + size - 1
        s_lt = 0.0
        s_eq = 0.0
        for i in range(lo, hi):
            x = src_v[i]
            w = src_s[i]
            bv[front] = x
            bs[front] = w
            bv[back] = x
            bs[back] = w
            less = int(x < pivot)
            more = int(x > pivot)
            s_lt += w * less
            s_eq += w * (1 - less - more)
            front += less
            back -= more
        n_lt = front - dst
        n_gt = dst + size - 1 - back
        if below + s_lt > minority and n_lt > 0:
            lo = dst
            hi = front
        elif below + s_lt + s_eq > minority or n_gt == 0:
            return float(pivot)
        else:
            below += s_lt + s_eq
            lo = back + 1
            hi = dst + size
        src_v = bv
        src_s = bs
        dst = n if dst == 0 else 0


#: :func:`wmedian_sweep`: sweeps per bracket before its entries are copied out anyway.
SWEEP_ROUNDS = 8
#: :func:`wmedian_sweep`: brackets over copied entries before the quickselect takes over.
SWEEP_LEVELS = 6
#: :func:`wmedian_sweep` finishes a bracket of at most ``FEW`` entries directly
#: (:func:`_wmedian_few`: one fixed-width vector pass per entry); columns of at most
#: ``FEW_SHORT_N`` entries sweep on to at most ``FEW_SHORT`` (another sweep of a short column
#: costs less than the wider passes it saves).
FEW = 16
FEW_SHORT = 8
FEW_SHORT_N = 128


@njit(cache=True, nogil=True)
def sweep_scratch(n: int) -> tuple[int, int]:
    """Lengths of :func:`wmedian_sweep`'s float scratch (each of ``bv``, ``bs``) and int one
    (two slots, through which bit patterns are read back as floats)."""
    return 4 * n + 2 * FEW, 2


@njit(cache=True, nogil=True)
def _bits_min_max(b: Any, at: int, n: int) -> tuple[int, int]:
    """Smallest and largest of ``b[at : at + n]`` (``n > 0``), the bit patterns of non-negative
    floats, which order them as the floats (integer min/max reductions vectorise; numba's float
    ones do not)."""
    b = b[at : at + n]
    lo = b[0]
    hi = lo
    for i in range(n):
        x = b[i]
        lo = min(lo, x)
        hi = max(hi, x)
    return lo, hi


@njit(cache=True, nogil=True, fastmath=True)
def _stake_at_or_below(
    v: Any, s: Any, at: int, n: int, p0: float, p1: float, p2: float, p3: float
) -> tuple[float, float, float, float]:
    """For each of four pivots, the stake of the entries ``[at, at + n)`` at or below it: one
    branch-free sweep (vectorised under fastmath)."""
    v = v[at : at + n]
    s = s[at : at + n]
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    for i in range(n):
        x = v[i]
        w = s[i]
        a0 += w * (x <= p0)
        a1 += w * (x <= p1)
        a2 += w * (x <= p2)
        a3 += w * (x <= p3)
    return a0, a1, a2, a3


@njit(cache=True, nogil=True, fastmath=True)
def _stake_and_count_at_or_below(
    v: Any, s: Any, at: int, n: int, p0: float, p1: float, p2: float, p3: float
) -> tuple[float, float, float, float, int, int, int, int]:
    """:func:`_stake_at_or_below` and the number of entries at or below each pivot (four more
    vector operations per four entries)."""
    v = v[at : at + n]
    s = s[at : at + n]
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    c0 = 0
    c1 = 0
    c2 = 0
    c3 = 0
    for i in range(n):
        x = v[i]
        w = s[i]
        a0 += w * (x <= p0)
        a1 += w * (x <= p1)
        a2 += w * (x <= p2)
        a3 += w * (x <= p3)
        c0 += x <= p0
        c1 += x <= p1
        c2 += x <= p2
        c3 += x <= p3
    return a0, a1, a2, a3, c0, c1, c2, c3


@njit(cache=True, nogil=True)
def _copy_range(
    v: Any, s: Any, at: int, n: int, lo: float, hi: float, bv: Any, bs: Any, to: int
) -> int:
    """Copy the entries ``[at, at + n)`` scoring in ``(lo, hi]`` (and their stakes) to
    ``bv`` / ``bs`` from ``to``, in their order; returns how many.

    Each 64 entries are first tested in one vectorised pass that sets a bit per entry in a
    word, then only the set bits are visited (lowest first). A bracket holds a few of a
    column's entries, so this does about 2.5 instructions per entry where a branch-free scalar
    copy (a position stored per entry) did 10 (callgrind: the 256 medians of a 256² epoch,
    1.76 M -> 1.47 M instructions).
    """
    v = v[at : at + n]
    s = s[at : at + n]
    dv = bv[to:]
    ds = bs[to:]
    m = 0
    for w0 in range(0, n, 64):
        width = min(64, n - w0)
        word_v = v[w0 : w0 + width]
        bits = np.uint64(0)
        for k in range(width):
            x = word_v[k]
            bits |= np.uint64((x > lo) & (x <= hi)) << np.uint64(k)
        while bits != 0:
            k = trailing_zeros(bits)  # type: ignore[call-arg]  # numba intrinsic
            dv[m] = word_v[k]
            ds[m] = s[w0 + k]
            m += 1
            bits &= bits - np.uint64(1)
    return m


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _few_body(
    bv: Any, bs: Any, at: int, m: int, below: float, minority: float, width: int
) -> float:
    """The closed form on the ``m <= width`` entries ``[at, at + m)`` (``m > 0``): for each, the
    stake at or below it. Entries ``[at + m, at + width)`` are padding with zero stake (written
    here: ``bv`` and ``bs`` need ``width`` slots from ``at``), so the inner sum has a fixed
    width (a constant once inlined) and is a few vector operations rather than a chain of ``m``
    dependent additions."""
    bv = bv[at : at + width]
    bs = bs[at : at + width]
    for i in range(m, width):
        bv[i] = 0.0
        bs[i] = 0.0
    top = bv[0]
    for i in range(m):
        top = max(top, bv[i])
    best = top
    for i in range(m):
        x = bv[i]
        acc = below
        for k in range(width):
            acc += bs[k] * (bv[k] <= x)
        cand = x if acc > minority else top
        best = min(best, cand)
    return float(best)


@njit(cache=True, nogil=True, fastmath=True)
def _wmedian_few(bv: Any, bs: Any, at: int, m: int, below: float, minority: float) -> float:
    """:func:`_few_body` for at most ``FEW_SHORT`` or ``FEW`` entries."""
    if m <= FEW_SHORT:
        return _few_body(bv, bs, at, m, below, minority, FEW_SHORT)
    return _few_body(bv, bs, at, m, below, minority, FEW)


@njit(cache=True, nogil=True)
def _first_rounds(n: int, few: int) -> int:
    """Rounds of the first bracket on a column of ``n`` entries: enough to leave about ``few``
    entries of evenly spread scores (the first round keeps a quarter, each later one a fifth)."""
    rounds = 1
    expect = n / 4.0
    while expect > few and rounds < SWEEP_ROUNDS:
        expect /= 5.0
        rounds += 1
    return rounds


#: :func:`bracket_round`'s outcomes: the bracket narrowed; the answer is the smallest score
#: (the first round's first pivot, on it, crosses); the answer is the largest score (nobody
#: crosses and no score lies above the top pivot: a range of a few adjacent floats).
NARROWED, SMALLEST, LARGEST = 0, 1, 2


@njit(cache=True, nogil=True, inline="always")
def decided_at_once(below: float, minority: float, v_min: float, v_max: float) -> bool:
    """Whether a range's answer is its smallest score before any round: the stake under it
    already exceeds the minority (only when minority < 0: κ above the voters' total), or it
    holds one score."""
    return below > minority or v_min == v_max


@njit(cache=True, nogil=True, inline="always")
def first_pivots(v_min: float, v_max: float) -> tuple[float, float, float, float]:
    """The first round's pivots: one on the smallest score (the zeros of a sparse column: the
    answer at once when they cross), three evenly in ``[v_min, v_max]``."""
    d = v_max - v_min
    return (
        v_min,
        min(v_min + d * 0.25, v_max),
        min(v_min + d * 0.5, v_max),
        min(v_min + d * 0.75, v_max),
    )


@njit(cache=True, nogil=True, inline="always")
def inner_pivots(lo: float, hi: float) -> tuple[float, float, float, float]:
    """A later round's pivots: four evenly inside the bracket ``(lo, hi]``."""
    d = hi - lo
    return (
        min(lo + d * 0.2, hi),
        min(lo + d * 0.4, hi),
        min(lo + d * 0.6, hi),
        min(lo + d * 0.8, hi),
    )


@njit(cache=True, nogil=True, inline="always")
def bracket_round(
    r: int, ps: Any, accs: Any, below: float, minority: float, lo: float, hi: float, low: float
) -> tuple[int, int, float, float, float]:
    """The rule of one four-pivot round (the column sweep's and the rows' alike): ``ps`` the
    pivots, ``accs`` the stake at or below each, ``below`` the stake under the range; the
    bracket ``(lo, hi]`` holds the answer and ``low`` is the stake at or below ``lo``.

    Returns ``(outcome, t, lo, hi, low)``: ``t`` the first pivot whose stake (with ``below``)
    exceeds the minority, 4 when none does; the bracket narrows to the fifth that crosses.
    """
    if below + accs[0] > minority:
        if r == 0:
            return SMALLEST, 0, lo, hi, low
        return NARROWED, 0, lo, ps[0], low
    if below + accs[1] > minority:
        return NARROWED, 1, ps[0], ps[1], accs[0]
    if below + accs[2] > minority:
        return NARROWED, 2, ps[1], ps[2], accs[1]
    if below + accs[3] > minority:
        return NARROWED, 3, ps[2], ps[3], accs[2]
    if ps[3] >= hi:
        # (p3, hi] would be empty: hi is the largest score, the answer when nobody crosses
        return LARGEST, 4, lo, hi, low
    return NARROWED, 4, ps[3], hi, accs[3]


@njit(cache=True, nogil=True)
def _bracket(
    v: Any,
    s: Any,
    vb: Any,
    cell: Any,
    at: int,
    n: int,
    below: float,
    minority: float,
    few: int,
    rounds: int,
) -> tuple[float, bool, float, float, float]:
    """Rounds of four-pivot sweeps on the entries ``[at, at + n)`` (``n > 0``), with ``below``
    the stake known to lie under all of them. ``vb``: ``v``'s bit patterns; ``cell``: a float
    view of two int64 slots (to read bit patterns back as floats).

    ``rounds > 0``: exactly that many sweeps, without counting entries (the caller's copy-out
    counts the bracket). ``rounds == 0``: sweeps that count
    (:func:`_stake_and_count_at_or_below`), until the bracket holds at most ``few`` entries
    or stops shrinking (or after ``SWEEP_ROUNDS``).

    Returns ``(answer, True, …)`` when a round decides, else ``(_, False, lo, hi, low)``: the
    answer lies in ``(lo, hi]`` and ``low`` is the stake of the entries at or below ``lo``.
    """
    lo_bits, hi_bits = _bits_min_max(vb, at, n)
    bits = cell.view(np.int64)
    bits[0] = lo_bits
    bits[1] = hi_bits
    v_min = cell[0]
    v_max = cell[1]
    if decided_at_once(below, minority, v_min, v_max):
        return v_min, True, v_min, v_max, 0.0
    counted = rounds == 0
    lo = v_min
    hi = v_max
    low = 0.0
    c_lo = 0
    c_hi = n
    ps = first_pivots(v_min, v_max)
    decided = False
    for r in range(SWEEP_ROUNDS if counted else rounds):
        p0, p1, p2, p3 = ps
        if counted:
            a0, a1, a2, a3, k0, k1, k2, k3 = _stake_and_count_at_or_below(
                v, s, at, n, p0, p1, p2, p3
            )
        else:
            a0, a1, a2, a3 = _stake_at_or_below(v, s, at, n, p0, p1, p2, p3)
            k0 = k1 = k2 = k3 = 0
        before = c_hi - c_lo
        outcome, t, lo, hi, low = bracket_round(
            r, ps, (a0, a1, a2, a3), below, minority, lo, hi, low
        )
        if outcome == SMALLEST:
            decided = True
            break
        if outcome == LARGEST:
            return hi, True, lo, hi, low
        if counted:
            ks = (k0, k1, k2, k3)
            if t == 0:
                c_hi = k0
            elif t == 4:
                c_lo = k3
            else:
                c_lo, c_hi = ks[t - 1], ks[t]
            count = c_hi - c_lo
            if count <= few or 4 * count > 3 * before:
                break
        ps = inner_pivots(lo, hi)
    return v_min, decided, lo, hi, low


@njit(cache=True, nogil=True)
def _split_from(bv: Any, bs: Any, at: int, k: int, minority: float) -> float:
    """:func:`wmedian_split` on ``bv[at : at + k]`` with the scratch after it."""
    return wmedian_split(bv[at : at + k], bs[at : at + k], k, minority, bv[at + k :], bs[at + k :])


@njit(cache=True, nogil=True)
def wmedian_sweep(v: Any, s: Any, n: int, minority: float, bv: Any, bs: Any, ints: Any) -> float:
    """Same result as :func:`wmedian_select`; ``v`` and ``s`` are left untouched; ``v`` must be
    contiguous and non-negative (its bit patterns order it).

    Multi-pivot bisection in value (:func:`_bracket`): the answer lies in a bracket
    ``(lo, hi]`` with ``C(lo) <= minority < C(hi)`` (``C(p)``: the stake at or below ``p``).
    Each round places four pivots evenly in the bracket, and one branch-free, vectorised sweep
    gives ``C`` at each, so the bracket shrinks to the first fifth that crosses. The first
    round puts its first pivot on the smallest score (the mass of the zeros of a sparse column:
    the answer at once when it crosses). On the whole column the sweeps do not count entries:
    :func:`_first_rounds` rounds (those that leave about ``FEW`` evenly spread scores,
    ``FEW_SHORT`` in a short column), then the bracket's entries are copied out
    (:func:`_copy_range`, which counts them). At most ``FEW`` are finished by
    :func:`_wmedian_few`; more (ties, or scores clustered far from the extremes) start a new
    bracket from their own extremes, whose sweeps count (:func:`_stake_and_count_at_or_below`)
    and stop once at most ``FEW`` are left or a round hardly shrinks it, and so on, level by
    level (the smallest, tied or not, is then decided or dropped, so every level shrinks);
    after ``SWEEP_LEVELS`` such levels :func:`wmedian_split` finishes. No sort and no pivot
    sample.

    Scratch (lengths from :func:`sweep_scratch`): ``bv`` / ``bs`` float, ``ints`` int64.
    When no entry crosses (round-off only, since κ > 0) the largest score wins.
    """
    if n <= FEW:
        if n == 0:
            return 0.0
        for i in range(n):
            bv[i] = v[i]
            bs[i] = s[i]
        return _wmedian_few(bv, bs, 0, n, 0.0, minority)
    few = FEW_SHORT if n <= FEW_SHORT_N else FEW
    cell = ints[:2].view(np.float64)
    first = _first_rounds(n, few)
    value, found, lo, hi, low = _bracket(
        v, s, v.view(np.int64), cell, 0, n, 0.0, minority, few, first
    )
    if found:
        return float(value)
    m = _copy_range(v, s, 0, n, lo, hi, bv, bs, 0)
    return finish_bracket(bv, bs, m, low, minority, few, n, ints)


@njit(cache=True, nogil=True)
def finish_bracket(
    bv: Any, bs: Any, m: int, below: float, minority: float, few: int, half: int, ints: Any
) -> float:
    """The weighted median from the ``m`` entries of a bracket copied to ``bv[:m]`` /
    ``bs[:m]``, with ``below`` the stake of the entries under the bracket: the second part of
    :func:`wmedian_sweep` (at most ``FEW`` entries finished directly, more bracketed again level
    by level). ``half``: where the second half of the scratch starts (at least ``m``; ``bv`` and
    ``bs`` at least ``4 * half + 2 * FEW`` long, ``ints`` :func:`sweep_scratch`'s)."""
    cell = ints[:2].view(np.float64)
    at = 0
    bvb = bv.view(np.int64)
    for _ in range(SWEEP_LEVELS):
        if m <= FEW:
            return _wmedian_few(bv, bs, at, m, below, minority)
        # Stalled (ties, or a cluster): a new bracket from the copied entries' own extremes,
        # copied to the other half of the scratch.
        value, found, lo, hi, low = _bracket(bv, bs, bvb, cell, at, m, below, minority, few, 0)
        if found:
            return float(value)
        to = half if at == 0 else 0
        m = _copy_range(bv, bs, at, m, lo, hi, bv, bs, to)
        at = to
        below += low
    if m <= FEW:
        return _wmedian_few(bv, bs, at, m, below, minority)
    return _split_from(bv, bs, at, m, minority - below)


@njit(cache=True, nogil=True)
def wmedian_sort(v: Any, s: Any, n: int, minority: float) -> float:
    """Same result as :func:`wmedian_select`, by a stable argsort and a running sum: O(n log n)."""
    if n == 0:
        return 0.0
    order = np.argsort(v[:n], kind="mergesort")
    running = 0.0
    for t in range(n):
        running += s[order[t]]
        if running > minority:
            return float(v[order[t]])
    return float(v[order[n - 1]])


@njit(cache=True, nogil=True)
def wmedian(v: Any, s: Any, n: int, minority: float, method: int) -> float:
    """Dispatch to the chosen median kernel (0: quickselect, 1: sort)."""
    if method == 1:
        return wmedian_sort(v, s, n, minority)
    return wmedian_select(v, s, n, minority)


@njit(cache=True, nogil=True, inline="always")
def alpha_sigmoid(c: float, w: float, b: float, lo: float, hi: float, steep: float) -> float:
    """Liquid-alpha rate of one (validator, miner) pair (reference: ``alpha_sigmoid``)."""
    if w >= b:
        x = min(max(w - c, 0.0), 1.0)
    else:
        x = min(max(b - w, 0.0), 1.0)
    e = min(max((-steep / 100.0) * (x - 0.5), -EXP_CLAMP), EXP_CLAMP)
    sig = 1.0 / (1.0 + math.exp(e))
    return min(max(lo + sig * (hi - lo), lo), hi)


@njit(cache=True, nogil=True)
def emission_into(
    incentive: Any,
    dividends: Any,
    stake: Any,
    active_stake: Any,
    square: bool,
    server: Any,
    validator: Any,
    combined: Any,
) -> None:
    """The emission split with the emergency fallback (reference: ``emission_shares``)."""
    n_c = incentive.shape[0]
    n_r = dividends.shape[0]
    total = 0.0
    if square:
        for k in range(n_c):
            combined[k] = incentive[k] + dividends[k]
    else:
        for k in range(n_r):
            combined[k] = dividends[k]
        for k in range(n_c):
            combined[n_r + k] = incentive[k]
    for k in range(combined.shape[0]):
        total += combined[k]
    if total != 0.0:
        for k in range(n_c):
            server[k] = incentive[k] / total
        for k in range(n_r):
            validator[k] = dividends[k] / total
        for k in range(combined.shape[0]):
            combined[k] = combined[k] / total
        return
    # Emergency mode: nothing to split; validators follow the active stake, or the stake.
    a_total = 0.0
    for k in range(n_r):
        a_total += active_stake[k]
    fallback = active_stake if a_total != 0.0 else normalize_vec(stake)
    for k in range(n_c):
        server[k] = incentive[k]
    for k in range(n_r):
        validator[k] = fallback[k]
        combined[k] = fallback[k]
    if not square:
        for k in range(n_c):
            combined[n_r + k] = incentive[k]


@njit(cache=True, nogil=True)
def stake_prelude(
    raw_stake: Any,
    active: Any,
    old_permit: Any,
    max_validators: int,
    owner: int,
    stake_out: Any,
    active_out: Any,
    permit_out: Any,
) -> None:
    """Normalised stake, new permits and normalised active stake (the pipeline's ``stake``,
    ``permits`` and ``active_stake`` steps).

    ``owner`` >= 0 forces the owner's new permit (the chain's sparse path only; the caller passes
    -1 on the dense path). An empty ``old_permit`` means the default: the permits used are these
    new ones (:attr:`yuma.inputs.EpochInputs.old_permit`).
    """
    n = raw_stake.shape[0]
    stake = normalize_vec(raw_stake)
    permit = topk_nonzero(stake, max_validators)
    if owner >= 0:
        permit[owner] = True
    old = old_permit if old_permit.shape[0] == n else permit
    masked = np.empty(n)
    for i in range(n):
        stake_out[i] = stake[i]
        permit_out[i] = permit[i]
        masked[i] = stake[i] if (active[i] and old[i]) else 0.0
    a = normalize_vec(masked)
    for i in range(n):
        active_out[i] = a[i]


@njit(cache=True, nogil=True)
def chunk_bounds(n: int, chunks: int, t: int) -> tuple[int, int]:
    """Bounds ``[lo, hi)`` of chunk ``t`` of ``chunks`` near-equal chunks of ``range(n)``."""
    return n * t // chunks, n * (t + 1) // chunks


def as_c_float(x: Any) -> np.ndarray[Any, Any]:
    """A C-contiguous float64 view (or copy when needed) for the kernels; never mutated."""
    return np.ascontiguousarray(x, dtype=np.float64)
