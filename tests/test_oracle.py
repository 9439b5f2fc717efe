"""Every backend against the naive oracle (``tests/oracle.py``), and the oracle against the chain.

The oracle is a plain-loop float epoch written from the specification, independent of the
library. Here ``yuma.epoch`` on every backend (dense: numpy, numba, jax; scipy CSR: numpy,
numba) must equal it to 1e-9 in every ``EpochResult`` field, with the same stored entries on the
sparse path; and the oracle must reproduce the chain's known-answer vectors
(``shared/vectors/epochs``) to within one u16 unit, as float64 code can.

Shapes are drawn from a few fixed ones so that JAX compiles each shape once per flag set.
"""

from __future__ import annotations

import functools
from dataclasses import fields
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import load_json, requires_shared, vector_files
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from oracle import oracle_epoch, to_dense
from test_backend_support import HAS_JAX, knife_edge

import yuma
from yuma.params import U16_MAX, YumaParams
from yuma.result import EpochResult

ATOL = 1e-9

#: (rows, cols): a single uid, small squares, and one validators x miners shape.
SHAPES = [(1, 1), (3, 3), (5, 4), (8, 8)]
DENSE_BACKENDS = ["numpy", "numba"] + (["jax"] if HAS_JAX else [])
SPARSE_BACKENDS = ["numpy", "numba"]
#: Matrices whose stored entries (sparse path) must match the oracle's present entries.
MATRIX_FIELDS = ("weights", "clipped_weights", "bonds")

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def params_st(draw: st.DrawFn, rows: int) -> YumaParams:
    """Both bond branches, liquid alpha on/off, β = 0 / 1 / fractional, κ values, few permits.

    Steepness ±8000…10000 drives the sigmoid's exponent past ±20, where the chain's
    ``exp_safe`` clamps.
    """
    low = draw(st.integers(0, U16_MAX))
    high = draw(st.integers(low, U16_MAX))
    return YumaParams.from_chain(
        kappa=draw(st.sampled_from([32767, 32767, 1, 65534, 20000, 45000])),
        bonds_moving_average=draw(st.sampled_from([900_000, 0, 1_000_000, 975_000, 500_000])),
        bonds_penalty=draw(st.sampled_from([0, 65535, 16384, 49151, 1])),
        yuma3_enabled=draw(st.booleans()),
        liquid_alpha_enabled=draw(st.booleans()),
        alpha_low=low,
        alpha_high=high,
        alpha_sigmoid_steepness=draw(st.sampled_from([1000, 10, -500, 3000, 0, 10000, -8000])),
        max_allowed_validators=draw(st.integers(0, rows + 1)),
    )


def _cells(draw: st.DrawFn, rows: int, cols: int, values: Any) -> np.ndarray[Any, Any]:
    flat = draw(st.lists(values, min_size=rows * cols, max_size=rows * cols))
    return np.array(flat).reshape(rows, cols)


@st.composite
def case_st(draw: st.DrawFn, sparse: bool) -> dict[str, Any]:
    """One epoch: a fixed shape, u16 weights with many zeros, masks, owner, params."""
    rows, cols = draw(st.sampled_from(SHAPES))
    square = rows == cols and draw(st.integers(0, 3)) > 0
    # Mostly dense enough for consensus to form; empty matrices test emergency mode.
    density = draw(st.sampled_from([0.0, 0.3, 0.7, 0.9, 1.0, 1.0]))
    w = _cells(draw, rows, cols, st.integers(0, U16_MAX)).astype(np.float64)
    w = np.where(_cells(draw, rows, cols, st.floats(0, 1)) < density, w, 0.0)
    if draw(st.integers(0, 9)) == 0 and square:
        w = np.diag(np.diag(w))  # only self-weights: emergency mode
    stake = np.array(
        draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0, 10.0, 1000.0, 0.5]), min_size=rows,
                      max_size=rows))
    )  # fmt: skip
    bonds = None
    if draw(st.booleans()):
        bonds = _cells(draw, rows, cols, st.sampled_from([0.0, 0.0, 1.0, 0.5, 1 / 3, 0.01, 0.999]))
    kw: dict[str, Any] = {}
    bools = st.lists(st.booleans(), min_size=rows, max_size=rows)
    if draw(st.integers(0, 3)) == 0:
        kw["validator_permit"] = np.array(draw(bools), dtype=bool)
    if draw(st.integers(0, 3)) == 0:
        kw["active"] = np.array(draw(bools), dtype=bool)
    if draw(st.booleans()):
        kw["recently_registered"] = np.array(
            draw(st.lists(st.booleans(), min_size=cols, max_size=cols)), dtype=bool
        )
    if draw(st.booleans()):
        kw["outdated"] = _cells(draw, rows, cols, st.booleans()).astype(bool)
    if sparse and square and draw(st.booleans()):
        kw["owner_uid"] = draw(st.integers(0, rows - 1))
    case: dict[str, Any] = {
        "shape": (rows, cols),
        "square": square,
        "weights": w,
        "stake": stake,
        "bonds": bonds,
        "params": draw(params_st(rows)),
        "kw": kw,
    }
    if sparse:
        # Every non-zero is stored, and some zeros are stored explicitly (present entries).
        extra = _cells(draw, rows, cols, st.booleans()).astype(bool)
        r, c = np.nonzero((w != 0) | extra)
        case["weights"] = sp.csr_array((w[r, c], (r, c)), shape=(rows, cols))
        if bonds is not None:
            br, bc = np.nonzero(bonds)
            case["bonds"] = sp.csr_array((bonds[br, bc], (br, bc)), shape=(rows, cols))
    return case


def _entries(m: sp.csr_array) -> dict[tuple[int, int], float]:
    coo = sp.coo_array(m)
    return {(int(i), int(j)): float(v) for i, j, v in zip(coo.row, coo.col, coo.data, strict=True)}


def _oracle(case: dict[str, Any], sparse: bool) -> dict[str, Any]:
    kw = {k: (v if k == "owner_uid" else v.tolist()) for k, v in case["kw"].items()}
    if sparse:
        w: Any = _entries(case["weights"])
        b: Any = None if case["bonds"] is None else _entries(case["bonds"])
    else:
        w = case["weights"].tolist()
        b = None if case["bonds"] is None else case["bonds"].tolist()
    return oracle_epoch(
        w,
        case["stake"].tolist(),
        b,
        case["params"],
        square=case["square"],
        path="sparse" if sparse else "dense",
        shape=case["shape"],
        **kw,
    )


def _run(case: dict[str, Any], backend: str) -> EpochResult:
    return yuma.epoch(
        case["weights"],
        case["stake"],
        case["bonds"],
        case["params"],
        layout="uid" if case["square"] else "bipartite",
        backend=backend,
        **case["kw"],
    )


def assert_matches_oracle(got: EpochResult, want: dict[str, Any], shape: tuple[int, int]) -> None:
    """Every ``EpochResult`` field equals the oracle's; sparse matrices store the same entries."""
    for f in fields(EpochResult):
        value = want[f.name]
        if isinstance(value, dict):
            stored = set(_entries(getattr(got, f.name)))
            assert stored == set(value), f"{f.name}: stored entries {stored ^ set(value)} differ"
            value = to_dense(value, shape)
        expected = np.array(value)
        actual = got.dense(f.name)
        assert actual.shape == expected.shape, f"{f.name}: {actual.shape} != {expected.shape}"
        if expected.dtype == np.bool_:
            np.testing.assert_array_equal(actual, expected, err_msg=f.name)
        else:
            np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL, err_msg=f.name)


def _compare(case: dict[str, Any], sparse: bool, backends: list[str]) -> dict[str, Any]:
    """Run every backend on ``case`` and compare with the oracle; returns the oracle's output."""
    want = _oracle(case, sparse)
    for backend in backends:
        got = _run(case, backend)
        try:
            assert_matches_oracle(got, want, case["shape"])
        except AssertionError as err:
            raise AssertionError(f"backend={backend}: {err}") from err
    return want


def _check(case: dict[str, Any], sparse: bool, backends: list[str]) -> None:
    """The property: every backend equals the oracle, knife-edge median ties excepted."""
    # A column whose running voter stake equals U − κ within round-off is a knife-edge median
    # tie: which neighbouring score wins depends on the order of the float additions, so the
    # oracle and a backend may legitimately differ there (test_backend_support.knife_edge).
    assume(not knife_edge(_run(case, "numpy"), case["params"].kappa))
    want = _compare(case, sparse, backends)
    # Branch coverage, shown by --hypothesis-show-statistics.
    event("liquid alpha" if isinstance(want["rate"], list) else "fixed rate")
    event("yuma3" if case["params"].yuma3 else "original yuma")
    event("emergency" if sum(want["incentive"]) == 0 else "weights count")
    event("uid layout" if case["square"] else "bipartite")


@FAST
@given(case_st(sparse=False))
def test_dense_backends_match_oracle(case: dict[str, Any]) -> None:
    _check(case, False, DENSE_BACKENDS)


@FAST
@given(case_st(sparse=True))
def test_sparse_backends_match_oracle(case: dict[str, Any]) -> None:
    _check(case, True, SPARSE_BACKENDS)


@pytest.mark.slow
@SLOW
@given(case_st(sparse=False))
def test_dense_backends_match_oracle_long(case: dict[str, Any]) -> None:
    _check(case, False, DENSE_BACKENDS)


@pytest.mark.slow
@SLOW
@given(case_st(sparse=True))
def test_sparse_backends_match_oracle_long(case: dict[str, Any]) -> None:
    _check(case, True, SPARSE_BACKENDS)


# --------------------------------------------------------------------------------------------
# Step by step on hand-checked cases: the oracle's intermediates are right, not just its outputs
# --------------------------------------------------------------------------------------------


def test_oracle_spec_examples() -> None:
    """Spec facts: the 50/50 median takes the upper score; owner self-weight and permit (sparse)."""
    # §4.7: κ slightly below ½ and stakes split 50/50 between scores 0 and 1 → consensus 1.
    out = oracle_epoch(
        [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        [1.0, 1.0, 0.0],
        None,
        YumaParams(),
        square=False,
    )
    assert out["consensus"] == [0.0, 0.0, 1.0]
    # Validator 1 has no weights: validator trust 0, and row 0 keeps its full weight.
    assert out["validator_trust"] == [1.0, 0.0, 0.0]
    assert out["incentive"] == [0.0, 0.0, 1.0]
    # Yuma3, no previous bonds: the EMA is rate·W; only validator 0 bonds, so it gets the dividends.
    assert out["rate"] == pytest.approx(0.1)
    assert out["ema_bonds"][0][2] == pytest.approx(0.1)
    assert out["dividends"] == [1.0, 0.0, 0.0]
    assert out["combined_emission"] == [0.5, 0.0, 0.0, 0.0, 0.0, 0.5]

    # Sparse path: the owner's self-weight survives the diagonal mask; the dense path drops it.
    w = {(0, 0): 1.0, (0, 1): 1.0, (1, 1): 1.0}
    sparse = oracle_epoch(w, [1.0, 0.0], None, YumaParams(), owner_uid=0, path="sparse",
                          shape=(2, 2))  # fmt: skip
    assert sparse["weights"] == {(0, 0): 0.5, (0, 1): 0.5}
    assert sparse["validator_permit"] == [True, False]
    dense = oracle_epoch([[1.0, 1.0], [0.0, 1.0]], [1.0, 0.0], None, YumaParams(), owner_uid=0)
    assert dense["weights"] == [[0.0, 1.0], [0.0, 0.0]]


def test_oracle_sparse_liquid_alpha_drops_a_bond_without_weight() -> None:
    """Spec §4.11.3 / §6.5: Yuma3 + liquid alpha; the bond (0, 2) has no weight entry."""
    params = YumaParams(liquid_alpha=True, max_allowed_validators=3)
    weights = {(0, 1): 1.0, (1, 1): 1.0}
    bonds = {(0, 1): 0.5, (0, 2): 0.5}
    sparse = oracle_epoch(weights, [1.0, 1.0, 0.0], bonds, params, path="sparse", shape=(3, 3))
    assert (0, 2) not in sparse["ema_bonds"]
    dense_w = to_dense(weights, (3, 3))
    dense = oracle_epoch(dense_w, [1.0, 1.0, 0.0], to_dense(bonds, (3, 3)), params)
    # Dense: the bond decays by (1 − α) with its own per-cell α.
    alpha = dense["rate"][0][2]
    assert params.alpha_low <= alpha <= params.alpha_high
    assert dense["ema_bonds"][0][2] == pytest.approx((1 - alpha) * 0.5)


def test_oracle_dense_bond_storage_rule() -> None:
    """§6.6: new permit → new row; permit lost → empty row; never a permit → untouched."""
    params = YumaParams(max_allowed_validators=1)
    weights = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    bonds = [[0.0, 0.2, 0.0], [0.3, 0.0, 0.0], [0.4, 0.0, 0.0]]
    out = oracle_epoch(
        weights, [3.0, 2.0, 1.0], bonds, params, validator_permit=[True, True, False]
    )
    assert out["validator_permit"] == [True, False, False]
    assert out["bonds"][0] == out["new_bonds"][0]
    assert out["bonds"][1] == [0.0, 0.0, 0.0]
    assert out["bonds"][2] == [0.4, 0.0, 0.0]


# --------------------------------------------------------------------------------------------
# The oracle against the chain's vectors (external truth)
# --------------------------------------------------------------------------------------------

U16_KEYS = {
    "incentive": "incentive",
    "dividends": "dividends",
    "consensus": "consensus",
    "validator_trust": "validator_trust",
    "stake_weight": "stake",
}
U64_KEYS = {
    "emission": "combined_emission",
    "server_emission": "server_emission",
    "validator_emission": "validator_emission",
}
PARAM_KEYS = (
    "kappa",
    "bonds_moving_average",
    "bonds_penalty",
    "yuma3_enabled",
    "liquid_alpha_enabled",
    "alpha_low",
    "alpha_high",
    "alpha_sigmoid_steepness",
    "max_allowed_validators",
)


def _vector_entries() -> list[Any]:
    out = []
    for rel in vector_files("epochs"):
        doc = load_json(f"vectors/{rel}")
        for k in range(len(doc["epochs"])):
            out.append(pytest.param(rel, k, id=f"{rel.split('/')[-1]}@{k}"))
    return out


def _vector_inputs(doc: dict[str, Any], k: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The oracle's arguments for entry ``k``, built from the chain's storage (README rules)."""
    entry = doc["epochs"][k]
    hp = {**doc["hyperparameters"], **entry.get("hyperparameters", {})}
    path = entry.get("path", doc["path"])
    n = doc["n"]
    # The oracle has no tao weight or owner rules beyond the sparse path's: none are used.
    assert hp["tao_weight_raw"] == 0 and entry["owner_uid"] is None
    stake = [float(a) if a >= hp["stake_threshold"] else 0.0 for a in entry["alpha_stake"]]
    block, tempo = entry["block"], hp["tempo"]
    cutoff = max(1, hp["activity_cutoff_factor_milli"] * tempo // 1000)
    last_update = (list(entry["last_update"]) + [0] * n)[:n]
    reg = entry["block_at_registration"]
    lms = entry["last_mechanism_step_block"]
    last_tempo = max(0, block - tempo) if lms == 0 else lms + 1
    weights: dict[tuple[int, int], float] = {}
    for i, row in enumerate(entry["weights"][:n]):
        for j, v in row:
            if j < n:
                assert (i, j) not in weights, "duplicate weight entry"
                weights[(i, j)] = float(v)
    # Stored bonds as proportions: Yuma3 stores proportion × 65535; the original Yuma's
    # column-max-upscaled u16 are column-normalised before use, so the scale is irrelevant.
    bonds = {(i, j): v / U16_MAX for i, row in enumerate(entry["bonds"][:n]) for j, v in row}
    args: dict[str, Any] = {
        "weights": weights if path == "sparse" else to_dense(weights, (n, n)),
        "stake": stake,
        "bonds": bonds if path == "sparse" else to_dense(bonds, (n, n)),
        "params": YumaParams.from_chain(**{key: hp[key] for key in PARAM_KEYS}),
        "validator_permit": (list(entry["validator_permit"]) + [False] * n)[:n],
        "active": [last_update[i] + cutoff >= block for i in range(n)],
        "outdated": [[last_update[i] <= reg[j] for j in range(n)] for i in range(n)],
        "recently_registered": [last_tempo <= reg[j] for j in range(n)],
        "path": path,
        "shape": (n, n),
    }
    return args, entry


def _target(expect: dict[str, Any], tolerance: dict[str, Any], key: str) -> tuple[Any, float]:
    """The exact target (its ``_emu`` value where the chain's own target is approximate)."""
    if f"{key}_emu" in expect:
        return expect[f"{key}_emu"], tolerance[f"{key}_emu"]
    return expect[key], tolerance[key]


@requires_shared
def test_vector_entries_exist() -> None:
    """The parametrised vector test below is not vacuous: it sees entries on both paths."""
    paths = set()
    for rel in vector_files("epochs"):
        doc = load_json(f"vectors/{rel}")
        paths |= {e.get("path", doc["path"]) for e in doc["epochs"]}
    assert len(_vector_entries()) >= 40
    assert paths == {"dense", "sparse"}


@requires_shared
@pytest.mark.parametrize(("rel", "k"), _vector_entries())
def test_oracle_reproduces_chain_vectors(rel: str, k: int) -> None:
    """Float64 oracle vs the chain: u16 outputs within 1 unit, u64 within 1e-8 · E + 1 rao,
    stored bonds within 1 u16 unit, booleans exact, raw intermediates within 4 · 2^-32."""
    doc = load_json(f"vectors/{rel}")
    args, entry = _vector_inputs(doc, k)
    expect, tolerance = entry["expect"], entry["tolerance"]
    out = oracle_epoch(**args)
    n = doc["n"]
    compared = 0
    for key, name in U16_KEYS.items():
        want, tol = _target(expect, tolerance, key)
        got = np.floor(np.array(out[name]) * U16_MAX + 1e-9)
        assert np.abs(got - np.array(want)).max() <= 1 + tol, (key, got.tolist(), want)
        compared += 1
    emission = entry["emission"]
    for key, name in U64_KEYS.items():
        want, tol = _target(expect, tolerance, key)
        got = np.array(out[name]) * emission
        bound = 1e-8 * emission + 1 + tol
        assert np.abs(got - np.array(want, dtype=float)).max() <= bound, (key, got, want)
        compared += 1
    assert out["validator_permit"] == expect["new_validator_permit"]
    assert args["active"] == expect["active"]
    want_bonds, tol = _target(expect, tolerance, "bonds")
    wanted = to_dense({(i, j): v for i, row in enumerate(want_bonds) for j, v in row}, (n, n))
    # The chain floors each stored bond (fixed_proportion_to_u16).
    got_bonds = np.floor(np.array(to_dense(out["bonds"], (n, n))) * U16_MAX + 1e-9)
    assert np.abs(got_bonds - np.array(wanted)).max() <= 1 + tol
    if args["path"] == "sparse":
        # The same entries are stored (the sparse path stores exactly the positive EMA cells).
        stored = {(i, j) for i, row in enumerate(want_bonds) for j, _ in row}
        assert stored == set(out["bonds"])
    compared += 3
    if "active_stake_raw" in expect:
        raw = np.array(expect["active_stake_raw"], dtype=float) / 2**32
        assert np.abs(np.array(out["active_stake"]) - raw).max() <= 4 / 2**32
        compared += 1
    if "weights_normalized_raw" in expect:
        rows = expect["weights_normalized_raw"]
        want_w = {(i, j): v / 2**32 for i, row in enumerate(rows) for j, v in row}
        assert set(out["weights"]) == set(want_w)
        for cell, value in want_w.items():
            assert abs(out["weights"][cell] - value) <= 4 / 2**32, cell
        compared += 1
    assert compared >= 11


def _hand_case(weights: Any, stake: list[float], bonds: Any, params: YumaParams, **kw: Any) -> Any:
    rows, cols = np.shape(weights)
    return {
        "shape": (rows, cols),
        "square": rows == cols,
        "weights": np.array(weights, dtype=np.float64),
        "stake": np.array(stake, dtype=np.float64),
        "bonds": None if bonds is None else np.array(bonds, dtype=np.float64),
        "params": params,
        "kw": {k: (v if k == "owner_uid" else np.array(v)) for k, v in kw.items()},
    }


#: Rare branches that random draws reach only now and then, checked on every run.
HAND_CASES = {
    # A validator that loses its permit (dense: row emptied) and one that never had one (kept).
    "dense storage rule": _hand_case(
        [[0, 1, 0], [1, 0, 0], [1, 0, 0]],
        [3.0, 2.0, 1.0],
        [[0, 0.2, 0], [0.3, 0, 0], [0.4, 0, 0]],
        YumaParams(max_allowed_validators=1),
        validator_permit=[True, True, False],
    ),
    # Yuma3 + liquid alpha with a bond whose weight is absent (sparse drops, dense decays).
    "liquid alpha, bond without weight": _hand_case(
        [[0, 1, 0], [0, 1, 0], [0, 0, 0]],
        [1.0, 1.0, 0.0],
        [[0, 0.5, 0.5], [0, 0, 0], [0, 0, 0]],
        YumaParams(liquid_alpha=True, alpha_low=0.1, alpha_high=0.9, max_allowed_validators=3),
    ),
    # The owner keeps its self-weight and a permit on the sparse path, with zero stake.
    "owner self-weight": _hand_case(
        [[5, 1, 0], [0, 0, 3], [2, 2, 2]],
        [1.0, 2.0, 0.0],
        [[0, 1, 0], [0, 0, 1], [0, 0, 0]],
        YumaParams(yuma3=False, bonds_penalty=0.5),
        owner_uid=2,
    ),
}


@pytest.mark.parametrize("name", sorted(HAND_CASES))
@pytest.mark.parametrize("sparse", [False, True])
def test_hand_cases_match_oracle(name: str, sparse: bool) -> None:
    case = dict(HAND_CASES[name])
    if sparse:
        case["weights"] = sp.csr_array(case["weights"])
        case["bonds"] = None if case["bonds"] is None else sp.csr_array(case["bonds"])
    assert not knife_edge(_run(case, "numpy"), case["params"].kappa)
    want = _compare(case, sparse, SPARSE_BACKENDS if sparse else DENSE_BACKENDS)
    assert sum(want["incentive"]) > 0  # not emergency mode: consensus formed


# --- step by step: the pipeline's intermediate state against the oracle's ---------------------

#: Every named quantity the pipeline's steps produce that the oracle computes too.
STEP_QUANTITIES = {
    "stake": ("stake",),
    "permits": ("validator_permit",),
    "active_stake": ("active_stake",),
    "weights": ("weights",),
    "consensus": ("consensus",),
    "clip": ("clipped_weights", "validator_trust"),
    "incentive": ("ranks", "incentive"),
    "bonds_penalty": ("weights_for_bonds",),
    "masked_bonds": ("masked_bonds",),
    "ema_rate": ("rate",),
    "bonds": ("ema_bonds", "new_bonds"),
    "dividends": ("dividends",),
    "storage": ("bonds",),
    "emission": ("server_emission", "validator_emission", "combined_emission"),
}


def _pipeline_trace(case: dict[str, Any], xp_name: str) -> list[tuple[str, dict[str, Any]]]:
    from yuma.inputs import prepare_inputs
    from yuma.pipeline import Config, chain, dense_state

    inputs, params = prepare_inputs(
        case["weights"], case["stake"], case["bonds"], case["params"],
        layout="uid" if case["square"] else "bipartite", **case["kw"],
    )  # fmt: skip
    values = dense_state(
        inputs.weights, inputs.stake, inputs.bonds, inputs.old_permit, inputs.active,
        inputs.outdated, inputs.recently_registered,
    )  # fmt: skip
    config = Config.from_params(params, square=inputs.square)
    if xp_name == "numpy":
        _, record = chain(params.yuma3).run(values, config, trace=True)
        return list(record)
    import jax

    with jax.enable_x64(True):
        record = _jax_trace(params.yuma3)(values, config)
        # (jit returns the record's dict with sorted keys: restore the pipeline's order)
        order = [n for n in STEP_QUANTITIES if n in record]
        return [(n, {k: np.asarray(v) for k, v in record[n].items()}) for n in order]


@functools.cache
def _jax_trace(yuma3: bool) -> Any:
    """The chain pipeline's step-by-step record, jit-compiled (once per shape and flags)."""
    import jax
    import jax.numpy as jnp

    import yuma.backends.jax_pipeline  # noqa: F401  (registers Config as a pytree)
    from yuma.pipeline import chain

    def trace(values: dict[str, Any], config: Any) -> dict[str, Any]:
        _, record = chain(yuma3).run(values, config, xp=jnp, trace=True)
        return dict(record)

    return jax.jit(trace)


def _check_steps(case: dict[str, Any], xp_name: str) -> None:
    assume(not knife_edge(_run(case, "numpy"), case["params"].kappa))
    want = _oracle(case, False)
    record = _pipeline_trace(case, xp_name)
    assert [name for name, _ in record] == list(STEP_QUANTITIES)
    for step, outputs in record:
        for name in STEP_QUANTITIES[step]:
            got = np.asarray(outputs[name])
            expected = np.broadcast_to(np.array(want[name]), got.shape)
            where = f"{xp_name}: step {step!r}, {name}"
            if got.dtype == np.bool_:
                np.testing.assert_array_equal(got, expected, err_msg=where)
            else:
                np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL, err_msg=where)


@FAST
@given(case=case_st(sparse=False))
def test_every_pipeline_step_matches_the_oracle(case: dict[str, Any]) -> None:
    """Each step's own outputs equal the oracle's intermediates: a wrong step is named, not only
    a wrong final result."""
    _check_steps(case, "numpy")


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed (optional extra)")
@settings(FAST, max_examples=10)  # one compile per shape and flag set
@given(case=case_st(sparse=False))
def test_every_pipeline_step_matches_the_oracle_on_jax(case: dict[str, Any]) -> None:
    """The same steps traced with ``jax.numpy`` (the one pipeline, no second implementation)."""
    _check_steps(case, "jax")
