"""Validated epoch inputs with the chain's defaults filled in (`EpochInputs`).

Every backend starts from the same :class:`EpochInputs`, so input checking and defaults live in
one place.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from yuma._sparse import as_csr, is_sparse
from yuma._types import BoolArray, FloatArray, Matrix
from yuma._validate import check_bool_matrix, check_bool_vector, check_matrix, check_vector
from yuma._xp import np_xp
from yuma.normalize import normalize
from yuma.params import YumaParams
from yuma.permits import is_topk_nonzero

__all__ = ["EpochInputs", "Layout", "prepare_inputs"]

Layout = Literal["auto", "uid", "bipartite"]


@dataclass(frozen=True)
class EpochInputs:
    """One epoch's inputs after validation.

    Attributes
    ----------
    weights : (R, C) raw non-negative weights, dense float64 or canonical CSR (stored zeros kept).
    stake : (R,) raw non-negative stake (not yet normalised).
    bonds : (R, C) previous bonds, same format as ``weights`` (zeros when none were given).
    given_permit : (R,) the permits the caller passed, or None for the default (the new
        permits of this very stake: top ``max_allowed_validators`` non-zero stakes, the owner
        always holding one on the sparse path). Read :attr:`old_permit` for the permits used.
    max_validators : ``max_allowed_validators``, which the default permits need.
    active : (R,) validators that set weights recently enough.
    outdated : (R, C) mask of weights to drop (dense bool or CSR), or None.
    recently_registered : (C,) miners whose bond column is discarded before the EMA.
    owner_uid : the subnet owner's uid (sparse path only has owner rules), or None.
    square : True for the chain's (n, n) uid layout, False for validators x miners.
    sparse : True when ``weights`` is sparse (the chain's sparse path).
    values_checked : False when the dense weights' and bonds' values are left to the compiled
        kernel (``prepare_inputs(..., defer_dense_values=True)``), which checks them as it
        reads them; any other path checks them first (:func:`yuma.backends.run_epoch`).
    """

    weights: Matrix
    stake: FloatArray
    bonds: Matrix
    given_permit: BoolArray | None
    active: BoolArray
    outdated: Any
    recently_registered: BoolArray
    owner_uid: int | None
    square: bool
    sparse: bool
    max_validators: int = 0
    values_checked: bool = True

    @functools.cached_property
    def old_permit(self) -> BoolArray:
        """(R,) the permits this epoch uses (chain: stored ``ValidatorPermit``).

        Computed on first read when the caller gave none: a compiled kernel computes the same
        permits as its new ones and never asks (it saves a small call a quarter of its time).
        """
        if self.given_permit is not None:
            return self.given_permit
        # the stake is validated: the numpy namespace directly, no second check
        stake = normalize(self.stake, xp=np_xp)
        permit = np.asarray(is_topk_nonzero(stake, self.max_validators, xp=np_xp))
        if self.sparse and self.owner_uid is not None:
            permit = permit.copy()
            permit[self.owner_uid] = True
        return permit

    @classmethod
    def _of(cls, **values: Any) -> EpochInputs:
        """``cls(**values)``, every field by name, built without the frozen ``__init__``
        (which sets each of the twelve fields through ``object.__setattr__``): callgrind,
        22 k instructions per call against 12 k. For :func:`prepare_inputs`, whose values
        are already checked; only the count of fields is checked here (comparing the names
        would double the cost), and a misspelt one is missing at its first read."""
        if len(values) != _N_FIELDS:
            raise TypeError(f"EpochInputs has {_N_FIELDS} fields, got {len(values)} values")
        inputs = object.__new__(cls)
        inputs.__dict__.update(values)
        return inputs

    @property
    def shape(self) -> tuple[int, int]:
        """(R, C): rows (validators) by columns (miners)."""
        return (int(self.weights.shape[0]), int(self.weights.shape[1]))


#: The number of fields of :class:`EpochInputs`.
_N_FIELDS = len(fields(EpochInputs))


def prepare_inputs(
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
    defer_dense_values: bool = False,
) -> tuple[EpochInputs, YumaParams]:
    """Validate the arguments of :func:`yuma.epoch` and fill in the defaults.

    Raises ``ValueError`` naming the argument for a wrong shape, a negative or non-finite value,
    a bond matrix that does not match the weights, or an owner uid out of range; for a dtype
    that is not a real number (complex, strings, booleans, Python objects: nothing is coerced);
    and for a malformed scipy.sparse matrix (an index out of range, negative ones included, an
    indptr that does not start at 0, decreases or disagrees with the stored entries). Sparse
    input in any scipy format is checked in full, in O(rows + cols + nnz) time and memory, before
    any kernel reads it, and comes back as canonical CSR (duplicates summed after each stored
    entry was checked on its own, explicit zeros kept).

    ``defer_dense_values``: leave the values of dense weights and bonds (two passes over each)
    to the compiled dense epoch, which checks them as it reads them; the result says so
    (``values_checked`` False).
    """
    if params is None:
        params = YumaParams()
    elif not isinstance(params, YumaParams):
        raise ValueError(f"params must be a YumaParams, got {type(params).__name__}")
    check = not defer_dense_values
    w = check_matrix("weights", weights, dense_values=check)
    rows, cols = int(w.shape[0]), int(w.shape[1])
    s = check_vector("stake", stake, rows)
    if layout == "auto":
        square = rows == cols
    elif layout == "uid":
        if rows != cols:
            raise ValueError(f"layout='uid' needs a square weight matrix, got {w.shape}")
        square = True
    elif layout == "bipartite":
        square = False
    else:
        raise ValueError(f"layout must be 'auto', 'uid' or 'bipartite', got {layout!r}")
    sparse_input = is_sparse(w)
    if bonds is None:
        b: Matrix = (
            sp.csr_array((rows, cols), dtype=np.float64) if sparse_input else np.zeros_like(w)
        )
    else:
        b = check_matrix("bonds", bonds, (rows, cols), dense_values=check or sparse_input)
        if sparse_input and not is_sparse(b):
            b = check_matrix("bonds", sp.csr_array(b), (rows, cols))
        elif not sparse_input and is_sparse(b):
            b = np.asarray(as_csr(b).toarray(), dtype=np.float64)  # checked in full as sparse
    if owner_uid is not None:
        if isinstance(owner_uid, bool) or not isinstance(owner_uid, (int, np.integer)):
            raise ValueError(f"owner_uid must be an int or None, got {owner_uid!r}")
        if not square:
            raise ValueError("owner_uid needs the chain's square uid layout")
        if not 0 <= owner_uid < rows:
            raise ValueError(f"owner_uid {owner_uid} is out of range for {rows} uids")
        owner_uid = int(owner_uid)
    if active is None:
        act = np.empty(rows, dtype=bool)
        act.fill(True)  # np.ones is a Python function around these two (2.4x the instructions)
    else:
        act = check_bool_vector("active", active, rows)
    recent = (
        np.zeros(cols, dtype=bool)
        if recently_registered is None
        else check_bool_vector("recently_registered", recently_registered, cols)
    )
    out = None if outdated is None else check_bool_matrix("outdated", outdated, (rows, cols))
    permit = None
    if validator_permit is not None:
        permit = check_bool_vector("validator_permit", validator_permit, rows)
        if sparse_input and owner_uid is not None:
            permit = permit.copy()
            permit[owner_uid] = True
    inputs = EpochInputs._of(
        weights=w,
        stake=s,
        bonds=b,
        given_permit=permit,
        active=act,
        outdated=out,
        recently_registered=recent,
        owner_uid=owner_uid,
        square=square,
        sparse=sparse_input,
        max_validators=params.max_allowed_validators,
        values_checked=check or sparse_input,
    )
    return inputs, params
