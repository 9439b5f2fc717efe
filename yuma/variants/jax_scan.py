"""The chain's two variants (``yuma2``, ``yuma3``) over an array schedule as one ``lax.scan``.

Used by :func:`yuma.simulate` with ``backend="jax"``. Every step mirrors the numpy steps of
:mod:`yuma.variants.core` on fixed shapes (no data-dependent shapes, so the whole run compiles
once): non-voters in the stake-weighted median get a score of −1 and zero mass instead of being
removed, and the "leave it" rule of every normalisation becomes a ``where``. Results agree with
the numpy path to float64 round-off (the order of XLA's sums may differ from numpy's).

Runs in float64 inside ``jax.enable_x64(True)`` so the caller's global setting is untouched.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

import numpy as np

from yuma._types import FloatArray
from yuma.params import YumaParams

__all__ = ["run_scan"]


@lru_cache(maxsize=32)
def _build(params: YumaParams, yuma3: bool, liquid: bool, square: bool, keep: bool) -> Any:
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

    def step(carry: Any, xs: Any, weights: Any, stakes: Any) -> Any:
        bonds, old_permit = carry
        wi, si = xs
        raw, stake = weights[wi], stakes[si]
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
        out = {
            "stake": s,
            "consensus": consensus,
            "ranks": ranks,
            "incentive": incentive,
            "dividends": dividends,
            "validator_trust": trust,
            "validator_permit": new_permit,
        }
        if keep:
            out["weights"] = w
            out["bonds"] = new_bonds
        return (new_bonds, new_permit), out

    @jax.jit
    def run(bonds0: Any, permit0: Any, xs: Any, weights: Any, stakes: Any) -> Any:
        body = partial(step, weights=weights, stakes=stakes)
        return jax.lax.scan(body, (bonds0, permit0), xs)

    return run


def run_scan(
    weights: FloatArray,
    w_index: Any,
    stakes: FloatArray,
    s_index: Any,
    bonds0: FloatArray,
    permit0: Any,
    params: YumaParams,
    *,
    square: bool,
    keep: bool,
) -> dict[str, Any]:
    """Run the scan. weights (K, V, N) with ``w_index`` (E,) picking each epoch's matrix;
    stakes (L, V) with ``s_index`` (E,); bonds0 (V, N); permit0 (V,) the first epoch's
    permits. ``params.yuma3`` and ``params.liquid_alpha`` select the branch. Returns the
    per-epoch arrays by name (``weights``/``bonds`` are None unless ``keep``) and
    ``final_bonds``."""
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        run = _build(params, params.yuma3, params.liquid_alpha, square, keep)
        (final, _), outs = run(
            jnp.asarray(bonds0),
            jnp.asarray(permit0),
            (jnp.asarray(w_index), jnp.asarray(s_index)),
            jnp.asarray(weights),
            jnp.asarray(stakes),
        )
        result: dict[str, Any] = {name: np.asarray(x) for name, x in outs.items()}
        result["final_bonds"] = np.asarray(final)
    result.setdefault("weights", None)
    result.setdefault("bonds", None)
    result["validator_permit"] = result["validator_permit"].astype(bool)
    return result
