"""The bond EMA rate α (spec §4.11, §5): fixed, the chain's rule, or liquid alpha v1 / v2.

A rate step returns ``{"rate": α}``: a scalar (``bonds_ema_rate = 1 − bonds_moving_average``),
``(R, C)`` per validator–miner pair (liquid alpha v2) or ``(C,)`` per miner (liquid alpha v1).
Every liquid rate falls back to the fixed rate when the consensus it reads is all zeros (no
signal), as the chain does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yuma._step import State, rule
from yuma._xp import Namespace, namespace
from yuma.liquid_alpha import alpha_sigmoid

__all__ = ["LIQUID_CONSENSUS", "LiquidAlpha", "alpha_v1", "alpha_v2", "rate_chain", "rate_fixed"]

#: Which consensus liquid alpha reads: this epoch's, the previous epoch's, or the larger.
LIQUID_CONSENSUS = ("current", "previous", "max")


@rule("rate.fixed")
def rate_fixed(s: State) -> Mapping[str, Any]:
    """The fixed rate ``bonds_ema_rate`` (liquid alpha off)."""
    return {"rate": s.config.bonds_ema_rate}


@rule("rate.chain")
def rate_chain(s: State) -> Mapping[str, Any]:
    """The chain's Yuma3 rule: liquid alpha v2 when ``YumaParams.liquid_alpha`` is on, else
    the fixed rate."""
    if s.config.liquid_alpha:
        return LiquidAlpha("v2")(s)
    return rate_fixed(s)


def alpha_v2(consensus: Any, weights_for_bonds: Any, bonds: Any, config: Any, *, xp: Any) -> Any:
    """Liquid alpha v2 (the chain's, spec §5): a (R, C) rate from the sigmoid of how far each
    validator buys above consensus or sells below its previous bond."""
    return alpha_sigmoid(
        consensus[..., None, :],
        weights_for_bonds,
        bonds,
        config.alpha_low,
        config.alpha_high,
        config.alpha_sigmoid_steepness,
        xp=xp,
    )


def alpha_v1(
    consensus: Any, alpha_low: Any, alpha_high: Any, *, xp: Namespace | None = None
) -> Any:
    """Liquid alpha v1 (the chain mid-2024 to early 2025): one rate per miner, (C,).

    A logistic ``α(c) = 1 / (1 + exp(−a·c + b))`` passes through ``(C_L, α_low)`` and
    ``(C_H, α_high)``, where ``C_L`` and ``C_H`` are the 0.25 and 0.75 quantiles (linear
    interpolation) of the consensus; solving both conditions gives
    ``a = (logit⁻(α_H) − logit⁻(α_L)) / (C_L − C_H)`` and ``b = logit⁻(α_L) + a·C_L`` with
    ``logit⁻(x) = ln(1/x − 1)``. When ``C_H ≤ C_L`` (no spread) every miner gets ``α_high``.
    The result is clipped to ``[α_low, α_high]``.
    """
    xp = xp or namespace(consensus)
    c = xp.asarray(consensus, dtype=xp.float64)
    if c.shape[-1] == 0:
        return c
    q = xp.quantile(c, xp.asarray([0.25, 0.75], dtype=xp.float64), axis=-1, keepdims=True)
    c_low, c_high = q[0], q[1]
    flat = (c_high <= c_low) | (alpha_low == alpha_high)
    # The logistic is undefined at rates 0 and 1; nudge them inside (0, 1) to keep it finite.
    eps = 1e-12
    inv_lo = xp.log(1.0 / xp.clip(xp.asarray(alpha_low, dtype=xp.float64), eps, 1.0 - eps) - 1.0)
    inv_hi = xp.log(1.0 / xp.clip(xp.asarray(alpha_high, dtype=xp.float64), eps, 1.0 - eps) - 1.0)
    a = (inv_hi - inv_lo) / xp.where(flat, -1.0, c_low - c_high)
    b = inv_lo + a * c_low
    exponent = xp.clip(-a * c + b, -700.0, 700.0)
    logistic = xp.clip(1.0 / (1.0 + xp.exp(exponent)), alpha_low, alpha_high)
    return xp.where(flat, alpha_high + 0.0 * c, logistic)


@dataclass(frozen=True)
class LiquidAlpha:
    """A liquid-alpha rate step: ``version`` "v2" (the chain's per-pair sigmoid) or "v1" (the
    2024 per-miner logistic), reading the ``consensus`` of this epoch ("current"), of the
    previous one ("previous"; the current one at the first epoch) or the larger ("max")."""

    version: str = "v2"
    consensus: str = "current"

    def __post_init__(self) -> None:
        if self.version not in ("v1", "v2"):
            raise ValueError(f"liquid alpha version must be 'v1' or 'v2', got {self.version!r}")
        if self.consensus not in LIQUID_CONSENSUS:
            raise ValueError(
                f"liquid alpha consensus must be one of {LIQUID_CONSENSUS}, got {self.consensus!r}"
            )

    @property
    def __yuma_rule__(self) -> str:
        return f"rate.liquid_{self.version}.{self.consensus}"

    def __call__(self, s: State) -> Mapping[str, Any]:
        xp = s.xp
        c = s.consensus
        if self.consensus != "current":
            previous = xp.where(s.started[..., None], s.previous_consensus, c)
            c = previous if self.consensus == "previous" else xp.maximum(c, previous)
        if self.version == "v2":
            alpha = alpha_v2(c, s.weights_for_bonds, s.masked_bonds, s.config, xp=xp)
        else:
            alpha = alpha_v1(c, s.config.alpha_low, s.config.alpha_high, xp=xp)
        fixed = xp.asarray(s.config.bonds_ema_rate, dtype=xp.float64)
        signal = xp.any(c != 0, axis=-1, keepdims=True)  # per epoch of a batch
        if self.version == "v2":
            signal = signal[..., None]  # against the (..., R, C) rate
        return {"rate": xp.where(signal, alpha, fixed)}
