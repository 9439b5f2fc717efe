"""The chain's pipelines over an array schedule as one compiled numba loop.

Used by :func:`yuma.simulate` when the numba kernel's declaration covers the variant's
pipeline (:mod:`yuma.backends.kernels`): the whole run is one call that runs the serial dense
epoch (:data:`yuma.backends.numba_dense.epoch_serial`) epoch after epoch, writing straight into
the per-epoch output arrays, so no Python runs between epochs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)
from yuma._types import FloatArray
from yuma.backends.numba_dense import DenseIn, DenseOut, dense_params, epoch_serial
from yuma.params import YumaParams

__all__ = ["run_scan"]


@njit(cache=True, nogil=True)
def _scan(
    weights: Any, w_index: Any, stakes: Any, s_index: Any, resets: Any, bonds0: Any,
    permit0: Any, p: Any, keep: bool, stake: Any, active_stake: Any, consensus: Any,
    ranks: Any, incentive: Any, dividends: Any, trust: Any, permit: Any, w_out: Any,
    bonds_out: Any, spare: Any,
) -> None:  # fmt: skip
    """Every epoch of the run, each written into row ``t`` of the output arrays."""
    n_epochs = w_index.shape[0]
    n_rows, n_cols = bonds0.shape
    active = np.ones(n_rows, dtype=np.bool_)
    outdated = np.zeros((0, 0), dtype=np.bool_)
    recent = np.zeros(n_cols, dtype=np.bool_)
    clipped = np.empty((n_rows, n_cols))
    server = np.empty(n_cols)
    validator = np.empty(n_rows)
    combined = np.empty(n_cols if p.square else n_rows + n_cols)
    w_scratch = np.empty((n_rows, n_cols))
    reset_buf = np.empty((n_rows, n_cols))
    status = np.zeros(2, dtype=np.int8)  # unused: the kernel checks nothing here
    bonds_in = bonds0
    old_permit = permit0
    for t in range(n_epochs):
        w_buf = w_out[t] if keep else w_scratch
        # Without kept matrices two bond buffers take turns (input, output).
        b_buf = bonds_out[t] if keep else spare[t % 2]
        if resets[t].any():
            # A bond reset empties the miner's stored column before the epoch runs.
            for i in range(n_rows):
                for j in range(n_cols):
                    reset_buf[i, j] = 0.0 if resets[t, j] else bonds_in[i, j]
            bonds_in = reset_buf
        x = DenseIn(
            weights[w_index[t]], stakes[s_index[t]], bonds_in, old_permit, active, outdated,
            recent,
        )  # fmt: skip
        o = DenseOut(
            stake[t], active_stake[t], w_buf, consensus[t], clipped, trust[t], ranks[t],
            incentive[t], b_buf, dividends[t], permit[t], server, validator, combined, status,
        )  # fmt: skip
        epoch_serial(x, p, o, 1)
        bonds_in = b_buf
        old_permit = permit[t]


def run_scan(
    weights: FloatArray,
    w_index: Any,
    stakes: FloatArray,
    s_index: Any,
    resets: Any,
    bonds0: FloatArray,
    permit0: Any,
    params: YumaParams,
    *,
    square: bool,
    yuma3: bool,
    liquid: bool,
    keep: bool,
) -> dict[str, Any]:
    """Run the loop. weights (K, V, N) with ``w_index`` (E,) picking each epoch's matrix;
    stakes (L, V) with ``s_index`` (E,); resets (E, N) bond-reset masks; bonds0 (V, N); permit0
    (V,) the first epoch's permits; ``yuma3``/``liquid`` the kernel flags. Returns the per-epoch
    arrays by name (``weights``/``bonds`` None unless ``keep``) and ``final_bonds``."""
    e = int(w_index.shape[0])
    v, n = bonds0.shape
    out: dict[str, Any] = {
        "stake": np.empty((e, v)),
        "active_stake": np.empty((e, v)),
        "consensus": np.empty((e, n)),
        "ranks": np.empty((e, n)),
        "incentive": np.empty((e, n)),
        "dividends": np.empty((e, v)),
        "validator_trust": np.empty((e, v)),
        "validator_permit": np.empty((e, v), dtype=np.bool_),
    }
    w_out = np.empty((e, v, n)) if keep else np.empty((0, v, n))
    bonds_out = np.empty((e, v, n)) if keep else np.empty((0, v, n))
    spare = np.empty((2, v, n))
    _scan(
        np.ascontiguousarray(weights, dtype=np.float64), np.asarray(w_index, dtype=np.int64),
        np.ascontiguousarray(stakes, dtype=np.float64), np.asarray(s_index, dtype=np.int64),
        np.ascontiguousarray(resets, dtype=np.bool_),
        np.ascontiguousarray(bonds0, dtype=np.float64), np.asarray(permit0, dtype=np.bool_),
        dense_params(
            params, square=square, yuma3=yuma3, liquid=liquid, check_weights=False,
            check_bonds=False,
        ),  # simulate checked its schedule and bonds
        keep,
        out["stake"], out["active_stake"], out["consensus"], out["ranks"], out["incentive"],
        out["dividends"], out["validator_trust"], out["validator_permit"], w_out, bonds_out,
        spare,
    )  # fmt: skip
    out["weights"] = w_out if keep else None
    out["bonds"] = bonds_out if keep else None
    out["final_bonds"] = (bonds_out[-1] if keep else spare[(e - 1) % 2]).copy()
    return out
