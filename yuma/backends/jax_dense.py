"""The chain's dense epoch in JAX: jit-compiled, float64, vmappable and scannable.

Same semantics as :func:`yuma.epoch._dense_epoch` (the numpy reference). Everything is a pure
function of arrays with no Python control flow on array values (branches on values use
``jnp.where``), so it can be ``jax.jit``-ed, ``jax.vmap``-ed over a leading batch axis (of the
inputs, and of the numeric hyperparameters in :class:`JaxConfig`), and run under ``lax.scan``
over epochs with :func:`epoch_step`.

Float64. The reference is float64, and the chain's fixed-point numbers need more than float32's
24 bits. This module never flips JAX's global ``jax_enable_x64`` flag: doing so at import would
silently change the dtypes of every other JAX program in the user's process. Instead
:func:`epoch_jax` (what ``yuma.epoch(..., backend="jax")`` and ``yuma.epoch_batch`` call) runs
inside the thread-local ``jax.enable_x64(True)`` context. Callers that trace :func:`epoch_step`
or :func:`dense_epoch` themselves (simulation under ``lax.scan``) must do the same, or set the
flag globally in their own program; both functions raise a clear error when traced in float32.

Scanning over epochs (issue 5's simulation layer)::

    import functools, jax
    from yuma.backends.jax_dense import EpochState, JaxConfig, epoch_step

    config = JaxConfig.from_params(params, square=True)
    with jax.enable_x64(True):
        state = EpochState.initial(n_rows, n_cols)          # no bonds, every row permitted
        step = functools.partial(epoch_step, config)
        final, outputs = jax.lax.scan(step, state, xs)      # xs: EpochArrays stacked on axis 0
    # outputs["incentive"] has shape (epochs, C); final.bonds the last bonds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from yuma.inputs import EpochInputs
from yuma.params import YumaParams
from yuma.result import EpochResult

__all__ = [
    "EpochArrays",
    "EpochState",
    "JaxConfig",
    "dense_epoch",
    "epoch_batch_jax",
    "epoch_jax",
    "epoch_step",
]

#: Exponent clamp of the liquid-alpha sigmoid (the chain's ``exp_safe``).
EXP_CLAMP = 20.0

#: Output names, in :class:`yuma.result.EpochResult` order.
FIELDS = (
    "stake",
    "active_stake",
    "weights",
    "consensus",
    "clipped_weights",
    "validator_trust",
    "ranks",
    "incentive",
    "bonds",
    "dividends",
    "validator_permit",
    "server_emission",
    "validator_emission",
    "combined_emission",
)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class JaxConfig:
    """Hyperparameters as JAX sees them.

    The numeric fields are pytree leaves (traced: they may be batched with ``vmap`` for a
    parameter sweep); ``square``, ``yuma3`` and ``liquid_alpha`` are static (they change the
    computation's structure, and changing them recompiles).
    """

    kappa: Any
    bonds_penalty: Any
    bonds_ema_rate: Any
    alpha_low: Any
    alpha_high: Any
    alpha_sigmoid_steepness: Any
    max_allowed_validators: Any
    square: bool = field(default=True, metadata={"static": True})
    yuma3: bool = field(default=True, metadata={"static": True})
    liquid_alpha: bool = field(default=False, metadata={"static": True})

    @classmethod
    def from_params(cls, params: YumaParams, *, square: bool) -> JaxConfig:
        """The config of ``params`` for the uid (``square=True``) or bipartite layout."""
        return cls(
            kappa=params.kappa,
            bonds_penalty=params.bonds_penalty,
            bonds_ema_rate=params.bonds_ema_rate,
            alpha_low=params.alpha_low,
            alpha_high=params.alpha_high,
            alpha_sigmoid_steepness=params.alpha_sigmoid_steepness,
            max_allowed_validators=params.max_allowed_validators,
            square=square,
            yuma3=params.yuma3,
            liquid_alpha=params.liquid_alpha,
        )


class EpochArrays(NamedTuple):
    """One epoch's inputs (stack each on a leading axis for ``vmap`` or ``lax.scan``).

    weights (R, C) raw weights; stake (R,) raw stake; active (R,) bool; outdated (R, C) bool
    (all False for none); recently_registered (C,) bool.
    """

    weights: Any
    stake: Any
    active: Any
    outdated: Any
    recently_registered: Any


class EpochState(NamedTuple):
    """What one epoch hands to the next: bonds (R, C) and validator permits (R,) bool."""

    bonds: Any
    validator_permit: Any

    @classmethod
    def initial(cls, n_rows: int, n_cols: int, permit: Any = None) -> EpochState:
        """No bonds; ``permit`` (default: every row) as the first epoch's permits."""
        p = jnp.ones(n_rows, dtype=bool) if permit is None else jnp.asarray(permit, dtype=bool)
        return cls(jnp.zeros((n_rows, n_cols), dtype=jnp.float64), p)


def _require_x64() -> None:
    if jnp.zeros(()).dtype != jnp.float64:
        raise RuntimeError(
            "yuma's JAX epoch needs float64: trace it inside `with jax.enable_x64(True):` "
            "(or set jax.config.update('jax_enable_x64', True) in your program)"
        )


def _normalize(x: Any, axis: int | None = None) -> Any:
    """Divide by the sum along ``axis`` where it is not 0 (the chain's 'leave it' rule)."""
    total = x.sum(axis=axis, keepdims=axis is not None)
    return jnp.where(total != 0, x / jnp.where(total != 0, total, 1.0), x)


def _topk_nonzero(values: Any, k: Any) -> Any:
    """Top-``k`` non-zero values; ties at the cut go to the higher index (stable sort)."""
    n = values.shape[0]
    order = jnp.argsort(values, stable=True)
    position = jnp.zeros(n, dtype=jnp.int32).at[order].set(jnp.arange(n, dtype=jnp.int32))
    return (values != 0) & (position >= n - k)


def _consensus(w: Any, active_stake: Any, kappa: Any) -> Any:
    """Stake-weighted median of every column over the voters (spec §4.7), sort-based.

    Non-voters stay in the sort with zero stake: adding 0.0 leaves every running sum as the
    reference's, and the first crossing is searched among voters only.
    """
    u = jnp.where(active_stake > 0, active_stake, 0.0)
    u = _normalize(u)
    minority = u.sum() - kappa
    voter = u > 0
    order = jnp.argsort(w, axis=0, stable=True)
    scores = jnp.take_along_axis(w, order, axis=0)
    running = jnp.cumsum(u[order], axis=0)
    hit = (running > minority) & voter[order]
    first = jnp.argmax(hit, axis=0)
    picked = jnp.take_along_axis(scores, first[None, :], axis=0)[0]
    largest = jnp.max(jnp.where(voter[:, None], w, -jnp.inf), axis=0)
    value = jnp.where(hit.any(axis=0), picked, largest)
    return jnp.where(voter.any(), value, 0.0)


def _alpha_sigmoid(c: Any, w: Any, b: Any, config: JaxConfig) -> Any:
    lo, hi = config.alpha_low, config.alpha_high
    x = jnp.where(w >= b, jnp.clip(w - c, 0.0, 1.0), jnp.clip(b - w, 0.0, 1.0))
    exponent = jnp.clip(
        (-config.alpha_sigmoid_steepness / 100.0) * (x - 0.5), -EXP_CLAMP, EXP_CLAMP
    )
    sig = 1.0 / (1.0 + jnp.exp(exponent))
    return jnp.clip(lo + sig * (hi - lo), lo, hi)


def dense_epoch(
    config: JaxConfig,
    weights: Any,
    stake: Any,
    bonds: Any,
    old_permit: Any,
    active: Any,
    outdated: Any,
    recently_registered: Any,
) -> dict[str, Any]:
    """One dense epoch as a pure JAX function; returns ``{EpochResult field: array}``.

    weights (R, C), stake (R,), bonds (R, C), old_permit (R,) bool, active (R,) bool,
    outdated (R, C) bool, recently_registered (C,) bool. Trace with float64 enabled.
    """
    _require_x64()
    weights = jnp.asarray(weights, dtype=jnp.float64)
    bonds_in = jnp.asarray(bonds, dtype=jnp.float64)
    n_rows, n_cols = weights.shape
    stake_n = _normalize(jnp.asarray(stake, dtype=jnp.float64))
    new_permit = _topk_nonzero(stake_n, config.max_allowed_validators)
    active_stake = _normalize(jnp.where(active & old_permit, stake_n, 0.0))

    w = jnp.where(old_permit[:, None], weights, 0.0)
    if config.square:
        w = jnp.where(jnp.eye(n_rows, n_cols, dtype=bool), 0.0, w)
    w = jnp.where(outdated, 0.0, w)
    row_sum = w.sum(axis=1, keepdims=True)
    w = jnp.where(row_sum > 0, w / jnp.where(row_sum > 0, row_sum, 1.0), w)

    consensus = _consensus(w, active_stake, config.kappa)
    clipped = jnp.minimum(w, consensus[None, :])
    validator_trust = clipped.sum(axis=1)
    ranks = active_stake @ clipped
    incentive = _normalize(ranks)

    beta = config.bonds_penalty
    wb = jnp.where(beta == 0, w, jnp.where(beta == 1, clipped, w + beta * (clipped - w)))
    previous = jnp.where(recently_registered[None, :], 0.0, bonds_in)
    rate = config.bonds_ema_rate
    if config.yuma3:
        ema = rate * wb + (1.0 - rate) * previous
        if config.liquid_alpha:
            alpha = _alpha_sigmoid(consensus[None, :], wb, previous, config)
            liquid = jnp.minimum(1.0, (1.0 - alpha) * previous + jnp.maximum(0.0, alpha * wb))
            ema = jnp.where(jnp.any(consensus != 0), liquid, ema)
        dividends = _normalize((_normalize(ema, axis=0) @ incentive) * active_stake)
        stored = ema
    else:
        delta = _normalize(wb * active_stake[:, None], axis=0)
        ema0 = rate * delta + (1.0 - rate) * _normalize(previous, axis=0)
        ema = _normalize(jnp.maximum(ema0, 0.0), axis=0)
        dividends = _normalize(ema @ incentive)
        col_max = ema.max(axis=0, keepdims=True)
        stored = jnp.where(col_max != 0, ema / jnp.where(col_max != 0, col_max, 1.0), ema)

    lost = old_permit & ~new_permit
    new_bonds = jnp.where(new_permit[:, None], stored, jnp.where(lost[:, None], 0.0, bonds_in))

    # Emission split, with the emergency fallback when nothing is distributed.
    combined = incentive + dividends if config.square else jnp.concatenate((dividends, incentive))
    total = combined.sum()
    ok = total != 0
    safe = jnp.where(ok, total, 1.0)
    fallback = jnp.where(active_stake.sum() != 0, active_stake, _normalize(stake_n))
    fallback_combined = fallback if config.square else jnp.concatenate((fallback, incentive))
    return {
        "stake": stake_n,
        "active_stake": active_stake,
        "weights": w,
        "consensus": consensus,
        "clipped_weights": clipped,
        "validator_trust": validator_trust,
        "ranks": ranks,
        "incentive": incentive,
        "bonds": new_bonds,
        "dividends": dividends,
        "validator_permit": new_permit,
        "server_emission": jnp.where(ok, incentive / safe, incentive),
        "validator_emission": jnp.where(ok, dividends / safe, fallback),
        "combined_emission": jnp.where(ok, combined / safe, fallback_combined),
    }


def epoch_step(
    config: JaxConfig, state: EpochState, inputs: EpochArrays
) -> tuple[EpochState, dict[str, Any]]:
    """One epoch as a ``lax.scan`` step: ``(state, inputs) -> (next state, outputs)``.

    The chain's storage between epochs is the state: this epoch uses ``state.validator_permit``
    (the permits stored by the previous epoch) and ``state.bonds``; the next state holds the new
    bonds and the new permits. ``outputs`` is ``{EpochResult field: array}``.
    """
    out = dense_epoch(
        config,
        inputs.weights,
        inputs.stake,
        state.bonds,
        state.validator_permit,
        inputs.active,
        inputs.outdated,
        inputs.recently_registered,
    )
    return EpochState(out["bonds"], out["validator_permit"]), out


_dense_jit = jax.jit(dense_epoch)
_batch_jit = jax.jit(jax.vmap(dense_epoch, in_axes=(None, 0, 0, 0, 0, 0, 0, 0)))


def _arrays(inputs: EpochInputs) -> tuple[Any, ...]:
    """The numpy arrays :func:`dense_epoch` takes, from validated inputs."""
    n_rows, n_cols = inputs.shape
    if inputs.outdated is None:
        outdated = np.zeros((n_rows, n_cols), dtype=bool)
    else:
        mask = inputs.outdated
        outdated = np.asarray(mask.toarray() if hasattr(mask, "toarray") else mask, dtype=bool)
    return (
        np.asarray(inputs.weights, dtype=np.float64),
        inputs.stake,
        np.asarray(inputs.bonds, dtype=np.float64),
        inputs.old_permit,
        inputs.active,
        outdated,
        inputs.recently_registered,
    )


def _to_result(out: dict[str, Any]) -> EpochResult:
    return EpochResult(**{name: np.asarray(out[name]) for name in FIELDS})


def epoch_jax(inputs: EpochInputs, params: YumaParams) -> EpochResult:
    """The dense epoch on validated inputs with JAX (float64 inside ``jax.enable_x64``)."""
    if inputs.sparse:
        raise ValueError("backend='jax' runs the chain's dense epoch only")
    config = JaxConfig.from_params(params, square=inputs.square)
    with jax.enable_x64(True):
        out = _dense_jit(config, *_arrays(inputs))
        return _to_result(jax.device_get(out))


def epoch_batch_jax(config: JaxConfig, *arrays: Any) -> dict[str, np.ndarray[Any, Any]]:
    """A batch of dense epochs with ``vmap`` (arrays stacked on axis 0, as in :func:`dense_epoch`).

    Returns ``{field: (b, ...) numpy array}``.
    """
    with jax.enable_x64(True):
        out = _batch_jit(config, *arrays)
        return {name: np.asarray(value) for name, value in jax.device_get(out).items()}
