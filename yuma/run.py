"""Running one Yuma Consensus epoch: :func:`epoch`, the library's main entry point.

A dense weight matrix runs the chain's dense epoch as a :class:`~yuma.pipeline.Pipeline`
(:data:`~yuma.pipeline.CHAIN` by default); a sparse one runs its sparse epoch
(:mod:`yuma.sparse_epoch`). The backend is chosen by :func:`yuma.backends.select`.
"""

from __future__ import annotations

from typing import Any

from yuma._threads import check_threads
from yuma.backends import compiled_dense, run_epoch
from yuma.inputs import Layout, prepare_inputs
from yuma.params import YumaParams
from yuma.pipeline import Pipeline
from yuma.result import EpochResult

__all__ = ["epoch"]


def epoch(
    weights: Any,
    stake: Any,
    bonds: Any = None,
    params: YumaParams | None = None,
    *,
    validator_permit: Any = None,
    active: Any = None,
    outdated: Any = None,
    recently_registered: Any = None,
    owner_uid: int | None = None,
    layout: Layout = "auto",
    backend: str | None = None,
    pipeline: Pipeline | None = None,
    threads: int | None = None,
    out: EpochResult | None = None,
) -> EpochResult:
    """Run one Yuma Consensus epoch, as the chain does, in float64.

    Parameters
    ----------
    weights : (R, C) array or scipy.sparse matrix
        Raw non-negative weights, rows normalised inside (u16 values are fine). Either the chain's
        ``(n, n)`` uid matrix or ``(V, N)`` validators x miners. A **dense** array runs the chain's
        dense epoch (``epoch_dense_mechanism``); a **sparse** matrix runs its sparse epoch
        (``epoch_mechanism``, what the chain runs), where stored entries, explicit zeros
        included, are present and absent entries are absent.
    stake : (R,)
        Non-negative stake of each row (any unit; it is normalised).
    bonds : (R, C), optional
        The previous epoch's ``EpochResult.bonds`` (Yuma3: proportions; original Yuma: any scale,
        as it is column-normalised). None means no bonds.
    params : YumaParams, optional
        Hyperparameters; the chain's defaults when None.
    validator_permit : (R,) bool, optional
        The permits this epoch uses (the chain's stored permits from the previous epoch). Default:
        the top ``max_allowed_validators`` non-zero stakes.
    active : (R,) bool, optional
        Rows that updated their weights within the activity cutoff. Default: all.
    outdated : (R, C) bool, dense or sparse, optional
        Weights to drop because they predate the miner's registration (chain: ``LU_i <= reg_j``).
    recently_registered : (C,) bool, optional
        Miners registered since the last epoch; their bond column is discarded before the EMA.
    owner_uid : int, optional
        The subnet owner's uid. On the sparse path its self-weight is kept and it always holds a
        permit; the chain's dense path has no owner rules, so it has no effect there.
    layout : {"auto", "uid", "bipartite"}
        "uid": the chain's square matrix (self-weights masked, emission per uid). "bipartite":
        validators x miners (no self-weights; emission shares per side). "auto": "uid" when
        square.
    backend : {"numpy", "numba", "jax"}, optional
        Which implementation runs it (:mod:`yuma.backends`). None: the fastest that can run the
        request, the numba kernel when it is installed and its declaration covers the pipeline
        (and always for sparse input), else numpy. JAX is opt-in: it pays a compilation on its
        first call per shape, and is meant for ``vmap``, ``lax.scan`` and accelerators. Naming
        a backend that cannot run the request raises ``ValueError`` saying why.
    pipeline : Pipeline, optional
        The dense epoch to run (:mod:`yuma.pipeline`); default the chain's for ``params.yuma3``
        (:data:`~yuma.pipeline.CHAIN` or :data:`~yuma.pipeline.CHAIN_YUMA2`). A custom pipeline
        runs on numpy and JAX, and on numba when its steps are rules the kernel declares.
    threads : int, optional
        The most numba threads this call may use; None: numba's own setting
        (``NUMBA_NUM_THREADS``, or ``numba.set_num_threads``), by default every core. Epochs
        under 512 x 512 cells (sparse: 2^18 stored entries) run on one thread whatever it says:
        on an idle machine two threads win the median round from about 192 x 192 (384 x 384 on
        another machine), but with another process on the other core a parallel region waits
        for its slowest thread, and two threads lose at every size (at 256 x 256 the median
        round took 1.33x one thread's, 2.1x on the other machine; benchmarks/RESULTS.md).
        Other backends ignore it.
    out : EpochResult, optional
        An earlier result of a dense epoch of the same shape and layout, whose arrays this
        epoch overwrites and which it returns (numpy's ``out=``): a loop of epochs then
        allocates no new matrices. Fresh ``R x C`` outputs can cost more than the epoch: in a
        process that has not yet freed a large array, each one is new memory whose pages the
        operating system faults in on first write (a 256 x 256 epoch took 1.3-1.8 ms instead
        of 0.30-0.43 ms on one machine, 0.56-0.59 ms instead of 0.25-0.26 ms on another;
        benchmarks/RESULTS.md). ``out`` must not share memory with any input (the compiled
        epoch reads the previous bonds after it begins writing the new ones), so
        alternate two results: ``a, b = b, yuma.epoch(W, S, b.bonds, out=a)``. Every
        backend honours it (numpy and JAX copy their result in). If the call raises, ``out``
        may have been partly overwritten. Dense input only.

    Returns
    -------
    EpochResult
        Every quantity of the epoch; sparse matrices out for sparse input.

    Notes
    -----
    Where the chain's two paths differ (spec §6), each is followed: on the sparse path with Yuma3
    and liquid alpha, a bond whose weight entry is absent (never set, clipped to a zero consensus,
    or interpolated to 0) is **dropped**; on the dense path it decays by ``1 − α``. Dense bond
    storage rewrites only rows with a new permit, empties rows that lost theirs, and leaves other
    rows as they were; the sparse path empties every row without a new permit. The sparse path
    keeps the owner's self-weight and forces the owner's permits; the dense path does neither.
    """
    threads = check_threads(threads)
    inputs, params = prepare_inputs(
        weights,
        stake,
        bonds,
        params,
        validator_permit=validator_permit,
        active=active,
        outdated=outdated,
        recently_registered=recently_registered,
        owner_uid=owner_uid,
        layout=layout,
        # the compiled dense epoch checks the weights' and bonds' values as it reads them
        defer_dense_values=compiled_dense(weights, params, backend, pipeline),
    )
    return run_epoch(inputs, params, backend, pipeline=pipeline, threads=threads, out=out)
