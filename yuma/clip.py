"""Clipping weights at consensus (dense and sparse)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from yuma._sparse import keep_entries
from yuma._validate import block_array, block_sparse
from yuma._xp import Namespace, direct_numpy_call, namespace

__all__ = ["col_clip", "col_clip_sparse"]


def col_clip(weights: Any, consensus: Any, *, xp: Namespace | None = None) -> Any:
    """Clip each column at its consensus: ``min(W_ij, c_j)`` (chain: ``col_clip``).

    weights : (R, C); consensus : (C,). Returns a new (R, C) float64 array.
    """
    if direct_numpy_call(xp, weights, consensus):
        weights = block_array("weights", weights, 2)
        consensus = block_array("consensus", consensus, 1)
        if consensus.shape[0] != weights.shape[1]:
            raise ValueError(
                f"consensus has {consensus.shape[0]} columns, weights {weights.shape[1]}"
            )
    xp = xp or namespace(weights, consensus)
    w = xp.asarray(weights, dtype=xp.float64)
    return xp.minimum(w, xp.asarray(consensus, dtype=xp.float64)[..., None, :])


def col_clip_sparse(weights: Any, consensus: Any) -> sp.csr_array:
    """Sparse clip (chain: ``col_clip_sparse``).

    An entry above its column's consensus becomes the consensus, or is **removed** when the
    consensus is 0; other entries, stored zeros included, are kept unchanged. The removal matters
    later: a removed entry takes no part in the liquid-alpha bond EMA.
    """
    w = block_sparse("weights", weights)
    consensus = block_array("consensus", consensus, 1)
    if consensus.shape[0] != w.shape[1]:
        raise ValueError(f"consensus has {consensus.shape[0]} columns, weights {w.shape[1]}")
    return _col_clip_csr(w, consensus)


def _col_clip_csr(w: sp.csr_array, consensus: Any) -> sp.csr_array:
    # checked by the caller: canonical float64 CSR and a (C,) consensus
    c = np.asarray(consensus, dtype=np.float64)[w.indices]
    above = c < w.data
    out = keep_entries(w, ~(above & (c <= 0)))
    c_kept = np.asarray(consensus, dtype=np.float64)[out.indices]
    out.data = np.minimum(out.data, c_kept)
    return out
