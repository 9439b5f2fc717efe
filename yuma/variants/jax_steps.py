"""JAX versions of the variant steps: the same maths as :mod:`yuma.variants.steps`.

Every function here mirrors the numpy step of the same name on ``jax.numpy`` arrays, with no
Python control flow on array values (the "leave it" rules of the normalisations and the
fallbacks become ``jnp.where``), so a whole variant runs under ``jax.lax.scan``
(:mod:`yuma.variants.jax_variant`). A registered variant runs on the JAX backend when it
carries such steps (``Variant.jax_bonds`` / ``Variant.jax_dividends``).

The stake-weighted median, top-k permits and normalisation come from the JAX backend
(:mod:`yuma.backends.jax_dense`), so the consensus is the backend's own. Trace in float64
(inside ``jax.enable_x64(True)``).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

# The JAX backend's building blocks (consensus, permits, normalisation); private there, so a
# rename shows up here as an ImportError and the simulation refuses the JAX path cleanly.
from yuma.backends.jax_dense import _consensus, _normalize, _topk_nonzero
from yuma.params import YumaParams
from yuma.variants.steps import BondsInput, BondsOutput

__all__ = [
    "alpha_v1",
    "alpha_v2",
    "bonds_yuma1",
    "bonds_yuma2",
    "bonds_yuma2_paper",
    "bonds_yuma2c",
    "bonds_yuma3",
    "col_max_upscale",
    "col_normalize",
    "consensus",
    "dividends_bond_share",
    "dividends_bonds_incentive",
    "dividends_stake_weighted",
    "ema",
    "incentive_normalized",
    "incentive_winner_takes_all",
    "normalize",
    "row_normalize",
    "topk_nonzero",
]

consensus = _consensus
topk_nonzero = _topk_nonzero


def normalize(x: Any) -> Any:
    """``x / sum(x)``, or ``x`` when the sum is 0. (n,)."""
    return _normalize(x)


def row_normalize(m: Any) -> Any:
    """Each row over its sum where the sum is not 0. (R, C)."""
    return _normalize(m, axis=1)


def col_normalize(m: Any) -> Any:
    """Each column over its sum where the sum is not 0. (R, C)."""
    return _normalize(m, axis=0)


def col_max_upscale(m: Any) -> Any:
    """Each column over its maximum where the maximum is not 0. (R, C)."""
    top = m.max(axis=0, keepdims=True)
    return jnp.where(top != 0, m / jnp.where(top != 0, top, 1.0), m)


def ema(new: Any, old: Any, rate: Any) -> Any:
    """``α·new + (1 − α)·old`` for a Python-float rate; the per-cell form (capped at 1, new
    term floored at 0) for an array rate, as :func:`yuma.variants.steps.ema`."""
    if isinstance(rate, float):
        return rate * new + (1.0 - rate) * old
    a = jnp.broadcast_to(rate, new.shape)
    return jnp.minimum(1.0, (1.0 - a) * old + jnp.maximum(0.0, a * new))


def alpha_v2(c: Any, bond_weights: Any, previous: Any, params: YumaParams) -> Any:
    """Liquid alpha v2 (the chain's sigmoid), (V, N); see ``steps.alpha_v2``."""
    lo, hi = params.alpha_low, params.alpha_high
    w, b = bond_weights, previous
    x = jnp.where(w >= b, jnp.clip(w - c[None, :], 0.0, 1.0), jnp.clip(b - w, 0.0, 1.0))
    exponent = jnp.clip((-params.alpha_sigmoid_steepness / 100.0) * (x - 0.5), -20.0, 20.0)
    return jnp.clip(lo + (hi - lo) / (1.0 + jnp.exp(exponent)), lo, hi)


def alpha_v1(c: Any, params: YumaParams) -> Any:
    """Liquid alpha v1 (per-miner logistic through the consensus quartiles), (N,); see
    ``steps.alpha_v1``."""
    lo, hi = params.alpha_low, params.alpha_high
    c_low, c_high = jnp.quantile(c, jnp.array([0.25, 0.75]))
    eps = 1e-12
    inv_lo = jnp.log(1.0 / jnp.clip(lo, eps, 1.0 - eps) - 1.0)
    inv_hi = jnp.log(1.0 / jnp.clip(hi, eps, 1.0 - eps) - 1.0)
    spread = c_high > c_low
    gap = jnp.where(spread, c_low - c_high, -1.0)
    a = (inv_hi - inv_lo) / gap
    b = inv_lo + a * c_low
    alpha = jnp.clip(1.0 / (1.0 + jnp.exp(jnp.clip(-a * c + b, -700.0, 700.0))), lo, hi)
    return jnp.where(spread & (lo != hi), alpha, hi)


def incentive_normalized(ranks: Any) -> Any:
    """Ranks normalised to sum 1 (zeros stay zeros). (N,)."""
    return _normalize(ranks)


def incentive_winner_takes_all(ranks: Any) -> Any:
    """``1/|argmax R|`` on the top-ranked miners, 0 elsewhere; zeros when no rank is > 0."""
    winners = (ranks == ranks.max()).astype(ranks.dtype)
    return jnp.where(jnp.any(ranks > 0), winners / winners.sum(), 0.0)


def bonds_yuma1(x: BondsInput) -> BondsOutput:
    """See ``steps.bonds_yuma1``."""
    delta = col_normalize(x.bond_weights * x.stake[:, None])
    rate = x.rate if x.options.get("memory", False) else 1.0
    bonds = col_normalize(ema(delta, x.previous, rate))
    return BondsOutput(stored=bonds, for_dividends=bonds)


def bonds_yuma2(x: BondsInput) -> BondsOutput:
    """See ``steps.bonds_yuma2``."""
    delta = col_normalize(x.bond_weights * x.stake[:, None])
    bonds = col_normalize(jnp.maximum(ema(delta, col_normalize(x.previous), x.rate), 0.0))
    return BondsOutput(stored=col_max_upscale(bonds), for_dividends=bonds)


def bonds_yuma2_paper(x: BondsInput) -> BondsOutput:
    """See ``steps.bonds_yuma2_paper``."""
    delta = col_normalize(x.bond_weights * x.stake[:, None])
    bonds = ema(delta, x.previous, x.rate)
    return BondsOutput(stored=bonds, for_dividends=bonds)


def bonds_yuma2c(x: BondsInput) -> BondsOutput:
    """See ``steps.bonds_yuma2c``."""
    decay = float(x.options.get("decay", 0.1))
    rate = float(x.options.get("capacity_rate", 0.1))
    scale = float(x.options.get("capacity_scale", 1.0))
    cap = (x.stake * scale)[:, None]
    purchase = jnp.minimum(rate * cap, jnp.maximum(cap - x.previous, 0.0)) * x.weights
    bonds = jnp.minimum((1.0 - decay) * x.previous + purchase, cap)
    return BondsOutput(stored=bonds, for_dividends=bonds)


def bonds_yuma3(x: BondsInput) -> BondsOutput:
    """See ``steps.bonds_yuma3``."""
    bonds = ema(x.bond_weights, x.previous, x.rate)
    return BondsOutput(stored=bonds, for_dividends=bonds)


def dividends_bonds_incentive(bonds: Any, incentive: Any, stake: Any) -> Any:
    """See ``steps.dividends_bonds_incentive``."""
    return _normalize(bonds @ incentive)


def dividends_stake_weighted(bonds: Any, incentive: Any, stake: Any) -> Any:
    """See ``steps.dividends_stake_weighted``."""
    return _normalize((col_normalize(bonds) @ incentive) * stake)


def dividends_bond_share(bonds: Any, incentive: Any, stake: Any) -> Any:
    """See ``steps.dividends_bond_share``."""
    return _normalize(col_normalize(bonds) @ incentive)
