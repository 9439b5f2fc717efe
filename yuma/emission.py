"""The emission split between servers (miners) and validators, with the emergency fallback."""

from __future__ import annotations

from typing import Any

import numpy as np

from yuma._types import FloatArray
from yuma.normalize import normalize

__all__ = ["emission_shares"]


def emission_shares(
    incentive: Any,
    dividends: Any,
    stake: Any,
    active_stake: Any,
    *,
    square: bool = True,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Normalised server, validator and combined emission shares (spec §4.13).

    With ``Σ = Σ incentive + Σ dividends`` (≈ 2 when both are normalised): server ``I/Σ``,
    validator ``D/Σ``, combined ``(I + D)/Σ``. When ``Σ = 0`` (emergency mode: no usable
    weights) servers get nothing and validators, and the combined share, follow the active stake,
    or the normalised stake when no stake is active.

    incentive : (C,); dividends, stake, active_stake : (R,). ``square=True`` is the chain's uid
    layout (R == C, combined per uid); otherwise combined is ``(R + C,)``, validators first.
    Returns ``(server (C,), validator (R,), combined)``.
    """
    inc = np.asarray(incentive, dtype=np.float64)
    div = np.asarray(dividends, dtype=np.float64)
    combined = inc + div if square else np.concatenate((div, inc))
    total = combined.sum()
    if total != 0:
        return inc / total, div / total, combined / total
    a = np.asarray(active_stake, dtype=np.float64)
    fallback = a if a.sum() != 0 else normalize(stake)
    combined_fallback = fallback.copy() if square else np.concatenate((fallback, inc))
    return inc.copy(), fallback.copy(), combined_fallback
