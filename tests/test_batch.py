"""``yuma.epoch_batch`` equals one reference epoch per item, on every backend; JAX scan/vmap."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_backend_support import HAS_JAX, assert_results_close, knife_edge, params_strategy

import yuma
from yuma.batch import MATRIX_FIELDS
from yuma.params import YumaParams

BACKENDS = [
    "numpy",
    "numba",
    pytest.param(
        "jax", marks=pytest.mark.skipif(not HAS_JAX, reason="jax is not installed (optional extra)")
    ),
]


#: The hypothesis settings of the batch properties (each example runs whole batches).
BATCH_EXAMPLES = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def batch_strategy(draw: st.DrawFn) -> dict[str, Any]:
    # A few fixed shapes (square and not, the degenerate 1 x 1 x 1): JAX compiles per shape.
    b, rows, cols = draw(st.sampled_from([(1, 1, 1), (3, 4, 4), (2, 3, 5), (3, 5, 5)]))
    square = rows == cols
    elements = st.sampled_from([0.0, 0.0, 1.0, 2.0, 7.0, 65535.0, 300.0])
    weights = np.array(draw(st.lists(elements, min_size=b * rows * cols, max_size=b * rows * cols)))
    stake = np.array(
        draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 5.0]), min_size=b * rows, max_size=b * rows))
    )
    args: dict[str, Any] = {
        "weights": weights.reshape(b, rows, cols),
        "stake": stake.reshape(b, rows),
        "params": draw(params_strategy(rows)),
        "layout": "uid" if square else "bipartite",
    }
    if draw(st.booleans()):
        bonds = draw(
            st.lists(
                st.sampled_from([0.0, 0.5, 1.0, 0.25]), min_size=rows * cols, max_size=rows * cols
            )
        )
        args["bonds"] = np.array(bonds).reshape(rows, cols)  # shared by every item
    bools = st.lists(st.booleans(), min_size=b * rows, max_size=b * rows)
    if draw(st.booleans()):
        args["validator_permit"] = np.array(draw(bools)).reshape(b, rows)
    if draw(st.booleans()):
        args["active"] = np.array(draw(bools)).reshape(b, rows)
    if draw(st.booleans()):
        recent = draw(st.lists(st.booleans(), min_size=cols, max_size=cols))
        args["recently_registered"] = np.array(recent)
    if draw(st.booleans()):
        mask = draw(st.lists(st.booleans(), min_size=b * rows * cols, max_size=b * rows * cols))
        args["outdated"] = np.array(mask).reshape(b, rows, cols)
    return args


def _item(args: dict[str, Any], k: int) -> dict[str, Any]:
    """The keyword arguments of :func:`yuma.epoch` for item ``k`` of a batch."""
    out: dict[str, Any] = {}
    per_item = {"weights": 3, "stake": 2, "bonds": 3, "outdated": 3}
    for name, value in args.items():
        if name in ("params", "layout"):
            out[name] = value
        elif name in per_item:
            out[name] = value[k] if np.ndim(value) == per_item[name] else value
        else:
            out[name] = value[k] if np.ndim(value) == 2 else value
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@settings(BATCH_EXAMPLES, max_examples=25)
@given(args=batch_strategy())
def test_batch_equals_reference_per_item(backend: str, args: dict[str, Any]) -> None:
    refs = [yuma.epoch(backend="numpy", **_item(args, k)) for k in range(len(args["stake"]))]
    for ref in refs:
        assume(not knife_edge(ref, args["params"].kappa))
    batch = yuma.epoch_batch(backend=backend, **args)
    assert len(batch) == len(refs)
    for ref, got in zip(refs, batch, strict=True):
        assert_results_close(ref, got)


def test_batch_result_layout() -> None:
    rng = np.random.default_rng(5)
    w = rng.random((4, 6, 3))
    result = yuma.epoch_batch(w, rng.random(6))  # stake shared by the batch
    assert result.weights.shape == (4, 6, 3)
    assert result.consensus.shape == (4, 3)
    assert result.combined_emission.shape == (4, 9)
    assert result.validator_permit.dtype == np.bool_
    assert set(result.as_dict()) == set(yuma.EpochResult.__dataclass_fields__)
    np.testing.assert_array_equal(result[2].incentive, result.incentive[2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": np.ones((2, 2))}, "shape"),
        ({"weights": -np.ones((1, 2, 2))}, "non-negative"),
        ({"weights": np.full((1, 2, 2), np.nan)}, "finite"),
        ({"stake": np.ones(3)}, "stake"),
        ({"active": np.full((1, 2), 2)}, "boolean"),
        ({"params": 3}, "YumaParams"),
        ({"backend": "cuda"}, "cuda"),
    ],
)
def test_batch_rejects_bad_input(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"weights": np.ones((1, 2, 2)), "stake": np.ones(2)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        yuma.epoch_batch(**args)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({(2, 1, 0): np.nan}, "weights must be finite"),
        ({(1, 0, 1): np.inf}, "weights must be finite"),
        ({(0, 1, 1): -np.inf}, "weights must be finite"),
        ({(2, 0, 0): -1.0}, "weights must be non-negative"),
        ({(0, 0, 0): -1.0, (2, 1, 1): np.nan}, "weights must be finite"),  # finite first
    ],
)
def test_batch_checks_every_epochs_weights(
    backend: str, bad: dict[tuple[int, int, int], float], match: str
) -> None:
    # The compiled batch checks each epoch's weights inside its kernel: the same refusals as
    # the numpy path's check of the whole stack, wherever the bad value sits.
    w = np.ones((3, 2, 2))
    for where, value in bad.items():
        w[where] = value
    for keep in (True, False):
        with pytest.raises(ValueError, match=match):
            yuma.epoch_batch(w, np.ones(2), backend=backend, keep_matrices=keep)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(BATCH_EXAMPLES, max_examples=15)
@given(args=batch_strategy())
def test_batch_without_matrices_keeps_every_vector(backend: str, args: dict[str, Any]) -> None:
    full = yuma.epoch_batch(backend=backend, **args)
    slim = yuma.epoch_batch(backend=backend, keep_matrices=False, **args)
    assert all(getattr(slim, name) is None for name in MATRIX_FIELDS)
    for name, value in full.as_dict().items():
        if name not in MATRIX_FIELDS:
            # the same computation, only the matrices' destination differs: bit for bit
            np.testing.assert_array_equal(getattr(slim, name), value, err_msg=name)
    assert len(slim) == len(full)
    with pytest.raises(ValueError, match="keep_matrices"):
        slim[0]


def test_keep_matrices_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="keep_matrices"):
        yuma.epoch_batch(np.ones((1, 2, 2)), np.ones(2), keep_matrices="no")  # type: ignore[arg-type]


def test_batch_does_not_mutate_inputs() -> None:
    rng = np.random.default_rng(9)
    w = rng.random((3, 4, 4))
    s = rng.random((3, 4))
    b = rng.random((3, 4, 4))
    copies = (w.copy(), s.copy(), b.copy())
    for backend in yuma.backends.available_backends():
        yuma.epoch_batch(w, s, b, backend=backend)
    for original, kept in zip((w, s, b), copies, strict=True):
        np.testing.assert_array_equal(original, kept)


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed (optional extra)")
@pytest.mark.parametrize("yuma3", [True, False])
def test_pipeline_under_a_users_own_scan(yuma3: bool) -> None:
    """Four epochs of the chain's pipeline under the caller's own ``lax.scan`` (with per-epoch
    activity, outdated weights and new registrations) equal the reference epoch by epoch."""
    import jax
    import jax.numpy as jnp

    import yuma.backends.jax_pipeline
    from yuma.pipeline import RESULT_FIELDS, Config, chain, dense_state

    rng = np.random.default_rng(2)
    epochs, n = 4, 6
    weights = rng.integers(0, 100, (epochs, n, n)).astype(float)
    stake = rng.random((epochs, n))
    active = rng.random((epochs, n)) < 0.9
    outdated = rng.random((epochs, n, n)) < 0.1
    recent = rng.random((epochs, n)) < 0.1
    params = YumaParams(yuma3=yuma3, liquid_alpha=True, max_allowed_validators=4)
    config = Config.from_params(params, square=True)
    pipeline = chain(yuma3)

    def step(carry: Any, x: Any) -> Any:
        bonds, permit = carry
        values = dense_state(x[0], x[1], bonds, permit, x[2], x[3], x[4], xp=jnp)
        st = pipeline.run(values, config, xp=jnp)
        return (st["bonds"], st["validator_permit"]), {f: st[f] for f in RESULT_FIELDS}

    with jax.enable_x64(True):
        carry0 = (jnp.zeros((n, n)), jnp.ones(n, dtype=bool))
        xs = (weights, stake, active, outdated, recent)
        final, outs = jax.jit(lambda c, x: jax.lax.scan(step, c, x))(carry0, xs)
    bonds = None
    permit = np.ones(n, dtype=bool)
    for e in range(epochs):
        ref = yuma.epoch(
            weights[e], stake[e], bonds, params, validator_permit=permit, active=active[e],
            outdated=outdated[e], recently_registered=recent[e], backend="numpy",
        )  # fmt: skip
        assert not knife_edge(ref, params.kappa)
        got = yuma.EpochResult(**{name: np.asarray(outs[name][e]) for name in outs})
        assert_results_close(ref, got)
        bonds, permit = ref.bonds, ref.validator_permit
    np.testing.assert_allclose(np.asarray(final[0]), bonds, atol=1e-9)


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed (optional extra)")
def test_jax_vmap_over_params() -> None:
    """A parameter sweep: ``vmap`` over a numeric field of :class:`yuma.pipeline.Config`."""
    import jax
    import jax.numpy as jnp

    import yuma.backends.jax_pipeline
    from yuma.pipeline import CHAIN, Config, dense_state

    rng = np.random.default_rng(4)
    n = 5
    w = rng.random((n, n))
    s = rng.random(n)
    kappas = np.array([0.3, 0.5, 0.7])
    base = Config.from_params(YumaParams(), square=True)
    values = dense_state(w, s, np.zeros((n, n)), np.ones(n, bool), np.ones(n, bool), None,
                         np.zeros(n, bool))  # fmt: skip

    def one(config: Config) -> Any:
        st = CHAIN.run(values, config, xp=jnp)
        return {"consensus": st["consensus"], "dividends": st["dividends"]}

    with jax.enable_x64(True):
        configs = base.with_numbers(kappa=jnp.asarray(kappas))
        axes = jax.tree_util.tree_map(lambda _: None, base).with_numbers(kappa=0)
        out = jax.jit(jax.vmap(one, in_axes=(axes,)))(configs)
    for k, kappa in enumerate(kappas):
        ref = yuma.epoch(w, s, params=YumaParams(kappa=float(kappa)), backend="numpy")
        np.testing.assert_allclose(np.asarray(out["consensus"][k]), ref.consensus, atol=1e-9)
        np.testing.assert_allclose(np.asarray(out["dividends"][k]), ref.dividends, atol=1e-9)


def _own_pipelines() -> list[Any]:
    """Every pipeline built from yuma's own steps: the chain's two, each built-in variant, each
    liquid-alpha rate and winner-takes-all."""
    from yuma import steps
    from yuma.ema_rate import LIQUID_CONSENSUS, LiquidAlpha
    from yuma.pipeline import CHAIN, CHAIN_YUMA2

    found = [CHAIN, CHAIN_YUMA2] + [yuma.variants.get(n).pipeline for n in yuma.variants.names()]
    found += [
        CHAIN.replace(ema_rate=LiquidAlpha(version, consensus))
        for version in ("v1", "v2")
        for consensus in LIQUID_CONSENSUS
    ]
    found.append(CHAIN.replace(incentive=steps.incentive_winner_takes_all))
    return found


OWN_PIPELINES = _own_pipelines()


@pytest.mark.parametrize("index", range(len(OWN_PIPELINES)))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=batch_strategy())
def test_numpy_batch_in_one_pass_equals_one_epoch_at_a_time(
    index: int, args: dict[str, Any]
) -> None:
    # The one-pass numpy batch runs every step on (b, R, C) stacks; the per-epoch runs the
    # same steps on (R, C). Both are the numpy reference, so they agree to round-off.
    pipeline = OWN_PIPELINES[index]
    assert pipeline.takes_batches()
    refs = [
        yuma.epoch(backend="numpy", pipeline=pipeline, **_item(args, k))
        for k in range(len(args["stake"]))
    ]
    batch = yuma.epoch_batch(backend="numpy", pipeline=pipeline, **args)
    for ref, got in zip(refs, batch, strict=True):
        assert_results_close(ref, got)


def test_a_users_step_runs_the_numpy_batch_one_epoch_at_a_time() -> None:
    # A step written for one epoch's shapes (a 1-D @ 2-D product) declares no rule, so the
    # batch is not stacked through it: each epoch runs alone and equals yuma.epoch.
    from yuma.pipeline import CHAIN

    def ranks_one_epoch(s: Any) -> dict[str, Any]:
        ranks = s.active_stake @ s.clipped_weights
        return {"ranks": ranks, "incentive": ranks / max(float(ranks.sum()), 1e-300)}

    mine = CHAIN.replace(incentive=ranks_one_epoch)
    assert not mine.takes_batches()
    rng = np.random.default_rng(11)
    w, s = rng.random((3, 5, 5)), rng.random((3, 5))
    batch = yuma.epoch_batch(w, s, backend="numpy", pipeline=mine)
    for k in range(3):
        ref = yuma.epoch(w[k], s[k], backend="numpy", pipeline=mine)
        np.testing.assert_allclose(batch.incentive[k], ref.incentive, rtol=0, atol=1e-12)
        np.testing.assert_allclose(batch.dividends[k], ref.dividends, rtol=0, atol=1e-12)
        assert ref.incentive.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("backend", yuma.backends.available_backends())
def test_an_empty_batch_gives_empty_stacks(backend: str) -> None:
    result = yuma.epoch_batch(np.zeros((0, 3, 3)), np.zeros((0, 3)), backend=backend)
    assert len(result) == 0
    assert result.consensus.shape == (0, 3)
    assert result.bonds.shape == (0, 3, 3)


def test_numpy_batch_over_several_passes_equals_one_epoch_at_a_time() -> None:
    # 40 epochs of 64 x 64 are more than one pass holds (yuma.batch._CHUNK_CELLS): the epochs
    # at the seams must be each their own.
    from yuma.batch import _CHUNK_CELLS

    rng = np.random.default_rng(12)
    b, n = 40, 64
    assert b * n * n > _CHUNK_CELLS
    w = rng.random((b, n, n)) * (rng.random((b, n, n)) < 0.5)
    s = rng.random((b, n))
    bonds = rng.random((b, n, n))
    batch = yuma.epoch_batch(w, s, bonds, backend="numpy")
    for k in (0, 31, 32, 39):
        assert_results_close(yuma.epoch(w[k], s[k], bonds[k], backend="numpy"), batch[k])


@pytest.mark.slow
@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed (optional extra)")
def test_jax_batch_of_large_epochs_equals_reference() -> None:
    """From 2^16 cells per epoch JAX's median sums each halving as a vector-matrix product;
    under ``vmap`` that product is batched (a form no smaller test reaches)."""
    from yuma.median import _PRODUCT_MIN_CELLS

    rng = np.random.default_rng(11)
    b, n_rows, n_cols = 2, 256, 300
    assert n_rows * n_cols >= _PRODUCT_MIN_CELLS
    weights = rng.integers(0, 65536, (b, n_rows, n_cols)) * (rng.random((b, n_rows, n_cols)) < 0.7)
    stake = rng.lognormal(0.0, 2.0, (b, n_rows))
    params = YumaParams(max_allowed_validators=n_rows)
    batch = yuma.epoch_batch(weights, stake, params=params, backend="jax")
    for k in range(b):
        ref = yuma.epoch(weights[k], stake[k], params=params, backend="numpy")
        assert not knife_edge(ref, params.kappa)
        assert_results_close(ref, batch[k])
