"""The outputs of one epoch (`EpochResult`)."""

from __future__ import annotations

import operator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from yuma._sparse import is_sparse
from yuma._types import FloatArray, Matrix

__all__ = ["EpochResult"]


@dataclass(frozen=True)
class EpochResult:
    """Every quantity of one epoch, as float64 arrays.

    Shapes use ``R`` for rows (validators; all uids in the chain's square layout) and ``C`` for
    columns (miners; all uids in the square layout). With the chain's ``(n, n)`` uid matrix,
    ``R == C == n``. Matrices are numpy arrays for dense input and ``scipy.sparse.csr_array``
    for sparse input.

    Attributes
    ----------
    stake : (R,)
        Normalised stake (chain: ``stake``; stored as ``StakeWeight``).
    active_stake : (R,)
        Stake of active validators holding a permit, normalised (chain: ``active_stake``).
    weights : (R, C)
        Weights after the permit, self-weight and outdated masks, row-normalised
        (chain: ``weights``).
    consensus : (C,)
        Stake-weighted median of each column with majority ``kappa`` (chain: ``consensus``).
    clipped_weights : (R, C)
        Weights clipped at consensus (chain: ``clipped_weights``).
    validator_trust : (R,)
        Row sums of the clipped weights (chain: ``validator_trust``).
    ranks : (C,)
        Active-stake weighted column sums of the clipped weights, not normalised (chain: ``ranks``).
    incentive : (C,)
        Normalised ranks, the miners' share (chain: ``incentive``).
    bonds : (R, C)
        The new bonds as the chain stores them, in float: Yuma3 EMA proportions in [0, 1]; the
        original Yuma column-max-upscaled (largest bond of each column is 1). Rows without a new
        permit are empty (sparse path) or follow the dense path's storage rule.
    dividends : (R,)
        Normalised dividends, the validators' share (chain: ``dividends``).
    validator_permit : (R,)
        The new validator permits, stored for the next epoch (chain: ``new_validator_permit``).
    server_emission : (C,)
        Normalised server emission share (chain: ``normalized_server_emission``).
    validator_emission : (R,)
        Normalised validator emission share (chain: ``normalized_validator_emission``).
    combined_emission : (n,) or (R + C,)
        Normalised combined emission share (chain: ``normalized_combined_emission``). In the
        validators x miners layout it holds the validators first, then the miners.
    """

    stake: FloatArray
    active_stake: FloatArray
    weights: Matrix
    consensus: FloatArray
    clipped_weights: Matrix
    validator_trust: FloatArray
    ranks: FloatArray
    incentive: FloatArray
    bonds: Matrix
    dividends: FloatArray
    validator_permit: np.ndarray[Any, np.dtype[np.bool_]]
    server_emission: FloatArray
    validator_emission: FloatArray
    combined_emission: FloatArray

    @classmethod
    def _of(cls, *values: Any) -> EpochResult:
        """``cls(*values)`` (every field, in order), built without the frozen ``__init__``,
        which sets each field through ``object.__setattr__``: 6.3 µs per result against 2.3
        here (timeit), where a 64 x 64 numba epoch takes about 85 µs. For the compiled
        backends, whose outputs are already the fields' arrays."""
        if len(values) != len(_FIELDS):
            raise TypeError(f"EpochResult has {len(_FIELDS)} fields, got {len(values)} values")
        result = object.__new__(cls)
        result.__dict__.update(zip(_FIELDS, values, strict=True))
        return result

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain ``{name: array}`` dict (sparse matrices stay sparse)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def dense(self, name: str) -> np.ndarray[Any, Any]:
        """Field ``name`` as a dense numpy array, whatever the input format was."""
        value = getattr(self, name)
        if is_sparse(value):
            return np.asarray(value.toarray())
        return np.asarray(value)


#: The field names of :class:`EpochResult`, in order.
_FIELDS = tuple(f.name for f in fields(EpochResult))

#: ``result_fields(r)``: the tuple of ``r``'s fields, in order (one C call).
result_fields = operator.attrgetter(*_FIELDS)

#: The axes each field of a dense result spans, in field order: 0 ``(R,)``, 1 ``(C,)``,
#: 2 ``(R, C)``, 3 the combined emission's ``(C,)`` (uid layout) or ``(R + C,)``.
_FIELD_AXES = (0, 0, 2, 1, 2, 0, 1, 1, 2, 0, 0, 1, 0, 3)

#: The one field that is not float64: the permits, bool.
_BOOL_FIELD = "validator_permit"


def _field_shapes(rows: int, cols: int, square: bool) -> tuple[tuple[int, ...], ...]:
    """The shape of each field of a dense result, in field order."""
    by_axes = ((rows,), (cols,), (rows, cols), (cols,) if square else (rows + cols,))
    return tuple(by_axes[a] for a in _FIELD_AXES)
