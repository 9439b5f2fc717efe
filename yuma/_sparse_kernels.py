"""numba passes of the sparse input check (:func:`yuma._sparse.checked_csr`), imported on first
use so that ``import yuma`` does not load numba.

Each pass reads the index arrays once and allocates nothing; the numpy forms in
:mod:`yuma._sparse` give the same answers (``tests/test_hostile_input.py`` checks both).
"""

from __future__ import annotations

from typing import Any

from numba import njit

__all__ = ["rows_ascending", "scan_indices"]


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
