"""Output matrices placed where the compiled dense passes stream them fastest.

numpy takes an array's memory from ``malloc``, which returns a large block 16 bytes past a page
boundary (a block of its own, mapped from the operating system) or at any 16-byte boundary (a
block from the heap). A row of such a matrix then starts 16 or 48 bytes into a cache line, so
every other 32-byte vector load or store of the row spans two lines, and the eight columns the
consensus's gather path reads from each voter row (one line when aligned) span two. The dense
epoch writes three ``R x C`` matrices (the masked weights, the clipped weights and the new
bonds) and reads them back in later passes, so :func:`aligned_matrices` places each at a chosen
offset within a page instead: a multiple of 64 bytes (a cache line), and a different one per
matrix, so that the clip/EMA pass, which reads two matrices while it writes two, does not see
its loads and stores meet in the address bits a core compares first (the low 12: "4K
aliasing").

Measured with the compiled serial epoch alone (one thread, steady-state bonds, inputs at page +
16 bytes, outputs placed by hand; the best of 3 x 300 calls, each placement in the same process):
256² 246.5 µs with the three matrices at page + 16 bytes against 228.2 µs at these offsets
(230.0 at + 32, all three alike), 128² 63.7 against 56.8, 512² 1.14 against 1.05 ms. Matrices
under :data:`MIN_BYTES` are left to ``np.empty``: at 64² the gain (23.5 against 22.3 µs) is
about what finding the three addresses costs (1.2 µs).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from yuma import _nb_cache  # noqa: F401  (drops kernels cached from older sources)

__all__ = ["MIN_BYTES", "OFFSETS", "aligned_matrices"]

#: The page size the offsets are taken modulo (4 KiB on x86-64 and most ARM systems; where
#: pages are larger, the offsets still keep the matrices 64-byte aligned and apart).
PAGE = 4096
#: Byte offsets within a page of the three matrices :func:`aligned_matrices` returns: cache-line
#: multiples, a quarter page apart.
OFFSETS = (0, 1024, 2048)
#: Matrices (their whole stack, with leading batch axes) smaller than this come from
#: ``np.empty`` as they are.
MIN_BYTES = 64 * 1024


@njit(cache=True, nogil=True)
def _starts(a: Any, b: Any, c: Any) -> tuple[Any, Any, Any]:
    # How far into each byte buffer its matrix starts, so that it lands at OFFSETS mod PAGE
    # (one compiled call for the three addresses: ``ndarray.ctypes.data`` costs about 1 µs each
    # from Python, this 0.4 µs for all three).
    return (
        (OFFSETS[0] - np.int64(a.ctypes.data)) % PAGE,
        (OFFSETS[1] - np.int64(b.ctypes.data)) % PAGE,
        (OFFSETS[2] - np.int64(c.ctypes.data)) % PAGE,
    )


def aligned_matrices(shape: tuple[int, ...]) -> tuple[Any, Any, Any]:
    """Three uninitialised, writeable, C-contiguous float64 arrays of ``shape`` that share no
    memory, the first element of each at its :data:`OFFSETS` byte offset within a page (each
    is a view of a byte buffer one page longer than it); plain ``np.empty`` arrays when
    ``shape`` holds under :data:`MIN_BYTES`."""
    nbytes = 8 * math.prod(shape)
    if nbytes < MIN_BYTES:
        return np.empty(shape), np.empty(shape), np.empty(shape)
    size = nbytes + PAGE
    r0, r1, r2 = np.empty(size, np.uint8), np.empty(size, np.uint8), np.empty(size, np.uint8)
    s0, s1, s2 = _starts(r0, r1, r2)
    view = np.ndarray
    return (
        view(shape, np.float64, r0, s0),
        view(shape, np.float64, r1, s1),
        view(shape, np.float64, r2, s2),
    )
