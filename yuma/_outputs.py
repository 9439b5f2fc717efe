"""An earlier epoch's result as the outputs of the next one (``yuma.epoch(..., out=...)``).

Each dense epoch returns three fresh ``R x C`` matrices. A loop of epochs can instead hand
back an earlier result, whose arrays are overwritten, as numpy's ``out=`` does: no allocation,
and memory that is already mapped and in cache. (A fresh matrix over glibc's mmap threshold
is new memory on every call, and the operating system faults each of its pages in on first
write: in a process that has not yet freed a large array, a 256 x 256 epoch paid about 352
page faults per call, 1.3-1.8 ms against 0.30-0.43 ms with ``out=`` on one machine, 0.56-0.59
ms against 0.25-0.26 ms on another; benchmarks/RESULTS.md.)

The result written must not share memory with the epoch's inputs: the compiled epoch reads
the previous bonds after it has begun to write the new ones. Alternate two results::

    a = yuma.epoch(W, S)
    b = yuma.epoch(W, S, a.bonds)
    for _ in range(epochs):
        a, b = b, yuma.epoch(W, S, b.bonds, out=a)
"""

from __future__ import annotations

from typing import Any

import numpy as np

import yuma.backends as _backends  # a cycle: read at call time only
from yuma.inputs import EpochInputs
from yuma.result import _BOOL_FIELD, _FIELDS, EpochResult, _field_shapes, result_fields

__all__ = ["check_out", "copy_into"]

_F64 = np.dtype(np.float64)
_BOOL = np.dtype(np.bool_)


def _input_arrays(inputs: EpochInputs) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Names and arrays of a dense epoch's inputs (absent or sparse masks left out)."""
    names: tuple[str, ...] = ("weights", "stake", "bonds", "active", "recently_registered")
    arrays: tuple[Any, ...] = (
        inputs.weights,
        inputs.stake,
        inputs.bonds,
        inputs.active,
        inputs.recently_registered,
    )
    if inputs.given_permit is not None:
        names, arrays = (*names, "validator_permit"), (*arrays, inputs.given_permit)
    if isinstance(inputs.outdated, np.ndarray):
        names, arrays = (*names, "outdated"), (*arrays, inputs.outdated)
    return names, arrays


def check_out(out: Any, inputs: EpochInputs) -> None:
    """Raise ``ValueError`` unless ``out`` can take this epoch's outputs: an
    :class:`EpochResult` of a dense epoch of the same shape and layout, every field a
    C-contiguous, aligned, writeable numpy array of its dtype (float64; the permits bool), no
    two fields sharing memory, and none sharing memory with an input (memory spans are
    compared, as ``np.may_share_memory`` does).

    The checks run compiled (:func:`yuma.backends.numba_dense.out_status`); only a refusal
    is explained here, in Python."""
    if not isinstance(out, EpochResult):
        raise ValueError(
            f"out must be an EpochResult (an earlier epoch's), got {type(out).__name__}"
        )
    if inputs.sparse:
        raise ValueError("out takes a dense epoch's result; sparse input returns new CSR matrices")
    rows, cols = inputs.shape
    combined = cols if inputs.square else rows + cols
    values = result_fields(out)
    names, ins = _input_arrays(inputs)
    try:
        code, i, j = _backends._numba_dense().out_status(values, ins, rows, cols, combined)
    except Exception:
        # A field numba cannot type (a sparse matrix, a list, …) is named here; anything
        # else is not a refusal, and goes on up.
        _explain_field(values, rows, cols, inputs.square)
        raise
    if code == 0:
        return
    if code == 2:
        if j < len(values):
            raise ValueError(f"out.{_FIELDS[i]} and out.{_FIELDS[j]} share memory")
        raise ValueError(
            f"out.{_FIELDS[i]} shares memory with the input {names[j - len(values)]}: the "
            "epoch would overwrite what it reads. Alternate two results instead "
            "(a, b = b, yuma.epoch(W, S, b.bonds, out=a))"
        )
    _explain_field(values, rows, cols, inputs.square)
    raise ValueError("out cannot take this epoch's outputs")  # not reached: named above


def _explain_field(values: tuple[Any, ...], rows: int, cols: int, square: bool) -> None:
    """Raise the ``ValueError`` naming the first field of ``out`` that cannot be written."""
    shapes = _field_shapes(rows, cols, square)
    for name, value, shape in zip(_FIELDS, values, shapes, strict=True):
        dtype = _BOOL if name == _BOOL_FIELD else _F64
        if not isinstance(value, np.ndarray):
            raise ValueError(
                f"out.{name} must be a numpy array (a dense epoch's result), "
                f"got {type(value).__name__}"
            )
        if value.shape != shape or value.dtype != dtype:
            raise ValueError(
                f"out.{name} has shape {value.shape} and dtype {value.dtype}; this epoch "
                f"writes shape {shape}, dtype {dtype}"
            )
        if not value.flags.carray:
            raise ValueError(f"out.{name} must be a C-contiguous, aligned, writeable array")


def copy_into(out: EpochResult, result: EpochResult) -> EpochResult:
    """Write ``result``'s fields into ``out``'s arrays (checked by :func:`check_out`) and
    return ``out``: what a backend that builds new arrays does with ``out``."""
    for target, value in zip(result_fields(out), result_fields(result), strict=True):
        np.copyto(target, np.asarray(value))
    return out
