"""yuma.simulate: schedules, callables, commit-reveal, the weight copier, bad input, outputs."""

from __future__ import annotations

import importlib.util
from typing import Any

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import yuma
from yuma.simulation import PLOT_KINDS, SimulationResult, SimulationState


def simulate(*args: Any, **kwargs: Any) -> Any:
    """``yuma.simulate`` on the numpy reference unless a backend is named, with matrices kept
    unless asked otherwise (the defaults themselves are tested in ``test_defaults``)."""
    kwargs.setdefault("keep_matrices", True)
    kwargs.setdefault("backend", "numpy")
    return yuma.simulate(*args, **kwargs)


matplotlib.use("Agg")

HAS_JAX = importlib.util.find_spec("jax") is not None
HAS_XARRAY = importlib.util.find_spec("xarray") is not None


def random_schedule(seed: int = 0, e: int = 12, v: int = 4, n: int = 3) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    return rng.random((e, v, n)) * (rng.random((e, v, n)) < 0.7), rng.random((e, v)) + 0.1


# --- shapes and labels ----------------------------------------------------------------------


def test_result_shapes_and_labels() -> None:
    w, s = random_schedule()
    r = simulate(w, s, validators=["a", "b", "c", "d"], miners=["x", "y", "z"])
    assert isinstance(r, SimulationResult)
    assert r.n_epochs == 12 and r.validators == ("a", "b", "c", "d") and r.miners == ("x", "y", "z")
    assert r.weights.shape == r.bonds.shape == (12, 4, 3)
    for name in ("stake", "dividends", "validator_trust", "validator_permit"):
        assert getattr(r, name).shape == (12, 4), name
    for name in ("consensus", "incentive", "ranks"):
        assert getattr(r, name).shape == (12, 3), name
    np.testing.assert_allclose(r.relative_dividends, r.dividends / r.stake)
    assert r.total_dividends().shape == (4,)


def test_constant_schedules_broadcast() -> None:
    w, s = random_schedule()
    full = simulate(np.broadcast_to(w[0], w.shape), np.broadcast_to(s[0], s.shape))
    np.testing.assert_array_equal(simulate(w[0], s[0], epochs=12).dividends, full.dividends)
    varying = simulate(np.broadcast_to(w[0], w.shape), s)
    np.testing.assert_array_equal(simulate(w[0], s).dividends, varying.dividends)


def test_inputs_are_not_modified() -> None:
    w, s = random_schedule()
    w0, s0 = w.copy(), s.copy()
    bonds = np.full((4, 3), 0.5)
    simulate(w, s, bonds=bonds, bond_reset=(0, 3))
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(bonds, 0.5)


def test_initial_bonds_are_used() -> None:
    w, s = random_schedule()
    cold = simulate(w, s, variant="yuma3")
    warm = simulate(w, s, variant="yuma3", bonds=np.full((4, 3), 0.5))
    assert not np.array_equal(cold.bonds[0], warm.bonds[0])


def test_uid_layout_masks_self_weights() -> None:
    w = np.broadcast_to(np.eye(3) * 5 + np.arange(9).reshape(3, 3) / 9, (4, 3, 3))
    uid = simulate(w, np.ones(3), layout="uid")
    bip = simulate(w, np.ones(3))
    np.testing.assert_array_equal(np.diagonal(uid.weights, axis1=1, axis2=2), 0.0)
    assert not np.array_equal(uid.dividends, bip.dividends)


# --- bad input --------------------------------------------------------------------------------


def test_bad_input_is_refused_with_a_clear_message() -> None:
    w, s = random_schedule()
    with pytest.raises(ValueError, match="ragged"):
        simulate([[[1.0, 0.0], [0.5]], [[1.0, 0.0], [1.0, 0.0]]], [1.0, 1.0])
    with pytest.raises(ValueError, match="stake has 3 validators, weights have 4"):
        simulate(w, s[:, :3])
    with pytest.raises(ValueError, match="weights have 12 epochs, stake/epochs say 5"):
        simulate(w, s[:5])
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        simulate(w[0], s[0], epochs=-3)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        simulate(w[0], s[0], epochs=0)
    with pytest.raises(ValueError, match="need epochs"):
        simulate(w[0], s[0])
    with pytest.raises(ValueError, match="at least one epoch"):
        simulate(np.zeros((0, 4, 3)), s[0])
    with pytest.raises(ValueError, match="non-negative"):
        simulate(-w, s)
    with pytest.raises(ValueError, match="finite"):
        simulate(np.where(w > 0.5, np.nan, w), s)
    with pytest.raises(ValueError, match="stake must be finite and non-negative"):
        simulate(w, -s)
    with pytest.raises(ValueError, match="weights must be"):
        simulate(np.ones(3), s)
    with pytest.raises(ValueError, match="params must be a YumaParams"):
        simulate(w, s, params={"kappa": 0.5})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layout"):
        simulate(w, s, layout="auto")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="square"):
        simulate(w, s, layout="uid")
    with pytest.raises(ValueError, match="bonds has shape"):
        simulate(w, s, bonds=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="validators has 2 labels"):
        simulate(w, s, validators=["a", "b"])
    with pytest.raises(ValueError, match="needs epochs"):
        simulate(lambda t, state: w[0], s[0])
    with pytest.raises(ValueError, match="returned 2 rows"):
        simulate(lambda t, state: w[0][:2], s[0], epochs=3)


def test_unavailable_backend_combinations_are_refused() -> None:
    w, s = random_schedule()
    with pytest.raises(ValueError, match="backend must be one of"):
        simulate(w, s, backend="cuda")
    with pytest.raises(ValueError, match=r"cannot run pipeline 'yuma2c'.*bonds\.capacity"):
        simulate(w, s, variant="yuma2c", backend="numba")
    with pytest.raises(ValueError, match="incentive_winner_takes_all"):
        simulate(w, s, variant="yuma3", backend="numba", winner_takes_all=True)


# --- commit-reveal ----------------------------------------------------------------------------


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_commit_reveal_delays_the_weights_that_enter_consensus(delay: int) -> None:
    w, s = random_schedule()
    r = simulate(w, s, commit_reveal=delay)
    for t in range(w.shape[0]):
        np.testing.assert_array_equal(r.weights[t], yuma.row_normalize(w[max(t - delay, 0)]))
    # A delayed run from epoch d on equals an undelayed run of the shifted schedule there.
    shifted = np.concatenate([np.repeat(w[:1], delay, axis=0), w[: w.shape[0] - delay]])
    np.testing.assert_array_equal(r.dividends, simulate(shifted, s).dividends)


def test_callable_schedule_equals_the_array_schedule() -> None:
    w, s = random_schedule()
    seen: list[SimulationState] = []

    def strategy(t: int, state: SimulationState) -> Any:
        seen.append(state)
        return w[t]

    a = simulate(strategy, s, commit_reveal=2)
    b = simulate(w, s, commit_reveal=2)
    np.testing.assert_array_equal(a.dividends, b.dividends)
    np.testing.assert_array_equal(a.bonds, b.bonds)
    assert [x.epoch for x in seen] == list(range(12))
    assert seen[0].previous is None and seen[0].bonds is None
    np.testing.assert_array_equal(seen[5].previous.consensus, b.consensus[4])  # type: ignore[union-attr]
    np.testing.assert_allclose(seen[5].stake, s[5] / s[5].sum())


# --- the weight copier ------------------------------------------------------------------------


def rotating_best(period: int) -> Any:
    """Honest validators put all weight on the current best miner, which alternates between
    two miners every ``period`` epochs; the last validator copies the consensus it last saw."""

    def weights(t: int, state: SimulationState) -> Any:
        honest = np.eye(2)[(t // period) % 2]
        w = np.stack([honest, honest, honest])
        if state.previous is not None and state.previous.consensus.sum() > 0:
            w[2] = state.previous.consensus
        return w

    return weights


@pytest.mark.parametrize("delay", [1, 2])
@pytest.mark.parametrize(
    ("variant", "liquid_alpha"), [("yuma3", "off"), ("yuma3", "v2"), ("yuma2", "off")]
)
def test_weight_copier_with_commit_reveal_earns_less_than_an_honest_peer(
    delay: int, variant: str, liquid_alpha: str
) -> None:
    # Setting: stake 0.8 / 0.1 / 0.1 (honest big, honest small, copier); the best of two miners
    # flips every 5 epochs; 60 epochs; the chain's default parameters (kappa 0.5, bonds
    # penalty 1, bonds moving average 0.9); commit-reveal delay d in {1, 2}.
    r = simulate(
        rotating_best(5),
        [0.8, 0.1, 0.1],
        yuma.YumaParams(),
        variant=variant,
        epochs=60,
        commit_reveal=delay,
        liquid_alpha=liquid_alpha,
    )
    per_stake = r.total_relative_dividends()
    honest, copier = per_stake[1], per_stake[2]
    assert copier < 0.75 * honest, per_stake
    # The longer the delay, the worse copying pays.
    if delay == 2:
        one = simulate(
            rotating_best(5),
            [0.8, 0.1, 0.1],
            variant=variant,
            epochs=60,
            commit_reveal=1,
            liquid_alpha=liquid_alpha,
        )
        assert copier < one.total_relative_dividends()[2]


# --- outputs ------------------------------------------------------------------------------------


def test_table_is_tidy() -> None:
    w, s = random_schedule()
    r = simulate(w, s)
    t = r.table()
    assert set(t) == {
        "epoch",
        "validator",
        "stake",
        "dividends",
        "relative_dividends",
        "validator_trust",
    }
    assert all(len(col) == 12 * 4 for col in t.values())
    np.testing.assert_array_equal(t["dividends"].reshape(12, 4), r.dividends)
    assert t["validator"][5] == "validator 1" and t["epoch"][5] == 1


def test_relative_dividends_are_nan_without_stake() -> None:
    w, s = random_schedule()
    s = s.copy()
    s[:, 0] = 0.0
    r = simulate(w, s)
    assert np.all(np.isnan(r.relative_dividends[:, 0]))
    assert np.isnan(r.total_relative_dividends()[0])


@pytest.mark.skipif(HAS_XARRAY, reason="xarray is installed")
def test_to_xarray_without_xarray_says_how_to_install_it() -> None:
    w, s = random_schedule()
    with pytest.raises(ImportError, match="pip install xarray"):
        simulate(w, s).to_xarray()


@pytest.mark.skipif(not HAS_XARRAY, reason="xarray is not installed")
def test_to_xarray_has_labelled_axes() -> None:
    w, s = random_schedule()
    ds = simulate(w, s, miners=["x", "y", "z"]).to_xarray()
    assert ds["bonds"].dims == ("epoch", "validator", "miner")
    assert list(ds["miner"].values) == ["x", "y", "z"]


@pytest.mark.parametrize("kind", PLOT_KINDS)
def test_plot_every_kind(kind: str) -> None:
    import matplotlib.pyplot as plt

    w, s = random_schedule(e=5, v=2, n=2)
    ax = simulate(w, s).plot(kind)
    assert ax.get_lines()
    plt.close("all")


def test_plot_unknown_kind() -> None:
    w, s = random_schedule(e=3)
    with pytest.raises(ValueError, match="plot kind"):
        simulate(w, s).plot("emission")


# --- backends -----------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")
@pytest.mark.parametrize(
    ("variant", "params"),
    [
        ("yuma3", yuma.YumaParams()),
        ("yuma2", yuma.YumaParams(bonds_penalty=0.4)),
        ("yuma3", yuma.YumaParams(liquid_alpha=True, bonds_penalty=0.0)),
        ("yuma3", yuma.YumaParams(max_allowed_validators=2)),
    ],
)
def test_jax_scan_agrees_with_numpy(variant: str, params: yuma.YumaParams) -> None:
    w, s = random_schedule(3, e=15, v=5, n=4)
    ref = simulate(w, s, params, variant=variant)
    got = simulate(w, s, params, variant=variant, backend="jax")
    assert got.backend == "jax"
    for name in ("consensus", "incentive", "dividends", "validator_trust", "bonds"):
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), atol=1e-12)
    np.testing.assert_array_equal(got.validator_permit, ref.validator_permit)
    # One matrix broadcast over the epochs is passed to the scan once.
    const = simulate(np.broadcast_to(w[0], w.shape), s, params, variant=variant, backend="jax")
    np.testing.assert_allclose(
        const.dividends, simulate(w[0], s, params, variant=variant).dividends, atol=1e-12
    )


JAX_CASES = [
    ("yuma1", {"memory": True, "liquid_alpha": "v1", "alpha_consensus": "max"}),
    ("yuma2", {"winner_takes_all": True, "bond_reset": [(1, 4)], "commit_reveal": 2}),
    ("yuma2_paper", {"liquid_alpha": "v2", "alpha_consensus": "previous"}),
    ("yuma2b", {"liquid_alpha": "v1", "commit_reveal": 1}),
    ("yuma2c", {"bond_reset": [(0, 3)], "decay": 0.2}),
    ("yuma3", {"winner_takes_all": True, "liquid_alpha": "v2", "alpha_consensus": "max"}),
]


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")
@pytest.mark.parametrize(("variant", "options"), JAX_CASES)
def test_every_variant_runs_as_one_jax_scan(variant: str, options: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    e, v, n = 10, 5, 4
    w = np.round(rng.random((e, v, n)) * 4) * (rng.random((e, v, n)) < 0.7)
    s = rng.random((e, v)) * (rng.random((e, v)) < 0.85)
    params = yuma.YumaParams(bonds_penalty=0.5, max_allowed_validators=3)
    ref = simulate(w, s, params, variant=variant, **options)
    got = simulate(w, s, params, variant=variant, backend="jax", **options)
    assert got.backend == "jax" and "jax" in yuma.variants.get(variant).backends
    for name in ("consensus", "incentive", "dividends", "validator_trust", "bonds"):
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), atol=1e-12)
    np.testing.assert_array_equal(got.validator_permit, ref.validator_permit)
    np.testing.assert_allclose(got.final_bonds, ref.final_bonds, atol=1e-12)


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed")
def test_a_custom_step_runs_on_jax_from_its_one_definition() -> None:
    w, s = random_schedule(e=6)

    def share(st: Any) -> Any:
        xp = st.xp
        return {
            "dividends": yuma.normalize(
                yuma.col_normalize(st.ema_bonds, xp=xp) @ st.incentive, xp=xp
            )
            ** 1.0
        }

    own = yuma.variants.get("yuma3").with_(name="own_share", dividends=share)
    assert own.backends == ("numpy", "jax")
    ref = simulate(w, s, variant=own)
    np.testing.assert_allclose(
        simulate(w, s, variant=own, backend="jax").dividends, ref.dividends, atol=1e-12
    )
    # A callable schedule runs epoch by epoch through the jitted pipeline.
    per_epoch = simulate(lambda t, st: w[t], s, variant=own, backend="jax")
    np.testing.assert_allclose(per_epoch.dividends, ref.dividends, atol=1e-12)


@pytest.mark.parametrize(
    ("variant", "params", "options"),
    [
        ("yuma2", yuma.YumaParams(bonds_penalty=0.3), {}),
        ("yuma3", yuma.YumaParams(max_allowed_validators=2), {"commit_reveal": 2}),
        ("yuma3", yuma.YumaParams(), {"liquid_alpha": "v2"}),
    ],
)
def test_numba_loop_and_per_epoch_core_agree_with_numpy(
    variant: str, params: yuma.YumaParams, options: dict[str, Any]
) -> None:
    if "numba" not in ("numpy", "numba", "jax"):
        pytest.skip("the numba backend is not available")
    w, s = random_schedule(4)
    ref = simulate(w, s, params, variant=variant, **options)
    looped = simulate(w, s, params, variant=variant, backend="numba", **options)
    per_epoch = simulate(lambda t, st: w[t], s, params, variant=variant, backend="numba", **options)
    for got in (looped, per_epoch):
        assert got.backend == "numba"
        for name in ("consensus", "incentive", "dividends", "validator_trust", "bonds"):
            np.testing.assert_allclose(getattr(got, name), getattr(ref, name), atol=1e-12)
        np.testing.assert_array_equal(got.validator_permit, ref.validator_permit)
    slim = simulate(w, s, params, variant=variant, backend="numba", keep_matrices=False, **options)
    assert slim.bonds is None and slim.weights is None
    np.testing.assert_allclose(slim.final_bonds, ref.bonds[-1], atol=1e-12)
    np.testing.assert_array_equal(slim.dividends, looped.dividends)


def test_keep_matrices_false_keeps_vectors_and_final_bonds() -> None:
    w, s = random_schedule()
    full = simulate(w, s, variant="yuma2")
    slim = simulate(w, s, variant="yuma2", keep_matrices=False)
    assert slim.weights is None and slim.bonds is None
    np.testing.assert_array_equal(slim.dividends, full.dividends)
    assert full.bonds is not None
    np.testing.assert_array_equal(slim.final_bonds, full.bonds[-1])
    with pytest.raises(ValueError, match="keep_matrices"):
        slim.plot("bonds")
    # final_bonds continues a run where it stopped.
    half = simulate(w[:6], s[:6], variant="yuma2")
    rest = simulate(w[6:], s[6:], variant="yuma2", bonds=half.final_bonds)
    np.testing.assert_allclose(rest.dividends[1:], full.dividends[7:], atol=1e-12)


def test_variant_backends_follow_its_declared_steps() -> None:
    from yuma import dividends

    assert yuma.variants.get("yuma3").backends == ("numpy", "numba", "jax")
    assert yuma.variants.get("yuma2").backends == ("numpy", "numba", "jax")
    assert yuma.variants.get("yuma2b").backends == ("numpy", "jax")
    own = yuma.variants.get("yuma3").with_(name="own", dividends=dividends.bond_share)
    # Built-in steps recombined run as written on numpy and JAX, not on the chain's kernel.
    assert own.backends == ("numpy", "jax")
    w, s = random_schedule()
    with pytest.raises(ValueError, match=r"dividends\.bond_share"):
        simulate(w, s, variant=own, backend="numba")
    with pytest.raises(ValueError, match=r"rate\.liquid_v2"):
        simulate(w, s, variant="yuma2", backend="numba", liquid_alpha="v2")


def test_defaults() -> None:
    w, s = random_schedule()
    # backend=None: numba where its kernel covers the pipeline, else numpy (as yuma.epoch).
    r = yuma.simulate(w, s, variant="yuma3")
    assert r.backend == "numba" and r.weights is None and r.bonds is None
    assert yuma.simulate(w, s, variant="yuma2b").backend == "numpy"
    assert yuma.simulate(lambda t, st: w[t], s, variant="yuma2").backend == "numba"
    ref = simulate(w, s, variant="yuma3")
    np.testing.assert_allclose(r.dividends, ref.dividends, atol=1e-12)
    np.testing.assert_allclose(r.final_bonds, ref.bonds[-1], atol=1e-12)
    with pytest.raises(ValueError, match="keep_matrices=True"):
        r.plot("weights")


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 6), st.integers(1, 5), st.integers(1, 4)),
    k=st.integers(0, 5),
    yuma3=st.booleans(),
    liquid=st.booleans(),
    penalty=st.sampled_from([0.0, 0.5, 1.0]),
    delay=st.integers(0, 2),
)
def test_numba_loop_agrees_with_numpy_on_random_schedules(
    seed: int,
    shape: tuple[int, int, int],
    k: int,
    yuma3: bool,
    liquid: bool,
    penalty: float,
    delay: int,
) -> None:
    e, v, n = shape
    rng = np.random.default_rng(seed)
    w = np.round(rng.random((e, v, n)) * 4) * (rng.random((e, v, n)) < 0.7)
    s = rng.random((e, v)) * (rng.random((e, v)) < 0.8)
    params = yuma.YumaParams(
        max_allowed_validators=k, bonds_penalty=penalty, liquid_alpha=liquid, yuma3=yuma3
    )
    ref = simulate(w, s, params, commit_reveal=delay)
    got = simulate(w, s, params, commit_reveal=delay, backend="numba")
    for name in ("consensus", "incentive", "dividends", "bonds"):
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), atol=1e-12)
    np.testing.assert_array_equal(got.validator_permit, ref.validator_permit)


def test_numba_loop_applies_bond_resets_as_numpy_does() -> None:
    """The compiled loop's bond reset (the column emptied before the epoch) equals numpy's."""
    w, s = random_schedule(seed=3, e=10, v=5, n=4)
    for variant in ("yuma2", "yuma3"):
        opts: dict[str, Any] = {"bond_reset": [(1, 4), (3, 7)], "commit_reveal": 1}
        ref = simulate(w, s, variant=variant, **opts)
        got = simulate(w, s, variant=variant, backend="numba", **opts)
        assert got.backend == "numba"
        np.testing.assert_allclose(got.bonds, ref.bonds, atol=1e-12)
        np.testing.assert_allclose(got.dividends, ref.dividends, atol=1e-12)
        plain = simulate(w, s, variant=variant, backend="numba", commit_reveal=1)
        assert not np.allclose(plain.bonds[4], got.bonds[4])  # the reset changed something
