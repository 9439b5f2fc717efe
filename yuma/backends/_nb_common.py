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

#: Exponent clamp of the liquid-alpha sigmoid (the chain's ``exp_safe``), as in the reference.
EXP_CLAMP = 20.0

#: Median kernel used by the backends: 0 = weighted quickselect (:func:`wmedian_select`,
#: expected linear time), 1 = stable sort and running sum (:func:`wmedian_sort`). Measured by
#: ``benchmarks/test_bench_median.py`` on a different random column per call: quickselect was
#: 1.4x (64 entries) to 10x (4096 entries) faster (see benchmarks/RESULTS.md).
MEDIAN_METHOD = 0


@njit(cache=True, nogil=True)
def normalize_vec(x: Any) -> Any:
    """``x / Σx``, or a copy of ``x`` when the sum is 0 (reference: ``normalize``)."""
    total = 0.0
    for k in range(x.shape[0]):
        total += x[k]
    out = x.copy()
    if total != 0.0:
        for k in range(x.shape[0]):
            out[k] = x[k] / total
    return out


@njit(cache=True, nogil=True)
def topk_nonzero(values: Any, k: int) -> Any:
    """Top-``k`` non-zero permits; ties at the cut go to the higher index (``is_topk_nonzero``)."""
    n = values.shape[0]
    out = values != 0.0
    if n < k:
        return out
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
    """Normalised stake, new permits and normalised active stake (reference: ``epoch_reference``).

    ``owner`` >= 0 forces the owner's new permit (the chain's sparse path only; the caller passes
    -1 on the dense path).
    """
    n = raw_stake.shape[0]
    stake = normalize_vec(raw_stake)
    permit = topk_nonzero(stake, max_validators)
    if owner >= 0:
        permit[owner] = True
    masked = np.empty(n)
    for i in range(n):
        stake_out[i] = stake[i]
        permit_out[i] = permit[i]
        masked[i] = stake[i] if (active[i] and old_permit[i]) else 0.0
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
