"""Hyperparameters of one Yuma Consensus epoch (`YumaParams`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["U16_MAX", "YumaParams"]

#: The chain stores proportions as ``u16`` values over this denominator.
U16_MAX = 65535


@dataclass(frozen=True)
class YumaParams:
    """Float hyperparameters of an epoch, with the chain's defaults.

    Attributes
    ----------
    kappa:
        Majority threshold of the stake-weighted median (chain: ``Kappa`` / 65535).
        Must lie in the open interval (0, 1).
    bonds_moving_average:
        Weight of the previous bonds in the bond EMA (chain: ``BondsMovingAverage`` / 1e6).
        The EMA rate is ``1 - bonds_moving_average``. In [0, 1].
    bonds_penalty:
        Bonds penalty β (chain: ``BondsPenalty`` / 65535): bonds are built from
        ``W + β (W_clipped - W)``. In [0, 1].
    yuma3:
        Use the Yuma3 bonds branch (chain: ``Yuma3On``); otherwise the original ("Yuma2") branch.
    liquid_alpha:
        Per validator–miner EMA rate from the liquid-alpha sigmoid (chain: ``LiquidAlphaOn``).
        Only the Yuma3 branch uses it.
    alpha_low, alpha_high:
        Bounds of the liquid-alpha rate (chain: ``AlphaValues`` / 65535), 0 <= low <= high <= 1.
    alpha_sigmoid_steepness:
        Steepness of the liquid-alpha sigmoid in chain units (``AlphaSigmoidSteepness``, an i16);
        the sigmoid's slope is ``steepness / 100``.
    max_allowed_validators:
        Number of validator permits (chain: ``MaxAllowedValidators``), a non-negative integer.
    """

    kappa: float = 32767 / U16_MAX
    bonds_moving_average: float = 0.9
    bonds_penalty: float = 1.0
    yuma3: bool = True
    liquid_alpha: bool = False
    alpha_low: float = 45875 / U16_MAX
    alpha_high: float = 58982 / U16_MAX
    alpha_sigmoid_steepness: float = 1000.0
    max_allowed_validators: int = 128

    def __post_init__(self) -> None:
        def real(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a real number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
            return float(value)

        kappa = real("kappa")
        if not 0.0 < kappa < 1.0:
            raise ValueError(f"kappa must lie in the open interval (0, 1), got {kappa!r}")
        for name in ("bonds_moving_average", "bonds_penalty", "alpha_low", "alpha_high"):
            value = real(name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
        if self.alpha_low > self.alpha_high:
            raise ValueError(
                f"alpha_low ({self.alpha_low!r}) must not exceed alpha_high ({self.alpha_high!r})"
            )
        real("alpha_sigmoid_steepness")
        for name in ("yuma3", "liquid_alpha"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        k = self.max_allowed_validators
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"max_allowed_validators must be a non-negative int, got {k!r}")

    @property
    def bonds_ema_rate(self) -> float:
        """The fixed EMA rate α = 1 − ``bonds_moving_average`` (weight of the new bonds)."""
        return 1.0 - self.bonds_moving_average

    @classmethod
    def from_chain(
        cls,
        *,
        kappa: int = 32767,
        bonds_moving_average: int = 900_000,
        bonds_penalty: int = 65535,
        yuma3_enabled: bool = True,
        liquid_alpha_enabled: bool = False,
        alpha_low: int = 45875,
        alpha_high: int = 58982,
        alpha_sigmoid_steepness: int = 1000,
        max_allowed_validators: int = 128,
    ) -> YumaParams:
        """Build parameters from the chain's integer units.

        ``kappa``, ``bonds_penalty``, ``alpha_low`` and ``alpha_high`` are u16 (over 65535),
        ``bonds_moving_average`` is a u64 per million, ``alpha_sigmoid_steepness`` an i16.
        """

        def uint(name: str, value: int, hi: int) -> int:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
                raise ValueError(f"{name} must be an integer in [0, {hi}], got {value!r}")
            return value

        uint("kappa", kappa, U16_MAX)
        uint("bonds_penalty", bonds_penalty, U16_MAX)
        uint("alpha_low", alpha_low, U16_MAX)
        uint("alpha_high", alpha_high, U16_MAX)
        uint("bonds_moving_average", bonds_moving_average, 1_000_000)
        uint("max_allowed_validators", max_allowed_validators, U16_MAX)
        if (
            isinstance(alpha_sigmoid_steepness, bool)
            or not isinstance(alpha_sigmoid_steepness, int)
            or not -32768 <= alpha_sigmoid_steepness <= 32767
        ):
            raise ValueError(
                f"alpha_sigmoid_steepness must be an i16 integer, got {alpha_sigmoid_steepness!r}"
            )
        return cls(
            kappa=kappa / U16_MAX,
            bonds_moving_average=bonds_moving_average / 1_000_000,
            bonds_penalty=bonds_penalty / U16_MAX,
            yuma3=bool(yuma3_enabled),
            liquid_alpha=bool(liquid_alpha_enabled),
            alpha_low=alpha_low / U16_MAX,
            alpha_high=alpha_high / U16_MAX,
            alpha_sigmoid_steepness=float(alpha_sigmoid_steepness),
            max_allowed_validators=max_allowed_validators,
        )
