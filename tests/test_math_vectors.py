"""The float core's building blocks against the chain's known-answer math vectors.

Each case of ``shared/vectors/math/<function>.json`` whose chain function the float core has is
run through the matching ``yuma`` function on its decimal ``args`` and compared with its decimal
``expect`` to a relative 1e-6 or the case's own tolerance, whichever is larger, plus an absolute
floor of a few units of the chain's resolution (2^-32 ≈ 2.3e-10): the chain truncates at that
resolution at every step, which no relative tolerance covers near 0. Bit-exactness on raw values
is the chain-replay tests' job (``test_chain_*``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import load_json, requires_shared, vector_files

import yuma
from yuma import masks

#: A few units of the chain's I32F32 resolution: rounding the float core cannot reproduce.
ABS_FLOOR = 16 * 2.0**-32


def dense(rows: list[list[float]]) -> np.ndarray:
    if len(rows) == 0:
        return np.zeros((0, 0))
    return np.array(rows, dtype=np.float64).reshape(len(rows), -1)


def sparse(rows: list[list[list[float]]], columns: int | None = None) -> sp.csr_array:
    """A CSR matrix from the vectors' sparse rows (lists of [column, value]), zeros kept."""
    width = max([int(c) + 1 for row in rows for c, _ in row], default=0)
    if columns is not None:
        width = max(width, columns)
    data = [float(v) for row in rows for _, v in row]
    cols = [int(c) for row in rows for c, _ in row]
    indptr = np.concatenate(([0], np.cumsum([len(row) for row in rows]))).astype(np.int64)
    out = sp.csr_array(
        (np.array(data, dtype=np.float64), np.array(cols, dtype=np.int64), indptr),
        shape=(len(rows), width),
    )
    out.sum_duplicates()
    return out


def sparse_rows(matrix: sp.csr_array) -> list[list[tuple[int, float]]]:
    m = sp.csr_array(matrix)
    m.sort_indices()
    return [
        [(int(c), float(v)) for c, v in zip(m.indices[a:b], m.data[a:b], strict=True)]
        for a, b in zip(m.indptr[:-1], m.indptr[1:], strict=True)
    ]


def pad_mask(mask: list[bool], length: int) -> np.ndarray:
    """The chain reads a missing mask entry as True."""
    return np.array(list(mask) + [True] * (length - len(mask)), dtype=bool)


def columns_of(args: dict[str, Any], *names: str) -> int | None:
    if "columns" in args:
        return int(args["columns"])
    for name in names:
        value = args.get(name)
        if value:
            return len(value) if not isinstance(value[0], list) else len(value[0])
    return None


def restrict(matrix: sp.csr_array, columns: int | None) -> sp.csr_array:
    """Keep the entries with column < ``columns`` (the chain's sparse helpers ignore the rest)."""
    if columns is None:
        return matrix
    keep = matrix.tocoo()
    inside = keep.col < columns
    return sp.csr_array(
        (keep.data[inside], (keep.row[inside], keep.col[inside])),
        shape=(matrix.shape[0], columns),
    )


def run_weighted_median(a: dict[str, Any]) -> float:
    stake = np.array(a["stake"], dtype=np.float64)
    score = np.array(a["score"], dtype=np.float64)
    part = np.array(a["partition_idx"], dtype=np.int64)
    # The closed form covers the top-level call: the whole partition with lo = 0, hi = its stake.
    assert a["partition_lo"] == 0.0
    return yuma.weighted_median(stake[part], score[part], a["minority"])


def run_mat_ema_alpha_sparse(a: dict[str, Any]) -> Any:
    alpha = dense(a["alpha"])
    width = alpha.shape[1] if alpha.size else None
    return yuma.mat_ema_alpha_sparse(
        sparse(a["new"], width), sparse(a["old"], width), alpha[:, : width or 0]
    )


RUNNERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "weighted_median": run_weighted_median,
    "weighted_median_col": lambda a: yuma.weighted_median_col(
        a["stake"], dense(a["weights"]), a["majority"]
    ),
    "weighted_median_col_sparse": lambda a: yuma.weighted_median_col_sparse(
        a["stake"], restrict(sparse(a["weights"], a["columns"]), a["columns"]), a["majority"]
    ),
    "inplace_col_clip": lambda a: yuma.col_clip(dense(a["matrix"]), a["threshold"]),
    "col_clip_sparse": lambda a: yuma.col_clip_sparse(
        sparse(a["matrix"], len(a["threshold"])), a["threshold"]
    ),
    "normalize": lambda a: yuma.normalize(a["x"]),
    "inplace_row_normalize": lambda a: yuma.row_normalize(dense(a["matrix"])),
    "inplace_row_normalize_sparse": lambda a: yuma.row_normalize_sparse(sparse(a["matrix"])),
    "inplace_col_normalize": lambda a: yuma.col_normalize(dense(a["matrix"])),
    "inplace_col_normalize_sparse": lambda a: yuma.col_normalize_sparse(
        restrict(sparse(a["matrix"], a["columns"]), a["columns"])
    ),
    "inplace_col_max_upscale": lambda a: yuma.col_max_upscale(dense(a["matrix"])),
    "inplace_col_max_upscale_sparse": lambda a: yuma.col_max_upscale_sparse(
        restrict(sparse(a["matrix"], a["columns"]), a["columns"])
    ),
    "interpolate": lambda a: yuma.interpolate(dense(a["mat1"]), dense(a["mat2"]), a["ratio"]),
    "interpolate_sparse": lambda a: yuma.interpolate_sparse(
        restrict(sparse(a["mat1"], a["columns"]), a["columns"]),
        restrict(sparse(a["mat2"], a["columns"]), a["columns"]),
        a["ratio"],
    ),
    "mat_ema": lambda a: yuma.mat_ema(dense(a["new"]), dense(a["old"]), a["alpha"]),
    "mat_ema_sparse": lambda a: yuma.mat_ema_sparse(
        sparse(a["new"], len(a["new"])), sparse(a["old"], len(a["new"])), a["alpha"]
    ),
    "mat_ema_alpha": lambda a: yuma.mat_ema_alpha(
        dense(a["new"]), dense(a["old"]), dense(a["alpha"])
    ),
    "mat_ema_alpha_sparse": run_mat_ema_alpha_sparse,
    "alpha_sigmoid": lambda a: float(
        yuma.alpha_sigmoid(
            a["consensus"],
            a["weight"],
            a["bond"],
            a["alpha_low"],
            a["alpha_high"],
            a["steepness"],
        )
    ),
    "is_topk": lambda a: yuma.is_topk(a["vector"], a["k"]),
    "is_topk_nonzero": lambda a: yuma.is_topk_nonzero(a["vector"], a["k"]),
    "inplace_mask_vector": lambda a: masks.mask_vector(
        pad_mask(a["mask"], len(a["vector"])) if a["mask"] else np.zeros(len(a["vector"]), bool),
        a["vector"],
    ),
    "inplace_mask_rows": lambda a: masks.mask_rows(
        pad_mask(a["mask"], len(a["matrix"])), dense(a["matrix"])
    ),
    "mask_rows_sparse": lambda a: masks.mask_rows_sparse(
        pad_mask(a["mask"], len(a["matrix"])), sparse(a["matrix"])
    ),
    "inplace_mask_matrix": lambda a: masks.mask_matrix(
        np.array(a["mask"], dtype=bool).reshape(dense(a["matrix"]).shape), dense(a["matrix"])
    ),
    "inplace_mask_diag": lambda a: masks.mask_diag(dense(a["matrix"])),
    "inplace_mask_diag_except_index": lambda a: masks.mask_diag(
        dense(a["matrix"]), except_index=a["except_index"]
    ),
    "mask_diag_sparse": lambda a: masks.mask_diag_sparse(sparse(a["matrix"], len(a["matrix"]))),
    "mask_diag_sparse_except_index": lambda a: masks.mask_diag_sparse(
        sparse(a["matrix"], len(a["matrix"])), except_index=a["except_index"]
    ),
}


def shape_mismatch(case: dict[str, Any]) -> bool:
    """Cases that feed matrices of different shapes, where the chain silently falls back."""
    a = case["args"]
    mats = [a[k] for k in ("new", "old") if k in a and a[k] and isinstance(a[k][0], list)]
    if len(mats) < 2 or any(isinstance(r and r[0], list) for m in mats for r in m):
        return False
    return dense(mats[0]).shape != dense(mats[1]).shape


def collect() -> list[Any]:
    params = []
    for path in vector_files("math"):
        data = load_json(f"vectors/{path}")
        if data["function"] not in RUNNERS:
            continue
        for k, case in enumerate(data["cases"]):
            params.append(pytest.param(data["function"], case, id=f"{data['function']}-{k}"))
    return params


def assert_close(result: Any, expect: Any, tolerance: float) -> None:
    """``result`` equals ``expect``: sparse rows column for column, arrays shape for shape."""
    if sp.issparse(result):
        got = sparse_rows(result)
        want = [sorted((int(c), float(v)) for c, v in row) for row in expect]
        if len(got) != len(want):
            # A matrix with no rows may come back as one empty row, and vice versa: only
            # allowed when neither side holds an entry.
            assert not any(got) and not any(want), (got, want)
        for g, w in zip(got, want, strict=False):
            assert [c for c, _ in g] == [c for c, _ in w]
            assert_close(np.array([v for _, v in g]), [v for _, v in w], tolerance)
    else:
        got_arr = np.asarray(result)
        want_arr = np.asarray(expect)
        if got_arr.dtype == bool or want_arr.dtype == bool:
            assert got_arr.tolist() == want_arr.tolist()
        elif want_arr.size == 0:
            assert got_arr.size == 0, got_arr
        else:
            # A scalar may come back as a 0-d array, a dense matrix as nested lists; the
            # number of elements must agree whatever the nesting.
            assert got_arr.size == want_arr.size, (got_arr.shape, want_arr.shape)
            np.testing.assert_allclose(
                got_arr.reshape(want_arr.shape),
                want_arr.astype(np.float64),
                rtol=1e-6,
                atol=max(tolerance, ABS_FLOOR),
            )


@requires_shared
@pytest.mark.parametrize(("function", "case"), collect())
def test_math_vector(function: str, case: dict[str, Any]) -> None:
    if shape_mismatch(case):
        # The chain returns one of its inputs unchanged; the float core refuses bad shapes.
        with pytest.raises(ValueError, match="shape"):
            RUNNERS[function](case["args"])
    else:
        assert_close(RUNNERS[function](case["args"]), case["expect"], float(case["tolerance"]))


@requires_shared
def test_every_case_of_every_float_function_is_collected() -> None:
    """The parametrised test sees every case (per the vectors' index) of the functions the
    float core has, so an empty or truncated file fails instead of testing nothing."""
    index = load_json("vectors/index.json")["math"]
    wanted = sum(entry["cases"] for entry in index if entry["function"] in RUNNERS)
    assert wanted > 0
    assert len(collect()) == wanted
    assert sum(1 for p in collect() if shape_mismatch(p.values[1])) < wanted // 10


@requires_shared
def test_every_float_function_has_vectors() -> None:
    """Guard against a renamed vector file silently dropping a function from the check."""
    functions = {load_json(f"vectors/{p}")["function"] for p in vector_files("math")}
    assert set(RUNNERS) <= functions
