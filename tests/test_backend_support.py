"""Shared helpers for the backend and batch tests: input strategies and result comparison.

The strategies draw small epochs that reach every branch of the reference: square (uid) and
bipartite layouts, dense and sparse (with stored zeros), bonds or none, every mask, owner uid,
both bond branches, liquid alpha, bonds penalty 0 / fractional / 1, few permits, and emergency
mode (all-zero or only self weights).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import strategies as st

from yuma.params import U16_MAX, YumaParams
from yuma.result import EpochResult

HAS_JAX = importlib.util.find_spec("jax") is not None
requires_jax = pytest.mark.skipif(
    not HAS_JAX, reason="jax is not installed (optional extra: pip install 'yuma-consensus[jax]')"
)

#: Backends must equal the reference to this absolute tolerance.
ATOL = 1e-9


@dataclass
class Case:
    """One epoch's arguments for :func:`yuma.epoch`."""

    weights: Any
    stake: Any
    bonds: Any
    params: YumaParams
    kwargs: dict[str, Any]


@st.composite
def params_strategy(draw: st.DrawFn, n_rows: int) -> YumaParams:
    """Hyperparameters: both branches, liquid alpha, β in {0, fractional, 1}, few permits."""
    beta = draw(st.sampled_from([0, 65535, 16384, 49151, 1]))
    low = draw(st.integers(0, U16_MAX))
    high = draw(st.integers(low, U16_MAX))
    return YumaParams.from_chain(
        kappa=draw(st.sampled_from([32767, 1, 65534, 20000, 45000])),
        bonds_moving_average=draw(st.sampled_from([900_000, 0, 1_000_000, 975_000, 500_000])),
        bonds_penalty=beta,
        yuma3_enabled=draw(st.booleans()),
        liquid_alpha_enabled=draw(st.booleans()),
        alpha_low=low,
        alpha_high=high,
        alpha_sigmoid_steepness=draw(st.sampled_from([1000, 10, -500, 3000, 0])),
        max_allowed_validators=draw(st.integers(0, n_rows + 1)),
    )


def _matrix(draw: st.DrawFn, rows: int, cols: int, kind: str) -> np.ndarray[Any, Any]:
    """Values with many zeros; "weights" are u16-like integers, "bonds" proportions."""
    if kind == "weights":
        values = draw(st.lists(st.integers(0, 65535), min_size=rows * cols, max_size=rows * cols))
        out = np.array(values, dtype=np.float64).reshape(rows, cols)
    else:
        values = draw(
            st.lists(
                st.sampled_from([0.0, 0.0, 1.0, 0.5, 1 / 3, 0.01, 0.999]),
                min_size=rows * cols,
                max_size=rows * cols,
            )
        )
        out = np.array(values, dtype=np.float64).reshape(rows, cols)
    zeros = draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    if zeros:
        mask = draw(st.lists(st.booleans(), min_size=rows * cols, max_size=rows * cols))
        keep = np.array(mask).reshape(rows, cols) | (zeros < 0.5)
        out = np.where(keep, out, 0.0)
    return out


def _to_sparse(draw: st.DrawFn, dense: np.ndarray[Any, Any]) -> sp.csr_array:
    """CSR with every non-zero stored and some zeros stored explicitly (they are present)."""
    rows, cols = dense.shape
    extra = np.array(
        draw(st.lists(st.booleans(), min_size=rows * cols, max_size=rows * cols)), dtype=bool
    ).reshape(rows, cols)
    r, c = np.nonzero((dense != 0) | extra)
    return sp.csr_array((dense[r, c], (r, c)), shape=(rows, cols))


@st.composite
def case_strategy(
    draw: st.DrawFn,
    sparse: bool | None = None,
    max_n: int = 7,
    square: bool | None = None,
    shapes: tuple[tuple[int, int], ...] | None = None,
) -> Case:
    """A whole epoch: shape, values, masks, params; dense or sparse.

    ``shapes``: draw (rows, cols) from these only (a jit compiles once per shape, so JAX tests
    fix a few shapes, square and not, including the degenerate 1 x 1).
    """
    if shapes is not None:
        rows, cols = draw(st.sampled_from(shapes))
        is_square = rows == cols if square is None else square
        if is_square and rows != cols:
            cols = rows
    else:
        is_square = draw(st.booleans()) if square is None else square
        rows = draw(st.integers(1, max_n))
        cols = rows if is_square else draw(st.integers(1, max_n))
    is_sparse = draw(st.booleans()) if sparse is None else sparse
    weights: Any = _matrix(draw, rows, cols, "weights")
    if draw(st.integers(0, 9)) == 0:
        # Only self weights: emergency mode in the uid layout.
        weights = np.diag(np.diag(weights)) if is_square else np.zeros_like(weights)
    stake = np.array(
        draw(
            st.lists(
                st.sampled_from([0.0, 1.0, 2.0, 3.0, 10.0, 1000.0, 0.5]),
                min_size=rows,
                max_size=rows,
            )
        )
    )
    bonds: Any = _matrix(draw, rows, cols, "bonds") if draw(st.booleans()) else None
    if is_sparse:
        weights = _to_sparse(draw, weights)
        if bonds is not None:
            bonds = _to_sparse(draw, bonds)
    bool_vec = st.lists(st.booleans(), min_size=rows, max_size=rows)
    kwargs: dict[str, Any] = {"layout": "uid" if is_square else "bipartite"}
    if draw(st.booleans()):
        kwargs["validator_permit"] = np.array(draw(bool_vec))
    if draw(st.booleans()):
        kwargs["active"] = np.array(draw(bool_vec))
    if draw(st.booleans()):
        kwargs["recently_registered"] = np.array(
            draw(st.lists(st.booleans(), min_size=cols, max_size=cols))
        )
    if draw(st.booleans()):
        mask = np.array(
            draw(st.lists(st.booleans(), min_size=rows * cols, max_size=rows * cols))
        ).reshape(rows, cols)
        kwargs["outdated"] = sp.csr_array(mask) if is_sparse and draw(st.booleans()) else mask
    if is_square and draw(st.booleans()):
        kwargs["owner_uid"] = draw(st.integers(0, rows - 1))
    return Case(weights, stake, bonds, draw(params_strategy(rows)), kwargs)


def knife_edge(ref: EpochResult, kappa: float, band: float = 1e-9) -> bool:
    """True when some column's running voter stake equals ``U − κ`` to within ``band``.

    There the median's decision depends on the order of float additions (see
    :mod:`yuma.backends`), so backends may legitimately pick the neighbouring score.
    """
    a = np.asarray(ref.active_stake)
    u = np.where(a > 0, a, 0.0)
    total = u.sum()
    if total > 0:
        u = u / total
    minority = u.sum() - kappa
    voters = np.flatnonzero(u > 0)
    if voters.size == 0:
        return False
    scores = ref.dense("weights")[voters]
    for j in range(scores.shape[1]):
        order = np.argsort(scores[:, j], kind="stable")
        vals = scores[order, j]
        running = np.cumsum(u[voters][order])
        ends = np.append(vals[1:] != vals[:-1], True)
        if np.any(np.abs(running[ends] - minority) <= band):
            return True
    return False


def assert_results_close(ref: EpochResult, got: Any, atol: float = ATOL) -> None:
    """Every field of ``got`` equals ``ref``: sparse structure exactly, values to ``atol``."""
    for f in fields(EpochResult):
        a = getattr(ref, f.name)
        b = getattr(got, f.name)
        if sp.issparse(a):
            assert sp.issparse(b), f"{f.name}: expected a sparse matrix"
            a = sp.csr_array(a)
            b = sp.csr_array(b)
            assert a.shape == b.shape, f.name
            np.testing.assert_array_equal(a.indptr, b.indptr, err_msg=f"{f.name} structure")
            np.testing.assert_array_equal(a.indices, b.indices, err_msg=f"{f.name} structure")
            np.testing.assert_allclose(b.data, a.data, rtol=0, atol=atol, err_msg=f.name)
        else:
            a = np.asarray(a)
            b = np.asarray(b)
            assert a.shape == b.shape, f"{f.name}: {a.shape} != {b.shape}"
            if a.dtype == np.bool_:
                np.testing.assert_array_equal(b, a, err_msg=f.name)
            else:
                np.testing.assert_allclose(b, a, rtol=0, atol=atol, err_msg=f.name)


def test_knife_edge_detects_a_tie() -> None:
    """Three equal stakes and κ = 1/3: the running stake 2/3 sits on ``U − κ``."""
    import yuma

    params = YumaParams(kappa=1 / 3)
    ref = yuma.epoch(
        np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]]),
        np.ones(3),
        params=params,
        backend="numpy",
    )
    assert knife_edge(ref, params.kappa)
    assert not knife_edge(ref, YumaParams().kappa)
