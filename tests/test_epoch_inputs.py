"""Bad input gets a clear ValueError; legal degenerate input gets the chain's answer, no NaN."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import yuma


def good() -> tuple[np.ndarray, np.ndarray]:
    w = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    return w, np.array([1.0, 2.0, 0.0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda w, s: (w[:, :, None], s), "weights must be 2-D"),
        (lambda w, s: (w, s[:2]), "stake has length 2"),
        (lambda w, s: (w, s[:, None]), "stake must be 1-D"),
        (lambda w, s: (np.where(w == 1.0, -1.0, w), s), "weights must be non-negative"),
        (lambda w, s: (np.where(w == 1.0, np.nan, w), s), "weights must be finite"),
        (lambda w, s: (np.where(w == 1.0, np.inf, w), s), "weights must be finite"),
        (lambda w, s: (w, np.array([1.0, -2.0, 0.0])), "stake must be non-negative"),
        (lambda w, s: (w, np.array([1.0, np.nan, 0.0])), "stake must be finite"),
        (lambda w, s: (w, np.array([np.inf, 1.0, 0.0])), "stake must be finite"),
        (lambda w, s: (w, ["a", "b", "c"]), "stake must be a numeric"),
    ],
)
def test_bad_weights_and_stake(change: object, message: str) -> None:
    w, s = change(*good())  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        yuma.epoch(w, s)
    if isinstance(w, np.ndarray) and w.ndim == 2:
        with pytest.raises(ValueError, match=message):
            yuma.epoch(sp.csr_array(w), s)


def test_bad_sparse_weights() -> None:
    w = sp.csr_array(np.array([[0.0, -1.0], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="weights must be non-negative"):
        yuma.epoch(w, [1.0, 1.0])
    w = sp.csr_array(np.array([[0.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="weights must be finite"):
        yuma.epoch(w, [1.0, 1.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bonds": np.zeros((2, 3))}, "bonds has shape"),
        ({"bonds": -np.ones((3, 3))}, "bonds must be non-negative"),
        ({"bonds": np.full((3, 3), np.nan)}, "bonds must be finite"),
        ({"active": np.ones(2, bool)}, "active must have shape"),
        ({"validator_permit": np.ones(4, bool)}, "validator_permit must have shape"),
        ({"validator_permit": np.array([0.5, 1, 1])}, "validator_permit must be boolean"),
        ({"outdated": np.ones((3, 2), bool)}, "outdated has shape"),
        ({"recently_registered": np.ones(2, bool)}, "recently_registered must have shape"),
        ({"owner_uid": 3}, "owner_uid 3 is out of range"),
        ({"owner_uid": -1}, "owner_uid -1 is out of range"),
        ({"owner_uid": 1.5}, "owner_uid must be an int"),
        ({"layout": "square"}, "layout must be"),
        ({"params": {"kappa": 0.5}}, "params must be a YumaParams"),
    ],
)
def test_bad_options(kwargs: dict[str, object], message: str) -> None:
    w, s = good()
    with pytest.raises(ValueError, match=message):
        yuma.epoch(w, s, **kwargs)  # type: ignore[arg-type]


def test_owner_needs_the_uid_layout() -> None:
    with pytest.raises(ValueError, match="owner_uid needs"):
        yuma.epoch(np.ones((2, 3)), [1.0, 1.0], owner_uid=0)
    with pytest.raises(ValueError, match="layout='uid' needs a square"):
        yuma.epoch(np.ones((2, 3)), [1.0, 1.0], layout="uid")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kappa", 0.0),
        ("kappa", 1.0),
        ("kappa", -0.1),
        ("kappa", float("nan")),
        ("bonds_moving_average", 1.5),
        ("bonds_penalty", -0.1),
        ("alpha_low", 2.0),
        ("alpha_sigmoid_steepness", float("inf")),
        ("max_allowed_validators", -1),
        ("max_allowed_validators", 1.5),
        ("yuma3", 1),
    ],
)
def test_bad_params_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        yuma.YumaParams(**{field: value})  # type: ignore[arg-type]


def test_alpha_bounds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="alpha_low"):
        yuma.YumaParams(alpha_low=0.9, alpha_high=0.7)


def test_from_chain_units() -> None:
    p = yuma.YumaParams.from_chain(
        kappa=32767,
        bonds_moving_average=975_000,
        bonds_penalty=0,
        yuma3_enabled=False,
        liquid_alpha_enabled=True,
        alpha_low=1638,
        alpha_high=65535,
        alpha_sigmoid_steepness=-200,
        max_allowed_validators=64,
    )
    assert p.kappa == 32767 / 65535
    assert p.bonds_moving_average == 0.975
    assert p.bonds_ema_rate == pytest.approx(0.025)
    assert p.bonds_penalty == 0.0
    assert (p.yuma3, p.liquid_alpha) == (False, True)
    assert (p.alpha_low, p.alpha_high) == (1638 / 65535, 1.0)
    assert p.alpha_sigmoid_steepness == -200.0
    assert p.max_allowed_validators == 64
    assert yuma.YumaParams.from_chain() == yuma.YumaParams()
    with pytest.raises(ValueError, match="kappa"):
        yuma.YumaParams.from_chain(kappa=70000)
    with pytest.raises(ValueError, match="kappa must lie in the open interval"):
        yuma.YumaParams.from_chain(kappa=65535)
    with pytest.raises(ValueError, match="bonds_moving_average"):
        yuma.YumaParams.from_chain(bonds_moving_average=1_000_001)
    with pytest.raises(ValueError, match="alpha_sigmoid_steepness"):
        yuma.YumaParams.from_chain(alpha_sigmoid_steepness=40000)


def assert_clean(r: yuma.EpochResult) -> None:
    for name in r.as_dict():
        arr = r.dense(name)
        assert not np.any(np.isnan(arr.astype(float))), name


@pytest.mark.parametrize("sparse", [False, True])
def test_degenerate_inputs_are_legal(sparse: bool) -> None:
    """No stake, no weights, one neuron, everyone inactive: the chain's answer, no NaN, no
    warning."""

    def run(w: np.ndarray, s: np.ndarray, **kw: object) -> yuma.EpochResult:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r = yuma.epoch(sp.csr_array(w) if sparse else w, s, **kw)  # type: ignore[arg-type]
        assert_clean(r)
        return r

    w, s = good()
    # All-zero stake: no permits, no active stake, emergency mode on the (all-zero) stake.
    r = run(w, np.zeros(3))
    assert not r.validator_permit.any()
    assert np.all(r.consensus == 0) and np.all(r.incentive == 0) and np.all(r.dividends == 0)
    assert np.all(r.validator_emission == 0) and np.all(r.combined_emission == 0)
    # No weights: emergency mode pays validators by active stake.
    r = run(np.zeros((3, 3)), s)
    np.testing.assert_allclose(r.validator_emission, [1 / 3, 2 / 3, 0.0])
    np.testing.assert_allclose(r.combined_emission, [1 / 3, 2 / 3, 0.0])
    assert np.all(r.server_emission == 0) and np.all(r.incentive == 0)
    # One neuron: its only weight is a self-weight, masked, so emergency mode.
    r = run(np.array([[65535.0]]), np.array([5.0]))
    assert r.validator_emission.tolist() == [1.0] and r.incentive.tolist() == [0.0]
    # Everyone inactive: active stake is zero, emergency mode falls back to stake.
    r = run(w, s, active=np.zeros(3, bool))
    assert np.all(r.active_stake == 0) and np.all(r.consensus == 0)
    np.testing.assert_allclose(r.validator_emission, [1 / 3, 2 / 3, 0.0])
    # Nobody holds a permit.
    r = run(w, s, validator_permit=np.zeros(3, bool))
    assert np.all(r.dense("weights") == 0)
    np.testing.assert_allclose(r.validator_emission, [1 / 3, 2 / 3, 0.0])
    # Zero-size subnet.
    r = run(np.zeros((0, 0)), np.zeros(0))
    assert r.consensus.shape == (0,) and r.dividends.shape == (0,)


def test_inputs_are_not_mutated() -> None:
    w, s = good()
    bonds = np.full((3, 3), 0.25)
    copies = (w.copy(), s.copy(), bonds.copy())
    for yuma3 in (True, False):
        yuma.epoch(w, s, bonds, yuma.YumaParams(yuma3=yuma3))
        yuma.epoch(sp.csr_array(w), s, sp.csr_array(bonds), yuma.YumaParams(yuma3=yuma3))
    for before, after in zip(copies, (w, s, bonds), strict=True):
        np.testing.assert_array_equal(before, after)


def test_result_is_frozen_and_sparse_in_sparse_out() -> None:
    w, s = good()
    r = yuma.epoch(sp.csr_array(w), s)
    for name in ("weights", "clipped_weights", "bonds"):
        assert sp.issparse(getattr(r, name))
    with pytest.raises(AttributeError):
        r.consensus = np.zeros(3)  # type: ignore[misc]


# --- the default permits, and canonical CSR used as it is ---------------------------------------


def _subnet(n: int, seed: int, k: int) -> tuple[np.ndarray, np.ndarray, yuma.YumaParams]:
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 65536, (n, n)) * (rng.random((n, n)) < 0.5)
    stake = rng.lognormal(0.0, 2.0, n) * (rng.random(n) < 0.8)  # some zero stakes: no permit
    return w.astype(float), stake, yuma.YumaParams(max_allowed_validators=k)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("sparse", [False, True])
def test_default_permits_are_this_stakes_top_k(backend: str, sparse: bool) -> None:
    from yuma.inputs import prepare_inputs
    from yuma.normalize import normalize
    from yuma.permits import is_topk_nonzero

    w, stake, params = _subnet(24, 5, k=9)
    weights = sp.csr_array(w) if sparse else w
    owner = 3 if sparse else None
    inputs, _ = prepare_inputs(weights, stake, None, params, owner_uid=owner)
    assert inputs.given_permit is None
    expected = np.asarray(is_topk_nonzero(normalize(stake), 9))
    if owner is not None:
        expected[owner] = True
    np.testing.assert_array_equal(inputs.old_permit, expected)
    # The kernels compute the default themselves: the same epoch as with the permits given.
    bonds = yuma.epoch(weights, stake, None, params, owner_uid=owner, backend=backend).bonds
    default = yuma.epoch(weights, stake, bonds, params, owner_uid=owner, backend=backend)
    given = yuma.epoch(weights, stake, bonds, params, owner_uid=owner, backend=backend,
                       validator_permit=expected)  # fmt: skip
    for field in ("active_stake", "consensus", "dividends", "incentive", "validator_permit"):
        np.testing.assert_array_equal(getattr(default, field), getattr(given, field))
    as_dense = (lambda m: m.toarray()) if sparse else (lambda m: m)
    np.testing.assert_array_equal(as_dense(default.bonds), as_dense(given.bonds))
    assert int(expected.sum()) == 9


def test_canonical_csr_array_input_is_used_as_it_is_and_never_mutated() -> None:
    from yuma.inputs import prepare_inputs

    w, stake, params = _subnet(16, 6, k=16)
    csr = sp.csr_array(w)
    before = (csr.data.copy(), csr.indices.copy(), csr.indptr.copy())
    inputs, _ = prepare_inputs(csr, stake, csr, params)
    assert inputs.weights is csr and inputs.bonds is csr
    for a, b in zip(before, (csr.data, csr.indices, csr.indptr), strict=True):
        np.testing.assert_array_equal(a, b)
    # Anything else comes back as new canonical float64 CSR.
    matrix = sp.csr_matrix(w)
    shuffled = sp.csr_array((csr.data[::-1].copy(), csr.indices[::-1].copy(), csr.indptr),
                            shape=csr.shape)  # fmt: skip
    for other in (matrix, shuffled, csr.astype(np.float32), sp.coo_array(w)):
        got, _ = prepare_inputs(other, stake, None, params)
        assert isinstance(got.weights, sp.csr_array) and got.weights is not other
        assert got.weights.dtype == np.float64 and got.weights.has_canonical_format
    np.testing.assert_array_equal(
        prepare_inputs(shuffled, stake, None, params)[0].weights.toarray(), shuffled.toarray()
    )


def test_epoch_inputs_fast_constructor_equals_the_dataclass() -> None:
    from dataclasses import fields

    from yuma.inputs import EpochInputs, prepare_inputs

    w, s = good()
    built, _ = prepare_inputs(w, s, active=np.array([1, 0, 1]), validator_permit=[1, 1, 0])
    values = {f.name: getattr(built, f.name) for f in fields(EpochInputs)}
    plain = EpochInputs(**values)
    assert built == plain  # the dataclass's own field-by-field comparison
    assert all(getattr(built, k) is v for k, v in values.items())
    with pytest.raises(AttributeError):
        built.stake = s  # type: ignore[misc]  # still frozen
    np.testing.assert_array_equal(built.old_permit, [True, True, False])
    with pytest.raises(TypeError, match="EpochInputs has 12 fields, got 11"):
        EpochInputs._of(**{k: v for k, v in values.items() if k != "owner_uid"})


def test_default_active_mask_is_all_true_and_fresh() -> None:
    from yuma.inputs import prepare_inputs

    w, s = good()
    a, _ = prepare_inputs(w, s)
    b, _ = prepare_inputs(w, s)
    assert a.active.dtype == np.bool_ and a.active.tolist() == [True, True, True]
    assert not np.shares_memory(a.active, b.active)


FLAG_SETS = [(True, True, False, True), (False, False, True, False)]


def test_compiled_epoch_parameters_are_cached_per_params() -> None:
    from yuma.backends import numba_dense as nd

    for params in (yuma.YumaParams(), yuma.YumaParams(kappa=0.3, bonds_penalty=0.25)):
        for square, yuma3, liquid, check in [
            (True, True, False, True),
            (False, False, True, False),
        ]:
            got = nd._params_tuple(params, square, yuma3, liquid, check)
            want = tuple(nd.dense_params(params, square=square, yuma3=yuma3, liquid=liquid,
                                         check_weights=check, check_bonds=check))  # fmt: skip
            assert got == want and type(got) is tuple
            assert nd._params_tuple(params, square, yuma3, liquid, check) is got
    # an equal YumaParams (another object) finds the same entry
    assert nd._params_tuple(yuma.YumaParams(), True, True, False, True) is nd._params_tuple(
        yuma.YumaParams(), True, True, False, True
    )
