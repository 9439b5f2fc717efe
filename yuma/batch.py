"""A batch of independent dense epochs with the same hyperparameters (`epoch_batch`).

Researchers sweep many subnets at once; one Python call per epoch costs more than a small epoch
itself. :func:`epoch_batch` validates the whole stack at once and runs it in one compiled call:
numba parallel over the batch (each epoch serial inside), JAX ``vmap``, or the numpy reference
over the whole stack at once (yuma's own steps take leading batch axes; a pipeline with a step of
the user's own runs one epoch at a time).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from yuma._sparse import is_sparse
from yuma._step import Config
from yuma._threads import check_threads, numba_threads
from yuma._types import BoolArray, FloatArray
from yuma._validate import as_numeric_array, check_values
from yuma.backends import check_backend, select
from yuma.inputs import Layout
from yuma.params import YumaParams
from yuma.pipeline import RESULT_FIELDS, Pipeline, chain, dense_state, to_result
from yuma.result import EpochResult

__all__ = ["BatchResult", "epoch_batch"]


@dataclass(frozen=True)
class BatchResult:
    """The results of ``b`` epochs, each field of :class:`yuma.result.EpochResult` stacked.

    Every attribute has the shape of the matching ``EpochResult`` field with a leading batch
    axis: e.g. ``consensus`` is ``(b, C)``, ``bonds`` ``(b, R, C)``, ``validator_permit``
    ``(b, R)`` bool. Stacked arrays (rather than a list of results) are what sweeps reduce over
    (``result.incentive.mean(axis=0)``) and cost one allocation per field; ``result[k]`` gives
    epoch ``k`` as an ``EpochResult`` and ``list(result)`` all of them.

    ``weights``, ``clipped_weights`` and ``bonds`` are None when the batch ran with
    ``epoch_batch(..., keep_matrices=False)``; ``result[k]`` then needs them and raises.
    """

    stake: FloatArray
    active_stake: FloatArray
    weights: FloatArray | None
    consensus: FloatArray
    clipped_weights: FloatArray | None
    validator_trust: FloatArray
    ranks: FloatArray
    incentive: FloatArray
    bonds: FloatArray | None
    dividends: FloatArray
    validator_permit: BoolArray
    server_emission: FloatArray
    validator_emission: FloatArray
    combined_emission: FloatArray

    def __len__(self) -> int:
        return int(self.stake.shape[0])

    def __getitem__(self, k: int) -> EpochResult:
        """Epoch ``k`` of the batch (views into the stacked arrays)."""
        if self.weights is None:
            raise ValueError(
                "this batch ran with keep_matrices=False, so an epoch's EpochResult (which holds "
                "its matrices) is not available: read the stacked vectors (result.incentive[k], "
                "...) or run epoch_batch(..., keep_matrices=True)"
            )
        return EpochResult(**{f.name: getattr(self, f.name)[k] for f in fields(self)})

    def __iter__(self) -> Any:
        return (self[k] for k in range(len(self)))

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain ``{name: stacked array}`` dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: The (b, R, C) fields ``keep_matrices=False`` leaves out.
MATRIX_FIELDS = ("weights", "clipped_weights", "bonds")


def _stack(
    name: str, value: Any, shape: tuple[int, ...], dtype: type, *, check: bool = True
) -> Any:
    """``value`` as a C-contiguous ``(b, *item)`` array; an item-shaped value is shared by all.

    Float input must be finite and non-negative (``check`` False: the caller's kernel checks
    the values); bool input boolean (or 0/1 integers).
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from None
    if is_sparse(value):
        raise ValueError(f"{name}: epoch_batch takes dense arrays only")
    if dtype is not np.bool_:  # one dtype rule for every numeric input (yuma._validate)
        arr = as_numeric_array(name, value)
    if arr.shape == shape[1:]:
        arr = np.broadcast_to(arr, shape)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}, expected {shape} or {shape[1:]}")
    if dtype is np.bool_:
        if arr.dtype != np.bool_ and (
            not np.issubdtype(arr.dtype, np.integer) or np.any((arr != 0) & (arr != 1))
        ):
            raise ValueError(f"{name} must be boolean, got dtype {arr.dtype}")
        return np.ascontiguousarray(arr, dtype=np.bool_)
    out = np.ascontiguousarray(arr, dtype=np.float64)
    if check:
        check_values(name, out)
    return out


def _default_permits(stake: FloatArray, k: int) -> BoolArray:
    """Top-``k`` non-zero normalised stake of each row of ``stake`` (``is_topk_nonzero``)."""
    n = stake.shape[1]
    nonzero: BoolArray = np.asarray(stake != 0, dtype=np.bool_)
    if n < k:
        return nonzero
    # A stable ascending sort drops the lowest n - k of each epoch (ties: lower uid first).
    order = np.argsort(stake, axis=1, kind="stable")
    keep = np.ones_like(nonzero)
    np.put_along_axis(keep, order[:, : n - k], False, axis=1)
    return np.asarray(nonzero & keep, dtype=np.bool_)


def epoch_batch(
    weights: Any,
    stake: Any,
    bonds: Any = None,
    params: YumaParams | None = None,
    *,
    validator_permit: Any = None,
    active: Any = None,
    outdated: Any = None,
    recently_registered: Any = None,
    layout: Layout = "auto",
    backend: str | None = None,
    pipeline: Pipeline | None = None,
    threads: int | None = None,
    keep_matrices: bool = True,
) -> BatchResult:
    """Run ``b`` independent dense epochs with the same hyperparameters.

    Parameters
    ----------
    weights : (b, R, C)
        Raw weights of each epoch (the chain's dense path, as :func:`yuma.epoch` on a dense
        array).
    stake : (b, R) or (R,)
        Raw stake of each epoch; an ``(R,)`` vector is used for every epoch.
    bonds : (b, R, C) or (R, C), optional
        Previous bonds; None means no bonds.
    params : YumaParams, optional
        One set of hyperparameters for the whole batch.
    validator_permit, active : (b, R) or (R,) bool, optional
    outdated : (b, R, C) or (R, C) bool, optional
    recently_registered : (b, C) or (C,) bool, optional
        As in :func:`yuma.epoch`, per epoch or shared.
    layout : {"auto", "uid", "bipartite"}
        As in :func:`yuma.epoch`.
    backend : {"numpy", "numba", "jax"}, optional
        "numba" runs the batch in one compiled call, parallel over epochs; "jax" maps the
        jit-compiled pipeline with ``vmap``; "numpy" runs the pipeline once over the stacked
        epochs (one epoch at a time when a step is not one of yuma's own). None: the fastest
        that can run it (numba when its kernel covers the pipeline, else numpy), as in
        :func:`yuma.epoch`.
    pipeline : Pipeline, optional
        The dense epoch to run (default: the chain's for ``params.yuma3``), as in
        :func:`yuma.epoch`.
    threads : int, optional
        The most numba threads the batch may use (its epochs run in parallel over the batch);
        None: numba's own setting. Other backends ignore it.
    keep_matrices : bool
        Return the ``(b, R, C)`` stacks ``weights``, ``clipped_weights`` and ``bonds`` (the
        default). False returns None for them: a sweep that reduces the vectors (incentive,
        dividends, ...) skips three ``b·R·C`` outputs, and the numba batch computes each
        epoch's matrices in a buffer that stays in cache (about a fifth of its time at 64 x 64).

    Returns
    -------
    BatchResult
        The :class:`yuma.result.EpochResult` fields stacked on a leading batch axis.
    """
    if params is None:
        params = YumaParams()
    elif not isinstance(params, YumaParams):
        raise ValueError(f"params must be a YumaParams, got {type(params).__name__}")
    check_backend(backend)
    threads = check_threads(threads)
    if not isinstance(keep_matrices, (bool, np.bool_)):
        raise ValueError(f"keep_matrices must be True or False, got {keep_matrices!r}")
    if is_sparse(weights):
        raise ValueError("epoch_batch takes a dense (b, R, C) weight array")
    w_arr = as_numeric_array("weights", weights)
    if w_arr.ndim != 3:
        raise ValueError(f"weights must have shape (b, R, C), got {w_arr.shape}")
    nb, n_rows, n_cols = (int(x) for x in w_arr.shape)
    if layout == "auto":
        square = n_rows == n_cols
    elif layout == "uid":
        if n_rows != n_cols:
            raise ValueError(f"layout='uid' needs square weight matrices, got {(n_rows, n_cols)}")
        square = True
    elif layout == "bipartite":
        square = False
    else:
        raise ValueError(f"layout must be 'auto', 'uid' or 'bipartite', got {layout!r}")
    pl = chain(params.yuma3) if pipeline is None else pipeline
    config = Config.from_params(params, square=square)
    name, flags = select(backend, pl, config)
    # The compiled batch checks each epoch's weights and bonds as it reads them (in cache),
    # instead of two passes over each whole stack here.
    compiled = name == "numba"
    W = _stack("weights", w_arr, (nb, n_rows, n_cols), np.float64, check=not compiled)
    S = _stack("stake", stake, (nb, n_rows), np.float64)
    B = (
        None
        if bonds is None
        else _stack("bonds", bonds, (nb, n_rows, n_cols), np.float64, check=not compiled)
    )
    P = (
        None
        if validator_permit is None
        else _stack("validator_permit", validator_permit, (nb, n_rows), np.bool_)
    )
    A = (
        np.ones((nb, n_rows), dtype=bool)
        if active is None
        else _stack("active", active, (nb, n_rows), np.bool_)
    )
    RR = (
        np.zeros((nb, n_cols), dtype=bool)
        if recently_registered is None
        else _stack("recently_registered", recently_registered, (nb, n_cols), np.bool_)
    )
    O = None if outdated is None else _stack("outdated", outdated, (nb, n_rows, n_cols), np.bool_)
    # The compiled batch reads "no bonds" as one shared zero matrix and takes the default
    # permits itself; the pipeline reads full stacks.
    if name == "numba":
        from yuma.backends.numba_batch import epoch_batch_numba

        assert flags is not None
        with numba_threads(threads):
            out = epoch_batch_numba(
                W, S, B, P, A, O, RR, square, params, yuma3=flags["yuma3"],
                liquid=flags["liquid"], keep_matrices=bool(keep_matrices),
            )  # fmt: skip
    else:
        B_all = np.zeros((nb, n_rows, n_cols)) if B is None else B
        P_all = (
            _default_permits(_normalize_rows(S), params.max_allowed_validators) if P is None else P
        )
        if name == "jax":
            from yuma.backends.jax_pipeline import run_batch

            O_full = np.zeros((nb, n_rows, n_cols), dtype=bool) if O is None else O
            out = run_batch(pl, config, dense_state(W, S, B_all, P_all, A, O_full, RR))
            out["validator_permit"] = out["validator_permit"].astype(bool)
        else:
            out = _batch_reference(pl, config, W, S, B_all, P_all, A, O, RR)
    if not keep_matrices:
        out.update(dict.fromkeys(MATRIX_FIELDS))
    return BatchResult(**out)


def _normalize_rows(S: FloatArray) -> FloatArray:
    """Each epoch's stake over its sum (rows summing to 0 stay as they are)."""
    total = S.sum(axis=1, keepdims=True)
    return np.asarray(np.divide(S, total, out=S.copy(), where=total != 0), dtype=np.float64)


#: Cells per matrix in one pass of the numpy batch (1 MiB of float64).
_CHUNK_CELLS = 2**17


def _batch_reference(
    pipeline: Pipeline,
    config: Config,
    W: FloatArray,
    S: FloatArray,
    B: FloatArray,
    P: BoolArray,
    A: BoolArray,
    O: BoolArray | None,
    RR: BoolArray,
) -> dict[str, Any]:
    """The numpy pipeline over the whole stack in one pass when its steps take leading batch
    axes (:meth:`Pipeline.takes_batches`), else one epoch at a time; results stacked."""
    if pipeline.takes_batches():
        # Stacks of about _CHUNK_CELLS cells a matrix: few enough Python calls per epoch, and
        # every step's temporaries stay in cache (a whole stack goes to memory at each step).
        nb = W.shape[0]
        size = max(1, _CHUNK_CELLS // max(1, W.shape[1] * W.shape[2]))
        parts = []
        for k in range(0, max(nb, 1), size):  # an empty stack runs once, empty
            part = slice(k, k + size)
            state = pipeline.run(
                dense_state(
                    W[part], S[part], B[part], P[part], A[part],
                    None if O is None else O[part], RR[part],
                ),
                config,
            )  # fmt: skip
            missing = [f for f in RESULT_FIELDS if f not in state]
            if missing:
                raise ValueError(
                    f"the pipeline did not produce {missing} (an EpochResult needs them)"
                )
            parts.append(state)
        out = {
            f: np.concatenate([np.asarray(st[f], dtype=np.float64) for st in parts])
            if len(parts) > 1
            else np.asarray(parts[0][f], dtype=np.float64)
            for f in RESULT_FIELDS
        }
        out["validator_permit"] = out["validator_permit"].astype(bool)
        return out
    results = [
        to_result(
            pipeline.run(
                dense_state(W[k], S[k], B[k], P[k], A[k], None if O is None else O[k], RR[k]),
                config,
            )
        )
        for k in range(W.shape[0])
    ]
    return {name: np.stack([getattr(r, name) for r in results]) for name in RESULT_FIELDS}
