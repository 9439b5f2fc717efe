"""The chain's epoch steps (dense path), as pipeline steps: ``step(s) -> {name: array}``.

Each step is named after its section of the spec (``../shared/spec/yuma-epoch.md`` §4) and calls
the building block that holds the rule (:mod:`yuma.normalize`, :mod:`yuma.median`, ...). The
bonds, dividends and EMA-rate steps live in :mod:`yuma.bonds`, :mod:`yuma.dividends` and
:mod:`yuma.ema_rate`. Shapes: ``R`` rows (validators), ``C`` columns (miners). Every one of
yuma's own steps also takes leading batch axes (``(..., R, C)``, ``(..., R)``: reduce along
``axis=-1``/``-2``, index with ``[..., :, None]``, multiply with :func:`yuma._xp.vecmat` /
:func:`~yuma._xp.matvec`), so the numpy reference runs a stack of epochs in one pass
(:func:`yuma.epoch_batch`); JAX adds the batch with ``vmap`` and sees one epoch.

The state a dense epoch starts from (chain names in brackets):

``raw_weights`` (R, C) raw weights; ``raw_stake`` (R,) stake in any unit; ``previous_bonds``
(R, C) stored bonds [``bonds``]; ``old_permit`` (R,) stored permits [``validator_permits``];
``active`` (R,) [``active``]; ``outdated`` (R, C) weights older than the miner's registration;
``recently_registered`` (C,); and, for variants that read the previous epoch, ``started``
(a bool: there is a previous epoch), ``previous_consensus`` (C,) and ``previous_weights``
(R, C).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yuma._step import State, rule
from yuma._xp import eager, vecmat
from yuma.clip import col_clip
from yuma.emission import emission_shares
from yuma.interpolate import interpolate
from yuma.masks import mask_cols, mask_diag, mask_matrix, mask_rows
from yuma.median import weighted_median_col
from yuma.normalize import normalize, row_normalize
from yuma.permits import is_topk_nonzero

__all__ = [
    "active_stake",
    "bonds_penalty",
    "bonds_penalty_lagged",
    "clip",
    "clip_lagged",
    "consensus",
    "emission",
    "incentive",
    "incentive_winner_takes_all",
    "masked_bonds",
    "permits",
    "stake",
    "storage",
    "weights",
]

Out = Mapping[str, Any]


@rule("stake")
def stake(s: State) -> Out:
    """§4.3 Stake: ``stake`` (R,) = normalised ``raw_stake``."""
    return {"stake": normalize(s.raw_stake, xp=s.xp)}


@rule("permits")
def permits(s: State) -> Out:
    """§4.4 Validator permits: ``validator_permit`` (R,), the top ``max_allowed_validators``
    non-zero stakes (the dense path has no owner rule)."""
    return {"validator_permit": is_topk_nonzero(s.stake, s.config.max_allowed_validators, xp=s.xp)}


@rule("active_stake")
def active_stake(s: State) -> Out:
    """§4.5 Active stake: stake of active rows holding a (stored) permit, normalised."""
    xp = s.xp
    return {"active_stake": normalize(xp.where(s.active & s.old_permit, s.stake, 0.0), xp=xp)}


@rule("weights")
def weights(s: State) -> Out:
    """§4.6 Weights: rows without a stored permit, self-weights (uid layout, the owner's
    included on the dense path) and outdated weights are zeroed, then rows normalised."""
    xp = s.xp
    w = mask_rows(~s.old_permit, s.raw_weights, xp=xp)
    if s.config.square:
        w = mask_diag(w, xp=xp)
    w = mask_matrix(s.outdated, w, xp=xp)
    return {"weights": row_normalize(w, xp=xp)}


@rule("consensus")
def consensus(s: State) -> Out:
    """§4.7 Consensus (C,): the κ stake-weighted median of each column over active stake."""
    return {"consensus": weighted_median_col(s.active_stake, s.weights, s.config.kappa, xp=s.xp)}


def _clip(s: State, w: Any) -> Out:
    clipped = col_clip(w, s.consensus, xp=s.xp)
    return {"clipped_weights": clipped, "validator_trust": s.xp.sum(clipped, axis=-1)}


@rule("clip")
def clip(s: State) -> Out:
    """§4.8 Clipping: ``clipped_weights`` = min(W, consensus); ``validator_trust`` (R,) = row
    sums of the clipped weights."""
    return _clip(s, s.weights)


@rule("incentive")
def incentive(s: State) -> Out:
    """§4.9 Ranks and incentive: ``ranks`` (C,) = active stake · clipped weights,
    ``incentive`` = normalised ranks."""
    ranks = vecmat(s.active_stake, s.clipped_weights)
    return {"ranks": ranks, "incentive": normalize(ranks, xp=s.xp)}


@rule("bonds_penalty")
def bonds_penalty(s: State) -> Out:
    """§4.10 Weights for bonds: ``(1 − β)·W + β·clipped`` with β = ``bonds_penalty``."""
    return {
        "weights_for_bonds": interpolate(
            s.weights, s.clipped_weights, s.config.bonds_penalty, xp=s.xp
        )
    }


@rule("masked_bonds")
def masked_bonds(s: State) -> Out:
    """§4.2/§4.11: the stored bonds with recently registered miners' columns zeroed."""
    return {"masked_bonds": mask_cols(s.recently_registered, s.previous_bonds, xp=s.xp)}


@rule("storage")
def storage(s: State) -> Out:
    """§6 Dense bond storage: rows with a new permit store ``new_bonds``, rows that lost their
    permit are emptied, the others keep the stored bonds."""
    xp = s.xp
    if eager(xp) and s.validator_permit.all():
        # Concrete values, every row permitted: every row stores its new bonds.
        return {"bonds": s.new_bonds}
    lost = s.old_permit & ~s.validator_permit
    kept = mask_rows(lost, s.previous_bonds, xp=xp)
    return {"bonds": xp.where(s.validator_permit[..., :, None], s.new_bonds, kept)}


@rule("emission")
def emission(s: State) -> Out:
    """§4.13 Emission split: server (C,), validator (R,) and combined shares."""
    server, validator, combined = emission_shares(
        s.incentive, s.dividends, s.stake, s.active_stake, square=s.config.square, xp=s.xp
    )
    return {
        "server_emission": server,
        "validator_emission": validator,
        "combined_emission": combined,
    }


# --- replacements used by variants --------------------------------------------------------


def _lagged(s: State) -> Any:
    """The previous epoch's weights once there is one, else this epoch's."""
    return s.xp.where(s.started[..., None, None], s.previous_weights, s.weights)


@rule("clip_lagged")
def clip_lagged(s: State) -> Out:
    """``clip`` on the previous epoch's weights (``yuma2b``); consensus stays current."""
    return _clip(s, _lagged(s))


@rule("bonds_penalty_lagged")
def bonds_penalty_lagged(s: State) -> Out:
    """``bonds_penalty`` on the previous epoch's weights (``yuma2b``)."""
    return {
        "weights_for_bonds": interpolate(
            _lagged(s), s.clipped_weights, s.config.bonds_penalty, xp=s.xp
        )
    }


@rule("incentive_winner_takes_all")
def incentive_winner_takes_all(s: State) -> Out:
    """Winner-takes-all: ``1/|argmax R|`` on the top-ranked miners, 0 elsewhere (all-zero
    ranks give all-zero incentive)."""
    xp = s.xp
    ranks = vecmat(s.active_stake, s.clipped_weights)
    return {"ranks": ranks, "incentive": winner_takes_all(ranks, xp=xp)}


def winner_takes_all(ranks: Any, *, xp: Any = None) -> Any:
    """(C,) ranks -> (C,) incentive ``1/|argmax R|`` on the maxima, 0 elsewhere."""
    from yuma._xp import namespace

    xp = xp or namespace(ranks)
    r = xp.asarray(ranks, dtype=xp.float64)
    if r.shape[-1] == 0:
        return r
    winners = (r == xp.max(r, axis=-1, keepdims=True)) & (r > 0)
    count = xp.sum(xp.astype(winners, xp.float64), axis=-1, keepdims=True)
    return xp.where(winners, 1.0 / xp.where(count > 0, count, 1.0), 0.0)
