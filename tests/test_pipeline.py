"""The dense epoch as one pipeline of named steps: numpy, JAX, the numba kernels' declarations."""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import yuma
from yuma import bonds, dividends, ema_rate
from yuma._step import Config, State
from yuma.backends import kernel_flags, select
from yuma.median import weighted_median_col
from yuma.pipeline import CHAIN, CHAIN_YUMA2, RESULT_FIELDS, STEP_NAMES, Pipeline, dense_state

HAS_JAX = importlib.util.find_spec("jax") is not None
needs_jax = pytest.mark.skipif(not HAS_JAX, reason="jax is not installed (optional extra)")


def half_life_bonds(s: State) -> dict[str, Any]:
    """A user's bonds rule in a few lines: the EMA of the clipped weights, at half the rate."""
    rate = s.rate / 2
    new = rate * s.clipped_weights + (1 - rate) * s.masked_bonds
    return {"ema_bonds": new, "new_bonds": new}


MINE = CHAIN.replace(name="half_life", bonds=half_life_bonds)


def random_case(seed: int, r: int = 6, c: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = rng.random((r, c)) * (rng.random((r, c)) < 0.7)
    return w, rng.random(r) + 0.01, rng.random((r, c)) * 0.5


def test_chain_steps_are_the_specs_sections() -> None:
    assert CHAIN.names == STEP_NAMES == CHAIN_YUMA2.names
    assert CHAIN["bonds"] is bonds.yuma3 and CHAIN_YUMA2["bonds"] is bonds.yuma2
    assert CHAIN_YUMA2["dividends"] is dividends.bonds_incentive


def test_replace_and_clear_errors() -> None:
    with pytest.raises(ValueError, match="no step"):
        CHAIN.replace(bond=half_life_bonds)
    with pytest.raises(ValueError, match="callable"):
        Pipeline([("stake", 3)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="unique"):
        Pipeline([("stake", CHAIN["stake"]), ("stake", CHAIN["stake"])])
    w, s, b = random_case(0)
    bad = CHAIN.replace(bonds=lambda st: st.weights_for_bonds)
    with pytest.raises(TypeError, match=r"step 'bonds'.*mapping"):
        yuma.epoch(w, s, b, pipeline=bad, backend="numpy")
    misspelt = CHAIN.replace(bonds=lambda st: {"ema_bonds": st.weights_for_bond})
    with pytest.raises(AttributeError, match="weights_for_bond"):
        yuma.epoch(w, s, b, pipeline=misspelt, backend="numpy")
    with pytest.raises(ValueError, match="sparse"):
        import scipy.sparse as sp

        yuma.epoch(sp.csr_array(w), s, pipeline=MINE)


def test_trace_gives_every_steps_own_outputs() -> None:
    w, s, b = random_case(1)
    values = dense_state(w, s, b, np.ones(6, bool), np.ones(6, bool), None, np.zeros(5, bool))
    final, record = CHAIN.run(values, Config.from_params(yuma.YumaParams(), square=False),
                              trace=True)  # fmt: skip
    assert [name for name, _ in record] == list(STEP_NAMES)
    outputs = dict(record)
    assert set(outputs["clip"]) == {"clipped_weights", "validator_trust"}
    assert set(outputs["bonds"]) == {"ema_bonds", "new_bonds"}
    ref = yuma.epoch(w, s, b, layout="bipartite", backend="numpy")
    for name in RESULT_FIELDS:
        np.testing.assert_array_equal(np.asarray(final[name]), ref.dense(name), err_msg=name)


@needs_jax
def test_a_users_bonds_rule_runs_on_numpy_and_jax_everywhere() -> None:
    from yuma.backends import jax_pipeline

    w, s, b = random_case(2)
    params = yuma.YumaParams(bonds_penalty=0.5)
    ref = yuma.epoch(w, s, b, params, pipeline=MINE, backend="numpy")
    got = yuma.epoch(w, s, b, params, pipeline=MINE, backend="jax")
    for name in RESULT_FIELDS:
        np.testing.assert_allclose(got.dense(name), ref.dense(name), atol=1e-9, err_msg=name)
    # It is not the chain's rule: the default backend runs it as written, numba refuses it.
    assert select(None, MINE, Config.from_params(params, square=False))[0] == "numpy"
    with pytest.raises(ValueError, match="half_life"):
        yuma.epoch(w, s, b, params, pipeline=MINE, backend="numba")

    # A vmapped batch.
    rng = np.random.default_rng(3)
    wb, sb = rng.random((7, 6, 5)), rng.random((7, 6)) + 0.01
    batch_ref = yuma.epoch_batch(wb, sb, params=params, pipeline=MINE, backend="numpy")
    batch_jax = yuma.epoch_batch(wb, sb, params=params, pipeline=MINE, backend="jax")
    for name in RESULT_FIELDS:
        np.testing.assert_allclose(
            getattr(batch_jax, name), getattr(batch_ref, name), atol=1e-9, err_msg=name
        )

    # simulate as one lax.scan, compiled once: a second run (other values) does not recompile.
    variant = yuma.variants.Variant("half_life", MINE)
    ws, ss = rng.random((12, 6, 5)), rng.random(6) + 0.01
    sim_ref = yuma.simulate(ws, ss, params, variant=variant, keep_matrices=True)
    assert sim_ref.backend == "numpy"
    sim_jax = yuma.simulate(ws, ss, params, variant=variant, backend="jax", keep_matrices=True)
    for name in ("consensus", "incentive", "dividends", "validator_trust", "bonds"):
        np.testing.assert_allclose(
            getattr(sim_jax, name), getattr(sim_ref, name), atol=1e-9, err_msg=name
        )
    misses = jax_pipeline.scan_program.cache_info().misses
    again = yuma.simulate(ws * 2, ss, yuma.YumaParams(kappa=0.6), variant=variant, backend="jax",
                          keep_matrices=True)  # fmt: skip
    assert jax_pipeline.scan_program.cache_info().misses == misses
    assert again.dividends.shape == sim_jax.dividends.shape


def test_kernels_run_by_declaration_not_by_identity() -> None:
    config = Config.from_params(yuma.YumaParams(liquid_alpha=True), square=True)
    assert kernel_flags(CHAIN, config)[0] == {"liquid": True, "yuma3": True}
    assert kernel_flags(CHAIN_YUMA2, config)[0] == {"liquid": False, "yuma3": False}
    fixed = CHAIN.replace(ema_rate=ema_rate.rate_fixed)
    assert kernel_flags(fixed, config)[0] == {"liquid": False, "yuma3": True}
    previous = CHAIN.replace(ema_rate=ema_rate.LiquidAlpha("v2", "previous"))
    flags, reason = kernel_flags(previous, config)
    assert flags is None and "rate.liquid_v2.previous" in reason
    # A partial may compute something else: it declares no rule, so the kernel does not claim it.
    wrapped = CHAIN.replace(bonds=functools.partial(bonds.yuma3))
    flags, reason = kernel_flags(wrapped, config)
    assert flags is None and "declares no rule" in reason
    w, s, b = random_case(4, 5, 5)
    ref = yuma.epoch(w, s, b, backend="numba")
    got = yuma.epoch(w, s, b, pipeline=wrapped)  # numpy, as written
    for name in RESULT_FIELDS:
        np.testing.assert_allclose(got.dense(name), ref.dense(name), atol=1e-12, err_msg=name)


def test_backend_none_means_the_same_everywhere() -> None:
    w, s, _ = random_case(5)
    cube = np.broadcast_to(w, (4, *w.shape))
    cfg = Config.from_params(yuma.YumaParams(), square=False)
    assert select(None, CHAIN, cfg)[0] == "numba"
    assert yuma.simulate(cube, s).backend == "numba"
    assert yuma.simulate(cube, s, variant="yuma2c").backend == "numpy"
    # epoch and epoch_batch pick the same backend as simulate for the same pipeline.
    a = yuma.epoch(w, s)
    b = yuma.epoch(w, s, backend="numba")
    np.testing.assert_array_equal(a.dividends, b.dividends)
    c = yuma.epoch_batch(cube, np.broadcast_to(s, (4, 6)))
    d = yuma.epoch_batch(cube, np.broadcast_to(s, (4, 6)), backend="numba")
    np.testing.assert_array_equal(c.dividends, d.dividends)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    # (256, 300): from 2^16 cells a halving sums the stake as a product
    shape=st.sampled_from([(1, 1), (3, 4), (7, 5), (16, 3), (256, 300)]),
    kappa=st.sampled_from([0.1, 0.5, 32767 / 65535, 0.9]),
    u16=st.booleans(),
)
def test_bisected_median_equals_the_sorted_one(
    seed: int, shape: tuple[int, int], kappa: float, u16: bool
) -> None:
    rng = np.random.default_rng(seed)
    w = rng.random(shape) * (rng.random(shape) < 0.6)
    if u16:  # many ties
        w = np.round(w * 4)
    w = yuma.row_normalize(w)
    stake = rng.random(shape[0]) * (rng.random(shape[0]) < 0.8)
    a = weighted_median_col(stake, w, kappa, method="sort")
    b = weighted_median_col(stake, w, kappa, method="bisect")
    # Away from knife-edge ties (a running sum within round-off of U - kappa) both are exact.
    u = np.where(stake > 0, stake, 0.0)
    if u.sum() > 0:
        u = u / u.sum()
        cums = np.cumsum(np.sort(u))
        if np.any(np.abs(cums - (u.sum() - kappa)) < 1e-12):
            return
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_negative_zeros_are_zeros(backend: str) -> None:
    # -0.0 passes the non-negative check; the numpy median sorts scores by their bit patterns
    # (where -0.0 would sort first) after folding it into 0.0: the same epoch as with 0.0.
    rng = np.random.default_rng(4)
    w = rng.random((40, 40)) * (rng.random((40, 40)) < 0.5)
    b = rng.random((40, 40)) * (rng.random((40, 40)) < 0.5)
    s = rng.random(40)
    signed_w = np.where(w == 0, -0.0, w)
    signed_b = np.where(b == 0, -0.0, b)
    assert np.signbit(signed_w).any()
    ref = yuma.epoch(w, s, b, backend=backend)
    got = yuma.epoch(signed_w, s, signed_b, backend=backend)
    for name in RESULT_FIELDS:
        np.testing.assert_array_equal(got.dense(name), ref.dense(name), err_msg=name)
    # a consensus of zero is +0.0, as from positive zeros (no sign leaks out of the median)
    assert got.consensus.tobytes() == ref.consensus.tobytes()
    # the sparse path, with -0.0 stored explicitly
    import scipy.sparse as sp

    stored = sp.csr_array(w + (w == 0))  # every cell stored
    stored.data[np.flatnonzero(w.ravel() == 0)] = -0.0
    plain = stored.copy()
    plain.data[np.flatnonzero(w.ravel() == 0)] = 0.0
    sref = yuma.epoch(plain, s, backend=backend)
    sgot = yuma.epoch(stored, s, backend=backend)
    assert np.signbit(stored.data).any()
    assert sgot.consensus.tobytes() == sref.consensus.tobytes()


@needs_jax
def test_jax_equals_numpy_where_the_median_sums_by_product() -> None:
    # 256 x 300 cells: JAX's bisection takes the product form of its halvings.
    from test_backend_support import assert_results_close, knife_edge

    rng = np.random.default_rng(11)
    w = rng.integers(0, 65536, (256, 300)) * (rng.random((256, 300)) < 0.7)
    s = rng.lognormal(0.0, 2.0, 256)
    b = rng.random((256, 300))
    params = yuma.YumaParams(max_allowed_validators=256)
    ref = yuma.epoch(w, s, b, params, backend="numpy")
    assert not knife_edge(ref, params.kappa)
    assert_results_close(ref, yuma.epoch(w, s, b, params, backend="jax"))


@pytest.mark.parametrize("backend", ["numpy", "numba", *(["jax"] if HAS_JAX else [])])
def test_results_do_not_depend_on_the_unit_even_near_overflow(backend: str) -> None:
    w, s, _ = random_case(6, 5, 5)
    ref = yuma.epoch(w, s, backend=backend)
    for scale_w, scale_s in [(2.0**40, 2.0**-30), (1e300, 1e300), (1.7e308, 1.7e308)]:
        got = yuma.epoch(w / w.max() * scale_w, s / s.max() * scale_s, backend=backend)
        for name in RESULT_FIELDS:
            np.testing.assert_allclose(got.dense(name), ref.dense(name), atol=1e-12, err_msg=name)
    if backend != "jax":  # the sparse path (numpy reference and numba kernel)
        import scipy.sparse as sp

        sref = yuma.epoch(sp.csr_array(w), s, backend=backend)
        sgot = yuma.epoch(sp.csr_array(w / w.max() * 1.7e308), s / s.max() * 1.7e308,
                          backend=backend)  # fmt: skip
        for name in RESULT_FIELDS:
            np.testing.assert_allclose(sgot.dense(name), sref.dense(name), atol=1e-12)
    # Every stake at 1e308: the sum overflows, the shares are still 1/n.
    huge = yuma.epoch(w, np.full(5, 1e308), backend=backend)
    np.testing.assert_allclose(huge.stake, 0.2, rtol=1e-15)
    assert huge.validator_permit.all() and huge.combined_emission.sum() == pytest.approx(1.0)


@needs_jax
def test_jax_flushes_subnormal_shares_and_agrees_above_them() -> None:
    """The documented domain: shares below 2.2e-308 (stakes more than 1e308 apart) are 0 on
    JAX (XLA flushes subnormals); at and above the smallest normal share all backends agree."""
    w = np.array([[0, 1.0, 0], [0, 0, 1.0], [1.0, 0, 0]])
    normal = yuma.epoch(w, np.array([1.0, 1e-300, 0.5]), backend="jax")
    ref = yuma.epoch(w, np.array([1.0, 1e-300, 0.5]), backend="numpy")
    np.testing.assert_array_equal(normal.validator_permit, ref.validator_permit)
    sub = yuma.epoch(w, np.array([1.0, 1e-320, 0.5]), backend="jax")
    assert sub.stake[1] == 0.0 and not sub.validator_permit[1]
    assert yuma.epoch(w, np.array([1.0, 1e-320, 0.5]), backend="numpy").validator_permit[1]


@needs_jax
@pytest.mark.parametrize("n", [16, 257])
def test_jax_epoch_returns_each_field_whole_on_both_transfer_paths(n: int) -> None:
    # Up to 2^16 cells the JAX epoch comes back as one flat buffer split on the host; above,
    # array by array. Both must give every field its own shape, dtype and values.
    from yuma.backends.jax_pipeline import _FLAT_CELLS

    assert (n * n <= _FLAT_CELLS) == (n == 16)
    rng = np.random.default_rng(n)
    w = rng.random((n, n)) * (rng.random((n, n)) < 0.6)
    s = rng.random(n)
    b = rng.random((n, n))
    ref = yuma.epoch(w, s, b, backend="numpy")
    got = yuma.epoch(w, s, b, backend="jax")
    for field in RESULT_FIELDS:
        expected, value = getattr(ref, field), getattr(got, field)
        assert value.shape == expected.shape, field
        assert value.dtype == expected.dtype, field
        if field == "validator_permit":
            np.testing.assert_array_equal(value, expected)
        else:
            np.testing.assert_allclose(value, expected, rtol=0, atol=1e-9, err_msg=field)


def _traced_numpy() -> Any:
    """numpy under another name: ``yuma._xp.eager`` is False for it, so every step takes the
    branch-free form written for a JAX trace (``xp.where`` over whole arrays) on numpy arrays."""
    import types

    ns = types.ModuleType("traced_numpy")
    ns.__dict__.update({k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    return ns


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.sampled_from([(1, 1), (4, 4), (6, 5), (9, 9)]),
    yuma3=st.booleans(),
    penalty=st.sampled_from([0.0, 0.4, 1.0]),
    marks=st.booleans(),
)
def test_numpys_shortcuts_equal_the_traced_form(
    seed: int, shape: tuple[int, int], yuma3: bool, penalty: float, marks: bool
) -> None:
    # numpy skips work on concrete values (a mask with nothing to zero, a scalar interpolation
    # ratio, every row permitted); each shortcut must give the traced form's numbers exactly.
    from yuma._xp import eager

    rng = np.random.default_rng(seed)
    r, c = shape
    w = rng.random((r, c)) * (rng.random((r, c)) < 0.7)
    stake = rng.random(r) * (rng.random(r) < 0.8)
    bonds_in = rng.random((r, c)) * 0.5
    permit = rng.random(r) < (0.7 if marks else 2.0)
    active = rng.random(r) < (0.8 if marks else 2.0)
    outdated = (rng.random((r, c)) < 0.2) if marks else None
    fresh = rng.random(c) < (0.3 if marks else 0.0)
    params = yuma.YumaParams(bonds_penalty=penalty, max_allowed_validators=max(1, r - 1))
    traced = _traced_numpy()
    assert not eager(traced)
    pipe = CHAIN if yuma3 else CHAIN_YUMA2
    config = Config.from_params(params, square=r == c)
    eager_out = pipe.run(dense_state(w, stake, bonds_in, permit, active, outdated, fresh), config)
    values = dense_state(w, stake, bonds_in, permit, active, outdated, fresh, xp=traced)
    traced_out = pipe.run(values, config, xp=traced)
    for name in RESULT_FIELDS:
        np.testing.assert_array_equal(eager_out[name], traced_out[name], err_msg=name)


def test_a_quantity_cannot_take_a_state_attributes_name() -> None:
    w, s, b = random_case(4)
    clash = CHAIN.replace(bonds=lambda st: {"ema_bonds": st.weights_for_bonds, "values": 1.0})
    with pytest.raises(ValueError, match=r"\['values'\]"):
        yuma.epoch(w, s, b, pipeline=clash, backend="numpy")
    values = dense_state(w, s, b, np.ones(6, bool), np.ones(6, bool), None, np.zeros(5, bool))
    with pytest.raises(ValueError, match="config"):
        State({**values, "config": 1}, Config.from_params(yuma.YumaParams(), square=False), np)
