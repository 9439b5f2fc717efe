"""Every backend equals the numpy reference to 1e-9, on every branch, dense and sparse."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import SHARED, requires_shared
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_backend_support import (
    Case,
    assert_results_close,
    case_strategy,
    knife_edge,
    requires_jax,
)

import yuma
from yuma.backends import available_backends, resolve_backend
from yuma.params import YumaParams

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run(case: Case, backend: str) -> Any:
    return yuma.epoch(
        case.weights, case.stake, case.bonds, case.params, backend=backend, **case.kwargs
    )


def _check(case: Case, backend: str) -> None:
    ref = _run(case, "numpy")
    assume(not knife_edge(ref, case.params.kappa))
    assert_results_close(ref, _run(case, backend))


@SETTINGS
@given(case_strategy(sparse=False))
def test_numba_dense_equals_reference(case: Case) -> None:
    _check(case, "numba")


@SETTINGS
@given(case_strategy(sparse=True))
def test_numba_sparse_equals_reference(case: Case) -> None:
    _check(case, "numba")


@requires_jax
@settings(SETTINGS, max_examples=40)
# Fixed shapes: the pipeline's jit compiles once per shape (and per static flag set).
@given(case_strategy(sparse=False, shapes=((1, 1), (4, 4), (3, 5), (6, 6))))
def test_jax_dense_equals_reference(case: Case) -> None:
    _check(case, "jax")


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("yuma3", [True, False])
def test_numba_parallel_path_equals_reference(
    sparse: bool, yuma3: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parallel drivers (row chunks, many column buckets), forced on a small case."""
    from yuma.backends import numba_dense, numba_sparse

    monkeypatch.setattr(numba_dense, "PARALLEL_MIN_CELLS", 0)
    monkeypatch.setattr(numba_sparse, "PARALLEL_MIN_ENTRIES", 0)
    monkeypatch.setattr(numba_sparse, "BUCKET_ENTRIES", 64)
    rng = np.random.default_rng(7)
    n = 160
    w = rng.integers(0, 65536, (n, n)) * (rng.random((n, n)) < 0.3)
    stake = rng.random(n) * (rng.random(n) < 0.9)
    bonds = rng.random((n, n)) * (rng.random((n, n)) < 0.3)
    params = YumaParams(
        yuma3=yuma3, liquid_alpha=True, bonds_penalty=0.4, max_allowed_validators=100
    )
    kwargs: dict[str, Any] = {
        "validator_permit": rng.random(n) < 0.8,
        "active": rng.random(n) < 0.9,
        "outdated": rng.random((n, n)) < 0.05,
        "recently_registered": rng.random(n) < 0.05,
        "owner_uid": 3,
    }
    # CSC input and 64-bit indices take the same path (validation converts to canonical CSR).
    weights: Any = sp.csc_array(w) if sparse else w
    bonds_in: Any = sp.csr_array(bonds) if sparse else bonds
    if sparse:
        bonds_in.indices = bonds_in.indices.astype(np.int64)
        bonds_in.indptr = bonds_in.indptr.astype(np.int64)
    ref = yuma.epoch(weights, stake, bonds_in, params, backend="numpy", **kwargs)
    got = yuma.epoch(weights, stake, bonds_in, params, backend="numba", **kwargs)
    assert not knife_edge(ref, params.kappa)
    assert_results_close(ref, got)


@SETTINGS
@given(case_strategy(sparse=True, max_n=12), st.booleans())
def test_numba_sparse_yuma3_clips_as_the_clip_kernels(case: Case, parallel: bool) -> None:
    """Yuma3 clips the weights inside its EMA passes: bit for bit the clip kernels' output (the
    original Yuma's path), row chunks included."""
    from yuma.backends import numba_sparse as ns

    params = replace(case.params, yuma3=True)
    with pytest.MonkeyPatch.context() as mp:
        if parallel:
            mp.setattr(ns, "PARALLEL_MIN_ENTRIES", 0)
            mp.setattr(ns, "BUCKET_ENTRIES", 64)
        got = yuma.epoch(
            case.weights, case.stake, case.bonds, params, backend="numba", **case.kwargs
        )
    w = sp.csr_array(got.weights)
    n_rows, n_cols = w.shape
    chunks = max(1, min(numba.get_num_threads(), n_rows)) if parallel else 1
    c_indptr = np.zeros(n_rows + 1, dtype=w.indptr.dtype)
    counts = np.zeros(n_rows, dtype=np.int64)
    vtrust = np.zeros(n_rows)
    ranks_part = np.zeros((chunks, n_cols))
    args = (w.data, w.indices, w.indptr, got.consensus, got.active_stake, params.bonds_penalty)
    none = np.zeros((chunks, 0))
    ns._clip_par(*args, False, counts, np.empty(0), w.indices[:0], c_indptr, vtrust,
                 ranks_part, none, chunks)  # fmt: skip
    np.cumsum(counts, out=c_indptr[1:])
    c_data = np.empty(int(c_indptr[-1]))
    c_indices = np.empty(int(c_indptr[-1]), dtype=w.indices.dtype)
    ns._clip_par(*args, True, counts, c_data, c_indices, c_indptr, vtrust, ranks_part, none,
                 chunks)  # fmt: skip
    clipped = sp.csr_array(got.clipped_weights)
    np.testing.assert_array_equal(clipped.indptr, c_indptr)
    np.testing.assert_array_equal(clipped.indices, c_indices)
    assert clipped.data.tobytes() == c_data.tobytes()
    assert np.asarray(got.validator_trust).tobytes() == vtrust.tobytes()
    assert np.asarray(got.ranks).tobytes() == ranks_part.sum(axis=0).tobytes()


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("liquid", [False, True])
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_numba_sparse_yuma3_rows_without_dividends(
    beta: float, liquid: bool, parallel: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Yuma3 writes a row's clipped weights in its dividend pass, which skips rows with neither
    active stake nor a new permit: such a row, holding weights from its old permit, keeps its
    clipped weights. With a consensus of 0 that removes entries, rows without a permit and a
    recently registered column."""
    from yuma.backends import numba_sparse as ns

    if parallel:
        monkeypatch.setattr(ns, "PARALLEL_MIN_ENTRIES", 0)
        monkeypatch.setattr(ns, "BUCKET_ENTRIES", 4)
    # Row 3 had a permit and set weights, but its stake is gone; row 4 never had a permit.
    w = np.array(
        [
            [0.0, 5.0, 3.0, 0.0, 7.0, 1.0],
            [0.0, 4.0, 0.0, 2.0, 6.0, 0.0],
            [0.0, 6.0, 5.0, 0.0, 5.0, 0.0],
            [0.0, 9.0, 1.0, 8.0, 2.0, 3.0],
            [0.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ]
    )
    bonds = np.array(
        [
            [0.0, 0.2, 0.0, 0.1, 0.3, 0.0],
            [0.0, 0.1, 0.4, 0.0, 0.0, 0.2],
            [0.0, 0.0, 0.3, 0.2, 0.1, 0.0],
            [0.0, 0.5, 0.0, 0.0, 0.2, 0.1],
            [0.0, 0.3, 0.3, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ]
    )
    stake = np.array([10.0, 6.0, 5.0, 0.0, 1.0, 0.0])
    params = YumaParams(
        yuma3=True, liquid_alpha=liquid, bonds_penalty=beta, max_allowed_validators=3
    )
    kwargs: dict[str, Any] = {
        "validator_permit": np.array([True, True, True, True, False, False]),
        "recently_registered": np.array([False, False, False, False, False, True]),
        "layout": "bipartite",
    }
    weights = sp.csr_array(w)
    ref = yuma.epoch(weights, stake, sp.csr_array(bonds), params, backend="numpy", **kwargs)
    got = yuma.epoch(weights, stake, sp.csr_array(bonds), params, backend="numba", **kwargs)
    assert not knife_edge(ref, params.kappa)
    assert_results_close(ref, got)
    clipped = sp.csr_array(got.clipped_weights)
    assert ref.active_stake[3] == 0 and not ref.validator_permit[3]
    assert clipped.indptr[4] > clipped.indptr[3]
    assert got.dividends[3] == 0
    # Columns 3 and 5 (only the minority votes for them) have a consensus of 0.
    assert got.consensus[3] == 0 and got.consensus[5] == 0


@pytest.mark.parametrize("backend", ["numba", pytest.param("jax", marks=requires_jax)])
@pytest.mark.parametrize("sparse", [False, True])
def test_emergency_mode(backend: str, sparse: bool) -> None:
    """No usable weights: servers get nothing, validators follow the (active) stake."""
    if backend == "jax" and sparse:
        pytest.skip("jax runs the dense epoch only")
    n = 5
    stake = np.array([1.0, 2.0, 0.0, 3.0, 4.0])
    for w in (np.zeros((n, n)), np.diag(np.arange(1.0, n + 1))):
        weights: Any = sp.csr_array(w) if sparse else w
        for active in (None, np.zeros(n, dtype=bool)):
            ref = yuma.epoch(weights, stake, active=active, backend="numpy")
            got = yuma.epoch(weights, stake, active=active, backend=backend)
            assert_results_close(ref, got)
            assert got.server_emission.sum() == 0


def _sn15(sparse: bool) -> tuple[Any, Any]:
    assert SHARED is not None
    data = np.load(SHARED / "data" / "sn15_block4769998_metagraph.npz")
    w = np.asarray(data["W"], dtype=np.float64)
    return (sp.csr_array(w) if sparse else w), np.asarray(data["S"], dtype=np.float64)


@requires_shared
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("yuma3", [True, False])
def test_real_subnet_two_epochs(sparse: bool, yuma3: bool) -> None:
    """SN15's metagraph, two epochs chained through the bonds, liquid alpha on."""
    w, stake = _sn15(sparse)
    params = YumaParams(yuma3=yuma3, liquid_alpha=True, max_allowed_validators=64)
    backends = ["numba"] + (["jax"] if "jax" in available_backends() and not sparse else [])
    for backend in backends:
        ref = yuma.epoch(w, stake, None, params, backend="numpy")
        got = yuma.epoch(w, stake, None, params, backend=backend)
        assert_results_close(ref, got)
        ref2 = yuma.epoch(w, stake, ref.bonds, params, backend="numpy")
        got2 = yuma.epoch(w, stake, got.bonds, params, backend=backend)
        assert_results_close(ref2, got2)


def test_inputs_are_not_mutated() -> None:
    rng = np.random.default_rng(3)
    w = rng.random((6, 6))
    stake = rng.random(6)
    bonds = rng.random((6, 6))
    copies = (w.copy(), stake.copy(), bonds.copy())
    for backend in available_backends():
        yuma.epoch(w, stake, bonds, backend=backend)
        ws = sp.csr_array(w)
        before = ws.data.copy()
        if backend != "jax":
            yuma.epoch(ws, stake, sp.csr_array(bonds), backend=backend)
        np.testing.assert_array_equal(ws.data, before)
    for original, kept in zip((w, stake, bonds), copies, strict=True):
        np.testing.assert_array_equal(original, kept)


def test_backend_selection() -> None:
    assert "numpy" in available_backends()
    assert "numba" in available_backends()
    assert resolve_backend(None) == "numba"
    with pytest.raises(ValueError, match="torch"):
        yuma.epoch(np.ones((2, 2)), np.ones(2), backend="torch")
    with pytest.raises(ValueError, match="backend"):
        resolve_backend(3)  # type: ignore[arg-type]


@requires_jax
def test_jax_rejects_sparse_input() -> None:
    with pytest.raises(ValueError, match="dense"):
        yuma.epoch(sp.csr_array(np.ones((2, 2))), np.ones(2), backend="jax")


def test_default_backend_matches_reference() -> None:
    rng = np.random.default_rng(11)
    w = rng.random((9, 9))
    stake = rng.random(9)
    assert_results_close(yuma.epoch(w, stake, backend="numpy"), yuma.epoch(w, stake))


def test_numba_and_jax_load_only_when_an_epoch_needs_them() -> None:
    """``import yuma`` and a numpy epoch load neither numba nor JAX (seconds of import); the
    first compiled epoch loads numba, through the cached accessor of ``run_epoch``."""
    import subprocess
    import sys

    script = (
        "import sys, numpy as np, yuma\n"
        "seen = ['numba' in sys.modules, 'jax' in sys.modules]\n"
        "yuma.epoch(np.ones((3, 3)), np.ones(3), backend='numpy')\n"
        "seen += ['numba' in sys.modules, 'jax' in sys.modules]\n"
        "yuma.epoch(np.ones((3, 3)), np.ones(3), backend='numba')\n"
        "seen += ['numba' in sys.modules]\n"
        "print(seen)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[False, False, False, False, True]"


@pytest.mark.parametrize("bad", [["numba"], 3, "cuda", {"numba": 1}])
@pytest.mark.parametrize("n", [8, 300])  # under and over the deferred-check size
def test_a_bad_backend_name_is_a_clear_error(bad: Any, n: int) -> None:
    """Any backend that is not one of the names, unhashable ones included (the choice is
    cached by backend), is refused with the names listed."""
    import yuma

    with pytest.raises(ValueError, match="backend must be one of"):
        yuma.epoch(np.ones((n, n)), np.ones(n), backend=bad)


def test_compiled_result_is_the_dataclass_itself() -> None:
    """``EpochResult._of`` (the numba path's result, built without the frozen ``__init__``)
    is the object ``EpochResult(*values)`` would be: same fields, same arrays, frozen, equal
    ``as_dict``; a wrong number of values is refused."""
    from dataclasses import FrozenInstanceError, fields

    from yuma.result import EpochResult

    names = [f.name for f in fields(EpochResult)]
    values = [np.full(3, float(k)) for k in range(len(names))]
    fast, slow = EpochResult._of(*values), EpochResult(*values)
    assert type(fast) is EpochResult
    assert vars(fast).keys() == vars(slow).keys() == set(names)
    for name, value in zip(names, values, strict=True):
        assert getattr(fast, name) is getattr(slow, name) is value
    assert list(fast.as_dict()) == names
    with pytest.raises(FrozenInstanceError):
        fast.stake = values[1]  # type: ignore[misc]
    with pytest.raises(TypeError, match="14 fields, got 13"):
        EpochResult._of(*values[:-1])
    # and the numba epoch returns one
    w = np.random.default_rng(0).random((6, 6))
    got = yuma.epoch(w, np.ones(6), backend="numba")
    ref = yuma.epoch(w, np.ones(6), backend="numpy")
    assert type(got) is EpochResult and vars(got).keys() == vars(ref).keys()
