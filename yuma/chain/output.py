"""What one chain epoch stores and pays (`ChainEpochOutput`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yuma.chain.ops import SparseRows

__all__ = ["OUTPUT_KEYS", "ChainEpochOutput"]

#: The keys of :meth:`ChainEpochOutput.to_dict`, as under ``expect`` in the vector files.
OUTPUT_KEYS = (
    "incentive",
    "dividends",
    "consensus",
    "validator_trust",
    "stake_weight",
    "emission",
    "server_emission",
    "validator_emission",
    "active",
    "new_validator_permit",
    "bonds",
)


@dataclass(frozen=True, eq=False)
class ChainEpochOutput:
    """The per-uid terms of one epoch in chain units.

    Attributes
    ----------
    incentive, dividends, consensus, validator_trust, stake_weight : (n,) tuple of int
        u16 values, ``floor(x · 65535)`` of the I32F32 proportions (``Incentive``,
        ``Dividends``, ``Consensus``, ``ValidatorTrust``, ``StakeWeight``).
    emission, server_emission, validator_emission : (n,) tuple of int
        u64 alpha amounts: the combined ``Emission`` and the server / validator parts.
    active : (n,) tuple of bool
        ``last_update + cutoff ≥ block``.
    new_validator_permit : (n,) tuple of bool
        The permits this epoch stores for the next one.
    bonds : SparseRows
        ``Bonds`` as stored after the epoch, n rows of ``(uid, u16)`` (``bonds.to_rows()``;
        sparse path: rows without a new permit are empty; dense path: the dense storage rule,
        see the spec §6).
    stake : (n,) tuple of int
        ``floor`` of the total stake per uid (u64), unfiltered (voting power).
    active_stake_raw : (n,) tuple of int or None
        I32F32 raw active stake (exact arithmetic only).
    dividends_raw : (n,) tuple of int or None
        Exact arithmetic: I32F32 raw dividends before their normalisation (their sum is what
        decides how far float mode may differ, see ``yuma.chain.floatpath.FLOAT_DOMAIN``).
    weights_normalized_raw : SparseRows or None
        Exact arithmetic: weights after the masks and row normalisation (I32F32 raw; the dense
        path lists every cell).
    """

    incentive: tuple[int, ...]
    dividends: tuple[int, ...]
    consensus: tuple[int, ...]
    validator_trust: tuple[int, ...]
    stake_weight: tuple[int, ...]
    emission: tuple[int, ...]
    server_emission: tuple[int, ...]
    validator_emission: tuple[int, ...]
    active: tuple[bool, ...]
    new_validator_permit: tuple[bool, ...]
    bonds: SparseRows
    stake: tuple[int, ...] = ()
    active_stake_raw: tuple[int, ...] | None = None
    weights_normalized_raw: SparseRows | None = None
    dividends_raw: tuple[int, ...] | None = None

    def to_dict(self, include_raw: bool = False) -> dict[str, Any]:
        """The ``expect`` keys of the vector files as plain lists (bonds as ``[[uid, u16], …]``
        rows); with ``include_raw`` also the ``*_raw`` intermediates that are available."""
        d: dict[str, Any] = {}
        for key in OUTPUT_KEYS:
            value = getattr(self, key)
            if key == "bonds":
                d[key] = value.to_rows()
            else:
                d[key] = list(value)
        if include_raw:
            if self.active_stake_raw is not None:
                d["active_stake_raw"] = list(self.active_stake_raw)
            if self.dividends_raw is not None:
                d["dividends_raw"] = list(self.dividends_raw)
            if self.weights_normalized_raw is not None:
                d["weights_normalized_raw"] = self.weights_normalized_raw.to_rows()
        return d
