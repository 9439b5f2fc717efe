"""Any variant with JAX steps over an array schedule as one ``lax.scan``.

The step mirrors :func:`yuma.variants.core.variant_epoch` (same order, same options) on
``jax.numpy``: permits, active stake, masked and row-normalised weights, consensus, clipping
(of the previous epoch's weights for lagged variants), ranks, incentive (or winner-takes-all),
bond weights, bond resets, the EMA rate (fixed, liquid alpha v1 or v2 on the current, previous
or larger consensus), the variant's bonds and dividends steps, and the chain's dense storage.
Results agree with the numpy steps to float64 round-off.

A variant's JAX steps are its ``jax_bonds`` / ``jax_dividends``, or, for the built-in numpy
steps, their mirrors in :mod:`yuma.variants.jax_steps`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from yuma._types import FloatArray
from yuma.params import YumaParams
from yuma.variants import jax_steps as J
from yuma.variants import steps
from yuma.variants.core import Options, Variant, liquid_alpha_mode
from yuma.variants.steps import BondsInput

__all__ = ["jax_steps_of", "run_variant_scan"]

#: The numpy steps that have a JAX mirror.
MIRRORS: dict[Any, Any] = {
    steps.bonds_yuma1: J.bonds_yuma1,
    steps.bonds_yuma2: J.bonds_yuma2,
    steps.bonds_yuma2_paper: J.bonds_yuma2_paper,
    steps.bonds_yuma2c: J.bonds_yuma2c,
    steps.bonds_yuma3: J.bonds_yuma3,
    steps.dividends_bonds_incentive: J.dividends_bonds_incentive,
    steps.dividends_stake_weighted: J.dividends_stake_weighted,
    steps.dividends_bond_share: J.dividends_bond_share,
}

VECTORS = (
    "stake",
    "consensus",
    "ranks",
    "incentive",
    "dividends",
    "validator_trust",
    "validator_permit",
)


def jax_steps_of(variant: Variant) -> tuple[Any, Any] | None:
    """The (bonds, dividends) JAX steps of ``variant``, or None when it has none."""
    bonds = variant.jax_bonds or MIRRORS.get(variant.bonds)
    dividends = variant.jax_dividends or MIRRORS.get(variant.dividends)
    if bonds is None or dividends is None:
        return None
    return bonds, dividends


def _step(
    carry: Any,
    xs: Any,
    *,
    variant: Variant,
    params: YumaParams,
    options: Options,
    mode: str,
    square: bool,
    keep: bool,
    weights: Any,
    stakes: Any,
) -> Any:
    bonds_step, dividends_step = jax_steps_of(variant)  # type: ignore[misc]
    bonds, old_permit, prev_consensus, prev_w, started = carry
    wi, si, reset = xs
    raw, stake = weights[wi], stakes[si]
    stake_n = J.normalize(stake)
    new_permit = J.topk_nonzero(stake_n, params.max_allowed_validators)
    # Before the first epoch there are no stored permits: the epoch's own top-k is used.
    old_permit = jnp.where(started, old_permit, new_permit)
    active = J.normalize(jnp.where(old_permit, stake_n, 0.0))
    w = jnp.where(old_permit[:, None], raw, 0.0)
    if square:
        w = w * (1.0 - jnp.eye(w.shape[0], dtype=w.dtype))
    w = J.row_normalize(w)
    consensus = J.consensus(w, active, params.kappa)

    used = jnp.where(started, prev_w, w) if variant.lag_weights else w
    clipped = jnp.minimum(used, consensus[None, :])
    trust = clipped.sum(axis=1)
    ranks = active @ clipped
    if options.winner_takes_all:
        incentive = J.incentive_winner_takes_all(ranks)
    else:
        incentive = J.incentive_normalized(ranks)
    beta = params.bonds_penalty
    bond_weights = used if beta == 0 else clipped if beta == 1 else used + beta * (clipped - used)
    previous = jnp.where(reset[None, :], 0.0, bonds)

    rate: Any = params.bonds_ema_rate
    if variant.uses_rate and mode != "off":
        earlier = jnp.where(started, prev_consensus, consensus)
        if options.alpha_consensus == "previous":
            c = earlier
        elif options.alpha_consensus == "max":
            c = jnp.maximum(consensus, earlier)
        else:
            c = consensus
        if mode == "v1":
            alpha = jnp.broadcast_to(J.alpha_v1(c, params)[None, :], w.shape)
        else:
            alpha = J.alpha_v2(c, bond_weights, previous, params)
        # The fixed rate when the consensus carries no signal, as the chain does.
        rate = jnp.where(jnp.any(c != 0), alpha, params.bonds_ema_rate)
    out = bonds_step(
        BondsInput(
            weights=used,
            bond_weights=bond_weights,
            stake=active,
            consensus=consensus,
            incentive=incentive,
            previous=previous,
            rate=rate,
            params=params,
            options=options.variant_options,
        )
    )
    dividends = dividends_step(out.for_dividends, incentive, active)
    lost = old_permit & ~new_permit
    stored = jnp.where(new_permit[:, None], out.stored, jnp.where(lost[:, None], 0.0, previous))
    record = {
        "stake": stake_n,
        "consensus": consensus,
        "ranks": ranks,
        "incentive": incentive,
        "dividends": dividends,
        "validator_trust": trust,
        "validator_permit": new_permit,
    }
    if keep:
        record["weights"] = w
        record["bonds"] = stored
    return (stored, new_permit, consensus, w, jnp.bool_(True)), record


def run_variant_scan(
    variant: Variant,
    weights: FloatArray,
    w_index: Any,
    stakes: FloatArray,
    s_index: Any,
    bonds0: FloatArray,
    params: YumaParams,
    options: Options,
    *,
    square: bool,
    keep: bool,
) -> dict[str, Any]:
    """Run ``variant`` as one scan. weights (K, V, N) with ``w_index`` (E,) picking each
    epoch's matrix (commit-reveal already applied); stakes (L, V) with ``s_index`` (E,);
    bonds0 (V, N). Returns the per-epoch arrays by name (``weights``/``bonds`` None unless
    ``keep``) and ``final_bonds``."""
    if jax_steps_of(variant) is None:
        raise ValueError(f"variant {variant.name!r} has no JAX steps")
    e = int(np.asarray(w_index).shape[0])
    v, n = bonds0.shape
    resets = np.zeros((e, n), dtype=bool)
    for miner, at in options.bond_reset:
        resets[at, miner] = True
    step = partial(
        _step,
        variant=variant,
        params=params,
        options=options,
        mode=liquid_alpha_mode(variant, options, params),
        square=square,
        keep=keep,
    )
    with jax.enable_x64(True):

        @jax.jit
        def run(carry: Any, xs: Any, w_all: Any, s_all: Any) -> Any:
            return jax.lax.scan(partial(step, weights=w_all, stakes=s_all), carry, xs)

        carry0 = (
            jnp.asarray(bonds0, dtype=jnp.float64),
            jnp.ones(v, dtype=bool),
            jnp.zeros(n, dtype=jnp.float64),
            jnp.zeros((v, n), dtype=jnp.float64),
            jnp.bool_(False),
        )
        xs = (jnp.asarray(w_index), jnp.asarray(s_index), jnp.asarray(resets))
        final, outs = run(carry0, xs, jnp.asarray(weights, dtype=jnp.float64), jnp.asarray(stakes))
        result: dict[str, Any] = {name: np.asarray(x) for name, x in outs.items()}
        result["final_bonds"] = np.asarray(final[0])
    result.setdefault("weights", None)
    result.setdefault("bonds", None)
    result["validator_permit"] = result["validator_permit"].astype(bool)
    return result
