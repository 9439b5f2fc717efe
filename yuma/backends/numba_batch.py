"""A batch of dense epochs in one compiled call, parallel over the batch (numba).

Each epoch runs serially (:data:`yuma.backends.numba_dense.epoch_serial`) on one thread, and
``prange`` spreads the epochs over the threads: at the small sizes batches are made of, one
epoch is too short to split across threads, and whole epochs never share a cache line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)
from yuma._threads import numba_parallel_guard
from yuma.backends._nb_common import PRANGE_ONLY
from yuma.backends.numba_dense import (
    DenseIn,
    DenseOut,
    allocate,
    dense_params,
    epoch_serial,
    raise_for_status,
    result_of,
)
from yuma.params import YumaParams

__all__ = ["epoch_batch_numba"]


@njit(cache=True, parallel=PRANGE_ONLY)
def _batch_kernel(W: Any, S: Any, B: Any, P: Any, A: Any, O: Any, RR: Any, p: Any, o: Any) -> None:
    has_outdated = O.shape[0] > 0
    # One (R, C) bonds matrix for every epoch (no bonds: zeros), or one per epoch.
    shared_bonds = B.shape[0] == 1
    # Empty matrix stacks: the caller keeps no matrices, so each epoch computes its own in
    # fresh (R, C) buffers, which the allocator hands back warm to the thread's next epoch.
    keep = o.w.shape[0] > 0
    n_rows, n_cols = W.shape[1], W.shape[2]
    none = np.zeros((0, 0), dtype=np.bool_)
    for b in prange(W.shape[0]):
        outdated = O[b] if has_outdated else none
        bonds = B[0] if shared_bonds else B[b]
        x = DenseIn(W[b], S[b], bonds, P[b], A[b], outdated, RR[b])
        w = o.w[b] if keep else np.empty((n_rows, n_cols))
        clipped = o.clipped[b] if keep else np.empty((n_rows, n_cols))
        new_bonds = o.bonds[b] if keep else np.empty((n_rows, n_cols))
        out = DenseOut(
            o.stake[b], o.active_stake[b], w, o.consensus[b], clipped, o.vtrust[b],
            o.ranks[b], o.incentive[b], new_bonds, o.dividends[b], o.permit[b], o.server[b],
            o.validator[b], o.combined[b], o.status[b],
        )  # fmt: skip
        epoch_serial(x, p, out, 1)


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
    *,
    yuma3: bool,
    liquid: bool,
    keep_matrices: bool = True,
) -> dict[str, Any]:
    """Run the stacked epochs; arrays as validated by :func:`yuma.batch.epoch_batch`, except
    the weights' and bonds' values, which each epoch checks (as ``check_values``) as it reads
    them: a NaN, infinity or negative value raises ``ValueError`` here.

    ``B`` (bonds) and ``P`` (permits) None mean none and the default; ``O`` (outdated) is
    ``(b, R, C)`` bool or None; ``yuma3``/``liquid`` the kernel flags the
    pipeline's declared rules select. Returns ``{EpochResult field: stacked array}``; with
    ``keep_matrices`` False the matrix fields are empty ``(0, R, C)`` stacks, never written
    (:func:`yuma.batch.epoch_batch` returns None for them).
    """
    nb, n_rows, n_cols = W.shape
    given_bonds = B is not None
    if B is None:  # no bonds: one zero matrix read by every epoch, not a zeroed stack
        B = np.zeros((1, n_rows, n_cols))
    if P is None:  # an empty row per epoch: the kernel takes this stake's top-k (the default)
        P = np.zeros((nb, 0), dtype=np.bool_)
    o = allocate(n_rows, n_cols, square, (nb,), matrices=keep_matrices)
    outdated = np.zeros((0, 0, 0), dtype=np.bool_) if O is None else O
    # the weights are checked here, epoch by epoch; no bonds given: a zero matrix, fine
    p = dense_params(params, square=square, yuma3=yuma3, liquid=liquid, check_bonds=given_bonds)
    with numba_parallel_guard():
        _batch_kernel(W, S, B, P, A, outdated, RR, p, o)
    raise_for_status(o.status)
    result = result_of(o)
    return {name: getattr(result, name) for name in result.__dataclass_fields__}
