"""Any :class:`~yuma.pipeline.Pipeline` on JAX: one jit-compiled epoch, a ``vmap`` over a
batch, and a ``lax.scan`` over epochs, each compiled once and cached.

The steps are the numpy pipeline's own (written against ``s.xp``); here they are traced with
``jax.numpy``. A compiled program is cached per pipeline (steps hash by identity), and
``jax.jit`` specialises it on the input shapes and the static fields of
:class:`~yuma._step.Config` (``liquid_alpha``, ``square``, variant options); the numeric
hyperparameters are traced, so changing κ or the EMA rate does not recompile.

Float64. The reference is float64 and the chain's fixed-point numbers need more than float32's
24 bits. This module never flips JAX's global ``jax_enable_x64`` flag (that would change the
dtypes of every other JAX program in the user's process): each call runs inside the
thread-local ``jax.enable_x64(True)`` context.

Subnormals. XLA on CPU flushes subnormal floats (below 2.2e-308) to zero. The stake and weight
shares that the pipeline computes are normalised, so a subnormal share arises only from stakes
or weights more than 1e308 apart within one row; there JAX may read a share as 0 where numpy
keeps it (``tests/test_jax_pipeline.py`` pins the domain). The chain's fixed point cannot
represent shares below 2^-32 at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from yuma._step import NUMERIC_FIELDS, Config
from yuma.pipeline import RESULT_FIELDS, Pipeline

__all__ = ["batch_program", "epoch_program", "run_batch", "run_epoch", "run_scan", "scan_program"]

jax.tree_util.register_dataclass(
    Config, data_fields=list(NUMERIC_FIELDS), meta_fields=["liquid_alpha", "square", "options"]
)

#: Per-epoch vectors a simulation keeps (matrices only on request).
SCAN_VECTORS = (
    "stake",
    "consensus",
    "ranks",
    "incentive",
    "dividends",
    "validator_trust",
    "validator_permit",
)


def _outputs(pipeline: Pipeline, config: Config, values: dict[str, Any]) -> dict[str, Any]:
    s = pipeline.run(values, config, xp=jnp)
    return {f: s[f] for f in RESULT_FIELDS}


def _flat_outputs(pipeline: Pipeline, config: Config, values: dict[str, Any]) -> Any:
    """The :data:`RESULT_FIELDS` raveled into one float64 vector (permits as 0.0 / 1.0).

    One buffer to copy to the host instead of fourteen: at 64 x 64 the per-array copies cost
    about as much as the epoch itself (124 against 21 µs for the fourteen arrays).
    """
    out = _outputs(pipeline, config, values)
    return jnp.concatenate([jnp.ravel(jnp.asarray(out[f], dtype=jnp.float64)) for f in out])


@functools.lru_cache(maxsize=64)
def epoch_program(pipeline: Pipeline) -> Callable[..., Any]:
    """``jit(config, values) -> {EpochResult field: array}`` for one epoch of ``pipeline``."""
    return jax.jit(functools.partial(_outputs, pipeline))


@functools.lru_cache(maxsize=64)
def batch_program(pipeline: Pipeline) -> Callable[..., Any]:
    """``epoch_program`` mapped with ``vmap`` over a leading batch axis of every input."""
    return jax.jit(jax.vmap(functools.partial(_outputs, pipeline), in_axes=(None, 0)))


@functools.lru_cache(maxsize=64)
def _flat_epoch_program(pipeline: Pipeline) -> Callable[..., Any]:
    return jax.jit(functools.partial(_flat_outputs, pipeline))


@functools.lru_cache(maxsize=256)
def _field_shapes(
    pipeline: Pipeline, structure: tuple[Any, ...], shapes: tuple[tuple[str, Any, Any], ...]
) -> tuple[tuple[int, ...], ...]:
    """Each result field's shape for one epoch of these input shapes (traced once, cached)."""
    liquid_alpha, square, options = structure
    config = Config(
        **{f: 0.5 for f in NUMERIC_FIELDS},
        liquid_alpha=liquid_alpha,
        square=square,
        options=options,
    )
    values = {k: jax.ShapeDtypeStruct(shape, dtype) for k, shape, dtype in shapes}  # type: ignore[no-untyped-call]
    with jax.enable_x64(True):
        out = jax.eval_shape(functools.partial(_outputs, pipeline), config, values)
    return tuple(tuple(out[f].shape) for f in RESULT_FIELDS)


#: Epochs of at most this many weight cells return one flat buffer (see :func:`run_epoch`).
_FLAT_CELLS = 2**16


def _split(flat: Any, shapes: tuple[tuple[int, ...], ...]) -> dict[str, Any]:
    """Host views of one flat copy: ``{field: array of its shape}``."""
    host = np.asarray(jax.device_get(flat))
    out: dict[str, Any] = {}
    start = 0
    for name, shape in zip(RESULT_FIELDS, shapes, strict=True):
        size = int(np.prod(shape, dtype=np.int64))
        out[name] = host[start : start + size].reshape(shape)
        start += size
    out["validator_permit"] = out["validator_permit"] > 0.5
    return out


def _shape_key(values: dict[str, Any]) -> tuple[tuple[str, Any, Any], ...]:
    return tuple((k, tuple(np.shape(v)), np.result_type(v)) for k, v in sorted(values.items()))


def run_epoch(pipeline: Pipeline, config: Config, values: dict[str, Any]) -> dict[str, Any]:
    """One epoch (numpy in, numpy out).

    A small epoch comes back as one flat buffer (:func:`_flat_outputs`): there the fourteen
    per-array copies cost as much as the epoch. A large one returns its arrays as they are, since
    gathering them would copy every matrix once more on the device.
    """
    with jax.enable_x64(True):
        if np.size(values["raw_weights"]) > _FLAT_CELLS:
            return _host(epoch_program(pipeline)(config, values))
        shapes = _field_shapes(pipeline, config.structure(), _shape_key(values))
        return _split(_flat_epoch_program(pipeline)(config, values), shapes)


def run_batch(pipeline: Pipeline, config: Config, values: dict[str, Any]) -> dict[str, Any]:
    """A batch of epochs, every input stacked on axis 0 (numpy in, numpy out)."""
    with jax.enable_x64(True):
        return _host(batch_program(pipeline)(config, values))


def _host(out: dict[str, Any]) -> dict[str, np.ndarray[Any, Any]]:
    return {name: np.asarray(value) for name, value in jax.device_get(out).items()}


def _scan(
    pipeline: Pipeline,
    keep: bool,
    config: Config,
    carry0: tuple[Any, ...],
    xs: tuple[Any, ...],
    weights_all: Any,
    stakes_all: Any,
) -> Any:
    n_rows, n_cols = weights_all.shape[1], weights_all.shape[2]
    active = jnp.ones(n_rows, dtype=bool)
    outdated = jnp.zeros((n_rows, n_cols), dtype=bool)
    recent = jnp.zeros(n_cols, dtype=bool)

    def body(carry: tuple[Any, ...], x: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
        bonds, permit, prev_consensus, prev_weights, started = carry
        wi, si, reset = x
        # A bond reset empties the miner's stored column before the epoch runs.
        bonds = jnp.where(reset[None, :], 0.0, bonds)
        values = {
            "raw_weights": weights_all[wi],
            "raw_stake": stakes_all[si],
            "previous_bonds": bonds,
            "old_permit": permit,
            "active": active,
            "outdated": outdated,
            "recently_registered": recent,
            "started": started,
            "previous_consensus": prev_consensus,
            "previous_weights": prev_weights,
        }
        s = pipeline.run(values, config, xp=jnp)
        out = {name: s[name] for name in SCAN_VECTORS}
        out["active_stake"] = s["active_stake"]
        if keep:
            out["weights"] = s["weights"]
            out["bonds"] = s["bonds"]
        nxt = (s["bonds"], s["validator_permit"], s["consensus"], s["weights"], jnp.bool_(True))
        return nxt, out

    return jax.lax.scan(body, carry0, xs)


@functools.lru_cache(maxsize=64)
def scan_program(pipeline: Pipeline, keep: bool) -> Callable[..., Any]:
    """``jit(config, carry0, xs, weights_all, stakes_all) -> (final carry, per-epoch outputs)``."""
    return jax.jit(functools.partial(_scan, pipeline, keep))


def run_scan(
    pipeline: Pipeline,
    config: Config,
    weights: np.ndarray[Any, Any],
    w_index: np.ndarray[Any, Any],
    stakes: np.ndarray[Any, Any],
    s_index: np.ndarray[Any, Any],
    resets: np.ndarray[Any, Any],
    bonds0: np.ndarray[Any, Any],
    permit0: np.ndarray[Any, Any],
    *,
    keep: bool,
) -> dict[str, Any]:
    """Epochs of ``pipeline`` as one ``lax.scan``.

    weights (K, R, C) distinct weight matrices and ``w_index`` (E,) each epoch's (commit-reveal
    already applied); stakes (L, R) and ``s_index`` (E,); resets (E, C) bond-reset masks;
    bonds0 (R, C); permit0 (R,) the first epoch's permits. Returns the per-epoch arrays
    (``weights``/``bonds`` only when ``keep``) and ``final_bonds``.
    """
    n_rows, n_cols = bonds0.shape
    with jax.enable_x64(True):
        carry0 = (
            jnp.asarray(bonds0, dtype=jnp.float64),
            jnp.asarray(permit0, dtype=bool),
            jnp.zeros(n_cols, dtype=jnp.float64),
            jnp.zeros((n_rows, n_cols), dtype=jnp.float64),
            jnp.bool_(False),
        )
        xs = (jnp.asarray(w_index), jnp.asarray(s_index), jnp.asarray(resets, dtype=bool))
        final, outs = scan_program(pipeline, keep)(
            config,
            carry0,
            xs,
            jnp.asarray(weights, dtype=jnp.float64),
            jnp.asarray(stakes, dtype=jnp.float64),
        )
        result: dict[str, Any] = _host(outs)
        result["final_bonds"] = np.asarray(final[0])
    result["validator_permit"] = result["validator_permit"].astype(bool)
    return result
