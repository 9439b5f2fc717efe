"""A cabal against an honest majority: the two-team Monte Carlo of the chain's consensus study.

The experiment (spec ``variants.md``, "Attack experiments" 1; the chain's test
``map_consensus_guarantees``): validators and servers split into an honest side holding a share
``S_H`` of the stake and a cabal holding the rest. An honest validator puts ``W_H`` ("honest
utility") of its weight on honest servers and the rest on cabal servers; a cabal validator puts
``W_C`` ("cabal self-weight") on cabal servers and the rest on honest servers. One epoch with no
prior bonds, then the honest side's share of emission ``E_H = ξ·D_H + (1 − ξ)·I_H``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from yuma._types import FloatArray
from yuma.params import YumaParams

__all__ = [
    "CabalOutcome",
    "CabalSubnet",
    "RetentionMap",
    "Threshold",
    "cabal",
    "cabal_subnet",
    "retention_map",
    "retention_threshold",
]

#: The chain's study grid: 0, 0.02, …, 1 for both weights.
DEFAULT_GRID = np.linspace(0.0, 1.0, 51)
#: Honest stake shares of the chain's retention map.
CHAIN_HONEST_STAKES = (0.51, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class CabalSubnet:
    """One draw of the two-team subnet, validators x servers.

    weights : (V, N) row-normalised weights. stake : (V,) normalised stake.
    honest_validators : (V,) and honest_servers : (N,) boolean masks of the honest side.
    """

    weights: FloatArray
    stake: FloatArray
    honest_validators: np.ndarray[Any, np.dtype[np.bool_]]
    honest_servers: np.ndarray[Any, np.dtype[np.bool_]]


@dataclass(frozen=True)
class CabalOutcome:
    """The honest side's share of one epoch's emission, averaged over ``draws`` subnets.

    honest_emission : mean ``ξ·D_H + (1 − ξ)·I_H`` in [0, 1].
    honest_emission_error : its Monte Carlo standard error (0 for one draw).
    honest_incentive, honest_dividends : mean honest shares of incentive and of dividends.
    """

    honest_emission: float
    honest_emission_error: float
    honest_incentive: float
    honest_dividends: float
    draws: int


def _side_size(share: float, total: int) -> int:
    """The honest side's count: ``floor(share·total)``, kept off 0 and off ``total`` so each
    side has at least one member (as the chain's study does)."""
    if total <= 1:
        return total
    return int(min(max(int(np.floor(share * total)), 1), total - 1))


def _spread(rng: np.random.Generator, size: tuple[int, ...], std: float) -> FloatArray:
    """Draws of N(1, std²) clamped at 0, normalised along the last axis (all-zero stays 0)."""
    x = np.maximum(1.0 + std * rng.standard_normal(size), 0.0)
    total = x.sum(axis=-1, keepdims=True)
    return np.asarray(np.divide(x, total, out=np.zeros_like(x), where=total > 0))


def cabal_subnet(
    honest_stake: float,
    honest_utility: float,
    cabal_self_weight: float,
    *,
    n: int = 512,
    validators: int = 64,
    stake_std: float = 0.3,
    weight_std: float = 0.0,
    rng: np.random.Generator | int = 0,
) -> CabalSubnet:
    """Draw one two-team subnet of ``n`` neurons, ``validators`` of them validators.

    honest_stake : the honest side's stake share S_H in (0, 1).
    honest_utility : W_H, the weight each honest validator puts on honest servers.
    cabal_self_weight : W_C, the weight each cabal validator puts on cabal servers.
    stake_std, weight_std : relative spread of stakes and of weights within a side.
    """
    for name, value in (
        ("honest_stake", honest_stake),
        ("honest_utility", honest_utility),
        ("cabal_self_weight", cabal_self_weight),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    draw = _draw(honest_stake, n, validators, stake_std, weight_std, gen)
    weights = _assemble(draw, np.array([honest_utility]), np.array([cabal_self_weight]))[0]
    return CabalSubnet(
        weights=weights,
        stake=draw.stake,
        honest_validators=draw.honest_validators,
        honest_servers=draw.honest_servers,
    )


@dataclass(frozen=True)
class _Draw:
    """The random part of a two-team subnet, shared by every (W_H, W_C) of a grid: stakes and
    each validator's normalised spread over the honest and over the cabal servers."""

    stake: FloatArray
    to_honest: FloatArray
    to_cabal: FloatArray
    honest_validators: np.ndarray[Any, np.dtype[np.bool_]]
    honest_servers: np.ndarray[Any, np.dtype[np.bool_]]


def _draw(
    honest_stake: float,
    n: int,
    validators: int,
    stake_std: float,
    weight_std: float,
    gen: np.random.Generator,
) -> _Draw:
    if not 2 <= validators < n - 1:
        raise ValueError(f"need 2 <= validators < n - 1, got validators={validators}, n={n}")
    if stake_std < 0 or weight_std < 0:
        raise ValueError("stake_std and weight_std must be non-negative")
    servers = n - validators
    hv = _side_size(honest_stake, validators)
    hs = _side_size(honest_stake, servers)
    stake = np.concatenate(
        (
            honest_stake * _spread(gen, (hv,), stake_std),
            (1.0 - honest_stake) * _spread(gen, (validators - hv,), stake_std),
        )
    )
    to_honest = _spread(gen, (validators, hs), weight_std)
    to_cabal = _spread(gen, (validators, servers - hs), weight_std)
    return _Draw(
        stake=stake,
        to_honest=to_honest,
        to_cabal=to_cabal,
        honest_validators=np.arange(validators) < hv,
        honest_servers=np.arange(servers) < hs,
    )


def _assemble(
    draw: _Draw,
    utilities: FloatArray,
    self_weights: FloatArray,
    out: FloatArray | None = None,
) -> FloatArray:
    """(B, V, N) weights for B grid points (W_H, W_C) = (utilities[b], self_weights[b]),
    written into ``out`` (at least B long) when given, so a sweep reuses one buffer."""
    on_honest = np.where(
        draw.honest_validators[None, :], utilities[:, None], 1.0 - self_weights[:, None]
    )
    hs = draw.to_honest.shape[1]
    b = len(utilities)
    if out is None:
        out = np.empty((b, draw.stake.size, hs + draw.to_cabal.shape[1]))
    weights = out[:b]
    np.multiply(on_honest[:, :, None], draw.to_honest[None], out=weights[:, :, :hs])
    np.multiply((1.0 - on_honest)[:, :, None], draw.to_cabal[None], out=weights[:, :, hs:])
    return weights


#: Variants that are the chain's own epoch, run through the batched backends.
CHAIN_VARIANTS = {"yuma2": False, "yuma3": True}


def _params(params: YumaParams | None, variant: str, **overrides: Any) -> YumaParams:
    from yuma import variants

    base = params if params is not None else YumaParams(max_allowed_validators=65535)
    if variant in CHAIN_VARIANTS:
        overrides["yuma3"] = CHAIN_VARIANTS[variant]
    elif variant not in variants.names():
        raise ValueError(f"variant must be one of {', '.join(variants.names())}, got {variant!r}")
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def _run_grid(
    weights: FloatArray,
    stake: FloatArray,
    p: YumaParams,
    variant: str,
    epochs: int,
    backend: str | None,
) -> tuple[FloatArray, FloatArray]:
    """(B, N) incentive and (B, V) dividends of the last of ``epochs`` epochs of each subnet.

    The chain's variants run as one batch (:func:`yuma.epoch_batch`); any other registered
    variant runs subnet by subnet through :func:`yuma.simulate` (numpy unless ``backend``).
    """
    if variant in CHAIN_VARIANTS:
        from yuma.batch import epoch_batch

        bonds = None
        for _ in range(epochs):
            r = epoch_batch(weights, stake, bonds, p, layout="bipartite", backend=backend)
            bonds = r.bonds
        return r.incentive, r.dividends
    from yuma.simulation import simulate

    incentive = np.empty((weights.shape[0], weights.shape[2]))
    dividends = np.empty((weights.shape[0], weights.shape[1]))
    for b in range(weights.shape[0]):
        sim = simulate(
            weights[b],
            stake,
            p,
            variant=variant,
            backend=backend,
            epochs=epochs,
            keep_matrices=False,
        )
        incentive[b] = sim.incentive[-1]
        dividends[b] = sim.dividends[-1]
    return incentive, dividends


def _honest_shares(
    honest_stake: float,
    utilities: FloatArray,
    self_weights: FloatArray,
    p: YumaParams,
    *,
    variant: str,
    n: int,
    validators: int,
    stake_std: float,
    weight_std: float,
    seed: int,
    draws: int,
    epochs: int,
    backend: str | None,
    chunk: int,
) -> tuple[FloatArray, FloatArray]:
    """Honest shares of incentive and of dividends, each (draws, B), for B grid points.

    The random draws are made once per draw and shared by every grid point (common random
    numbers); the subnets run through :func:`yuma.epoch_batch`, ``chunk`` per call.
    """
    if draws < 1 or epochs < 1 or chunk < 1:
        raise ValueError(f"draws, epochs and chunk must be >= 1, got {draws}, {epochs}, {chunk}")
    incentive = np.empty((draws, utilities.size))
    dividends = np.empty((draws, utilities.size))
    rng = np.random.default_rng(seed)
    buffer = np.empty((min(chunk, utilities.size), validators, n - validators))
    for k in range(draws):
        draw = _draw(honest_stake, n, validators, stake_std, weight_std, rng)
        for lo in range(0, utilities.size, chunk):
            hi = min(lo + chunk, utilities.size)
            weights = _assemble(draw, utilities[lo:hi], self_weights[lo:hi], out=buffer)
            inc, div = _run_grid(weights, draw.stake, p, variant, epochs, backend)
            incentive[k, lo:hi] = inc[:, draw.honest_servers].sum(axis=1)
            dividends[k, lo:hi] = div[:, draw.honest_validators].sum(axis=1)
    return incentive, dividends


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")


def cabal(
    honest_stake: float,
    honest_utility: float,
    cabal_self_weight: float,
    n: int = 512,
    validators: int = 64,
    stake_std: float = 0.3,
    weight_std: float = 0.0,
    seed: int = 0,
    draws: int = 1,
    xi: float = 0.5,
    *,
    variant: str = "yuma2",
    params: YumaParams | None = None,
    bonds_penalty: float | None = None,
    kappa: float | None = None,
    epochs: int = 1,
    backend: str | None = None,
) -> CabalOutcome:
    """The honest share of emission after one epoch against a cabal, over ``draws`` subnets.

    ``variant`` is any registered variant (``yuma.variants.names()``): the chain's original Yuma
    ("yuma2", the chain's study) and Yuma3 ("yuma3"; liquid alpha through ``params``) run
    batched on the fast backends, the others through :func:`yuma.simulate`.
    ``bonds_penalty`` and ``kappa`` override ``params``.
    ``xi`` is the validators' share of emission (the chain splits it in half). ``epochs`` > 1
    repeats the same weights with bonds carried over and measures the last epoch (the chain's
    study uses 1; with constant weights and no prior bonds every bond column grows in
    proportion, so later epochs pay as the first did, unless liquid alpha gives pairs
    different rates). Reproducible from ``seed``; ``backend`` as in :func:`yuma.epoch`.
    """
    for name, value in (
        ("honest_stake", honest_stake),
        ("honest_utility", honest_utility),
        ("cabal_self_weight", cabal_self_weight),
        ("xi", xi),
    ):
        _check_unit(name, value)
    incentive, dividends = _honest_shares(
        honest_stake,
        np.array([honest_utility], dtype=np.float64),
        np.array([cabal_self_weight], dtype=np.float64),
        _params(params, variant, bonds_penalty=bonds_penalty, kappa=kappa),
        variant=variant,
        n=n,
        validators=validators,
        stake_std=stake_std,
        weight_std=weight_std,
        seed=seed,
        draws=draws,
        epochs=epochs,
        backend=backend,
        chunk=1,
    )
    emission = xi * dividends[:, 0] + (1.0 - xi) * incentive[:, 0]
    error = float(emission.std(ddof=1) / np.sqrt(draws)) if draws > 1 else 0.0
    return CabalOutcome(
        honest_emission=float(emission.mean()),
        honest_emission_error=error,
        honest_incentive=float(incentive.mean()),
        honest_dividends=float(dividends.mean()),
        draws=draws,
    )


@dataclass(frozen=True)
class Threshold:
    """The least honest utility that keeps the honest side's stake share, read off a grid.

    Attributes
    ----------
    value : float
        The crossing, linearly interpolated between the last grid utility that loses and the
        first that retains (the grid point itself when the grid's first utility retains); NaN
        when no utility on the grid retains.
    grid_point : float
        The first grid utility that retains (NaN when none does).
    grid_step : float
        The grid's spacing there: the crossing lies in ``(grid_point - grid_step, grid_point]``
        (0 when the first grid utility retains).
    """

    value: float
    grid_point: float
    grid_step: float

    def __float__(self) -> float:
        return self.value


def crossing(utilities: FloatArray, margin: FloatArray, tolerance: float = 1e-9) -> Threshold:
    """Where ``margin`` (the honest emission minus the stake share, one per utility, worst over
    the cabal's choices) first reaches 0 along the increasing grid ``utilities``.

    The first grid point with ``margin >= -tolerance`` is the grid answer; the interpolated value
    is the zero of the straight line through it and the point before (margins between grid
    points are not measured, so the interpolation is accurate to second order in the step).
    """
    u = np.asarray(utilities, dtype=np.float64)
    m = np.asarray(margin, dtype=np.float64)
    if u.ndim != 1 or u.shape != m.shape or u.size == 0:
        raise ValueError("utilities and margin must be non-empty vectors of the same length")
    if np.any(np.diff(u) <= 0):
        raise ValueError("utilities must increase strictly")
    hits = np.flatnonzero(m >= -tolerance)
    if hits.size == 0:
        return Threshold(float("nan"), float("nan"), float("nan"))
    k = int(hits[0])
    if k == 0:
        return Threshold(float(u[0]), float(u[0]), 0.0)
    lo, hi = m[k - 1], max(float(m[k]), 0.0)
    # m[k - 1] < -tolerance <= m[k]: the line through the two crosses zero inside the step.
    frac = -lo / (hi - lo) if hi > lo else 1.0
    value = float(u[k - 1] + frac * (u[k] - u[k - 1]))
    return Threshold(value, float(u[k]), float(u[k] - u[k - 1]))


@dataclass(frozen=True)
class RetentionMap:
    """Honest emission share over (honest stake, honest utility, cabal self-weight).

    honest_stakes : (S,); honest_utilities : (U,); cabal_self_weights : (C,).
    emission : (S, U, C) honest share of emission ``E_H``.
    """

    honest_stakes: FloatArray
    honest_utilities: FloatArray
    cabal_self_weights: FloatArray
    emission: FloatArray

    def retained(self, tolerance: float = 1e-9) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """(S, U, C): where the honest side keeps at least its stake share.

        ``tolerance`` absorbs float round-off where the share is kept exactly (a cabal at κ can
        hold the honest side to exactly its stake share).
        """
        return self.emission >= self.honest_stakes[:, None, None] - tolerance

    def margins(self) -> FloatArray:
        """(S, U): the honest emission minus the stake share against the cabal's best
        self-weight on the grid (negative where the honest side loses part of its share)."""
        return np.asarray(self.emission.min(axis=2) - self.honest_stakes[:, None])

    def thresholds(self, tolerance: float = 1e-9, *, interpolate: bool = False) -> FloatArray:
        """(S,): the least honest utility retaining the stake share against every cabal
        self-weight on the grid (NaN where none does).

        By default the first grid utility that retains (up to one grid step above the
        crossing); ``interpolate=True`` gives the interpolated crossing (:func:`crossing`).
        """
        found = self.threshold_list(tolerance)
        return np.array([t.value if interpolate else t.grid_point for t in found])

    def threshold_list(self, tolerance: float = 1e-9) -> list[Threshold]:
        """One :class:`Threshold` per honest stake: interpolated value, grid point, grid step."""
        return [crossing(self.honest_utilities, m, tolerance) for m in self.margins()]


def retention_map(
    honest_stakes: Sequence[float] = CHAIN_HONEST_STAKES,
    honest_utilities: Sequence[float] | FloatArray = DEFAULT_GRID,
    cabal_self_weights: Sequence[float] | FloatArray = DEFAULT_GRID,
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
    epochs: int = 1,
    backend: str | None = None,
    chunk: int = 128,
) -> RetentionMap:
    """The honest emission share over the grid, as in the chain's Monte Carlo study.

    Each grid point equals :func:`cabal` with the same arguments (to the backends' 1e-9). Every
    point uses the same seed, so neighbouring points differ only by the parameters (common
    random numbers), and the random draws are made once per honest stake. The grid runs through
    :func:`yuma.epoch_batch`, ``chunk`` subnets per call, on ``backend`` (the fastest available
    when None).
    """
    _check_unit("xi", xi)
    p = _params(params, variant, bonds_penalty=bonds_penalty, kappa=kappa)
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
    grid_u, grid_c = (g.ravel() for g in np.meshgrid(utilities, selfs, indexing="ij"))
    emission = np.empty((stakes.size, grid_u.size))
    for a, s in enumerate(stakes):
        incentive, dividends = _honest_shares(
            float(s),
            grid_u,
            grid_c,
            p,
            variant=variant,
            n=n,
            validators=validators,
            stake_std=stake_std,
            weight_std=weight_std,
            seed=seed,
            draws=draws,
            epochs=epochs,
            backend=backend,
            chunk=chunk,
        )
        emission[a] = (xi * dividends + (1.0 - xi) * incentive).mean(axis=0)
    return RetentionMap(
        stakes, utilities, selfs, emission.reshape(stakes.size, utilities.size, selfs.size)
    )


def retention_threshold(
    honest_stake: float,
    *,
    weight_std: float = 0.0,
    bonds_penalty: float = 1.0,
    xi: float = 0.5,
    kappa: float = 32767 / 65535,
    variant: str = "yuma2",
    seed: int = 0,
    draws: int = 1,
    honest_utilities: Sequence[float] | FloatArray = DEFAULT_GRID,
    cabal_self_weights: Sequence[float] | FloatArray = DEFAULT_GRID,
    **kwargs: Any,
) -> Threshold:
    """The least honest utility at which the honest side keeps at least its stake share,
    whatever uniform cabal self-weight the cabal picks.

    Returns a :class:`Threshold`: the crossing interpolated between grid utilities
    (``float(result)``), the first grid utility that retains and the grid's step there (NaN
    if no utility on the grid retains). ``kwargs`` go to :func:`retention_map`.
    """
    grid = retention_map(
        [honest_stake],
        honest_utilities,
        cabal_self_weights,
        weight_std=weight_std,
        bonds_penalty=bonds_penalty,
        xi=xi,
        kappa=kappa,
        variant=variant,
        seed=seed,
        draws=draws,
        **kwargs,
    )
    return grid.threshold_list()[0]
