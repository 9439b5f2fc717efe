"""Dividends: the validators' share of emission (spec §4.11, §4.12).

A dividends step reads ``ema_bonds`` (R, C), ``incentive`` (C,) and ``active_stake`` (R,) and
returns ``{"dividends": (R,)}``, normalised to sum 1 (or all zeros).

==========================  ===============================================================
``stake_weighted``          Yuma3: ``D ∝ S_i · Σ_j colnorm(B)_ij · I_j``
``bonds_incentive``         original Yuma: ``D ∝ B·I`` (stake is already inside the bonds)
``bond_share``              capacity bonds: ``D ∝ Σ_j (B_ij / Σ_k B_kj)·I_j``
==========================  ===============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yuma._step import State, rule
from yuma._xp import matvec
from yuma.normalize import col_normalize, normalize

__all__ = ["bond_share", "bonds_incentive", "stake_weighted"]


@rule("dividends.stake_weighted")
def stake_weighted(s: State) -> Mapping[str, Any]:
    """Yuma3 (§4.11): ``normalize((colnorm(B) · I) ⊙ S)``."""
    xp = s.xp
    per_bond = matvec(col_normalize(s.ema_bonds, xp=xp), s.incentive)
    return {"dividends": normalize(per_bond * s.active_stake, xp=xp)}


@rule("dividends.bonds_incentive")
def bonds_incentive(s: State) -> Mapping[str, Any]:
    """Original Yuma (§4.12): ``normalize(B · I)``."""
    return {"dividends": normalize(matvec(s.ema_bonds, s.incentive), xp=s.xp)}


@rule("dividends.bond_share")
def bond_share(s: State) -> Mapping[str, Any]:
    """Capacity bonds: ``normalize(colnorm(B) · I)``."""
    xp = s.xp
    return {"dividends": normalize(matvec(col_normalize(s.ema_bonds, xp=xp), s.incentive), xp=xp)}
