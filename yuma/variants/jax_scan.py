"""The chain's two variants (``yuma2``, ``yuma3``) over an array schedule as one ``lax.scan``.

Used by :func:`yuma.simulate` with ``backend="jax"``. The scan step is the JAX backend's own
epoch step (:func:`yuma.backends.jax_dense.epoch_step`, the chain's dense epoch); this module
only feeds it: the distinct weight matrices and stakes are passed once and each epoch picks
its own by index (a schedule broadcast over epochs, or delayed by commit-reveal, is never
materialised as E matrices), and only the requested outputs leave the scan (without kept
matrices XLA never stores the (E, V, N) cubes).

Runs in float64 inside ``jax.enable_x64(True)``, so the caller's global setting is untouched.
Results agree with the numpy steps to float64 round-off.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from yuma._types import FloatArray
from yuma.backends.jax_dense import EpochArrays, EpochState, JaxConfig, epoch_step
from yuma.params import YumaParams

__all__ = ["run_scan"]

#: Per-epoch vectors every run returns.
VECTORS = (
    "stake",
    "consensus",
    "ranks",
    "incentive",
    "dividends",
    "validator_trust",
    "validator_permit",
)


@partial(jax.jit, static_argnames=("keep",))
def _run(
    config: JaxConfig,
    bonds0: Any,
    permit0: Any,
    w_index: Any,
    s_index: Any,
    weights: Any,
    stakes: Any,
    keep: bool,
) -> Any:
    n_rows, n_cols = bonds0.shape
    active = jnp.ones(n_rows, dtype=bool)
    outdated = jnp.zeros((n_rows, n_cols), dtype=bool)
    recent = jnp.zeros(n_cols, dtype=bool)

    def step(state: EpochState, index: Any) -> Any:
        wi, si = index
        arrays = EpochArrays(weights[wi], stakes[si], active, outdated, recent)
        new_state, out = epoch_step(config, state, arrays)
        kept = {name: out[name] for name in VECTORS}
        if keep:
            kept["weights"] = out["weights"]
            kept["bonds"] = out["bonds"]
        return new_state, kept

    return jax.lax.scan(step, EpochState(bonds0, permit0), (w_index, s_index))


def run_scan(
    weights: FloatArray,
    w_index: Any,
    stakes: FloatArray,
    s_index: Any,
    bonds0: FloatArray,
    permit0: Any,
    params: YumaParams,
    *,
    square: bool,
    keep: bool,
) -> dict[str, Any]:
    """Run the scan. weights (K, V, N) with ``w_index`` (E,) picking each epoch's matrix;
    stakes (L, V) with ``s_index`` (E,); bonds0 (V, N); permit0 (V,) the first epoch's
    permits. ``params.yuma3`` and ``params.liquid_alpha`` select the branch. Returns the
    per-epoch arrays by name (``weights``/``bonds`` are None unless ``keep``) and
    ``final_bonds``."""
    config = JaxConfig.from_params(params, square=square)
    with jax.enable_x64(True):
        final, outs = _run(
            config,
            jnp.asarray(bonds0, dtype=jnp.float64),
            jnp.asarray(permit0, dtype=bool),
            jnp.asarray(w_index),
            jnp.asarray(s_index),
            jnp.asarray(weights, dtype=jnp.float64),
            jnp.asarray(stakes, dtype=jnp.float64),
            keep=keep,
        )
        result: dict[str, Any] = {name: np.asarray(x) for name, x in outs.items()}
        result["final_bonds"] = np.asarray(final.bonds)
    result.setdefault("weights", None)
    result.setdefault("bonds", None)
    result["validator_permit"] = result["validator_permit"].astype(bool)
    return result
