"""Multi-epoch cabal strategies: bonds carry state, so timing is a strategy too.

The chain's study measures one epoch with no prior bonds. A cabal can do more with time:
weight honestly while its bonds grow and then defect (:func:`defection_map`), switch
periodically between honest weights and an attack, or match the consensus it saw last epoch
(:class:`~yuma.attacks.CabalStrategy` with ``template="previous"``). :func:`cabal_run` plays
any per-epoch schedule of cabal behaviour on the two-team subnet of :mod:`yuma.attacks.cabal`
and returns the honest side's share of emission each epoch, scored with the exact float epoch
(:func:`yuma.epoch_batch`, bonds carried). These runs need the chain's variants ("yuma2",
"yuma3"; liquid alpha through ``params``), whose carried state is the bonds alone.

"Weighting honestly" means what an honest validator does: ``W_H`` of its weight on honest
servers and the rest on cabal servers, with its own spread (a uniform cabal with self-weight
``1 − W_H``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from yuma._types import FloatArray
from yuma.attacks.cabal import (
    CHAIN_HONEST_STAKES,
    CHAIN_VARIANTS,
    DEFAULT_GRID,
    Threshold,
    _check_unit,
    _Draw,
    _draw,
    _params,
    crossing,
)
from yuma.attacks.search import CabalStrategy, _honest_template, _normalise_block, _weights
from yuma.params import YumaParams

__all__ = ["CabalRun", "DefectionMap", "cabal_run", "defection_map", "periodic_schedule"]

#: One epoch of a schedule: a strategy, or None for "weight as an honest validator".
Step = CabalStrategy | None


@dataclass(frozen=True)
class _Plan:
    """Per-epoch cabal parameters for a batch of B subnets: (E, B, G) arrays, and for each
    epoch whether the cabal weights honestly and which template it matches."""

    self_weight: FloatArray
    honest_match: FloatArray
    cabal_match: FloatArray
    templates: tuple[str, ...]


def _play(
    draw: _Draw,
    utility: FloatArray,
    plan: _Plan,
    p: YumaParams,
    backend: str | None,
    fixed_point: int,
) -> tuple[FloatArray, FloatArray]:
    """(E, B) honest incentive and dividend shares of a batch of B subnets over the plan."""
    from yuma import epoch_batch

    th, tc = _honest_template(draw, p)
    hs = draw.to_honest.shape[1]
    epochs, b = plan.self_weight.shape[:2]
    inc = np.empty((epochs, b))
    div = np.empty((epochs, b))
    bonds = None
    previous: FloatArray | None = None
    for t in range(epochs):
        sw, lh, lc = plan.self_weight[t], plan.honest_match[t], plan.cabal_match[t]
        kind = plan.templates[t]
        if kind == "previous" and previous is not None:
            ph, pc = _normalise_block(previous[:, :hs]), _normalise_block(previous[:, hs:])
        elif kind == "previous":
            # No consensus published yet: the cabal's own spread.
            ph, pc = th, tc
            lh, lc = np.zeros_like(lh), np.zeros_like(lc)
        else:
            ph, pc = th, tc
        w = _weights(draw, utility, sw, lh, lc, ph, pc)
        if kind == "consensus" and (lh.any() or lc.any()):
            # Consensus does not read bonds: the fixed point is found without them.
            for _ in range(fixed_point):
                c = epoch_batch(w, draw.stake, None, p, layout="bipartite", backend=backend)
                w = _weights(
                    draw,
                    utility,
                    sw,
                    lh,
                    lc,
                    _normalise_block(c.consensus[:, :hs]),
                    _normalise_block(c.consensus[:, hs:]),
                )
        r = epoch_batch(w, draw.stake, bonds, p, layout="bipartite", backend=backend)
        bonds = r.bonds
        previous = r.consensus
        inc[t] = r.incentive[:, draw.honest_servers].sum(axis=1)
        div[t] = r.dividends[:, draw.honest_validators].sum(axis=1)
    return inc, div


def _plan(steps: Sequence[Sequence[Step]], utility: FloatArray, groups: int) -> _Plan:
    """A plan for B subnets from B schedules of the same length (None = honest weights)."""
    b = len(steps)
    epochs = len(steps[0])
    sw = np.empty((epochs, b, groups))
    lh = np.zeros((epochs, b, groups))
    lc = np.zeros((epochs, b, groups))
    templates: list[str] = []
    for t in range(epochs):
        kinds = set()
        for k in range(b):
            s = steps[k][t]
            if s is None:
                sw[t, k] = 1.0 - utility[k]
                kinds.add("honest")
                continue
            if s.groups != groups:
                raise ValueError(f"every strategy of a run needs {groups} groups, got {s.groups}")
            sw[t, k], lh[t, k], lc[t, k] = s.self_weight, s.honest_match, s.cabal_match
            kinds.add(s.template)
        # One template per epoch of a batch (the honest template when nobody matches).
        kinds.discard("honest")
        if len(kinds) > 1:
            raise ValueError("the strategies of one epoch of a batch must share a template")
        templates.append(kinds.pop() if kinds else "honest")
    return _Plan(sw, lh, lc, tuple(templates))


def _check_variant(variant: str) -> None:
    if variant not in CHAIN_VARIANTS:
        raise ValueError(
            f"multi-epoch cabal runs take variant 'yuma2' or 'yuma3' (bonds are their whole "
            f"carried state), got {variant!r}"
        )


@dataclass(frozen=True)
class CabalRun:
    """The honest side's shares, epoch by epoch, averaged over ``draws`` subnets.

    honest_emission, honest_incentive, honest_dividends : (E,) arrays in [0, 1].
    """

    honest_emission: FloatArray
    honest_incentive: FloatArray
    honest_dividends: FloatArray
    draws: int


def periodic_schedule(
    attack: CabalStrategy, honest_epochs: int, attack_epochs: int, cycles: int
) -> list[Step]:
    """``cycles`` times: ``honest_epochs`` of honest weights, then ``attack_epochs`` of
    ``attack``."""
    for name, value in (
        ("honest_epochs", honest_epochs),
        ("attack_epochs", attack_epochs),
        ("cycles", cycles),
    ):
        if value < 0 or (name == "cycles" and value < 1):
            raise ValueError(f"{name} must be non-negative (cycles >= 1), got {value!r}")
    return ([None] * honest_epochs + [attack] * attack_epochs) * cycles


def cabal_run(
    honest_stake: float,
    honest_utility: float,
    schedule: Sequence[Step],
    *,
    n: int = 512,
    validators: int = 64,
    stake_std: float = 0.3,
    weight_std: float = 0.0,
    seed: int = 0,
    draws: int = 1,
    xi: float = 0.5,
    variant: str = "yuma2",
    params: YumaParams | None = None,
    bonds_penalty: float | None = None,
    kappa: float | None = None,
    backend: str | None = None,
    fixed_point: int = 3,
) -> CabalRun:
    """Play a per-epoch ``schedule`` of cabal behaviour and return the honest shares per epoch.

    Parameters
    ----------
    schedule : sequence
        One entry per epoch, a :class:`CabalStrategy` or None (weight honestly). The subnets
        are those of :func:`yuma.attacks.cabal` with the same ``seed``. A constant schedule of
        a uniform strategy repeats :func:`yuma.attacks.cabal` with ``epochs`` equal to its
        length (its last epoch).
    fixed_point : int
        Rounds used for the "consensus" template.
    """
    _check_unit("honest_stake", honest_stake)
    _check_unit("honest_utility", honest_utility)
    _check_unit("xi", xi)
    _check_variant(variant)
    if len(schedule) == 0:
        raise ValueError("schedule needs at least one epoch")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    groups = next((s.groups for s in schedule if s is not None), 1)
    u = np.array([honest_utility])
    plan = _plan([list(schedule)], u, groups)
    p = _params(params, variant, bonds_penalty=bonds_penalty, kappa=kappa)
    rng = np.random.default_rng(seed)
    inc = np.zeros(len(schedule))
    div = np.zeros(len(schedule))
    for _ in range(draws):
        draw = _draw(honest_stake, n, validators, stake_std, weight_std, rng)
        i, d = _play(draw, u, plan, p, backend, fixed_point)
        inc += i[:, 0]
        div += d[:, 0]
    inc /= draws
    div /= draws
    return CabalRun(xi * div + (1.0 - xi) * inc, inc, div, draws)


@dataclass(frozen=True)
class DefectionMap:
    """Honest emission after a cabal that weighted honestly for ``history`` epochs defects.

    Attributes
    ----------
    honest_stakes, honest_utilities, cabal_self_weights : (S,), (U,), (C,)
        The grid.
    emission : (S, U, C, A)
        Honest share in each of the A epochs after the switch (index 0 is the first epoch of
        the attack).
    stationary : (S, U, C)
        The same attack held from the first epoch with no prior bonds, at the same epoch as
        the last of ``emission`` (the chain's study when that equals its first epoch).
    """

    honest_stakes: FloatArray
    honest_utilities: FloatArray
    cabal_self_weights: FloatArray
    history: int
    emission: FloatArray
    stationary: FloatArray

    def margins(self, epochs: slice | int | None = 0) -> FloatArray:
        """(S, U): honest emission minus the stake share against the cabal's best self-weight,
        at one epoch after the switch (an int), averaged over a slice of them, or (None) at
        the stationary attack."""
        if epochs is None:
            e = self.stationary
        elif isinstance(epochs, slice):
            e = self.emission[..., epochs].mean(axis=-1)
        else:
            e = self.emission[..., epochs]
        return np.asarray(e.min(axis=2) - self.honest_stakes[:, None])

    def thresholds(self, epochs: slice | int | None = 0) -> list[Threshold]:
        """One :class:`Threshold` per honest stake (interpolated), for :meth:`margins`."""
        return [crossing(self.honest_utilities, m) for m in self.margins(epochs)]

    def aftermath(self, tolerance: float = 1e-3) -> FloatArray:
        """(S,): epochs after the switch until the worst-case margin at every honest utility
        stays within ``tolerance`` of the stationary one (NaN if not within the run)."""
        after = self.emission.shape[-1]
        worst = self.emission.min(axis=2) - self.honest_stakes[:, None, None]
        gap = np.abs(worst - self.margins(None)[..., None]).max(axis=1)  # (S, A)
        out = np.full(len(self.honest_stakes), np.nan)
        for s in range(len(self.honest_stakes)):
            far = np.flatnonzero(gap[s] > tolerance)
            if far.size == 0:
                out[s] = 0.0
            elif far[-1] < after - 1:
                out[s] = float(far[-1] + 1)
        return out


def defection_map(
    honest_stakes: Sequence[float] = CHAIN_HONEST_STAKES,
    honest_utilities: Sequence[float] | FloatArray = DEFAULT_GRID,
    cabal_self_weights: Sequence[float] | FloatArray = DEFAULT_GRID,
    *,
    history: int = 30,
    after: int = 10,
    honest_match: float = 0.0,
    cabal_match: float = 0.0,
    template: str = "consensus",
    n: int = 512,
    validators: int = 64,
    stake_std: float = 0.3,
    weight_std: float = 0.0,
    seed: int = 0,
    draws: int = 1,
    xi: float = 0.5,
    variant: str = "yuma2",
    params: YumaParams | None = None,
    bonds_penalty: float | None = None,
    kappa: float | None = None,
    backend: str | None = None,
    chunk: int = 128,
) -> DefectionMap:
    """The retention map of a cabal that weights honestly for ``history`` epochs, then attacks.

    The attack is ``CabalStrategy((W_C,), (honest_match,), (cabal_match,), template)`` for each
    cabal self-weight ``W_C`` on the grid (the chain's uniform cabal by default), held for
    ``after`` epochs. Every grid point shares the seed's subnets (common random numbers);
    ``chunk`` grid points run per batch.
    """
    _check_variant(variant)
    _check_unit("xi", xi)
    if history < 0 or after < 1 or chunk < 1 or draws < 1:
        raise ValueError("need history >= 0, after >= 1, chunk >= 1 and draws >= 1")
    stakes = np.asarray(honest_stakes, dtype=np.float64)
    utilities = np.asarray(honest_utilities, dtype=np.float64)
    selfs = np.asarray(cabal_self_weights, dtype=np.float64)
    for name, values in (
        ("honest_stakes", stakes),
        ("honest_utilities", utilities),
        ("cabal_self_weights", selfs),
    ):
        if values.ndim != 1 or values.size == 0 or values.min() < 0 or values.max() > 1:
            raise ValueError(f"{name} must be a non-empty list of values in [0, 1]")
    p = _params(params, variant, bonds_penalty=bonds_penalty, kappa=kappa)
    grid_u, grid_c = (g.ravel() for g in np.meshgrid(utilities, selfs, indexing="ij"))
    attacks = [CabalStrategy((c,), (honest_match,), (cabal_match,), template) for c in grid_c]  # type: ignore[arg-type]
    total = history + after
    emission = np.zeros((stakes.size, grid_u.size, after))
    stationary = np.zeros((stakes.size, grid_u.size))
    for a, s in enumerate(stakes):
        rng = np.random.default_rng(seed)
        for _ in range(draws):
            draw = _draw(float(s), n, validators, stake_std, weight_std, rng)
            for lo in range(0, grid_u.size, chunk):
                hi = min(lo + chunk, grid_u.size)
                u = grid_u[lo:hi]
                defect = _plan([[None] * history + [x] * after for x in attacks[lo:hi]], u, 1)
                i, d = _play(draw, u, defect, p, backend, 3)
                emission[a, lo:hi] += (xi * d[history:] + (1.0 - xi) * i[history:]).T
                held = _plan([[x] * total for x in attacks[lo:hi]], u, 1)
                i, d = _play(draw, u, held, p, backend, 3)
                stationary[a, lo:hi] += xi * d[-1] + (1.0 - xi) * i[-1]
    emission /= draws
    stationary /= draws
    shape = (stakes.size, utilities.size, selfs.size)
    return DefectionMap(
        honest_stakes=stakes,
        honest_utilities=utilities,
        cabal_self_weights=selfs,
        history=history,
        emission=emission.reshape(*shape, after),
        stationary=stationary.reshape(shape),
    )
