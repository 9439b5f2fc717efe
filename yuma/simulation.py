"""Multi-epoch simulation of a consensus variant (`simulate`, `SimulationResult`).

A simulation carries bonds (and validator permits, and the last consensus and weights) from
one epoch to the next. The weights come from an array schedule ``[epochs, V, N]`` or from a
callable ``(epoch, state) -> W`` for strategies that react to what they saw (a weight copier).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from yuma._step import Config
from yuma._types import BoolArray, FloatArray
from yuma._validate import as_numeric_array, check_matrix, check_vector
from yuma.backends import select
from yuma.params import YumaParams
from yuma.pipeline import RESULT_FIELDS, Pipeline, dense_state
from yuma.variants import get as get_variant
from yuma.variants.core import EpochRecord, Options, Variant, make_options

__all__ = ["PLOT_KINDS", "SimulationResult", "SimulationState", "WeightsFn", "simulate"]

SimLayout = Literal["bipartite", "uid"]
PLOT_KINDS = ("weights", "dividends", "relative_dividends", "bonds", "incentives")


@dataclass(frozen=True)
class SimulationState:
    """What a weights callable sees before epoch ``epoch`` runs.

    Attributes
    ----------
    epoch : int
        The epoch about to run (0-based).
    stake : (V,)
        This epoch's normalised stake.
    bonds : (V, N) or None
        Bonds carried into this epoch (None before the first epoch when no bonds were given).
    previous : EpochRecord or None
        The last epoch's outputs (its ``weights`` are the revealed weights that entered
        consensus, its ``consensus`` what a weight copier copies); None at epoch 0.
    """

    epoch: int
    stake: FloatArray
    bonds: FloatArray | None
    previous: EpochRecord | None


#: A weights strategy: ``(epoch, state) -> (V, N)`` raw non-negative weights set at ``epoch``.
WeightsFn = Callable[[int, SimulationState], Any]


@dataclass(frozen=True)
class SimulationResult:
    """Per-epoch outputs of a simulation, with labelled axes ``epoch``, ``validator``, ``miner``.

    Attributes
    ----------
    variant : str
        The variant's name.
    params : YumaParams
        The parameters actually used (for ``yuma2`` / ``yuma3``, ``yuma3`` follows the variant).
    options : Options
        The options actually used.
    backend : str
        The backend that ran it.
    validators, miners : tuple of str
        Axis labels.
    weights : (E, V, N) or None
        Row-normalised weights that entered consensus (after commit-reveal delay and masks);
        None unless the run was made with ``simulate(..., keep_matrices=True)``.
    stake : (E, V)
        Normalised stake (each validator's stake share).
    consensus : (E, N)
        Consensus per miner (chain: ``consensus``).
    ranks : (E, N)
        Un-normalised ranks (chain: ``ranks``).
    incentive : (E, N)
        Miners' share, sums to 1 (or 0) each epoch (chain: ``incentive``).
    dividends : (E, V)
        Validators' share, sums to 1 (or 0) each epoch (chain: ``dividends``).
    validator_trust : (E, V)
        Row sums of clipped weights (chain: ``validator_trust``).
    bonds : (E, V, N) or None
        Bonds stored after each epoch, in the variant's own scale; None unless the run was made
        with ``simulate(..., keep_matrices=True)``.
    validator_permit : (E, V)
        Permits after each epoch.
    final_bonds : (V, N)
        Bonds after the last epoch (pass as ``bonds=`` to continue the run).
    """

    variant: str
    params: YumaParams
    options: Options
    backend: str
    validators: tuple[str, ...]
    miners: tuple[str, ...]
    weights: FloatArray | None
    stake: FloatArray
    consensus: FloatArray
    ranks: FloatArray
    incentive: FloatArray
    dividends: FloatArray
    validator_trust: FloatArray
    bonds: FloatArray | None
    validator_permit: BoolArray
    final_bonds: FloatArray

    @property
    def n_epochs(self) -> int:
        """Number of epochs E."""
        return int(self.dividends.shape[0])

    @property
    def relative_dividends(self) -> FloatArray:
        """(E, V) dividends over stake share: 1 means paid exactly in proportion to stake.

        NaN where a validator has no stake (the ratio is undefined there).
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                self.stake > 0, self.dividends / np.where(self.stake > 0, self.stake, 1), np.nan
            )

    def total_dividends(self) -> FloatArray:
        """(V,) dividends summed over the run (in epochs' worth of validator emission)."""
        return np.asarray(self.dividends.sum(axis=0))

    def total_relative_dividends(self) -> FloatArray:
        """(V,) total dividends over total stake share (NaN for a validator never staked)."""
        s = self.stake.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(s > 0, self.total_dividends() / np.where(s > 0, s, 1), np.nan)

    def table(self) -> dict[str, np.ndarray[Any, Any]]:
        """A tidy per-(epoch, validator) table as a dict of equal-length columns.

        Columns: ``epoch``, ``validator``, ``stake``, ``dividends``, ``relative_dividends``,
        ``validator_trust``. Works without pandas; ``pandas.DataFrame(result.table())`` gives
        a frame.
        """
        e, v = self.dividends.shape
        return {
            "epoch": np.repeat(np.arange(e), v),
            "validator": np.tile(np.asarray(self.validators, dtype=object), e),
            "stake": self.stake.ravel(),
            "dividends": self.dividends.ravel(),
            "relative_dividends": self.relative_dividends.ravel(),
            "validator_trust": self.validator_trust.ravel(),
        }

    def to_pandas(self) -> Any:
        """:meth:`table` as a ``pandas.DataFrame`` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(
                "to_pandas needs pandas (pip install pandas); result.table() gives the same "
                "columns as a dict of numpy arrays"
            ) from None
        return pd.DataFrame(self.table())

    def to_xarray(self) -> Any:
        """The per-epoch arrays as an ``xarray.Dataset`` with dims epoch/validator/miner.

        Needs xarray (optional): ``pip install xarray``.
        """
        try:
            import xarray as xr
        except ImportError:
            raise ImportError(
                "to_xarray needs xarray (pip install xarray); the arrays are also plain numpy "
                "attributes of the result, and result.table() is a tidy dict"
            ) from None
        ev, evn, en = ("epoch", "validator"), ("epoch", "validator", "miner"), ("epoch", "miner")
        data: dict[str, Any] = {
            "stake": (ev, self.stake),
            "consensus": (en, self.consensus),
            "ranks": (en, self.ranks),
            "incentive": (en, self.incentive),
            "dividends": (ev, self.dividends),
            "relative_dividends": (ev, self.relative_dividends),
            "validator_trust": (ev, self.validator_trust),
            "validator_permit": (ev, self.validator_permit),
            "final_bonds": (("validator", "miner"), self.final_bonds),
        }
        if self.weights is not None and self.bonds is not None:
            data["weights"] = (evn, self.weights)
            data["bonds"] = (evn, self.bonds)
        coords = {
            "epoch": np.arange(self.n_epochs),
            "validator": list(self.validators),
            "miner": list(self.miners),
        }
        return xr.Dataset(data, coords=coords, attrs={"variant": self.variant})

    def plot(self, kind: str = "relative_dividends", ax: Any = None, **kwargs: Any) -> Any:
        """Plot one quantity over epochs with matplotlib; returns the Axes.

        kind : "weights" (each validator's weight on each miner), "dividends",
        "relative_dividends" (dividends / stake share; 1 is fair), "bonds" (each validator's
        bond on each miner) or "incentives". ``kwargs`` go to ``Axes.plot``.
        """
        if kind not in PLOT_KINDS:
            raise ValueError(f"plot kind must be one of {PLOT_KINDS}, got {kind!r}")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 3.5))
        epochs = np.arange(self.n_epochs)
        if kind in ("weights", "bonds"):
            cube = self.weights if kind == "weights" else self.bonds
            if cube is None:
                raise ValueError(
                    f"plot {kind!r} needs the per-epoch matrices: run "
                    "simulate(..., keep_matrices=True)"
                )
            for i, v in enumerate(self.validators):
                for j, m in enumerate(self.miners):
                    ax.plot(epochs, cube[:, i, j], label=f"{v} → {m}", **kwargs)
        elif kind == "incentives":
            for j, m in enumerate(self.miners):
                ax.plot(epochs, self.incentive[:, j], label=m, **kwargs)
        else:
            series = self.dividends if kind == "dividends" else self.relative_dividends
            for i, v in enumerate(self.validators):
                ax.plot(epochs, series[:, i], label=v, **kwargs)
            if kind == "relative_dividends":
                ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("epoch")
        ax.set_ylabel(kind.replace("_", " "))
        ax.set_title(f"{self.variant}: {kind.replace('_', ' ')}")
        if len(ax.get_lines()) <= 12:
            ax.legend(fontsize="small")
        return ax


# --- input handling -------------------------------------------------------------------------


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _as_array(name: str, value: Any) -> FloatArray:
    # No copy: nothing here writes to its inputs, and a schedule broadcast over epochs (stride
    # 0) stays one matrix in memory and is recognised as constant by the compiled loops. The
    # dtype rule is the library's one (integers and floats; no bools, strings or complex).
    return as_numeric_array(name, value, "array (ragged schedules are refused)")


def _stake_schedule(stake: Any, epochs: int | None) -> tuple[FloatArray, int | None]:
    s = _as_array("stake", stake)
    if s.ndim == 1:
        return s, epochs
    if s.ndim != 2:
        raise ValueError(f"stake must be [V] or [epochs, V], got shape {s.shape}")
    if epochs is not None and s.shape[0] != epochs:
        raise ValueError(f"stake has {s.shape[0]} epochs, expected {epochs}")
    return s, int(s.shape[0])


@dataclass(frozen=True)
class _Schedule:
    """Validated schedules: ``weights`` (E, V, N) or ``fn``; ``stake`` (E, V) or (V,)."""

    weights: FloatArray | None
    fn: WeightsFn | None
    stake: FloatArray
    epochs: int
    n_validators: int
    n_miners: int | None  # unknown for a callable until its first call


def _schedule(weights: Any, stake: Any, epochs: int | None, layout: str) -> _Schedule:
    stake_s, epochs = _stake_schedule(stake, epochs)
    if callable(weights):
        if epochs is None:
            raise ValueError("a weights callable needs epochs= or a per-epoch stake [epochs, V]")
        out = _Schedule(None, weights, stake_s, epochs, int(stake_s.shape[-1]), None)
    else:
        w = _as_array("weights", weights)
        if w.ndim == 2:
            if epochs is None:
                raise ValueError("constant (V, N) weights need epochs= or a per-epoch stake")
            w = np.broadcast_to(w, (epochs, *w.shape))
        elif w.ndim == 3:
            if w.shape[0] == 0:
                raise ValueError("weights must have at least one epoch")
            if epochs is not None and w.shape[0] != epochs:
                raise ValueError(f"weights have {w.shape[0]} epochs, stake/epochs say {epochs}")
        else:
            raise ValueError(f"weights must be [epochs, V, N] or [V, N], got shape {w.shape}")
        # A schedule broadcast over epochs holds one distinct matrix: check that one only.
        distinct = w[:1] if w.strides[0] == 0 else w
        if not np.all(np.isfinite(distinct)):
            raise ValueError("weights must be finite (found NaN or infinity)")
        if np.any(distinct < 0):
            raise ValueError("weights must be non-negative (found a negative value)")
        out = _Schedule(w, None, stake_s, int(w.shape[0]), int(w.shape[1]), int(w.shape[2]))
    if stake_s.shape[-1] != out.n_validators:
        raise ValueError(
            f"stake has {stake_s.shape[-1]} validators, weights have {out.n_validators}"
        )
    if not np.all(np.isfinite(stake_s)) or np.any(stake_s < 0):
        raise ValueError("stake must be finite and non-negative")
    if layout == "uid" and out.n_miners is not None and out.n_miners != out.n_validators:
        raise ValueError(
            f"layout='uid' needs square weights, got {out.n_validators} x {out.n_miners}"
        )
    return out


def _labels(name: str, given: Sequence[str] | None, n: int, prefix: str) -> tuple[str, ...]:
    if given is None:
        return tuple(f"{prefix}{i}" for i in range(n))
    out = tuple(str(x) for x in given)
    if len(out) != n:
        raise ValueError(f"{name} has {len(out)} labels, expected {n}")
    return out


def _resolve_params(variant: Variant, params: YumaParams) -> YumaParams:
    # The variant wins over params.yuma3: yuma2 / yuma3 set the flag they stand for, so the
    # recorded params say what actually ran.
    if variant.yuma3 is not None and params.yuma3 != variant.yuma3:
        return dataclasses.replace(params, yuma3=variant.yuma3)
    return params


def simulate(
    weights: Any,
    stake: Any,
    params: YumaParams | None = None,
    variant: str | Variant | None = None,
    backend: str | None = None,
    bonds: Any = None,
    *,
    epochs: int | None = None,
    layout: SimLayout = "bipartite",
    validators: Sequence[str] | None = None,
    miners: Sequence[str] | None = None,
    keep_matrices: bool = False,
    **options: Any,
) -> SimulationResult:
    """Run a consensus variant over many epochs, carrying bonds between them.

    Parameters
    ----------
    weights : (E, V, N) array, (V, N) array, or callable
        Raw non-negative weights of V validators on N miners per epoch (rows are normalised
        inside). A (V, N) array is used at every epoch. A callable ``(epoch, state) -> (V, N)``
        (see :class:`SimulationState`) sets weights adaptively; it needs ``epochs`` or a
        per-epoch stake.
    stake : (E, V) or (V,)
        Stake per epoch, or constant (any unit; normalised each epoch).
    params : YumaParams, optional
        Hyperparameters (the chain's defaults when None).
    variant : str or Variant, optional
        A registered variant name (``yuma.variants.names()``) or a :class:`Variant`. Default:
        ``"yuma3"`` when ``params.yuma3`` else ``"yuma2"``. An explicit variant wins over
        ``params.yuma3``: ``"yuma2"`` runs Yuma3 off and ``"yuma3"`` Yuma3 on whatever the
        flag says, and ``result.params`` records the flag actually used.
    backend : {"numpy", "numba", "jax"}, optional
        Every variant's pipeline runs on "numpy" (epoch by epoch) and "jax" (an array schedule
        as one ``jax.lax.scan``, compiled once per pipeline and shapes; a callable epoch by
        epoch through the jitted epoch). "numba" runs the pipelines its kernel declares (the
        chain's ``yuma2``/``yuma3`` with the chain's options; an array schedule as one compiled
        loop). None: the fastest that can run the request, numba where its kernel covers the
        pipeline, else numpy (as in :func:`yuma.epoch`). A named backend that cannot run the
        request raises ``ValueError`` saying why.
    bonds : (V, N), optional
        Bonds before the first epoch (the variant's own scale); zeros when None.
    epochs : int, optional
        Number of epochs, when neither weights nor stake has an epoch axis.
    layout : {"bipartite", "uid"}
        "bipartite" (default): validators x miners, even when V == N. "uid": the chain's
        square uid matrix; self-weights are masked.
    validators, miners : sequence of str, optional
        Axis labels.
    keep_matrices : bool
        Also keep the (E, V, N) weights and bonds of every epoch (``result.weights``,
        ``result.bonds``). Off by default: the per-epoch vectors and ``final_bonds`` are always
        kept, and 1000 epochs of 256 x 256 are 0.5 GB per cube.
    **options
        Shared options (see :class:`yuma.variants.Options`): ``liquid_alpha``,
        ``alpha_consensus``, ``bond_reset``, ``winner_takes_all``, ``commit_reveal``; and the
        variant's own (``yuma.variants.get(name).options``). Unknown names raise ValueError.

    Returns
    -------
    SimulationResult
    """
    if params is None:
        params = YumaParams()
    elif not isinstance(params, YumaParams):
        raise ValueError(f"params must be a YumaParams, got {type(params).__name__}")
    if variant is None:
        variant = "yuma3" if params.yuma3 else "yuma2"
    var = get_variant(variant)
    opts = make_options(var, **options)
    params = _resolve_params(var, params)
    if layout not in ("bipartite", "uid"):
        raise ValueError(f"layout must be 'bipartite' or 'uid', got {layout!r}")
    if epochs is not None:
        epochs = _positive_int("epochs", epochs)
    sched = _schedule(weights, stake, epochs, layout)
    schedule, fn, stake_s, epochs = sched.weights, sched.fn, sched.stake, sched.epochs
    n_validators, n_miners = sched.n_validators, sched.n_miners
    stake_at = (lambda t: stake_s) if stake_s.ndim == 1 else (lambda t: stake_s[t])
    labels_v = _labels("validators", validators, n_validators, "validator ")
    b0: FloatArray | None = None
    if bonds is not None:
        shape = None if n_miners is None else (n_validators, n_miners)
        b0 = np.asarray(check_matrix("bonds", bonds, shape), dtype=np.float64)
        if int(b0.shape[0]) != n_validators:
            raise ValueError(f"bonds has {b0.shape[0]} rows, expected {n_validators}")
    if n_miners is not None:
        _labels("miners", miners, n_miners, "miner ")
        _check_resets(opts, epochs, n_miners)

    pipeline = var.pipeline_for(opts, params)
    config = Config.from_params(params, square=layout == "uid", options=opts.variant_options)
    name, flags = select(backend, pipeline, config)

    def miners_of(n: int) -> tuple[str, ...]:
        return _labels("miners", miners, n, "miner ")

    if schedule is not None:
        assert n_miners is not None
        scanned = _scan(
            name, flags, pipeline, config, params, schedule, stake_s, b0, opts, keep_matrices
        )
        if scanned is not None:
            return SimulationResult(
                variant=var.name,
                params=params,
                options=opts,
                backend=name,
                validators=labels_v,
                miners=miners_of(n_miners),
                **scanned,
            )

    run = _epoch_runner(name, flags, pipeline, config, params)
    records: list[EpochRecord] = []
    committed: list[FloatArray] = []
    carry: dict[str, Any] | None = None
    previous: EpochRecord | None = None
    resets: BoolArray | None = None
    for t in range(epochs):
        s_t = check_vector("stake", stake_at(t), n_validators)
        if fn is not None:
            total = s_t.sum()
            state = SimulationState(
                epoch=t,
                stake=s_t / total if total > 0 else s_t,
                bonds=b0 if carry is None else carry["previous_bonds"],
                previous=previous,
            )
            shape = None if n_miners is None else (n_validators, n_miners)
            submitted = check_matrix("weights", fn(t, state), shape)
            if int(submitted.shape[0]) != n_validators:
                raise ValueError(
                    f"weights callable returned {submitted.shape[0]} rows, "
                    f"stake has {n_validators} validators"
                )
            if n_miners is None:
                n_miners = int(submitted.shape[1])
                miners_of(n_miners)
                _check_resets(opts, epochs, n_miners)
            committed.append(np.asarray(submitted, dtype=np.float64))
            w_t = committed[max(t - opts.commit_reveal, 0)]
        else:
            assert schedule is not None
            w_t = schedule[max(t - opts.commit_reveal, 0)]
        if carry is None:
            if b0 is not None and b0.shape != w_t.shape:
                raise ValueError(f"bonds has shape {b0.shape}, weights {w_t.shape}")
            carry = _initial_carry(pipeline, config, w_t, s_t, b0)
            resets = _reset_masks(opts, epochs, int(w_t.shape[1]))
        assert resets is not None
        values = _epoch_values(carry, w_t, s_t, resets[t])
        out = run(values)
        record = EpochRecord(**{f: np.asarray(out[f]) for f in _RECORD_FIELDS})
        carry = {
            "previous_bonds": record.bonds,
            "old_permit": record.validator_permit,
            "previous_consensus": record.consensus,
            "previous_weights": record.weights,
            "started": True,
        }
        # Without kept matrices only the vectors stay (the carry holds the current bonds).
        records.append(record if keep_matrices else _slim(record))
        previous = record
    assert carry is not None and n_miners is not None
    return _collect(
        records,
        var.name,
        params,
        opts,
        name,
        labels_v,
        miners_of(n_miners),
        carry["previous_bonds"],
        keep_matrices,
    )


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(EpochRecord))


def _initial_carry(
    pipeline: Pipeline, config: Config, w: FloatArray, s: FloatArray, b0: FloatArray | None
) -> dict[str, Any]:
    """The state before the first epoch: no stored permits, so the epoch's own new permits
    (the pipeline's ``stake`` and ``permits`` steps) are used."""
    n_rows, n_cols = w.shape
    bonds = np.zeros((n_rows, n_cols)) if b0 is None else b0
    permit = np.ones(n_rows, dtype=bool)
    if "permits" in pipeline.names:
        values = dense_state(w, s, bonds, permit, permit, None, np.zeros(n_cols, dtype=bool))
        permit = np.asarray(pipeline.until("permits").run(values, config)["validator_permit"])
    return {
        "previous_bonds": bonds,
        "old_permit": permit,
        "previous_consensus": np.zeros(n_cols),
        "previous_weights": np.zeros((n_rows, n_cols)),
        "started": False,
    }


def _epoch_values(
    carry: dict[str, Any], w: FloatArray, s: FloatArray, reset: BoolArray
) -> dict[str, Any]:
    n_rows, n_cols = w.shape
    bonds = carry["previous_bonds"]
    if reset.any():
        # A bond reset empties the miner's stored column before the epoch runs.
        bonds = np.where(reset[None, :], 0.0, bonds)
    return {
        "raw_weights": w,
        "raw_stake": s,
        "previous_bonds": bonds,
        "old_permit": carry["old_permit"],
        "active": np.ones(n_rows, dtype=bool),
        "outdated": np.zeros((n_rows, n_cols), dtype=bool),
        "recently_registered": np.zeros(n_cols, dtype=bool),
        "started": np.bool_(carry["started"]),
        "previous_consensus": carry["previous_consensus"],
        "previous_weights": carry["previous_weights"],
    }


def _epoch_runner(
    name: str,
    flags: dict[str, Any] | None,
    pipeline: Pipeline,
    config: Config,
    params: YumaParams,
) -> Callable[[dict[str, Any]], Any]:
    """One epoch on ``name``'s backend: ``values -> {name: array}``."""
    if name == "numba":
        from yuma.backends.numba_dense import epoch_dense
        from yuma.inputs import EpochInputs

        assert flags is not None

        def numba_epoch(v: dict[str, Any]) -> Any:
            inputs = EpochInputs(
                weights=v["raw_weights"],
                stake=v["raw_stake"],
                bonds=v["previous_bonds"],
                given_permit=v["old_permit"],
                active=v["active"],
                outdated=None,
                recently_registered=v["recently_registered"],
                owner_uid=None,
                square=config.square,
                sparse=False,
            )
            r = epoch_dense(inputs, params, yuma3=flags["yuma3"], liquid=flags["liquid"])
            return {f: getattr(r, f) for f in RESULT_FIELDS}

        return numba_epoch
    if name == "jax":
        from yuma.backends.jax_pipeline import run_epoch as run_jax

        return lambda v: run_jax(pipeline, config, v)
    return lambda v: pipeline.run(v, config)


def _reset_masks(opts: Options, epochs: int, n_miners: int) -> BoolArray:
    """(E, N): the bond columns emptied before each epoch."""
    resets = np.zeros((epochs, n_miners), dtype=bool)
    for miner, at in opts.bond_reset:
        resets[at, miner] = True
    return resets


def _check_resets(opts: Options, epochs: int, n_miners: int) -> None:
    for miner, at in opts.bond_reset:
        if miner >= n_miners:
            raise ValueError(f"bond_reset miner {miner} is out of range for {n_miners} miners")
        if at >= epochs:
            raise ValueError(f"bond_reset epoch {at} is beyond the run's {epochs} epochs")


def _slim(record: EpochRecord) -> EpochRecord:
    empty = np.empty((0, 0))
    return dataclasses.replace(record, weights=empty, clipped_weights=empty, bonds=empty)


def _indices(
    schedule: FloatArray, stake: FloatArray, delay: int
) -> tuple[FloatArray, Any, FloatArray, Any]:
    """Distinct weight matrices and stakes, and each epoch's index into them.

    A matrix broadcast over epochs is passed once; commit-reveal becomes an index shift.
    """
    e = int(schedule.shape[0])
    constant = schedule.strides[0] == 0
    weights = schedule[:1] if constant else schedule
    w_index = np.zeros(e, dtype=np.int64) if constant else np.maximum(np.arange(e) - delay, 0)
    stakes = stake[None, :] if stake.ndim == 1 else stake
    s_index = np.zeros(e, dtype=np.int64) if stake.ndim == 1 else np.arange(e)
    return weights, w_index, stakes, s_index


def _scan(
    name: str,
    flags: dict[str, Any] | None,
    pipeline: Pipeline,
    config: Config,
    params: YumaParams,
    schedule: FloatArray,
    stake: FloatArray,
    bonds: FloatArray | None,
    opts: Options,
    keep: bool,
) -> dict[str, Any] | None:
    """An array schedule as one compiled loop (numba) or one ``lax.scan`` (jax); None for
    numpy, which runs epoch by epoch."""
    if name == "numpy":
        return None
    e, v, n = schedule.shape
    weights, w_index, stakes, s_index = _indices(schedule, stake, opts.commit_reveal)
    b0 = np.zeros((v, n)) if bonds is None else bonds
    permit0 = _initial_carry(pipeline, config, weights[0], stakes[s_index[0]], b0)["old_permit"]
    resets = _reset_masks(opts, e, n)
    if name == "numba":
        from yuma._threads import numba_parallel_guard
        from yuma.backends.numba_scan import run_scan

        assert flags is not None
        with numba_parallel_guard():
            out = run_scan(
                weights, w_index, stakes, s_index, resets, b0, permit0, params,
                square=config.square, yuma3=flags["yuma3"], liquid=flags["liquid"], keep=keep,
            )  # fmt: skip
    else:
        from yuma.backends.jax_pipeline import run_scan as run_jax_scan

        out = run_jax_scan(
            pipeline, config, weights, w_index, stakes, s_index, resets, b0, permit0, keep=keep
        )
    out.pop("active_stake", None)
    out.setdefault("weights", None)
    out.setdefault("bonds", None)
    return out


def _collect(
    records: Sequence[EpochRecord],
    variant: str,
    params: YumaParams,
    options: Options,
    backend: str,
    validators: tuple[str, ...],
    miners: tuple[str, ...],
    final_bonds: FloatArray,
    keep: bool,
) -> SimulationResult:
    def stack(name: str) -> Any:
        return np.stack([getattr(r, name) for r in records])

    return SimulationResult(
        variant=variant,
        params=params,
        options=options,
        backend=backend,
        validators=validators,
        miners=miners,
        weights=stack("weights") if keep else None,
        stake=stack("stake"),
        consensus=stack("consensus"),
        ranks=stack("ranks"),
        incentive=stack("incentive"),
        dividends=stack("dividends"),
        validator_trust=stack("validator_trust"),
        bonds=stack("bonds") if keep else None,
        validator_permit=stack("validator_permit"),
        final_bonds=np.array(final_bonds, dtype=np.float64, copy=True),
    )
