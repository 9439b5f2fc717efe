"""The emission split between servers (miners) and validators, with the emergency fallback."""

from __future__ import annotations

from typing import Any

from yuma._validate import block_array
from yuma._xp import Namespace, direct_numpy_call, eager, namespace
from yuma.normalize import normalize

__all__ = ["emission_shares"]


def emission_shares(
    incentive: Any,
    dividends: Any,
    stake: Any,
    active_stake: Any,
    *,
    square: bool = True,
    xp: Namespace | None = None,
) -> tuple[Any, Any, Any]:
    """Normalised server, validator and combined emission shares (spec §4.13).

    With ``Σ = Σ incentive + Σ dividends`` (≈ 2 when both are normalised): server ``I/Σ``,
    validator ``D/Σ``, combined ``(I + D)/Σ``. When ``Σ = 0`` (emergency mode: no usable
    weights) servers get nothing and validators, and the combined share, follow the active stake,
    or the normalised stake when no stake is active.

    incentive : (C,); dividends, stake, active_stake : (R,). ``square=True`` is the chain's uid
    layout (R == C, combined per uid); otherwise combined is ``(R + C,)``, validators first.
    Returns ``(server (C,), validator (R,), combined)``.
    """
    if direct_numpy_call(xp, incentive, dividends, stake, active_stake):
        incentive = block_array("incentive", incentive, 1)
        dividends = block_array("dividends", dividends, 1)
        stake = block_array("stake", stake, 1)
        active_stake = block_array("active_stake", active_stake, 1)
        if not (dividends.shape == stake.shape == active_stake.shape):
            raise ValueError("dividends, stake and active_stake must have one length (R,)")
        if square and incentive.shape != dividends.shape:
            raise ValueError("square=True needs incentive and dividends of one length")
    xp = xp or namespace(incentive, dividends, stake, active_stake)
    inc = xp.asarray(incentive, dtype=xp.float64)
    div = xp.asarray(dividends, dtype=xp.float64)
    a = xp.asarray(active_stake, dtype=xp.float64)
    combined = inc + div if square else xp.concat((div, inc), axis=-1)
    total = xp.sum(combined, axis=-1, keepdims=True)  # per epoch of a batch
    if eager(xp) and bool((total != 0).all()):
        # Concrete values, not emergency mode: the shares below without the fallback's work.
        return inc / total, div / total, combined / total
    ok = total != 0
    safe = xp.where(ok, total, 1.0)
    fallback = xp.where(xp.sum(a, axis=-1, keepdims=True) != 0, a, normalize(stake, xp=xp))
    combined_fallback = fallback if square else xp.concat((fallback, inc), axis=-1)
    return (
        xp.where(ok, inc / safe, inc),
        xp.where(ok, div / safe, fallback),
        xp.where(ok, combined / safe, combined_fallback),
    )
