"""A batch of dense epochs in one compiled call, parallel over the batch (numba).

Each epoch runs serially (:func:`yuma.backends.numba_dense.epoch_dense_into`) on one thread, and
``prange`` spreads the epochs over the threads: at the small sizes batches are made of, one
epoch is too short to split across threads, and whole epochs never share a cache line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from yuma.backends.numba_dense import epoch_dense_into
from yuma.params import YumaParams

__all__ = ["allocate_outputs", "epoch_batch_numba"]


def allocate_outputs(nb: int, n_rows: int, n_cols: int, square: bool) -> dict[str, Any]:
    """Uninitialised stacked outputs, ``{EpochResult field: (nb, ...) array}``."""
    combined = n_cols if square else n_rows + n_cols
    return {
        "stake": np.empty((nb, n_rows)),
        "active_stake": np.empty((nb, n_rows)),
        "weights": np.empty((nb, n_rows, n_cols)),
        "consensus": np.empty((nb, n_cols)),
        "clipped_weights": np.empty((nb, n_rows, n_cols)),
        "validator_trust": np.empty((nb, n_rows)),
        "ranks": np.empty((nb, n_cols)),
        "incentive": np.empty((nb, n_cols)),
        "bonds": np.empty((nb, n_rows, n_cols)),
        "dividends": np.empty((nb, n_rows)),
        "validator_permit": np.empty((nb, n_rows), dtype=np.bool_),
        "server_emission": np.empty((nb, n_cols)),
        "validator_emission": np.empty((nb, n_rows)),
        "combined_emission": np.empty((nb, combined)),
    }


@njit(cache=True, parallel=True)
def _batch_kernel(
    W: Any,
    S: Any,
    B: Any,
    P: Any,
    A: Any,
    O: Any,
    RR: Any,
    square: bool,
    kappa: float,
    beta: float,
    rate: float,
    yuma3: bool,
    liquid: bool,
    lo: float,
    hi: float,
    steep: float,
    max_validators: int,
    stake: Any,
    active_stake: Any,
    w: Any,
    consensus: Any,
    clipped: Any,
    vtrust: Any,
    ranks: Any,
    incentive: Any,
    bonds: Any,
    dividends: Any,
    permit: Any,
    server: Any,
    validator: Any,
    combined: Any,
) -> None:
    has_outdated = O.shape[0] > 0
    none = np.zeros((0, 0), dtype=np.bool_)
    for b in prange(W.shape[0]):
        outdated = O[b] if has_outdated else none
        epoch_dense_into(
            W[b], S[b], B[b], P[b], A[b], outdated, RR[b], square,
            kappa, beta, rate, yuma3, liquid, lo, hi, steep, max_validators,
            stake[b], active_stake[b], w[b], consensus[b], clipped[b], vtrust[b], ranks[b],
            incentive[b], bonds[b], dividends[b], permit[b], server[b], validator[b],
            combined[b],
        )  # fmt: skip


def epoch_batch_numba(
    W: Any,
    S: Any,
    B: Any,
    P: Any,
    A: Any,
    O: Any,
    RR: Any,
    square: bool,
    params: YumaParams,
) -> dict[str, Any]:
    """Run the stacked epochs; arrays as validated by :func:`yuma.batch.epoch_batch`.

    ``O`` (outdated) is ``(b, R, C)`` bool or None. Returns ``{field: stacked array}``.
    """
    nb, n_rows, n_cols = W.shape
    out = allocate_outputs(nb, n_rows, n_cols, square)
    outdated = np.zeros((0, 0, 0), dtype=np.bool_) if O is None else O
    _batch_kernel(
        W, S, B, P, A, outdated, RR, square, params.kappa, params.bonds_penalty,
        params.bonds_ema_rate, params.yuma3, params.liquid_alpha, params.alpha_low,
        params.alpha_high, params.alpha_sigmoid_steepness, params.max_allowed_validators,
        *out.values(),
    )  # fmt: skip
    return out
