"""numba passes of the sparse input check (:func:`yuma._sparse.checked_csr`), imported on first
use so that ``import yuma`` does not load numba.

Each pass reads the index arrays once and allocates nothing; the numpy forms in
:mod:`yuma._sparse` give the same answers (``tests/test_hostile_input.py`` checks both).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)

__all__ = [
    "CANONICAL",
    "REFUSED",
    "UNSORTED",
    "rows_ascending",
    "scan_csr",
    "scan_indices",
]

#: :func:`scan_csr`'s answers: a valid canonical CSR of finite non-negative values; the same
#: but with indices that do not strictly increase inside some row (duplicates or unsorted);
#: anything else (broken ``indptr``, an index out of range, a value negative or not finite).
CANONICAL, UNSORTED, REFUSED = 0, 1, 2

_FINITE_MAX = float(np.finfo(np.float64).max)


@njit(cache=True, nogil=True)
def rows_ascending(indices: Any, indptr: Any) -> bool:
    """True when the column indices strictly increase inside every row (``indptr`` already
    checked: starts at 0, never decreases, ends at ``len(indices)``)."""
    for i in range(indptr.shape[0] - 1):
        for k in range(indptr[i] + 1, indptr[i + 1]):
            if indices[k] <= indices[k - 1]:
                return False
    return True


@njit(cache=True, nogil=True)
def scan_indices(indices: Any, indptr: Any) -> tuple[int, int, bool]:
    """``(min, max, rows_ascending)`` of a CSR's column indices in one pass (``indptr``
    checked as for :func:`rows_ascending`; at least one stored entry)."""
    lo = indices[0]
    hi = indices[0]
    ascending = True
    for i in range(indptr.shape[0] - 1):
        start = indptr[i]
        end = indptr[i + 1]
        for k in range(start, end):
            x = indices[k]
            lo = min(lo, x)
            hi = max(hi, x)
            if k > start and x <= indices[k - 1]:
                ascending = False
    return int(lo), int(hi), ascending


@njit(cache=True, nogil=True)
def scan_csr(data: Any, indices: Any, indptr: Any, n_minor: int) -> int:
    """The whole input check of a float CSR in one pass that allocates nothing.

    Nothing is assumed of the arrays beyond being 1-D: ``indptr`` must start at 0, never
    decrease and end at ``nnz`` <= both ``len(indices)`` and ``len(data)``; every index of the
    first ``nnz`` must lie in ``[0, n_minor)`` and every value be finite and ``>= 0``. Each
    ``indptr`` entry is checked before the entries it delimits are read, so a malformed matrix
    never leads to a read out of bounds. Returns :data:`CANONICAL`, :data:`UNSORTED` (valid, but
    some row's indices do not strictly increase) or :data:`REFUSED` (the caller's numpy checks
    then name the problem).
    """
    if indptr.shape[0] < 1 or indptr[0] != 0:
        return REFUSED
    nnz = indptr[indptr.shape[0] - 1]
    if nnz > indices.shape[0] or nnz > data.shape[0]:
        return REFUSED
    unsorted = 0
    start = indptr[0]
    for i in range(indptr.shape[0] - 1):
        end = indptr[i + 1]
        if end < start or end > nnz:
            return REFUSED
        if end == start:
            continue
        # Branch-free over the row (the compiler vectorises it), one verdict per row: a NaN
        # fails both comparisons, an infinity the second. Indices that strictly increase put
        # the row's extremes at its ends; only a row that does not needs its own min and max.
        x = data[start]
        good = (x >= 0.0) & (x <= _FINITE_MAX)
        down = 0
        for k in range(start + 1, end):
            x = data[k]
            good &= (x >= 0.0) & (x <= _FINITE_MAX)
            down += indices[k] <= indices[k - 1]
        if not good:
            return REFUSED
        lo = indices[start]
        hi = indices[end - 1]
        if down:
            unsorted += down
            for k in range(start, end):
                lo = min(lo, indices[k])
                hi = max(hi, indices[k])
        if lo < 0 or hi >= n_minor:
            return REFUSED
        start = end
    return CANONICAL if unsorted == 0 else UNSORTED
