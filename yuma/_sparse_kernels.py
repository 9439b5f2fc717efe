"""numba passes of the sparse input check (:func:`yuma._sparse.checked_csr`), imported on first
use so that ``import yuma`` does not load numba.

Each pass reads the index arrays once and allocates nothing; the numpy forms in
:mod:`yuma._sparse` give the same answers (``tests/test_hostile_input.py`` checks both).
"""

from __future__ import annotations

from typing import Any

from numba import njit

__all__ = ["rows_ascending"]


@njit(cache=True, nogil=True)
def rows_ascending(indices: Any, indptr: Any) -> bool:
    """True when the column indices strictly increase inside every row (``indptr`` already
    checked: starts at 0, never decreases, ends at ``len(indices)``)."""
    for i in range(indptr.shape[0] - 1):
        for k in range(indptr[i] + 1, indptr[i + 1]):
            if indices[k] <= indices[k - 1]:
                return False
    return True
