"""Compiled backends for the epoch and backend selection.

========  ===================================================================================
name      what runs
========  ===================================================================================
numpy     the float64 reference, :func:`yuma.epoch.epoch_reference`
numba     compiled kernels: :mod:`yuma.backends.numba_dense` (the chain's dense path) and
          :mod:`yuma.backends.numba_sparse` (its sparse path, on CSR, never densified)
jax       a jit-compiled dense epoch in float64, vmappable and scannable
          (:mod:`yuma.backends.jax_dense`; needs the ``yuma[jax]`` extra)
========  ===================================================================================

Every backend returns the same :class:`yuma.result.EpochResult` as the reference, equal to it to
1e-9 (``tests/test_backends.py``). ``backend=None`` picks the fastest available for the input:
numba for every size we measured (``benchmarks/RESULTS.md``), else the reference. JAX is never
picked by default on a single epoch: on CPU it is slower than numba, and it is meant for ``vmap``,
``lax.scan`` and accelerators.

Knife-edge ties. The stake-weighted median compares running stake sums with ``U − κ``; when such a
sum equals ``U − κ`` to within round-off (e.g. three equal stakes and κ = 1/3), the decision
depends on the order of float additions, which differs between backends (the chain sums exactly
in fixed point). Away from such ties every backend takes the reference's decision.
"""

from __future__ import annotations

import importlib.util

from yuma.inputs import EpochInputs
from yuma.params import YumaParams
from yuma.result import EpochResult

__all__ = ["BACKENDS", "available_backends", "resolve_backend", "run_epoch"]

#: Every backend name ``backend=`` accepts.
BACKENDS = ("numpy", "numba", "jax")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available_backends() -> tuple[str, ...]:
    """The backends that can run here (numpy always; numba and jax when importable)."""
    return tuple(name for name in BACKENDS if name == "numpy" or _installed(name))


def resolve_backend(backend: str | None, *, sparse: bool = False) -> str:
    """Check a ``backend=`` argument and replace None by the default for the input.

    Raises ``ValueError`` naming an unknown backend or one that cannot take sparse input, and
    ``ImportError`` when the named backend's package is not installed.
    """
    if backend is None:
        return "numba" if _installed("numba") else "numpy"
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
    if backend != "numpy" and not _installed(backend):
        extra = " (pip install 'yuma-consensus[jax]')" if backend == "jax" else ""
        raise ImportError(f"backend={backend!r} needs the {backend} package{extra}")
    if backend == "jax" and sparse:
        raise ValueError(
            "backend='jax' runs the chain's dense epoch only; sparse input follows the chain's "
            "sparse path: use backend='numba' or 'numpy'"
        )
    return backend


def run_epoch(inputs: EpochInputs, params: YumaParams, backend: str | None = None) -> EpochResult:
    """One epoch on validated inputs with the chosen backend (see :func:`resolve_backend`)."""
    name = resolve_backend(backend, sparse=inputs.sparse)
    if name == "numba":
        from yuma._threads import numba_parallel_guard  # workqueue aborts on concurrent calls

        with numba_parallel_guard():
            if inputs.sparse:
                from yuma.backends.numba_sparse import epoch_sparse

                return epoch_sparse(inputs, params)
            from yuma.backends.numba_dense import epoch_dense

            return epoch_dense(inputs, params)
    if name == "jax":
        from yuma.backends.jax_dense import epoch_jax

        return epoch_jax(inputs, params)
    from yuma.epoch import epoch_reference

    return epoch_reference(inputs, params)
