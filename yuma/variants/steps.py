"""Pure steps that consensus variants are composed of.

Every step takes arrays and returns new arrays (inputs are never written to). Shapes use ``V``
for validators (rows) and ``N`` for miners (columns); stakes and incentives are proportions.

The chain's steps (stake-weighted median, clipping, the bonds penalty, EMAs, normalisation) are
the core's building blocks; this module only adds what the non-chain variants and options need:

* EMA rates: the fixed rate, liquid alpha v2 (the chain's per-pair sigmoid) and liquid alpha v1
  (the 2024 per-miner logistic fitted through consensus quantiles);
* incentives: the chain's ``normalize(ranks)`` and a winner-takes-all policy;
* bonds: one function per variant, each returning the bonds to store and the bonds that
  dividends are computed from;
* dividends: the three forms the variants use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from yuma._types import FloatArray
from yuma.ema import mat_ema, mat_ema_alpha
from yuma.liquid_alpha import alpha_sigmoid
from yuma.normalize import col_max_upscale, col_normalize, normalize
from yuma.params import YumaParams

__all__ = [
    "BondsInput",
    "BondsOutput",
    "alpha_v1",
    "alpha_v2",
    "bonds_yuma1",
    "bonds_yuma2",
    "bonds_yuma2_paper",
    "bonds_yuma2c",
    "bonds_yuma3",
    "dividends_bond_share",
    "dividends_bonds_incentive",
    "dividends_stake_weighted",
    "ema",
    "incentive_normalized",
    "incentive_winner_takes_all",
    "liquid_consensus",
]

#: The rate of a bond EMA: one scalar, or one rate per (validator, miner) cell.
Rate = float | FloatArray


#: An array in a step's input or output: float64 numpy in these steps, a ``jax.Array`` in
#: their JAX mirrors (:mod:`yuma.variants.jax_steps`), which share these records.
StepArray = Any


@dataclass(frozen=True)
class BondsInput:
    """What a bonds step sees in one epoch.

    Attributes
    ----------
    weights : (V, N)
        Row-normalised weights the epoch's clipping and bonds use (chain: ``weights``); for a
        lagged variant (``yuma2b``) these are the previous epoch's.
    bond_weights : (V, N)
        ``W_b = (1 − β)·W + β·W̄`` (chain: ``weights_for_bonds``).
    stake : (V,)
        Active stake, normalised (chain: ``active_stake``).
    consensus : (N,)
        This epoch's consensus.
    incentive : (N,)
        This epoch's incentive.
    previous : (V, N)
        Bonds carried from the previous epoch (reset columns already zeroed).
    rate : float or (V, N)
        EMA rate α (weight of the new bonds): ``1 − bonds_moving_average``, or liquid alpha.
    params : YumaParams
        The epoch's hyperparameters.
    options : mapping
        Variant-specific options (``Variant.options`` merged with the caller's).
    """

    weights: StepArray
    bond_weights: StepArray
    stake: StepArray
    consensus: StepArray
    incentive: StepArray
    previous: StepArray
    rate: Rate | StepArray
    params: YumaParams
    options: Any


@dataclass(frozen=True)
class BondsOutput:
    """A bonds step's result: ``stored`` (V, N) is carried to the next epoch; ``for_dividends``
    (V, N) is what the dividends step reads (the chain stores a rescaled copy of the latter)."""

    stored: StepArray
    for_dividends: StepArray


# --- EMA rates -----------------------------------------------------------------------------


def liquid_consensus(current: FloatArray, previous: FloatArray | None, mode: str) -> FloatArray:
    """The consensus that liquid alpha reads: ``current``, ``previous`` (last epoch's; the
    current one at the first epoch) or the element-wise ``max`` of both. (N,) -> (N,)."""
    if mode == "current" or previous is None:
        return current
    if mode == "previous":
        return previous
    if mode == "max":
        return np.maximum(current, previous)
    raise ValueError(f"alpha_consensus must be 'current', 'previous' or 'max', got {mode!r}")


def alpha_v2(
    consensus: FloatArray, bond_weights: FloatArray, previous: FloatArray, params: YumaParams
) -> FloatArray:
    """Liquid alpha v2 (the chain's, spec §5): a (V, N) rate from the sigmoid of how far each
    validator buys above consensus or sells below its previous bond."""
    return alpha_sigmoid(
        consensus[None, :],
        bond_weights,
        previous,
        params.alpha_low,
        params.alpha_high,
        params.alpha_sigmoid_steepness,
    )


def alpha_v1(consensus: FloatArray, params: YumaParams) -> FloatArray:
    """Liquid alpha v1 (the chain mid-2024 to early 2025): one rate per miner, (N,).

    A logistic ``α(c) = 1 / (1 + exp(−a·c + b))`` passes through ``(C_L, α_low)`` and
    ``(C_H, α_high)``, where ``C_L`` and ``C_H`` are the 0.25 and 0.75 quantiles (linear
    interpolation) of the consensus; solving both conditions gives
    ``a = (logit⁻(α_H) − logit⁻(α_L)) / (C_L − C_H)`` and ``b = logit⁻(α_L) + a·C_L`` with
    ``logit⁻(x) = ln(1/x − 1)``. When ``C_H ≤ C_L`` (no spread) every miner gets ``α_high``.
    The result is clipped to ``[α_low, α_high]``.
    """
    lo, hi = params.alpha_low, params.alpha_high
    c = np.asarray(consensus, dtype=np.float64)
    if c.size == 0:
        return c.copy()
    c_low, c_high = np.quantile(c, [0.25, 0.75])
    if c_high <= c_low or lo == hi:
        return np.full(c.shape, hi)
    # The logistic is undefined at rates 0 and 1; nudge them inside (0, 1) to keep it finite.
    eps = 1e-12
    inv_lo = np.log(1.0 / np.clip(lo, eps, 1.0 - eps) - 1.0)
    inv_hi = np.log(1.0 / np.clip(hi, eps, 1.0 - eps) - 1.0)
    a = (inv_hi - inv_lo) / (c_low - c_high)
    b = inv_lo + a * c_low
    exponent = np.clip(-a * c + b, -700.0, 700.0)
    return np.asarray(np.clip(1.0 / (1.0 + np.exp(exponent)), lo, hi))


def ema(new: FloatArray, old: FloatArray, rate: Rate) -> FloatArray:
    """``α·new + (1 − α)·old`` with a scalar rate (chain: ``mat_ema``) or a per-cell rate
    (chain: ``mat_ema_alpha``, which also caps at 1 and floors the new term at 0)."""
    if np.ndim(rate) == 0:
        return mat_ema(new, old, float(rate))
    return mat_ema_alpha(new, old, np.broadcast_to(rate, new.shape))


# --- incentive ------------------------------------------------------------------------------


def incentive_normalized(ranks: FloatArray) -> FloatArray:
    """The chain's incentive: ranks normalised to sum 1 (all zeros stay zeros). (N,)."""
    return normalize(ranks)


def incentive_winner_takes_all(ranks: FloatArray) -> FloatArray:
    """Winner-takes-all: ``1/|argmax R|`` on the miners with the largest rank, 0 elsewhere.

    All-zero ranks give all-zero incentive (nobody won). (N,) -> (N,).
    """
    r = np.asarray(ranks, dtype=np.float64)
    if r.size == 0 or not np.any(r > 0):
        return np.zeros_like(r)
    winners = r == r.max()
    return np.asarray(winners / winners.sum(), dtype=np.float64)


# --- bonds ------------------------------------------------------------------------------------


def bonds_yuma1(x: BondsInput) -> BondsOutput:
    """Original stake bonds: ``ΔB = colnorm(S ⊙ W_b)``, ``B = colnorm(α·ΔB + (1 − α)·B_old)``.

    With option ``memory=False`` (the default, as in the peer simulators) α is 1 and bonds
    have no memory: ``B = ΔB``; ``memory=True`` uses the epoch's rate.
    """
    delta = col_normalize(x.bond_weights * x.stake[:, None])
    rate: Rate = x.rate if x.options.get("memory", False) else 1.0
    bonds = col_normalize(ema(delta, x.previous, rate))
    return BondsOutput(stored=bonds, for_dividends=bonds)


def bonds_yuma2(x: BondsInput) -> BondsOutput:
    """The chain's original-Yuma bonds (Yuma3 off, dense path, spec §4.12).

    ``ΔB = colnorm(W_b ⊙ S)``; the EMA runs against the column-normalised previous bonds and is
    column-normalised again, so a newly weighted miner's column jumps to total 1; the chain
    stores it column-max-upscaled.
    """
    delta = col_normalize(x.bond_weights * x.stake[:, None])
    bonds = col_normalize(np.maximum(ema(delta, col_normalize(x.previous), x.rate), 0.0))
    return BondsOutput(stored=col_max_upscale(bonds), for_dividends=bonds)


def bonds_yuma2_paper(x: BondsInput) -> BondsOutput:
    """The papers' form: ``B = α·colnorm(W_b ⊙ S) + (1 − α)·B_old`` without re-normalising,
    so a new miner's column starts at total α."""
    delta = col_normalize(x.bond_weights * x.stake[:, None])
    bonds = ema(delta, x.previous, x.rate)
    return BondsOutput(stored=bonds, for_dividends=bonds)


def bonds_yuma2c(x: BondsInput) -> BondsOutput:
    """Capacity bonds.

    ``cap_i = S_i·M``; ``purchase_ij = min(c·cap_i, max(cap_i − B_old,ij, 0))·W_ij``;
    ``B = min((1 − d)·B_old + purchase, cap_i)``. Options ``decay`` (d), ``capacity_rate`` (c)
    and ``capacity_scale`` (M). Dividends only read column shares of B, which are invariant to
    M (every term scales with it), so M = 1 by default.
    """
    decay = float(x.options.get("decay", 0.1))
    rate = float(x.options.get("capacity_rate", 0.1))
    scale = float(x.options.get("capacity_scale", 1.0))
    cap = (x.stake * scale)[:, None]
    purchase = np.minimum(rate * cap, np.maximum(cap - x.previous, 0.0)) * x.weights
    bonds = np.minimum((1.0 - decay) * x.previous + purchase, cap)
    return BondsOutput(stored=bonds, for_dividends=bonds)


def bonds_yuma3(x: BondsInput) -> BondsOutput:
    """The chain's Yuma3 bonds (spec §4.11): a per-pair EMA of ``W_b`` in [0, 1], no stake."""
    bonds = ema(x.bond_weights, x.previous, x.rate)
    return BondsOutput(stored=bonds, for_dividends=bonds)


# --- dividends ------------------------------------------------------------------------------


def dividends_bonds_incentive(
    bonds: FloatArray, incentive: FloatArray, stake: FloatArray
) -> FloatArray:
    """``D = normalize(B·I)`` (original Yuma: stake is already inside the bonds). (V,)."""
    return normalize(bonds @ incentive)


def dividends_stake_weighted(
    bonds: FloatArray, incentive: FloatArray, stake: FloatArray
) -> FloatArray:
    """Yuma3: ``D ∝ S_i · Σ_j colnorm(B)_ij · I_j``, normalised. (V,)."""
    return normalize((col_normalize(bonds) @ incentive) * stake)


def dividends_bond_share(bonds: FloatArray, incentive: FloatArray, stake: FloatArray) -> FloatArray:
    """Capacity bonds: ``D_i = Σ_j (B_ij / Σ_k B_kj)·I_j``, normalised. (V,)."""
    return normalize(col_normalize(bonds) @ incentive)
