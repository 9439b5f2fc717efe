"""The stake-weighted median: scalar, per dense column, and per sparse column.

Definition (the chain's, spec §4.7, closed form of its quick-select): let ``v_1 < … < v_k`` be the
distinct scores and ``C_t`` the stake of the entries scoring at most ``v_t``. The median for a
minority ``m`` is ``v_t`` for the smallest ``t`` with ``C_t > m``, or ``v_k`` when there is none.
Consensus uses ``m = U − κ`` with ``U`` the total (normalised) stake: the result is the largest
score that validators holding at least ``κ`` of the stake support (vote at or above it).

Sorting the entries by score and taking the first *position* whose running stake exceeds ``m``
gives the same value: every earlier distinct score has its whole cumulative stake before that
position, and ties never split a decision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from yuma._sparse import as_csr, row_of_entries
from yuma._types import FloatArray

__all__ = ["weighted_median", "weighted_median_col", "weighted_median_col_sparse"]


def weighted_median(stake: Any, score: Any, minority: float) -> float:
    """Stake-weighted median of ``score`` (chain: ``weighted_median`` over the whole partition).

    stake, score : (k,) non-negative. minority : the stake ``m`` that must be exceeded.
    Returns 0.0 for empty input.
    """
    s = np.asarray(stake, dtype=np.float64)
    v = np.asarray(score, dtype=np.float64)
    if v.size == 0:
        return 0.0
    order = np.argsort(v, kind="stable")
    hit = np.cumsum(s[order]) > minority
    if not hit.any():
        return float(v[order[-1]])
    return float(v[order[int(np.argmax(hit))]])


def _majority_stake(stake: Any) -> tuple[FloatArray, float]:
    """The chain's median stake: positive stakes only, renormalised, and their total ``U``."""
    s = np.asarray(stake, dtype=np.float64)
    u = np.where(s > 0, s, 0.0)
    total = u.sum()
    if total > 0:
        u = u / total
    return u, float(u.sum())


def weighted_median_col(stake: Any, weights: Any, majority: float) -> FloatArray:
    """Consensus of every column of a dense matrix (chain: ``weighted_median_col``).

    stake : (R,) active stake; only rows with positive stake vote, renormalised.
    weights : (R, C) row-normalised weights. majority : κ in (0, 1).
    Returns (C,) consensus; all zeros when no row has positive stake.
    """
    w = np.asarray(weights, dtype=np.float64)
    u, total = _majority_stake(stake)
    n_cols = w.shape[1] if w.ndim == 2 else 0
    voters = np.flatnonzero(u > 0)
    if voters.size == 0 or n_cols == 0:
        return np.zeros(n_cols)
    minority = total - majority
    scores = w[voters]
    order = np.argsort(scores, axis=0, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=0)
    hit = np.cumsum(u[voters][order], axis=0) > minority
    first = np.where(hit.any(axis=0), np.argmax(hit, axis=0), voters.size - 1)
    return np.asarray(np.take_along_axis(sorted_scores, first[None, :], axis=0)[0])


def weighted_median_col_sparse(stake: Any, weights: Any, majority: float) -> FloatArray:
    """Consensus of every column of a sparse matrix (chain: ``weighted_median_col_sparse``).

    An absent entry scores 0 for a voting row; stored zeros score 0 too. Never densifies:
    each column's entries are sorted once, and the stake of the voters without an entry is
    the mass at score 0 that every column starts from.

    stake : (R,); weights : (R, C) scipy.sparse; majority : κ. Returns (C,) consensus.
    """
    w = as_csr(weights)
    n_cols = int(w.shape[1])
    u, total = _majority_stake(stake)
    if total == 0 or n_cols == 0:
        return np.zeros(n_cols)
    minority = total - majority
    rows = row_of_entries(w)
    voting = u[rows] > 0
    cols = w.indices[voting].astype(np.int64)
    vals = w.data[voting]
    mass = u[rows[voting]]
    order = np.lexsort((vals, cols))
    cols, vals, mass = cols[order], vals[order], mass[order]
    counts = np.bincount(cols, minlength=n_cols)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    present = np.bincount(cols, weights=mass, minlength=n_cols)
    absent = total - present
    running = np.cumsum(mass)
    before_column = np.concatenate(([0.0], running))[starts]
    hit = (absent[cols] + running - before_column[cols]) > minority
    misses = np.bincount(cols, weights=~hit, minlength=n_cols).astype(np.int64)
    consensus = np.zeros(n_cols)
    decided = absent <= minority
    inside = decided & (misses < counts)
    consensus[inside] = vals[starts[inside] + misses[inside]]
    # Nobody crosses the minority: the largest score wins (float round-off only).
    fallback = decided & (misses == counts) & (counts > 0)
    consensus[fallback] = vals[starts[fallback] + counts[fallback] - 1]
    return consensus
