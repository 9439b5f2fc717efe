"""``yuma.epoch(..., out=result)``: an earlier result's arrays take the epoch's outputs.

Every backend gives, in ``out``'s own arrays, exactly what it returns without ``out``; a
result that cannot take the outputs (wrong shape, dtype or layout, read-only, sparse, or
sharing memory with an input or another field) is refused, naming the field.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_backend_support import Case, case_strategy, requires_jax

import yuma
from yuma.backends import numba_dense as nd
from yuma.params import YumaParams
from yuma.result import _FIELDS, EpochResult, result_fields

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _dirty(rows: int, cols: int, square: bool, seed: int = 0) -> EpochResult:
    """A result of the right shapes whose every float is NaN and whose permits are random:
    a cell the epoch does not write shows."""
    r, c, m = (rows,), (cols,), (rows, cols)
    combined = (cols,) if square else (rows + cols,)
    shapes = (r, r, m, c, m, r, c, c, m, r, r, c, r, combined)
    rng = np.random.default_rng(seed)
    values = [
        rng.random(shape) < 0.5 if name == "validator_permit" else np.full(shape, np.nan)
        for name, shape in zip(_FIELDS, shapes, strict=True)
    ]
    return EpochResult(*values)


def _run(case: Case, backend: str, out: EpochResult | None = None) -> EpochResult:
    return yuma.epoch(
        case.weights, case.stake, case.bonds, case.params, backend=backend, out=out, **case.kwargs
    )


def _assert_written(case: Case, backend: str) -> None:
    rows, cols = case.weights.shape
    out = _dirty(rows, cols, case.kwargs["layout"] == "uid")
    arrays = result_fields(out)
    got = _run(case, backend, out)
    assert got is out
    expected = _run(case, backend)
    for name, array, before in zip(_FIELDS, result_fields(got), arrays, strict=True):
        assert array is before, name  # written in place, not replaced
        want = np.asarray(getattr(expected, name))
        assert array.dtype == want.dtype, name
        # bit for bit: the same kernel (numba) or a copy of the same result
        assert np.array_equal(array, want, equal_nan=False), name


@SETTINGS
@given(case_strategy(sparse=False))
def test_numba_writes_every_output_into_out(case: Case) -> None:
    _assert_written(case, "numba")


@settings(SETTINGS, max_examples=30)
@given(case_strategy(sparse=False))
def test_numpy_copies_its_result_into_out(case: Case) -> None:
    _assert_written(case, "numpy")


@requires_jax
@settings(SETTINGS, max_examples=10)
@given(case_strategy(sparse=False, shapes=((4, 4), (3, 5))))
def test_jax_copies_its_result_into_out(case: Case) -> None:
    _assert_written(case, "jax")


@pytest.mark.parametrize("yuma3", [True, False])
def test_a_loop_alternating_two_results_equals_fresh_epochs(yuma3: bool) -> None:
    rng = np.random.default_rng(5)
    n = 24
    params = YumaParams(yuma3=yuma3, max_allowed_validators=16)
    weights = [rng.random((n, n)) * (rng.random((n, n)) < 0.6) for _ in range(6)]
    stake = rng.lognormal(0.0, 1.0, n)
    fresh = [yuma.epoch(weights[0], stake, None, params)]
    for w in weights[1:]:
        fresh.append(yuma.epoch(w, stake, fresh[-1].bonds, params))
    a = yuma.epoch(weights[0], stake, None, params)
    b = _dirty(n, n, True)
    for w in weights[1:]:
        a, b = yuma.epoch(w, stake, a.bonds, params, out=b), a
    last = fresh[-1]
    for name in _FIELDS:
        assert np.array_equal(getattr(a, name), getattr(last, name)), name


def test_out_accepts_views_of_one_buffer_that_do_not_overlap() -> None:
    n = 5
    rng = np.random.default_rng(1)
    w, s = rng.random((n, n)), rng.random(n) + 0.1
    expected = yuma.epoch(w, s)
    block = np.full((9, n), np.nan)  # the nine float (n,) fields as rows of one array
    mats = np.full((3, n, n), np.nan)
    vec = iter(block)
    mat = iter(mats)
    values = [
        np.zeros(n, dtype=bool) if name == "validator_permit"
        else next(mat) if name in ("weights", "clipped_weights", "bonds")
        else next(vec) if name != "combined_emission"
        else np.empty(n)
        for name in _FIELDS
    ]  # fmt: skip
    out = yuma.epoch(w, s, out=EpochResult(*values))
    for name in _FIELDS:
        assert np.array_equal(getattr(out, name), getattr(expected, name)), name
    assert np.shares_memory(out.stake, block)


def _case(n: int = 6) -> tuple[Any, Any, YumaParams, EpochResult, EpochResult]:
    rng = np.random.default_rng(2)
    w, s = rng.random((n, n)), rng.random(n) + 0.1
    params = YumaParams(max_allowed_validators=n)
    a = yuma.epoch(w, s, None, params)
    return w, s, params, a, yuma.epoch(w, s, a.bonds, params)


def _readonly(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    y = x.copy()
    y.flags.writeable = False
    return y


@pytest.mark.parametrize(
    ("field", "make", "message"),
    [
        ("bonds", lambda a: sp.csr_array(a), "out.bonds must be a numpy array"),
        pytest.param(
            "stake",
            lambda a: list(a),
            "out.stake must be a numpy array",
            # numba types the list (as a reflected list, which it warns about) and refuses it
            marks=pytest.mark.filterwarnings("ignore::numba.NumbaPendingDeprecationWarning"),
        ),
        ("stake", lambda a: a.astype(np.float32), "out.stake has shape .* dtype float32"),
        ("consensus", lambda a: np.empty(a.shape[0] + 1), r"out.consensus has shape \(7,\)"),
        ("validator_permit", lambda a: a.astype(float), "out.validator_permit .* dtype bool"),
        ("weights", lambda a: np.empty((6, 12))[:, ::2], "out.weights must be a C-contiguous"),
        ("dividends", _readonly, "out.dividends must be a C-contiguous, aligned, writeable"),
    ],
)
def test_a_field_that_cannot_take_its_output_is_named(field: str, make: Any, message: str) -> None:
    w, s, params, a, b = _case()
    bad = replace(a, **{field: make(getattr(a, field))})
    before = {name: np.array(getattr(b, name), copy=True) for name in _FIELDS}
    with pytest.raises(ValueError, match=message):
        yuma.epoch(w, s, b.bonds, params, out=bad)
    for name in _FIELDS:  # the inputs' result is untouched by a refused call
        assert np.array_equal(getattr(b, name), before[name])


def test_out_sharing_memory_with_an_input_is_refused() -> None:
    w, s, params, a, b = _case()
    with pytest.raises(ValueError, match=r"out\.bonds shares memory with the input bonds"):
        yuma.epoch(w, s, b.bonds, params, out=b)
    with pytest.raises(ValueError, match=r"out\.stake shares memory with the input stake"):
        yuma.epoch(w, b.stake, b.bonds, params, out=b)
    with pytest.raises(ValueError, match=r"out\.weights shares memory with the input weights"):
        yuma.epoch(a.weights, s, b.bonds, params, out=a)
    # Masks are copied as they are checked, so out's permits may be this epoch's input.
    expected = yuma.epoch(w, s, b.bonds, params, validator_permit=a.validator_permit.copy())
    got = yuma.epoch(w, s, b.bonds, params, validator_permit=a.validator_permit, out=a)
    for name in _FIELDS:
        assert np.array_equal(getattr(got, name), getattr(expected, name)), name
    yuma.epoch(w, s, b.bonds, params, out=a)  # the result before last: accepted


def test_fields_sharing_memory_are_refused() -> None:
    w, s, params, a, b = _case()
    with pytest.raises(ValueError, match=r"out\.weights and out\.clipped_weights share memory"):
        yuma.epoch(w, s, b.bonds, params, out=replace(a, clipped_weights=a.weights))
    half = np.empty(9)  # overlapping spans: [0, 6) and [3, 9)
    with pytest.raises(ValueError, match=r"out\.stake and out\.active_stake share memory"):
        yuma.epoch(w, s, b.bonds, params, out=replace(a, stake=half[:6], active_stake=half[3:]))


def test_out_is_for_dense_epochs_and_results() -> None:
    w, s, params, a, _ = _case()
    with pytest.raises(ValueError, match="sparse input returns new CSR matrices"):
        yuma.epoch(sp.csr_array(w), s, None, params, out=a)
    with pytest.raises(ValueError, match="out must be an EpochResult"):
        yuma.epoch(w, s, None, params, out=a.as_dict())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"out.weights has shape \(6, 6\)"):
        yuma.epoch(w[:, :5], s, None, params, out=a)  # another shape
    with pytest.raises(ValueError, match=r"out.combined_emission has shape \(6,\)"):
        yuma.epoch(w, s, None, params, layout="bipartite", out=a)  # another layout


def test_a_refused_epoch_raises_the_same_with_out() -> None:
    w, s, params, a, b = _case()
    bad = w.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="weights must be finite"):
        yuma.epoch(bad, s, b.bonds, params)
    with pytest.raises(ValueError, match="weights must be finite"):
        yuma.epoch(bad, s, b.bonds, params, out=a)


@settings(max_examples=200, deadline=None)
@given(
    st.tuples(st.integers(0, 40), st.integers(0, 12)),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 12), st.sampled_from([1, 2, -1])),
             min_size=1, max_size=5),
)  # fmt: skip
def test_out_status_finds_overlap_as_may_share_memory(
    field: tuple[int, int], others: list[tuple[int, int, int]]
) -> None:
    # views of one buffer: a contiguous output field, and inputs forward, strided, backward,
    # of any length (empty ones included); spans are compared, as np.may_share_memory does
    buffer = np.empty(64)
    out = buffer[field[0] : field[0] + field[1]]
    ins = tuple(
        buffer[start : start + length][::-1] if step < 0
        else buffer[start : start + step * length : step]
        for start, length, step in others
    )  # fmt: skip
    overlap = [bool(np.may_share_memory(out, v)) for v in ins]
    code, i, j = _status((out,), ins)
    if any(overlap):
        assert (code, i, j) == (2, 0, 1 + overlap.index(True))
    else:
        assert (code, i, j) == (0, -1, -1)


def _status(outs: tuple[Any, ...], ins: tuple[Any, ...]) -> tuple[int, int, int]:
    # out_status with one float64 (R,) field: the first field of a result is ``stake``
    n = outs[0].shape[0]
    return nd.out_status(outs, ins, n, n, n)


def test_result_of_and_outputs_of_map_the_fields_in_order() -> None:
    _, _, _, a, _ = _case()
    o = nd.outputs_of(a)
    assert o.status.shape == (2,) and o.status.dtype == np.int8
    named = dict(zip(nd.DenseOut._fields, o, strict=True))
    renamed = {"w": "weights", "clipped": "clipped_weights", "vtrust": "validator_trust",
               "permit": "validator_permit", "server": "server_emission",
               "validator": "validator_emission", "combined": "combined_emission"}  # fmt: skip
    for field, value in named.items():
        if field != "status":
            assert value is getattr(a, renamed.get(field, field)), field
    back = nd.result_of(o)
    for name in _FIELDS:
        assert getattr(back, name) is getattr(a, name), name


def test_the_parallel_epoch_writes_into_out() -> None:
    n = int(np.sqrt(nd.PARALLEL_MIN_CELLS))  # the smallest square epoch on every thread
    rng = np.random.default_rng(3)
    w = rng.random((n, n)) * (rng.random((n, n)) < 0.3)
    s = rng.lognormal(0.0, 1.0, n)
    params = YumaParams(max_allowed_validators=n)
    bonds = yuma.epoch(w, s, None, params).bonds
    expected = yuma.epoch(w, s, bonds, params)
    out = _dirty(n, n, True)
    got = yuma.epoch(w, s, bonds, params, out=out)
    assert got is out
    for name in _FIELDS:
        assert np.array_equal(getattr(got, name), getattr(expected, name)), name


@pytest.mark.parametrize(("rows", "cols", "square"), [(5, 5, True), (3, 7, False), (1, 1, True)])
def test_one_table_of_output_shapes(rows: int, cols: int, square: bool) -> None:
    # allocate (the fresh outputs), check_out's explanation and out_status read one table
    from yuma.result import _field_shapes

    shapes = _field_shapes(rows, cols, square)
    fresh = nd.allocate(rows, cols, square)
    assert [a.shape for a in fresh[:-1]] == list(shapes)
    assert [a.dtype == np.bool_ for a in fresh[:-1]] == [n == "validator_permit" for n in _FIELDS]
    combined = cols if square else rows + cols
    assert _status_of(fresh[:-1], rows, cols, combined) == (0, -1, -1)
    for k in range(len(_FIELDS)):  # one field of another shape: that field is named
        wrong = list(fresh[:-1])
        wrong[k] = np.empty((*shapes[k][:-1], shapes[k][-1] + 1), dtype=wrong[k].dtype)
        assert _status_of(tuple(wrong), rows, cols, combined) == (1, k, -1)


def _status_of(outs: tuple[Any, ...], rows: int, cols: int, combined: int) -> tuple[int, ...]:
    # an empty input (overlaps nothing): out_status always has inputs, never an empty tuple
    no_input = (np.empty(0),)
    return tuple(int(x) for x in nd.out_status(outs, no_input, rows, cols, combined))
