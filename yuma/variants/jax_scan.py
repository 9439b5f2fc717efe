"""The chain's two variants (``yuma2``, ``yuma3``) over an array schedule as one ``lax.scan``.

Used by :func:`yuma.simulate` with ``backend="jax"``. Every step mirrors the numpy steps of
:mod:`yuma.variants.core` on fixed shapes (no data-dependent shapes, so the whole run compiles
once): non-voters in the stake-weighted median get a score of −1 and zero mass instead of being
removed, and the "leave it" rule of every normalisation becomes a ``where``. Results agree with
the numpy path to float64 round-off (the order of XLA's sums may differ from numpy's).

Runs in float64 inside ``jax.enable_x64(True)`` so the caller's global setting is untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

import numpy as np

from yuma._types import FloatArray
from yuma.params import YumaParams
from yuma.variants.core import Options, Variant

if TYPE_CHECKING:
    from yuma.simulation import SimulationResult

__all__ = ["simulate_scan"]


@lru_cache(maxsize=32)
def _build(
    params: YumaParams, yuma3: bool, liquid: bool, square: bool, constant_weights: bool
) -> Any:
    import jax
    import jax.numpy as jnp

    def normalize(x: Any) -> Any:
        total = x.sum()
        return jnp.where(total != 0, x / jnp.where(total != 0, total, 1.0), x)

    def row_normalize(m: Any) -> Any:
        s = m.sum(axis=1, keepdims=True)
        return jnp.where(s > 0, m / jnp.where(s > 0, s, 1.0), m)

    def col_normalize(m: Any) -> Any:
        s = m.sum(axis=0, keepdims=True)
        return jnp.where(s != 0, m / jnp.where(s != 0, s, 1.0), m)

    def col_max_upscale(m: Any) -> Any:
        s = m.max(axis=0, keepdims=True)
        return jnp.where(s != 0, m / jnp.where(s != 0, s, 1.0), m)

    def topk_nonzero(v: Any, k: int) -> Any:
        n = v.shape[0]
        start = v != 0
        if n < k:
            return start
        # Stable ascending order: the lowest n - k lose their permit, ties to the higher uid.
        order = jnp.argsort(v, stable=True)
        position = jnp.zeros(n, dtype=jnp.int64).at[order].set(jnp.arange(n))
        return start & (position >= n - k)

    def median_cols(active: Any, w: Any, kappa: float) -> Any:
        u = jnp.where(active > 0, active, 0.0)
        total = u.sum()
        u = jnp.where(total > 0, u / jnp.where(total > 0, total, 1.0), u)
        total = u.sum()
        minority = total - kappa
        scores = jnp.where((u > 0)[:, None], w, -1.0)
        order = jnp.argsort(scores, axis=0, stable=True)
        sorted_scores = jnp.take_along_axis(scores, order, axis=0)
        hit = jnp.cumsum(u[order], axis=0) > minority
        first = jnp.where(hit.any(axis=0), jnp.argmax(hit, axis=0), w.shape[0] - 1)
        out = jnp.take_along_axis(sorted_scores, first[None, :], axis=0)[0]
        return jnp.where(total > 0, jnp.maximum(out, 0.0), 0.0)

    def interpolate(a: Any, b: Any, ratio: float) -> Any:
        if ratio == 0:
            return a
        if ratio == 1:
            return b
        return a + ratio * (b - a)

    def alpha_sigmoid(c: Any, w: Any, b: Any) -> Any:
        lo, hi = params.alpha_low, params.alpha_high
        x = jnp.where(w >= b, jnp.clip(w - c, 0.0, 1.0), jnp.clip(b - w, 0.0, 1.0))
        exponent = jnp.clip((-params.alpha_sigmoid_steepness / 100.0) * (x - 0.5), -20.0, 20.0)
        return jnp.clip(lo + (hi - lo) / (1.0 + jnp.exp(exponent)), lo, hi)

    rate = params.bonds_ema_rate
    k = params.max_allowed_validators

    def step(carry: Any, xs: Any, w_const: Any) -> Any:
        bonds, old_permit = carry
        raw, stake = (w_const, xs) if constant_weights else xs
        s = normalize(stake)
        new_permit = topk_nonzero(s, k)
        active = normalize(jnp.where(old_permit, s, 0.0))
        w = jnp.where(old_permit[:, None], raw, 0.0)
        if square:
            w = w * (1.0 - jnp.eye(w.shape[0], dtype=w.dtype))
        w = row_normalize(w)
        consensus = median_cols(active, w, params.kappa)
        clipped = jnp.minimum(w, consensus[None, :])
        trust = clipped.sum(axis=1)
        ranks = active @ clipped
        incentive = normalize(ranks)
        wb = interpolate(w, clipped, params.bonds_penalty)
        if yuma3:
            fixed = rate * wb + (1.0 - rate) * bonds
            if liquid:
                a = alpha_sigmoid(consensus[None, :], wb, bonds)
                varying = jnp.minimum(1.0, (1.0 - a) * bonds + jnp.maximum(0.0, a * wb))
                ema = jnp.where(jnp.any(consensus != 0), varying, fixed)
            else:
                ema = fixed
            dividends = normalize((col_normalize(ema) @ incentive) * active)
            stored = ema
        else:
            delta = col_normalize(wb * active[:, None])
            mixed = rate * delta + (1.0 - rate) * col_normalize(bonds)
            ema = col_normalize(jnp.maximum(mixed, 0.0))
            dividends = normalize(ema @ incentive)
            stored = col_max_upscale(ema)
        lost = old_permit & ~new_permit
        new_bonds = jnp.where(new_permit[:, None], stored, jnp.where(lost[:, None], 0.0, bonds))
        out = (w, s, consensus, ranks, incentive, dividends, trust, new_bonds, new_permit)
        return (new_bonds, new_permit), out

    @partial(jax.jit, static_argnames=())
    def run(bonds0: Any, permit0: Any, xs: Any, w_const: Any) -> Any:
        return jax.lax.scan(partial(step, w_const=w_const), (bonds0, permit0), xs)

    return run


def simulate_scan(
    schedule: FloatArray,
    stake: FloatArray,
    params: YumaParams,
    variant: Variant,
    options: Options,
    bonds: Any,
    *,
    square: bool,
    validators: Sequence[str],
    miners: Sequence[str],
) -> SimulationResult:
    """Run ``variant`` (``yuma2`` or ``yuma3``) over ``schedule`` (E, V, N) as one scan.

    stake : (E, V) or (V,). bonds : (V, N) or None. Returns a :class:`SimulationResult`.
    A schedule that is one (V, N) matrix broadcast over epochs is passed once, not E times.
    """
    import jax
    import jax.numpy as jnp

    from yuma._validate import check_matrix
    from yuma.normalize import normalize
    from yuma.permits import is_topk_nonzero
    from yuma.simulation import SimulationResult

    if variant.yuma3 is None:
        raise ValueError(f"the jax scan runs yuma2 and yuma3 only, not {variant.name!r}")
    e, v, n = schedule.shape
    stakes = np.broadcast_to(stake, (e, v)) if stake.ndim == 1 else stake
    constant = schedule.strides[0] == 0
    b0 = np.zeros((v, n)) if bonds is None else np.asarray(check_matrix("bonds", bonds, (v, n)))
    permit0 = is_topk_nonzero(normalize(stakes[0]), params.max_allowed_validators)
    liquid = params.liquid_alpha and options.liquid_alpha in (None, "v2")
    with jax.enable_x64(True):
        run = _build(params, bool(variant.yuma3), liquid, square, constant)
        xs = jnp.asarray(stakes) if constant else (jnp.asarray(schedule), jnp.asarray(stakes))
        w_const = jnp.asarray(schedule[0]) if constant else jnp.zeros((0,))
        _, outs = run(jnp.asarray(b0), jnp.asarray(permit0), xs, w_const)
        w, s, c, r, inc, d, tr, b, p = (np.asarray(x) for x in outs)
    return SimulationResult(
        variant=variant.name,
        params=params,
        options=options,
        backend="jax",
        validators=tuple(validators),
        miners=tuple(miners),
        weights=w,
        stake=s,
        consensus=c,
        ranks=r,
        incentive=inc,
        dividends=d,
        validator_trust=tr,
        bonds=b,
        validator_permit=p.astype(bool),
    )
