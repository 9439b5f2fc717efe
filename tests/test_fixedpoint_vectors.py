"""Every ``vectors/math/*.json`` case through ``yuma.chain.fixedpoint`` and ``yuma.chain.ops``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import load_json, requires_shared, vector_files

from yuma.chain import fixedpoint as fp
from yuma.chain import ops
from yuma.chain.ops import SparseRows

pytestmark = requires_shared


def _dense(x: Any) -> np.ndarray[Any, Any]:
    if len(x) == 0:
        return np.zeros((0, 0), dtype=np.int64)
    return np.array(x, dtype=np.int64).reshape(len(x), -1)


def _sp(x: Any) -> SparseRows:
    return SparseRows.from_rows(x)


def _ints(x: Any) -> Any:
    """numpy → nested Python ints/bools (for comparison with the JSON)."""
    if isinstance(x, SparseRows):
        return x.to_rows()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x


def _mask_fn(a: dict[str, Any]) -> SparseRows:
    return ops.vec_mask_sparse_matrix(_sp(a["matrix"]), a["first"], a["second"], a["f"])


def _to_num(a: dict[str, Any]) -> int:
    hi = fp.U16_MAX if a["target"] == "u16" else fp.U64_MAX
    return min(max(int(a["value"]) >> fp.FRAC, 0), hi)


def _mat_ema_alpha(a: dict[str, Any]) -> Any:
    new, old, alpha = a["new"], a["old"], a["alpha"]
    # the chain's shape checks: [[]] for empty input, ``old`` for a row-count mismatch and
    # ``new`` for a row-length mismatch
    if not new or not new[0]:
        return [[]]
    if len(new) != len(old) or len(new) != len(alpha):
        return old
    if any(len(n) != len(o) or len(n) != len(al) for n, o, al in zip(new, old, alpha, strict=True)):
        return new
    return ops.mat_ema_alpha(_dense(new), _dense(old), _dense(alpha))


def _mat_ema_alpha_sparse(a: dict[str, Any]) -> Any:
    alpha = a["alpha"]
    al = _dense(alpha) if alpha and alpha[0] else np.zeros((len(alpha), 0), dtype=np.int64)
    return ops.mat_ema_alpha_sparse(_sp(a["new"]), _sp(a["old"]), al)


def _dense_or_empty(f: Callable[..., Any]) -> Callable[..., Any]:
    """Dense helpers that return ``[[]]`` for an empty matrix on the chain."""

    def g(m: Any, *rest: Any) -> Any:
        if len(m) == 0 or len(m[0]) == 0:
            return [[]]
        return f(_dense(m), *rest)

    return g


ADAPTERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "alpha_sigmoid": lambda a: fp.alpha_sigmoid(
        a["consensus"], a["weight"], a["bond"], a["alpha_low"], a["alpha_high"], a["steepness"]
    ),
    "check_vec_max_limited": lambda a: ops.check_vec_max_limited(a["vector"], a["max_limit"]),
    "checked_sum": lambda a: fp.checked_sum(a["x"]),
    "col_clip_sparse": lambda a: ops.col_clip_sparse(_sp(a["matrix"]), a["threshold"]),
    "exp_safe": lambda a: fp.exp_safe(a["x"]),
    "fixed64_to_fixed32": lambda a: fp.fixed64_to_fixed32(a["x"]),
    "fixed64_to_u64": lambda a: fp.fixed64_to_u64(a["x"]),
    "fixed_proportion_to_u16": lambda a: fp.fixed_proportion_to_u16(a["x"]),
    "fixed_to_u16": lambda a: fp.fixed_to_u16(a["x"]),
    "fixed_to_u64": lambda a: fp.fixed_to_u64(a["x"]),
    "inplace_col_clip": lambda a: _dense_or_empty(ops.inplace_col_clip)(
        a["matrix"], a["threshold"]
    ),
    "inplace_col_max_upscale": lambda a: _dense_or_empty(ops.inplace_col_max_upscale)(a["matrix"]),
    "inplace_col_max_upscale_sparse": lambda a: ops.inplace_col_max_upscale_sparse(
        _sp(a["matrix"]), a["columns"]
    ),
    "inplace_col_normalize": lambda a: _dense_or_empty(ops.inplace_col_normalize)(a["matrix"]),
    "inplace_col_normalize_sparse": lambda a: ops.inplace_col_normalize_sparse(
        _sp(a["matrix"]), a["columns"]
    ),
    "inplace_mask_diag": lambda a: _dense_or_empty(ops.inplace_mask_diag)(a["matrix"]),
    "inplace_mask_diag_except_index": lambda a: _dense_or_empty(ops.inplace_mask_diag_except_index)(
        a["matrix"], a["except_index"]
    ),
    "inplace_mask_matrix": lambda a: _dense_or_empty(
        lambda m: ops.inplace_mask_matrix(a["mask"], m)
    )(a["matrix"]),
    "inplace_mask_rows": lambda a: _dense_or_empty(lambda m: ops.inplace_mask_rows(a["mask"], m))(
        a["matrix"]
    ),
    "inplace_mask_vector": lambda a: ops.inplace_mask_vector(a["mask"], a["vector"]),
    "inplace_normalize_64": lambda a: ops.inplace_normalize_64(a["x"]),
    "inplace_row_normalize": lambda a: _dense_or_empty(ops.inplace_row_normalize)(a["matrix"]),
    "inplace_row_normalize_sparse": lambda a: ops.inplace_row_normalize_sparse(_sp(a["matrix"])),
    "interpolate": lambda a: (
        a["mat1"]
        if a["ratio"] == 0
        else a["mat2"]
        if a["ratio"] == fp.ONE
        else _dense_or_empty(lambda m: ops.interpolate(m, _dense(a["mat2"]), a["ratio"]))(a["mat1"])
    ),
    "interpolate_sparse": lambda a: ops.interpolate_sparse(
        _sp(a["mat1"]), _sp(a["mat2"]), a["columns"], a["ratio"]
    ),
    "is_topk": lambda a: ops.is_topk(a["vector"], a["k"]),
    "is_topk_nonzero": lambda a: ops.is_topk_nonzero(a["vector"], a["k"]),
    "mask_diag_sparse": lambda a: ops.mask_diag_sparse(_sp(a["matrix"])),
    "mask_diag_sparse_except_index": lambda a: ops.mask_diag_sparse_except_index(
        _sp(a["matrix"]), a["except_index"]
    ),
    "mask_rows_sparse": lambda a: ops.mask_rows_sparse(a["mask"], _sp(a["matrix"])),
    "mat_ema": lambda a: _dense_or_empty(lambda m: ops.mat_ema(m, _dense(a["old"]), a["alpha"]))(
        a["new"]
    ),
    "mat_ema_alpha": _mat_ema_alpha,
    "mat_ema_alpha_sparse": _mat_ema_alpha_sparse,
    "mat_ema_sparse": lambda a: ops.mat_ema_sparse(_sp(a["new"]), _sp(a["old"]), a["alpha"]),
    "mat_vec_mul": lambda a: _dense_or_empty(lambda m: ops.mat_vec_mul(m, a["vector"]))(
        a["matrix"]
    ),
    "mat_vec_mul_sparse": lambda a: ops.mat_vec_mul_sparse(_sp(a["matrix"]), a["vector"]),
    "matmul": lambda a: (
        []
        if not a["matrix"] or not a["matrix"][0]
        else ops.matmul(_dense(a["matrix"]), a["vector"])
    ),
    "matmul_sparse": lambda a: ops.matmul_sparse(_sp(a["matrix"]), a["vector"], a["columns"]),
    "matmul_transpose": lambda a: (
        []
        if not a["matrix"] or not a["matrix"][0]
        else ops.matmul_transpose(_dense(a["matrix"]), a["vector"])
    ),
    "matmul_transpose_sparse": lambda a: ops.matmul_transpose_sparse(_sp(a["matrix"]), a["vector"]),
    "normalize": lambda a: ops.normalize(a["x"]),
    "one_minus_i64f64_ratio": lambda a: fp.one_minus_i64f64_ratio(a["a"], a["b"]),
    "row_hadamard": lambda a: _dense_or_empty(lambda m: ops.row_hadamard(m, a["vector"]))(
        a["matrix"]
    ),
    "row_hadamard_sparse": lambda a: ops.row_hadamard_sparse(_sp(a["matrix"]), a["vector"]),
    "row_sum": lambda a: (
        [] if not a["matrix"] or not a["matrix"][0] else ops.row_sum(_dense(a["matrix"]))
    ),
    "row_sum_sparse": lambda a: ops.row_sum_sparse(_sp(a["matrix"])),
    "sigmoid_safe": lambda a: fp.sigmoid_safe(a["x"], a["rho"], a["kappa"]),
    "split_emissions": lambda a: ops.split_emissions(
        a["emission"], a["mechanism_count"], a["split"]
    ),
    "sum": lambda a: int(fp.i32(a["x"]).sum()),
    "to_num": _to_num,
    "u16_proportion_to_fixed": lambda a: fp.u16_proportion_to_fixed(a["x"]),
    "u16_to_fixed": lambda a: fp.u16_to_fixed(a["x"]),
    "u64_normalization": lambda a: dict(
        zip(("i64f64", "i32f32"), fp.u64_normalization(a["x"], a["total"]), strict=True)
    ),
    "vec_fixed64_to_fixed32": lambda a: [fp.fixed64_to_fixed32(v) for v in a["x"]],
    "vec_mask_sparse_matrix": _mask_fn,
    "vec_max_upscale_to_u16": lambda a: ops.vec_max_upscale_to_u16(a["vector"]),
    "vec_mul": lambda a: ops.vec_mul(a["a"], a["b"]),
    "vec_u16_max_upscale_to_u16": lambda a: ops.vec_u16_max_upscale_to_u16(a["vector"]),
    "vecdiv": lambda a: ops.vecdiv(a["x"], a["y"]),
    "weighted_median": lambda a: ops.weighted_median(
        a["stake"],
        a["score"],
        a["partition_idx"],
        a["minority"],
        a["partition_lo"],
        a["partition_hi"],
    ),
    "weighted_median_col": lambda a: (
        np.zeros(0, dtype=np.int64)
        if not a["weights"] or not a["weights"][0]
        else ops.weighted_median_col(a["stake"], _dense(a["weights"]), a["majority"])
    ),
    "weighted_median_col_sparse": lambda a: ops.weighted_median_col_sparse(
        a["stake"], _sp(a["weights"]), a["columns"], a["majority"]
    ),
}


def _close(got: Any, want: Any, tol: int) -> bool:
    """Element-wise ``|got − want| ≤ tol`` over nested lists."""
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(_close(g, w, tol) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, dict):
        # Same keys, so that an empty or partial ``want`` cannot pass by comparing nothing.
        return (
            isinstance(got, dict)
            and set(got) == set(want)
            and all(_close(got[k], want[k], tol) for k in want)
        )
    if isinstance(want, bool) or want is None:
        return got == want
    return abs(int(got) - int(want)) <= tol


def _cases() -> list[Any]:
    out = []
    for rel in vector_files("math"):
        doc = load_json(f"vectors/{rel}")
        for k, case in enumerate(doc["cases"]):
            out.append(pytest.param(doc, case, id=f"{doc['function']}[{k}]"))
    return out


def _is_sparse_pairs(types: dict[str, Any]) -> bool:
    return str(types.get("expect", "")).startswith("sparse")


@pytest.mark.parametrize(("doc", "case"), _cases())
def test_math_vector(doc: dict[str, Any], case: dict[str, Any]) -> None:
    fn = doc["function"]
    assert fn in ADAPTERS, f"no adapter for {fn}"
    args = case.get("args_raw", case["args"])
    got = _ints(ADAPTERS[fn](args))
    want = case.get("expect_raw", case["expect"])
    tol = case["tolerance"]
    types = doc["types"]
    scale = 64 if "I64F64" in str(types.get("expect")) else 32
    tol_raw = round(tol * (1 << scale))
    if tol == 0:
        assert got == want
    elif _is_sparse_pairs(types):
        # columns must match exactly; values within tolerance
        assert [[e[0] for e in r] for r in got] == [[e[0] for e in r] for r in want]
        assert _close([[e[1] for e in r] for r in got], [[e[1] for e in r] for r in want], tol_raw)
    else:
        assert _close(got, want, tol_raw), (got, want)


def test_every_vector_case_is_collected() -> None:
    """The parametrised test above sees every case the vectors' index lists, and every
    function has an adapter: a renamed file or function cannot silently drop cases."""
    index = load_json("vectors/index.json")["math"]
    assert len(index) > 0
    assert len(_cases()) == sum(entry["cases"] for entry in index)
    assert {entry["function"] for entry in index} <= set(ADAPTERS)
