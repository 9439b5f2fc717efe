"""Interpolation between two matrices: the bonds penalty (dense and sparse)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma._sparse import as_csr
from yuma._validate import block_array, block_fraction, block_sparse
from yuma._xp import Namespace, direct_numpy_call, eager, namespace

__all__ = ["interpolate", "interpolate_sparse"]


def interpolate(mat1: Any, mat2: Any, ratio: Any, *, xp: Namespace | None = None) -> Any:
    """``A + ratio·(B − A)``; ``ratio`` 0 and 1 return exact copies of ``A`` and ``B``.

    Chain: ``interpolate``; the epoch calls it as ``interpolate(W, W_clipped, bonds_penalty)`` to
    get the weights bonds are built from. mat1, mat2 : (R, C). Returns (R, C).
    """
    in_pipeline = xp is not None
    if direct_numpy_call(xp, mat1, mat2):
        mat1, mat2 = (
            block_array("mat1", mat1, 2, signed=True),
            block_array("mat2", mat2, 2, signed=True),
        )
        ratio = block_fraction("ratio", ratio)
    xp = xp or namespace(mat1, mat2)
    a = xp.asarray(mat1, dtype=xp.float64)
    b = xp.asarray(mat2, dtype=xp.float64)
    if a.shape != b.shape:
        raise ValueError(f"interpolate: shapes {a.shape} and {b.shape} differ")
    if in_pipeline and eager(xp) and np.ndim(ratio) == 0:
        # One concrete ratio: the branch is taken in Python, not per cell (a pipeline never
        # writes its arrays, so ratio 0 or 1 may hand back ``A`` or ``B`` themselves).
        return a if ratio == 0 else b if ratio == 1 else a + ratio * (b - a)
    return xp.where(ratio == 0, a, xp.where(ratio == 1, b, a + ratio * (b - a)))


def interpolate_sparse(mat1: Any, mat2: Any, ratio: float) -> sp.csr_array:
    """Sparse :func:`interpolate` (chain: ``interpolate_sparse``).

    ``ratio`` 0 or 1 copies ``A`` or ``B`` with their stored entries (zeros included); otherwise
    every cell of the union is computed (absent = 0) and only values > 0 are kept.
    """
    a = block_sparse("mat1", mat1)
    b = block_sparse("mat2", mat2)
    return _interpolate_csr(a, b, block_fraction("ratio", ratio))


def _interpolate_csr(a: sp.csr_array, b: sp.csr_array, ratio: float) -> sp.csr_array:
    # checked by the caller: canonical float64 CSR, ratio in [0, 1]
    if a.shape != b.shape:
        raise ValueError(f"interpolate_sparse: shapes {a.shape} and {b.shape} differ")
    if ratio == 0:
        return a
    if ratio == 1:
        return b
    out = as_csr(a + (b - a) * ratio)
    out.data[out.data <= 0] = 0.0
    out.eliminate_zeros()
    return out
