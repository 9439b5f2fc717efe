"""Backends for the epoch, and how one is chosen.

========  ===================================================================================
name      what runs
========  ===================================================================================
numpy     the pipeline's steps on numpy (:func:`yuma.pipeline.run_numpy`), the reference; the
          sparse path's reference (:mod:`yuma.sparse_epoch`)
numba     fused compiled kernels that declare which pipeline steps they implement
          (:mod:`yuma.backends.kernels`): :mod:`yuma.backends.numba_dense` (the chain's dense
          pipelines) and :mod:`yuma.backends.numba_sparse` (its sparse path, on CSR)
jax       the pipeline's steps traced with ``jax.numpy``: jit, ``vmap`` over a batch,
          ``lax.scan`` over epochs (:mod:`yuma.backends.jax_pipeline`; ``yuma[jax]`` extra)
========  ===================================================================================

Every backend returns the same :class:`yuma.result.EpochResult` as the reference, equal to it to
1e-9 (``tests/test_backends.py``, ``tests/test_oracle.py``).

``backend=None`` means the same everywhere (:func:`yuma.epoch`, :func:`yuma.epoch_batch`,
:func:`yuma.simulate`): the fastest backend that can run the request, that is numba when it is
installed and a kernel's declaration covers the pipeline (the chain's own pipelines, and every
sparse epoch), else numpy. JAX is never picked by default: it compiles on its first call per
shape (about a second), and on CPU numba is faster; it is there for ``vmap``, ``lax.scan`` and
accelerators. Naming a backend that cannot run the request raises ``ValueError`` with the
reason; nothing falls back silently.

Knife-edge ties. The stake-weighted median compares running stake sums with ``U − κ``; when such a
sum equals ``U − κ`` to within round-off (e.g. three equal stakes and κ = 1/3), the decision
depends on the order of float additions, which differs between backends (the chain sums exactly
in fixed point). Away from such ties every backend takes the reference's decision.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

from yuma._outputs import check_out, copy_into
from yuma._step import Config
from yuma._threads import numba_parallel_guard, numba_threads
from yuma.inputs import EpochInputs
from yuma.params import YumaParams
from yuma.pipeline import Pipeline, chain, run_numpy
from yuma.result import EpochResult

__all__ = [
    "BACKENDS",
    "available_backends",
    "check_backend",
    "compiled_dense",
    "kernel_flags",
    "resolve_backend",
    "run_epoch",
    "select",
]

#: Every backend name ``backend=`` accepts.
BACKENDS = ("numpy", "numba", "jax")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available_backends() -> tuple[str, ...]:
    """The backends that can run here (numpy always; numba and jax when importable)."""
    return tuple(name for name in BACKENDS if name == "numpy" or _installed(name))


def check_backend(backend: str | None) -> None:
    """Refuse an unknown backend name, or a named one whose package is missing."""
    if backend is None:
        return
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
    if backend != "numpy" and not _installed(backend):
        extra = " (pip install 'yuma-consensus[jax]')" if backend == "jax" else ""
        raise ImportError(f"backend={backend!r} needs the {backend} package{extra}")


def kernel_flags(pipeline: Pipeline, config: Config) -> tuple[dict[str, Any] | None, str]:
    """The numba dense kernel's flags for ``pipeline``, or ``(None, reason)``."""
    flags, reason = _kernel_flags(pipeline, config.liquid_alpha)
    return (None if flags is None else dict(flags)), reason


@functools.lru_cache(maxsize=256)
def _kernel_flags(pipeline: Pipeline, liquid_alpha: bool) -> tuple[Any, str]:
    # The declarations read only the liquid-alpha flag of the config (rate.chain); pipelines
    # hash by their steps, so a repeated request is a dictionary lookup.
    from yuma.backends.kernels import DENSE_KERNEL, match

    config = Config.from_params(YumaParams(liquid_alpha=liquid_alpha), square=True)
    m = match(DENSE_KERNEL, pipeline, config)
    return (None if m.flags is None else tuple(sorted(m.flags.items()))), m.reason


def select(
    backend: str | None,
    pipeline: Pipeline | None,
    config: Config | None,
    *,
    sparse: bool = False,
) -> tuple[str, dict[str, Any] | None]:
    """The backend that runs a request, and the numba kernel's flags when it is numba.

    ``backend`` None picks numba when installed and its kernel covers the request, else numpy.
    Raises ``ValueError`` when a named backend cannot run it (and says why).
    """
    check_backend(backend)
    if sparse:
        if pipeline is not None:
            raise ValueError(
                "a custom pipeline runs the dense epoch; sparse input follows the chain's sparse "
                "path (pass a dense array to run your pipeline)"
            )
        if backend == "jax":
            raise ValueError(
                "backend='jax' runs the dense pipeline only; sparse input follows the chain's "
                "sparse path: use backend='numba' or 'numpy'"
            )
        if backend is None:
            return ("numba" if _installed("numba") else "numpy"), None
        return backend, None
    if backend in ("numpy", "jax"):
        return backend, None
    assert pipeline is not None and config is not None
    flags, reason = kernel_flags(pipeline, config)
    if backend == "numba":
        if flags is None:
            raise ValueError(
                f"backend='numba' cannot run pipeline {pipeline.name!r}: {reason}. Its steps run "
                "as written on backend='numpy' or 'jax'"
            )
        return "numba", flags
    if flags is not None and _installed("numba"):
        return "numba", flags
    return "numpy", None


#: From this many cells on, a dense epoch bound for numba leaves its values to the kernel
#: (two reductions over the weights and two over the bonds saved: 0.77-0.79x the time of a
#: 4096 x 4096 epoch; at 256 x 256 the two checks cost about the same, below it deciding costs
#: more than the check).
_DEFER_MIN_CELLS = 2**16


def compiled_dense(
    weights: Any, params: Any, backend: str | None, pipeline: Pipeline | None
) -> bool:
    """Whether :func:`run_epoch` will run this request on the compiled dense epoch (dense
    weights, numba chosen), which checks its inputs' values itself. False whenever that is
    not certain (a bad argument then raises later, where it always did)."""
    # Only a numpy array is read here (its size): anything else, malformed sparse input
    # included, is left to prepare_inputs to check and name.
    if not isinstance(weights, np.ndarray) or weights.size < _DEFER_MIN_CELLS:
        return False  # small: checking first costs less than deciding (the kernel checks too)
    if not isinstance(params, (YumaParams, type(None))):
        return False
    params = params or YumaParams()
    try:
        name, _ = _choice(backend, pipeline, params)
    except (ValueError, ImportError, TypeError):
        return False
    return name == "numba"


@functools.lru_cache(maxsize=256)
def _dense_choice(
    backend: str | None, pipeline: Pipeline, liquid_alpha: bool
) -> tuple[str, dict[str, Any] | None]:
    # select() for a dense epoch reads only these three (its config only for the liquid-alpha
    # flag, as _kernel_flags), so a repeated request is a dictionary lookup. Callers never
    # write the flags.
    config = Config.from_params(YumaParams(liquid_alpha=liquid_alpha), square=True)
    return select(backend, pipeline, config)


@functools.lru_cache(maxsize=64)
def _chain_choice(
    backend: str | None, yuma3: bool, liquid_alpha: bool
) -> tuple[str, dict[str, Any] | None]:
    # the chain's own pipeline: keyed by flags, so no pipeline is built or hashed per call
    return _dense_choice(backend, chain(yuma3), liquid_alpha)


def _choice(
    backend: str | None, pipeline: Pipeline | None, params: YumaParams
) -> tuple[str, dict[str, Any] | None]:
    """:func:`select` for a dense epoch of ``pipeline`` (None: the chain's), cached."""
    if backend is not None and not isinstance(backend, str):
        check_backend(backend)  # its ValueError, before an unhashable one meets the cache
    if pipeline is None:
        return _chain_choice(backend, params.yuma3, params.liquid_alpha)
    return _dense_choice(backend, pipeline, params.liquid_alpha)


def resolve_backend(backend: str | None, *, sparse: bool = False) -> str:
    """The backend for the chain's own epoch (see :func:`select`)."""
    name, _ = select(backend, chain(True), Config.from_params(YumaParams(), square=True),
                     sparse=sparse)  # fmt: skip
    return name


@functools.cache
def _numba_dense() -> Any:
    # numba loads on the first compiled epoch, not on ``import yuma``; an import statement in
    # run_epoch itself would cost each call about 2 µs (timeit)
    from yuma.backends import numba_dense

    return numba_dense


def run_epoch(
    inputs: EpochInputs,
    params: YumaParams,
    backend: str | None = None,
    *,
    pipeline: Pipeline | None = None,
    threads: int | None = None,
    out: EpochResult | None = None,
) -> EpochResult:
    """One epoch on validated inputs with the chosen backend (see :func:`select`).

    ``threads``: at most this many numba threads (None: numba's setting); other backends
    ignore it. ``out``: a dense result checked by :func:`yuma._outputs.check_out`, written
    and returned (the compiled dense epoch writes into it; other backends copy into it).
    """
    if out is not None:
        check_out(out, inputs)
        if _choice(backend, pipeline, params)[0] != "numba":
            return copy_into(out, run_epoch(inputs, params, backend, pipeline=pipeline))
    if inputs.sparse:
        name, _ = select(backend, pipeline, None, sparse=True)
        if name == "numba":
            from yuma.backends.numba_sparse import epoch_sparse

            # the guard: the workqueue layer aborts on concurrent launches
            with numba_threads(threads), numba_parallel_guard():
                return epoch_sparse(inputs, params)
        from yuma.sparse_epoch import sparse_epoch

        return sparse_epoch(inputs, params)
    name, flags = _choice(backend, pipeline, params)
    if name != "numba" and not inputs.values_checked:
        # left to the compiled epoch, which is not the one running
        from yuma._validate import check_values

        check_values("weights", np.asarray(inputs.weights))
        check_values("bonds", np.asarray(inputs.bonds))
    if name == "numba":
        assert flags is not None
        epoch_dense: Callable[..., EpochResult] = _numba_dense().epoch_dense
        yuma3, liquid = flags["yuma3"], flags["liquid"]
        if threads is None:
            return epoch_dense(inputs, params, yuma3=yuma3, liquid=liquid, out=out)
        with numba_threads(threads):
            return epoch_dense(inputs, params, yuma3=yuma3, liquid=liquid, out=out)
    pl = chain(params.yuma3) if pipeline is None else pipeline
    config = Config.from_params(params, square=inputs.square)
    if name == "jax":
        from yuma.backends.jax_pipeline import run_epoch as run_jax
        from yuma.pipeline import dense_state, to_result

        outdated = inputs.outdated
        if outdated is not None and hasattr(outdated, "toarray"):
            outdated = outdated.toarray()
        values = dense_state(
            inputs.weights, inputs.stake, inputs.bonds, inputs.old_permit, inputs.active,
            outdated, inputs.recently_registered,
        )  # fmt: skip
        return to_result(run_jax(pl, config, values))
    return run_numpy(pl, inputs, params, config)
