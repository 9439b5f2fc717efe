"""Hyperparameters of one Yuma Consensus epoch (`YumaParams`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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
        # numpy scalars (np.float32, np.int64, np.bool_) are accepted and stored as the Python
        # number they stand for, so every backend sees the same float64 / int / bool.
        for name in _REAL_FIELDS:
            object.__setattr__(self, name, _real(name, getattr(self, name)))
        for name in ("yuma3", "liquid_alpha"):
            object.__setattr__(self, name, _flag(name, getattr(self, name)))
        k = self.max_allowed_validators
        if not _is_integer(k) or k < 0:
            raise ValueError(f"max_allowed_validators must be a non-negative int, got {k!r}")
        object.__setattr__(self, "max_allowed_validators", int(k))

        if not 0.0 < self.kappa < 1.0:
            raise ValueError(f"kappa must lie in the open interval (0, 1), got {self.kappa!r}")
        for name in ("bonds_moving_average", "bonds_penalty", "alpha_low", "alpha_high"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
        if self.alpha_low > self.alpha_high:
            raise ValueError(
                f"alpha_low ({self.alpha_low!r}) must not exceed alpha_high ({self.alpha_high!r})"
            )

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
            if not _is_integer(value) or not 0 <= value <= hi:
                raise ValueError(f"{name} must be an integer in [0, {hi}], got {value!r}")
            return int(value)

        steepness = alpha_sigmoid_steepness
        if not _is_integer(steepness) or not -32768 <= steepness <= 32767:
            raise ValueError(f"alpha_sigmoid_steepness must be an i16 integer, got {steepness!r}")
        return cls(
            kappa=uint("kappa", kappa, U16_MAX) / U16_MAX,
            bonds_moving_average=uint("bonds_moving_average", bonds_moving_average, 1_000_000)
            / 1_000_000,
            bonds_penalty=uint("bonds_penalty", bonds_penalty, U16_MAX) / U16_MAX,
            yuma3=_flag("yuma3_enabled", yuma3_enabled),
            liquid_alpha=_flag("liquid_alpha_enabled", liquid_alpha_enabled),
            alpha_low=uint("alpha_low", alpha_low, U16_MAX) / U16_MAX,
            alpha_high=uint("alpha_high", alpha_high, U16_MAX) / U16_MAX,
            alpha_sigmoid_steepness=float(steepness),
            max_allowed_validators=uint("max_allowed_validators", max_allowed_validators, U16_MAX),
        )


#: The float fields of :class:`YumaParams`.
_REAL_FIELDS = (
    "kappa",
    "bonds_moving_average",
    "bonds_penalty",
    "alpha_low",
    "alpha_high",
    "alpha_sigmoid_steepness",
)


def _is_integer(value: object) -> bool:
    """A Python or numpy integer, not a bool (``True`` is an int to Python, not a count)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _real(name: str, value: object) -> float:
    """A finite real number (Python or numpy int or float, not bool or complex) as a float."""
    if not (_is_integer(value) or isinstance(value, (float, np.floating))):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        out = float(value)  # type: ignore[arg-type]
    except OverflowError:  # a Python int beyond float64's range
        out = math.inf
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def _flag(name: str, value: object) -> bool:
    """``True``/``False`` or a numpy bool as a Python bool (0/1 and strings are refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)
