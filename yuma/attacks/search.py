"""The worst cabal: search the cabal's weights for the strategy that hurts the honest side most.

The chain's study (:mod:`yuma.attacks.cabal`) lets a cabal pick only its self-weight ``W_C``
(every cabal validator spreads ``W_C`` over the cabal's servers and ``1 − W_C`` over honest ones,
each with its own random spread). That is not the worst a cabal can do. Consensus clips every
weight at the server's consensus, so weight above consensus earns nothing, and weight below a
server's consensus can pull that consensus down when the cabal's stake decides the
κ-quantile. A cabal that *matches* the consensus profile instead of spreading at random wastes
less.

The family searched here (:class:`CabalStrategy`) spans both: per group of cabal validators
(split by stake), a self-weight ``W_C`` and, on each side of the subnet, a mix between the
validator's own spread (0: the chain's uniform cabal) and the consensus profile (1). The search
(CMA-ES through the ``cmaes`` package, ``pip install yuma-consensus[search]``, or a seeded
random search with no extra dependency) starts from the best uniform cabal on the grid and
scores every candidate with the exact float epoch (:func:`yuma.epoch_batch`, the chain's
variants; :func:`yuma.simulate` for the others), on the same random subnets as the uniform
study (common random numbers). The result is never better for the honest side than the best
uniform cabal: the uniform best is the search's first incumbent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from yuma._types import FloatArray
from yuma.attacks.cabal import (
    CHAIN_VARIANTS,
    DEFAULT_GRID,
    Threshold,
    _check_unit,
    _Draw,
    _draw,
    _params,
    crossing,
    retention_map,
)
from yuma.params import YumaParams

__all__ = [
    "CabalStrategy",
    "WorstCabal",
    "WorstCaseThreshold",
    "strategy_emission",
    "worst_cabal",
    "worst_case_threshold",
    "worst_case_thresholds",
]

Template = Literal["honest", "consensus", "previous"]
Method = Literal["cmaes", "random"]
TEMPLATES = ("consensus", "honest", "previous")


def _unit_tuple(name: str, values: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not out:
        raise ValueError(f"{name} needs at least one group")
    for v in out:
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {v!r}")
    return out


@dataclass(frozen=True)
class CabalStrategy:
    """A cabal's weights rule, one set of numbers per group of cabal validators.

    Attributes
    ----------
    self_weight : tuple of float, one per group
        ``W_C``: the share of each cabal row on the cabal's servers (the rest on honest ones).
    honest_match, cabal_match : tuple of float, one per group
        How each row spreads its weight over the honest (cabal) servers: 0 is the validator's
        own random spread (the chain's uniform cabal), 1 the consensus profile of those
        servers (normalised), in between the mix.
    template : {"consensus", "honest", "previous"}
        The consensus profile matched. "consensus": the chain's consensus of the subnet with the
        cabal's own rows in it (the fixed point a cabal reaches by matching what it sees; all
        weights are public without commit-reveal). "honest": the consensus the honest
        validators' weights of the same epoch reach on their own. "previous": the chain's
        consensus of the previous epoch, as published (multi-epoch runs only,
        :mod:`yuma.attacks.history`; at the first epoch, with none, the validator's own
        spread). In a stationary run "previous" settles into "consensus".

    Groups split the cabal validators by stake, largest first, into near-equal parts. One group
    with both matches 0 is the chain's uniform cabal (:meth:`uniform`).
    """

    self_weight: tuple[float, ...]
    honest_match: tuple[float, ...]
    cabal_match: tuple[float, ...]
    template: Template = "consensus"

    def __post_init__(self) -> None:
        sw = _unit_tuple("self_weight", self.self_weight)
        hm = _unit_tuple("honest_match", self.honest_match)
        cm = _unit_tuple("cabal_match", self.cabal_match)
        if not len(sw) == len(hm) == len(cm):
            raise ValueError(
                "self_weight, honest_match and cabal_match need one value per group, got "
                f"{len(sw)}, {len(hm)}, {len(cm)}"
            )
        if self.template not in TEMPLATES:
            raise ValueError(f"template must be one of {TEMPLATES}, got {self.template!r}")
        object.__setattr__(self, "self_weight", sw)
        object.__setattr__(self, "honest_match", hm)
        object.__setattr__(self, "cabal_match", cm)

    @classmethod
    def uniform(cls, self_weight: float, groups: int = 1) -> CabalStrategy:
        """The chain's uniform cabal with self-weight ``self_weight``."""
        return cls((self_weight,) * groups, (0.0,) * groups, (0.0,) * groups)

    @classmethod
    def from_vector(cls, x: Any, template: Template = "consensus") -> CabalStrategy:
        """From ``(3·G,)`` numbers: G self-weights, G honest matches, G cabal matches."""
        v = np.clip(np.asarray(x, dtype=np.float64).ravel(), 0.0, 1.0)
        if v.size == 0 or v.size % 3:
            raise ValueError(f"a strategy vector has 3 numbers per group, got {v.size}")
        g = v.size // 3
        return cls(tuple(v[:g]), tuple(v[g : 2 * g]), tuple(v[2 * g :]), template)

    @property
    def groups(self) -> int:
        """Number of groups of cabal validators."""
        return len(self.self_weight)

    def vector(self) -> FloatArray:
        """``(3·G,)``: self-weights, honest matches, cabal matches."""
        return np.array([*self.self_weight, *self.honest_match, *self.cabal_match])

    @property
    def is_uniform(self) -> bool:
        """True when this is a uniform cabal (the chain's study family)."""
        return (
            len(set(self.self_weight)) == 1
            and not any(self.honest_match)
            and not any(self.cabal_match)
        )


def _group_index(stake: FloatArray, groups: int) -> np.ndarray[Any, np.dtype[np.intp]]:
    """(Vc,) group of each cabal validator: by stake, largest first, near-equal parts."""
    order = np.argsort(-stake, kind="stable")
    out = np.empty(stake.size, dtype=np.intp)
    out[order] = np.minimum(np.arange(stake.size) * groups // max(stake.size, 1), groups - 1)
    return out


def _normalise_block(x: FloatArray) -> FloatArray:
    """Rows of ``x`` normalised to sum 1; an all-zero row becomes uniform."""
    total = x.sum(axis=-1, keepdims=True)
    uniform = np.full_like(x, 1.0 / x.shape[-1])
    return np.asarray(np.where(total > 0, x / np.where(total > 0, total, 1.0), uniform))


def _honest_template(draw: _Draw, p: YumaParams) -> tuple[FloatArray, FloatArray]:
    """The consensus profile the honest rows reach on their own, on honest and on cabal servers.

    The weighted median commutes with scaling a column block, so the normalised profile of
    each block does not depend on the honest utility; it is computed at utility ½.
    """
    from yuma import epoch

    hv = draw.honest_validators
    rows = np.concatenate((0.5 * draw.to_honest[hv], 0.5 * draw.to_cabal[hv]), axis=1)
    consensus = epoch(rows, draw.stake[hv], None, p, layout="bipartite").consensus
    hs = draw.to_honest.shape[1]
    return (
        _normalise_block(np.asarray(consensus[None, :hs])),
        _normalise_block(np.asarray(consensus[None, hs:])),
    )


def _weights(
    draw: _Draw,
    utility: FloatArray,
    self_weight: FloatArray,
    honest_match: FloatArray,
    cabal_match: FloatArray,
    template_h: FloatArray,
    template_c: FloatArray,
) -> FloatArray:
    """(B, V, N) weights: honest rows at ``utility`` (B,), cabal rows by the strategy.

    self_weight, honest_match, cabal_match : (B, G); template_h (B or 1, Hs) and template_c
    (B or 1, Cs) normalised profiles of the honest and the cabal servers.
    """
    hv = draw.honest_validators
    groups = _group_index(draw.stake[~hv], self_weight.shape[1])
    b = utility.size
    v, hs = draw.to_honest.shape
    out = np.empty((b, v, hs + draw.to_cabal.shape[1]))
    u = utility[:, None, None]
    out[:, hv, :hs] = u * draw.to_honest[hv][None]
    out[:, hv, hs:] = (1.0 - u) * draw.to_cabal[hv][None]
    sw = self_weight[:, groups][:, :, None]
    lh = honest_match[:, groups][:, :, None]
    lc = cabal_match[:, groups][:, :, None]
    spread_h = (1.0 - lh) * draw.to_honest[~hv][None] + lh * template_h[:, None, :]
    spread_c = (1.0 - lc) * draw.to_cabal[~hv][None] + lc * template_c[:, None, :]
    out[:, ~hv, :hs] = (1.0 - sw) * spread_h
    out[:, ~hv, hs:] = sw * spread_c
    return out


def _run(
    weights: FloatArray,
    stake: FloatArray,
    p: YumaParams,
    variant: str,
    epochs: int,
    backend: str | None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(B, N) incentive, (B, V) dividends and (B, N) consensus of the last of ``epochs``
    epochs of each subnet (constant weights, bonds carried): the exact float epoch."""
    if variant in CHAIN_VARIANTS:
        from yuma import epoch_batch

        bonds = None
        for _ in range(epochs):
            r = epoch_batch(weights, stake, bonds, p, layout="bipartite", backend=backend)
            bonds = r.bonds
        return r.incentive, r.dividends, r.consensus
    from yuma import simulate

    b, v, n = weights.shape
    incentive, dividends, consensus = np.empty((b, n)), np.empty((b, v)), np.empty((b, n))
    for k in range(b):
        sim = simulate(
            weights[k],
            stake,
            p,
            variant=variant,
            backend=backend,
            epochs=epochs,
            keep_matrices=False,
        )
        incentive[k], dividends[k], consensus[k] = (
            sim.incentive[-1],
            sim.dividends[-1],
            sim.consensus[-1],
        )
    return incentive, dividends, consensus


@dataclass(frozen=True)
class _Study:
    """The fixed part of one search: its subnets, parameters and how to score."""

    honest_stake: float
    draws: tuple[_Draw, ...]
    templates: tuple[tuple[FloatArray, FloatArray], ...]
    params: YumaParams
    variant: str
    epochs: int
    backend: str | None
    xi: float
    fixed_point: int = 3

    def shares(
        self, utility: float, vectors: FloatArray, template: Template = "consensus"
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Mean honest (emission, incentive, dividends), each (P,), of P strategy vectors.

        ``template="consensus"`` matches the chain's consensus of the subnet with the cabal's
        own rows in it: starting from the honest template, ``fixed_point`` rounds of "run the
        epoch, match its consensus" (the state a cabal that matches the last published
        consensus settles into when it repeats the strategy).
        """
        x = np.clip(np.atleast_2d(vectors), 0.0, 1.0)
        g = x.shape[1] // 3
        u = np.full(x.shape[0], utility)
        sw, lh, lc = x[:, :g], x[:, g : 2 * g], x[:, 2 * g :]
        inc = np.zeros(x.shape[0])
        div = np.zeros(x.shape[0])
        rounds = self.fixed_point if template == "consensus" else 0
        for draw, (th, tc) in zip(self.draws, self.templates, strict=True):
            hs = draw.to_honest.shape[1]
            w = _weights(draw, u, sw, lh, lc, th, tc)
            for _ in range(rounds):
                _, _, c = _run(w, draw.stake, self.params, self.variant, 1, self.backend)
                w = _weights(
                    draw, u, sw, lh, lc, _normalise_block(c[:, :hs]), _normalise_block(c[:, hs:])
                )
            i, d, _ = _run(w, draw.stake, self.params, self.variant, self.epochs, self.backend)
            inc += i[:, draw.honest_servers].sum(axis=1)
            div += d[:, draw.honest_validators].sum(axis=1)
        inc /= len(self.draws)
        div /= len(self.draws)
        return self.xi * div + (1.0 - self.xi) * inc, inc, div


def _study(
    honest_stake: float,
    *,
    n: int,
    validators: int,
    stake_std: float,
    weight_std: float,
    seed: int,
    draws: int,
    xi: float,
    variant: str,
    params: YumaParams | None,
    bonds_penalty: float | None,
    kappa: float | None,
    epochs: int,
    backend: str | None,
) -> _Study:
    _check_unit("honest_stake", honest_stake)
    _check_unit("xi", xi)
    if draws < 1 or epochs < 1:
        raise ValueError(f"draws and epochs must be >= 1, got {draws}, {epochs}")
    p = _params(params, variant, bonds_penalty=bonds_penalty, kappa=kappa)
    # The same generator sequence as the uniform study: candidate k of draw j sees the subnet
    # the uniform cabal saw (common random numbers).
    rng = np.random.default_rng(seed)
    subnets = tuple(
        _draw(honest_stake, n, validators, stake_std, weight_std, rng) for _ in range(draws)
    )
    return _Study(
        honest_stake=honest_stake,
        draws=subnets,
        templates=tuple(_honest_template(d, p) for d in subnets),
        params=p,
        variant=variant,
        epochs=epochs,
        backend=backend,
        xi=xi,
    )


@dataclass(frozen=True)
class WorstCabal:
    """The strongest cabal found at one honest stake and honest utility.

    Attributes
    ----------
    strategy : CabalStrategy
        The strategy found (the best uniform cabal when nothing beat it).
    honest_emission, honest_incentive, honest_dividends : float
        The honest side's mean shares against it, scored with the exact float epoch.
    uniform_self_weight, uniform_emission : float
        The best uniform cabal on the self-weight grid and the honest emission against it.
    evaluations : int
        Strategies scored (the uniform grid included).
    seed, search_seed : int
        The subnets' seed and the search's seed: the same pair gives the same result.
    method : str
        "cmaes" or "random".
    """

    strategy: CabalStrategy
    honest_emission: float
    honest_incentive: float
    honest_dividends: float
    uniform_self_weight: float
    uniform_emission: float
    evaluations: int
    seed: int
    search_seed: int
    method: str

    @property
    def gain(self) -> float:
        """How much further the strategy lowers the honest emission than the best uniform
        cabal (>= 0)."""
        return self.uniform_emission - self.honest_emission


def _search(
    study: _Study,
    utility: float,
    cabal_self_weights: FloatArray,
    *,
    groups: int,
    template: Template,
    method: Method,
    generations: int,
    population: int | None,
    search_seed: int,
    seed: int,
) -> WorstCabal:
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    if generations < 0:
        raise ValueError(f"generations must be >= 0, got {generations}")
    if method not in ("cmaes", "random"):
        raise ValueError(f"method must be 'cmaes' or 'random', got {method!r}")
    if template not in ("consensus", "honest"):
        raise ValueError(
            f"a stationary search takes template 'consensus' or 'honest', got {template!r} "
            "('previous' is for yuma.attacks.history)"
        )
    # The uniform family first: every self-weight on the grid, both matches 0 (the matches do
    # nothing there, so the template does not matter).
    uniform = np.zeros((cabal_self_weights.size, 3 * groups))
    uniform[:, :groups] = cabal_self_weights[:, None]
    emission, _, _ = study.shares(utility, uniform, "honest")
    k = int(np.argmin(emission))
    best_x, best_e = uniform[k], float(emission[k])
    uniform_w, uniform_e = float(cabal_self_weights[k]), best_e
    # Then the fully matching family (both matches 1) over the same grid: the search starts
    # from the better of the two.
    matched = uniform.copy()
    matched[:, groups:] = 1.0
    emission, _, _ = study.shares(utility, matched, template)
    j = int(np.argmin(emission))
    if emission[j] < best_e:
        best_x, best_e = matched[j], float(emission[j])
    evaluations = 2 * cabal_self_weights.size
    dim = 3 * groups
    pop = population if population is not None else 4 + int(3 * np.log(dim))
    if pop < 2:
        raise ValueError(f"population must be >= 2, got {pop}")
    if generations > 0:
        if method == "cmaes":
            try:
                from cmaes import CMA
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ImportError(
                    "method='cmaes' needs the cmaes package: pip install yuma-consensus[search] "
                    "(or use method='random')"
                ) from exc
            bounds = np.tile([0.0, 1.0], (dim, 1))
            # Start a little inside the box: CMA-ES resamples points outside it.
            start = np.clip(best_x, 0.05, 0.95)
            opt = CMA(start, 0.3, bounds=bounds, seed=search_seed, population_size=pop)
            for _ in range(generations):
                xs = np.array([opt.ask() for _ in range(opt.population_size)])
                e, _, _ = study.shares(utility, xs, template)
                evaluations += len(xs)
                j = int(np.argmin(e))
                if e[j] < best_e:
                    best_x, best_e = xs[j], float(e[j])
                opt.tell([(x, float(v)) for x, v in zip(xs, e, strict=True)])
                if opt.should_stop():
                    break
        else:
            rng = np.random.default_rng(search_seed)
            radius = 0.5
            for _ in range(generations):
                xs = np.clip(best_x + radius * rng.uniform(-1.0, 1.0, (pop, dim)), 0.0, 1.0)
                e, _, _ = study.shares(utility, xs, template)
                evaluations += pop
                j = int(np.argmin(e))
                if e[j] < best_e:
                    best_x, best_e = xs[j], float(e[j])
                else:
                    radius *= 0.7
    final_e, final_i, final_d = study.shares(utility, best_x[None, :], template)
    return WorstCabal(
        strategy=CabalStrategy.from_vector(best_x, template),
        # A batch of one may differ from the search's batch in the last bit; the search's
        # score of the same strategy bounds it (so the uniform incumbent is never beaten by
        # round-off).
        honest_emission=min(float(final_e[0]), best_e),
        honest_incentive=float(final_i[0]),
        honest_dividends=float(final_d[0]),
        uniform_self_weight=uniform_w,
        uniform_emission=uniform_e,
        evaluations=evaluations,
        seed=seed,
        search_seed=search_seed,
        method=method,
    )


def worst_cabal(
    honest_stake: float,
    honest_utility: float,
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
    cabal_self_weights: Sequence[float] | FloatArray = DEFAULT_GRID,
    groups: int = 2,
    template: Template = "consensus",
    method: Method = "cmaes",
    generations: int = 25,
    population: int | None = None,
    search_seed: int = 0,
) -> WorstCabal:
    """Search for the cabal strategy that leaves the honest side the least emission.

    The subnets and the study's arguments are those of :func:`yuma.attacks.cabal` (same
    ``seed``, same draws). The search starts from the best uniform cabal over
    ``cabal_self_weights`` and runs ``generations`` generations of ``population`` candidates
    (CMA-ES by default; ``method="random"`` a seeded shrinking random search), each candidate a
    :class:`CabalStrategy` with ``groups`` groups matching ``template`` ("consensus" or
    "honest"). Every candidate, and the result, is scored
    with the exact float epoch. Reproducible from ``(seed, search_seed)``.
    """
    _check_unit("honest_utility", honest_utility)
    selfs = np.asarray(cabal_self_weights, dtype=np.float64)
    if selfs.ndim != 1 or selfs.size == 0 or selfs.min() < 0 or selfs.max() > 1:
        raise ValueError("cabal_self_weights must be a non-empty list of values in [0, 1]")
    study = _study(
        honest_stake,
        n=n,
        validators=validators,
        stake_std=stake_std,
        weight_std=weight_std,
        seed=seed,
        draws=draws,
        xi=xi,
        variant=variant,
        params=params,
        bonds_penalty=bonds_penalty,
        kappa=kappa,
        epochs=epochs,
        backend=backend,
    )
    return _search(
        study,
        honest_utility,
        selfs,
        groups=groups,
        template=template,
        method=method,
        generations=generations,
        population=population,
        search_seed=search_seed,
        seed=seed,
    )


def strategy_emission(
    honest_stake: float,
    honest_utility: float,
    strategy: CabalStrategy,
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
) -> float:
    """The honest side's mean share of emission against ``strategy`` (exact float epoch).

    With a uniform strategy this is :func:`yuma.attacks.cabal`'s ``honest_emission``. The
    "previous" template needs a multi-epoch run (:mod:`yuma.attacks.history`).
    """
    _check_unit("honest_utility", honest_utility)
    study = _study(
        honest_stake,
        n=n,
        validators=validators,
        stake_std=stake_std,
        weight_std=weight_std,
        seed=seed,
        draws=draws,
        xi=xi,
        variant=variant,
        params=params,
        bonds_penalty=bonds_penalty,
        kappa=kappa,
        epochs=epochs,
        backend=backend,
    )
    if strategy.template == "previous":
        raise ValueError(
            "template 'previous' needs a multi-epoch run: use yuma.attacks.history.cabal_run"
        )
    emission, _, _ = study.shares(honest_utility, strategy.vector()[None, :], strategy.template)
    return float(emission[0])


@dataclass(frozen=True)
class WorstCaseThreshold:
    """The uniform-cabal and the worst-case retention thresholds at one honest stake.

    Attributes
    ----------
    honest_stake : float
    uniform, worst : Threshold
        The least honest utility that keeps the stake share against every uniform cabal on the
        grid, and against the strongest strategy found (interpolated, with the grid point and
        the grid step). ``worst.value >= uniform.value`` up to interpolation.
    strategy : CabalStrategy or None
        The strategy found at the last honest utility that loses to it (the one that sets the
        worst-case threshold); None when the honest side retains at every utility searched.
    honest_utilities : (U,)
    uniform_margin, worst_margin : (U,)
        Honest emission minus the stake share against the best uniform cabal and against the
        strategy found (NaN where not searched: below the last uniform loss, where the worst
        case loses too, and above the worst-case threshold).
    searched : tuple of WorstCabal
        Every search made, in increasing honest utility.
    seed, search_seed : int
        Reproduce the result with the same pair.
    """

    honest_stake: float
    uniform: Threshold
    worst: Threshold
    strategy: CabalStrategy | None
    honest_utilities: FloatArray
    uniform_margin: FloatArray
    worst_margin: FloatArray
    searched: tuple[WorstCabal, ...] = field(repr=False)
    seed: int = 0
    search_seed: int = 0


def worst_case_threshold(
    honest_stake: float,
    *,
    honest_utilities: Sequence[float] | FloatArray = DEFAULT_GRID,
    cabal_self_weights: Sequence[float] | FloatArray = DEFAULT_GRID,
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
    groups: int = 2,
    template: Template = "consensus",
    method: Method = "cmaes",
    generations: int = 25,
    population: int | None = None,
    search_seed: int = 0,
) -> WorstCaseThreshold:
    """The worst-case retention threshold beside the uniform-cabal one, for one variant.

    First the uniform study (:func:`yuma.attacks.retention_map` at ``honest_stake``), then, from
    the last utility where the uniform cabal wins upwards, :func:`worst_cabal` at each grid
    utility until the honest side retains against the strongest strategy found. A uniform
    loss is a worst-case loss, so utilities below it need no search. Reproducible from
    ``(seed, search_seed)``; each search uses ``search_seed`` plus its grid index.
    """
    us = np.asarray(honest_utilities, dtype=np.float64)
    selfs = np.asarray(cabal_self_weights, dtype=np.float64)
    _check_unit("honest_stake", honest_stake)
    study_kwargs: dict[str, Any] = dict(
        n=n,
        validators=validators,
        stake_std=stake_std,
        weight_std=weight_std,
        seed=seed,
        draws=draws,
        xi=xi,
        variant=variant,
        params=params,
        bonds_penalty=bonds_penalty,
        kappa=kappa,
        epochs=epochs,
        backend=backend,
    )
    grid = retention_map([honest_stake], us, selfs, **study_kwargs)
    uniform_margin = grid.margins()[0]
    uniform = crossing(us, uniform_margin)
    worst_margin = np.full(us.size, np.nan)
    searched: list[WorstCabal] = []
    strategy: CabalStrategy | None = None
    if np.isnan(uniform.value):
        return WorstCaseThreshold(
            honest_stake,
            uniform,
            uniform,
            None,
            us,
            uniform_margin,
            worst_margin,
            (),
            seed,
            search_seed,
        )
    study = _study(honest_stake, **study_kwargs)
    k_uniform = int(np.searchsorted(us, uniform.grid_point))
    k = max(k_uniform - 1, 0)
    while k < us.size:
        found = _search(
            study,
            float(us[k]),
            selfs,
            groups=groups,
            template=template,
            method=method,
            generations=generations,
            population=population,
            search_seed=search_seed + k,
            seed=seed,
        )
        searched.append(found)
        worst_margin[k] = found.honest_emission - honest_stake
        if worst_margin[k] >= -1e-9:
            break
        strategy = found.strategy
        k += 1
    # Below the searched range the uniform cabal already wins: its margin bounds the worst's.
    filled = np.where(np.isnan(worst_margin), uniform_margin, worst_margin)
    if k >= us.size:
        filled = np.minimum(filled, -1.0)  # never retained against the strategies found
    worst = crossing(us, np.where(np.arange(us.size) <= k, filled, np.nan))
    return WorstCaseThreshold(
        honest_stake=honest_stake,
        uniform=uniform,
        worst=worst,
        strategy=strategy,
        honest_utilities=us,
        uniform_margin=uniform_margin,
        worst_margin=worst_margin,
        searched=tuple(searched),
        seed=seed,
        search_seed=search_seed,
    )


def _threshold_point(honest_stake: float, **kwargs: Any) -> dict[str, Any]:
    """One sweep point: the thresholds and the strategy as plain numbers (picklable)."""
    out = worst_case_threshold(honest_stake, **kwargs)
    groups = int(kwargs.get("groups", 2))
    vector = out.strategy.vector() if out.strategy is not None else np.full(3 * groups, np.nan)
    return {
        "uniform": out.uniform.value,
        "uniform_grid_point": out.uniform.grid_point,
        "worst": out.worst.value,
        "worst_grid_point": out.worst.grid_point,
        "grid_step": out.worst.grid_step,
        "strategy": vector,
        "evaluations": sum(s.evaluations for s in out.searched),
    }


def worst_case_thresholds(
    honest_stakes: Sequence[float],
    *,
    executor: Any = None,
    progress: bool = False,
    **kwargs: Any,
) -> Any:
    """:func:`worst_case_threshold` at every honest stake, through :func:`yuma.sweep`.

    ``executor`` is :func:`yuma.sweep`'s: None (this process), "process", a
    ``concurrent.futures.Executor`` or a ``dask.distributed.Client`` (the same call on a
    cluster). Returns a :class:`yuma.SweepResult` over ``honest_stake`` with the variables
    ``uniform``, ``worst`` (interpolated thresholds), ``uniform_grid_point``,
    ``worst_grid_point``, ``grid_step``, ``strategy`` (the strategy vector, NaN when none) and
    ``evaluations``. ``kwargs`` go to :func:`worst_case_threshold`.
    """
    from yuma.sweep import sweep

    stakes = [float(s) for s in honest_stakes]
    if not stakes:
        raise ValueError("honest_stakes must name at least one stake")
    return sweep(
        _threshold_point, {"honest_stake": stakes}, executor=executor, progress=progress, **kwargs
    )
