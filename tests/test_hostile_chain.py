"""Hostile input for ``yuma.chain`` (issue 14: items 3, 5, 6, 7, 10 on the chain side).

Each class has a small default run and a ``slow`` run with many examples (the slow CI step):

* ``integer rule`` — every integer field of a snapshot (``[uid, u16]`` pairs included) takes only
  integers in range; anything else is a ``ValueError`` naming the field, never a cast;
* ``sparse rows`` — a malformed :class:`SparseRows` (indptr, negative or out-of-range uids, float
  data) is refused before any kernel reads it;
* ``stake extremes`` — stakes up to u64::MAX: the epoch pays at most E, and all of E but the
  rounding when stake exists, or refuses a total past the chain's I64F64 sum (2^63 rao);
* ``hyperparameter extremes`` — any u64 ``bonds_moving_average`` and any ``alpha_low``/
  ``alpha_high`` order: exact runs them as the chain does, float agrees or refuses;
* ``float payout`` — float amounts never exceed E, E up to u64::MAX;
* ``huge n`` — n = 65535 with few weights runs in O(nnz) memory (sparse) or is refused (dense).
"""

from __future__ import annotations

import os
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yuma.chain import Hyperparameters, SubnetSnapshot, run_epoch
from yuma.chain.ops import SparseRows

U16 = 65535
U64 = (1 << 64) - 1
#: examples per class in the default run / in the slow step (5 classes x 2000 = 10 000)
FAST = settings(
    max_examples=int(os.environ.get("YUMA_HOSTILE_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(
    max_examples=int(os.environ.get("YUMA_HOSTILE_SLOW_EXAMPLES", "2000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def base(n: int = 3, **over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "n": n,
        "block": 100,
        "emission": 10**9,
        "alpha_stake": [10**12 * (i + 1) for i in range(n)],
        "last_update": [100] * n,
        "block_at_registration": [0] * n,
        # the previous epoch ran after every registration, so stored bonds are kept
        "last_mechanism_step_block": 50,
        "weights": [[[j, 1000 * (j + 1)] for j in range(n) if j != i] for i in range(n)],
        "bonds": [[] for _ in range(n)],
        "validator_permit": [True] * n,
        "hyperparameters": {"max_allowed_validators": n, "tempo": 100},
    }
    d.update(over)
    return d


# ------------------------------------------------------------------------------------------------
# integer rule

#: values no integer field may take (a cast would accept most of them)
NOT_INTEGERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(0, 100).map(float),
    st.booleans(),
    st.integers(0, 100).map(str),
    st.text(max_size=5),
    st.none(),
    st.just([1]),
    st.just(np.float64(3.0)),
    st.just(np.bool_(True)),
)


def out_of_range(hi: int) -> st.SearchStrategy[int]:
    return st.one_of(
        st.integers(max_value=-1),
        st.integers(hi + 1, hi + 10),
        st.integers(hi + 1, 1 << 80),
        st.just(2**70),
        st.just(10**5000),
    )


@st.composite
def hostile_integer_field(draw: Any) -> tuple[dict[str, Any], str]:
    """A valid snapshot with one integer field replaced by a non-integer or out-of-range value,
    and the field name the error must carry."""
    n = 3
    d = base(n)
    bad_range = draw(st.booleans())
    target = draw(
        st.sampled_from(
            [
                "weights.uid",
                "weights.value",
                "bonds.uid",
                "bonds.value",
                "alpha_stake",
                "tao_stake",
                "last_update",
                "block_at_registration",
                "block",
                "emission",
                "last_mechanism_step_block",
                "owner_uid",
            ]
        )
    )
    if target.startswith(("weights", "bonds")):
        key, part = target.split(".")
        hi = n - 1 if part == "uid" else U16
        v = draw(out_of_range(hi) if bad_range else NOT_INTEGERS)
        pair = [1, v] if part == "value" else [v, 7]
        rows = [[], [], []]
        rows[0] = [[2, 5], pair]
        d[key] = rows
        return d, rf"{key}\[0\]\[1\]"
    if target in ("alpha_stake", "tao_stake", "last_update", "block_at_registration"):
        v = draw(out_of_range(U64) if bad_range else NOT_INTEGERS)
        d[target] = [1, v, 2]
        return d, rf"{target}\[1\]"
    hi = U64 if target != "owner_uid" else U16
    v = draw(out_of_range(hi) if bad_range else NOT_INTEGERS)
    if target == "owner_uid" and v is None:
        v = 1.5
    d[target] = v
    return d, target


def check_integer_rule(case: tuple[dict[str, Any], str]) -> None:
    d, field = case
    with pytest.raises(ValueError, match=field) as info:
        SubnetSnapshot.from_dict(d)
    # one line, short even for a 5000-digit integer
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 300


@FAST
@given(case=hostile_integer_field())
def test_integer_rule(case: tuple[dict[str, Any], str]) -> None:
    check_integer_rule(case)


@pytest.mark.slow
@SLOW
@given(case=hostile_integer_field())
def test_integer_rule_slow(case: tuple[dict[str, Any], str]) -> None:
    check_integer_rule(case)


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.9, "1.9"), ("7", "'7'"), (True, "True"), (2**70, "1180591620717411303424")],
)
def test_u16_pair_is_not_cast(value: Any, text: str) -> None:
    """The cases of the issue: a float was truncated, a string and a bool parsed, 2**70 raised
    OverflowError; now each is the ValueError of the stakes and blocks."""
    d = base(3, weights=[[[1, value]], [], []])
    with pytest.raises(ValueError, match=r"weights\[0\]\[0\]: value") as info:
        SubnetSnapshot.from_dict(d)
    assert text in str(info.value)
    d = base(3, bonds=[[[value, 1]], [], []])
    with pytest.raises(ValueError, match=r"bonds\[0\]\[0\]: uid"):
        SubnetSnapshot.from_dict(d)


# ------------------------------------------------------------------------------------------------
# sparse rows


@st.composite
def hostile_sparse_rows(draw: Any) -> SparseRows:
    n = 3
    indptr = np.array([0, 1, 2, 3], dtype=np.int64)
    indices = np.array([1, 2, 0], dtype=np.int64)
    data = np.array([5, 6, 7], dtype=np.int64)
    kind = draw(st.sampled_from(["indptr", "index", "value", "dtype", "length"]))
    if kind == "indptr":
        indptr = np.array(
            draw(st.lists(st.integers(-5, 8), min_size=n + 1, max_size=n + 1)), dtype=np.int64
        )
        if indptr[0] == 0 and indptr[-1] == 3 and (np.diff(indptr) >= 0).all():
            indptr[1] = 4
    elif kind == "index":
        indices[draw(st.integers(0, 2))] = draw(
            st.one_of(st.integers(-(1 << 62), -1), st.integers(n, 1 << 62))
        )
    elif kind == "value":
        data[draw(st.integers(0, 2))] = draw(
            st.one_of(st.integers(-(1 << 62), -1), st.integers(U16 + 1, 1 << 62))
        )
    elif kind == "dtype":
        return SparseRows(indptr, indices, data.astype(np.float64) + 0.5)
    else:
        return SparseRows(np.array([0, 1, 2], dtype=np.int64), indices[:2], data[:2])
    return SparseRows(indptr, indices, data)


def check_sparse_rows(m: SparseRows) -> None:
    d = base(3)
    d["weights"] = m
    with pytest.raises(ValueError, match="weights"):
        SubnetSnapshot.from_dict(d)


@FAST
@given(m=hostile_sparse_rows())
def test_sparse_rows_are_checked(m: SparseRows) -> None:
    check_sparse_rows(m)


@pytest.mark.slow
@SLOW
@given(m=hostile_sparse_rows())
def test_sparse_rows_are_checked_slow(m: SparseRows) -> None:
    check_sparse_rows(m)


# ------------------------------------------------------------------------------------------------
# stake extremes


@st.composite
def extreme_stake_snapshots(draw: Any) -> SubnetSnapshot:
    n = draw(st.integers(1, 6))
    near = st.one_of(
        st.integers(U64 - 1000, U64),
        st.integers((1 << 63) - 1000, (1 << 63) + 1000),
        st.integers(((1 << 63) // max(n, 1)) - 10, ((1 << 63) // max(n, 1)) + 10),
        st.integers(0, U64),
        st.just(0),
        st.just(1),
    )
    alpha = draw(st.lists(near, min_size=n, max_size=n))
    tao = draw(st.lists(near, min_size=n, max_size=n))
    rows = [
        [[j, draw(st.integers(0, U16))] for j in range(n) if j != i and draw(st.booleans())]
        for i in range(n)
    ]
    return SubnetSnapshot(
        n=n,
        block=100,
        emission=draw(st.one_of(st.integers(0, U64), st.just(U64), st.integers(1 << 40, 1 << 50))),
        alpha_stake=alpha,
        tao_stake=tao,
        last_update=[draw(st.sampled_from([0, 100])) for _ in range(n)],
        block_at_registration=[0] * n,
        weights=rows,
        bonds=[[[j, draw(st.integers(0, U16))] for j in range(n)] for _ in range(n)],
        validator_permit=draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        path=draw(st.sampled_from(["sparse", "dense"])),
        hyperparameters=Hyperparameters(
            yuma3_enabled=draw(st.booleans()),
            liquid_alpha_enabled=draw(st.booleans()),
            tao_weight_raw=draw(st.sampled_from([0, U64, 1 << 63, 12345])),
            max_allowed_validators=n,
            tempo=100,
        ),
    )


def _filtered_total(s: SubnetSnapshot) -> int:
    """Total stake the chain sums, as an integer number of 2^-64 rao (I64F64 raw)."""
    from yuma.chain.exact import stake_terms

    try:
        return sum(stake_terms(s).filtered)
    except ValueError:
        return 1 << 127


def check_stake_extremes(s: SubnetSnapshot) -> None:
    total = _filtered_total(s)
    if total >= 1 << 127:
        # past the chain's I64F64 sum: both arithmetics refuse, naming the stakes
        for arithmetic in ("exact", "float"):
            with pytest.raises(ValueError, match="alpha_stake/tao_stake"):
                run_epoch(s, arithmetic)  # type: ignore[arg-type]
    else:
        out = run_epoch(s, "exact")
        e = s.emission
        for key in ("emission", "server_emission", "validator_emission"):
            assert sum(getattr(out, key)) <= e, key
        paid = sum(out.emission)
        if total > 0:
            # every share is floored twice (I32F32 share, then the amount): at most n units of
            # 2^-32 · E and n rao short of E
            assert e - paid <= 2 * s.n * (e >> 32) + 2 * s.n, (e, paid)
        fl = run_epoch(s, "float")
        assert sum(fl.emission) <= e


@FAST
@given(s=extreme_stake_snapshots())
def test_stake_extremes(s: SubnetSnapshot) -> None:
    check_stake_extremes(s)


@pytest.mark.slow
@SLOW
@given(s=extreme_stake_snapshots())
def test_stake_extremes_slow(s: SubnetSnapshot) -> None:
    check_stake_extremes(s)


def test_stake_sum_at_the_i64f64_limit() -> None:
    """Two stakes of 2^62 rao sum to exactly 2^63: the chain's I64F64 add overflows there (the
    release runtime wraps to −2^63, which paid out nothing before this check). One rao less is
    fine and pays all of E but the rounding."""
    ok = SubnetSnapshot.from_dict(base(2, alpha_stake=[1 << 62, (1 << 62) - 1], weights=[[], []]))
    out = run_epoch(ok)
    assert ok.emission - sum(out.emission) <= 4
    assert out.stake_weight[0] == out.stake_weight[1] == U16 // 2
    over = SubnetSnapshot.from_dict(base(2, alpha_stake=[1 << 62, 1 << 62], weights=[[], []]))
    for arithmetic in ("exact", "float"):
        with pytest.raises(ValueError, match=r"2\^63"):
            run_epoch(over, arithmetic)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# hyperparameter extremes (bonds moving average, alpha order)


@st.composite
def ema_hyperparameter_snapshots(draw: Any) -> SubnetSnapshot:
    n = draw(st.integers(2, 5))
    return SubnetSnapshot.from_dict(
        base(
            n,
            bonds=[[[j, draw(st.integers(0, U16))] for j in range(n)] for _ in range(n)],
            path=draw(st.sampled_from(["sparse", "dense"])),
            hyperparameters={
                "max_allowed_validators": n,
                "tempo": 100,
                "yuma3_enabled": draw(st.booleans()),
                "liquid_alpha_enabled": draw(st.booleans()),
                "bonds_moving_average": draw(
                    st.one_of(
                        st.integers(0, 1_000_000),
                        st.integers(1_000_001, 10**9),
                        st.integers(0, U64),
                        st.just(U64),
                    )
                ),
                "alpha_low": draw(st.integers(0, U16)),
                "alpha_high": draw(st.integers(0, U16)),
                "alpha_sigmoid_steepness": draw(st.integers(-32768, 32767)),
            },
        )
    )


def check_ema_hyperparameters(s: SubnetSnapshot) -> None:
    hp = s.hyperparameters
    if hp.bonds_moving_average > 1_000_000:
        # a negative EMA rate (root only): both arithmetics refuse by name
        for arithmetic in ("exact", "float"):
            with pytest.raises(ValueError, match=r"hyperparameters\.bonds_moving_average"):
                run_epoch(s, arithmetic)  # type: ignore[arg-type]
    else:
        out = run_epoch(s, "exact")
        assert all(0 <= v <= U16 for v in out.dividends)
        assert sum(out.emission) <= s.emission
        if hp.alpha_low > hp.alpha_high:
            # the chain's clamp_value(α, low, high) is max(min(α, high), low) = low
            same = s.replace(
                hyperparameters=Hyperparameters(**{**hp.to_dict(), "alpha_high": hp.alpha_low})
            )
            assert run_epoch(same, "exact").to_dict() == out.to_dict()
        fl = run_epoch(s, "float")
        assert sum(fl.emission) <= s.emission


@FAST
@given(s=ema_hyperparameter_snapshots())
def test_ema_hyperparameters(s: SubnetSnapshot) -> None:
    check_ema_hyperparameters(s)


@pytest.mark.slow
@SLOW
@given(s=ema_hyperparameter_snapshots())
def test_ema_hyperparameters_slow(s: SubnetSnapshot) -> None:
    check_ema_hyperparameters(s)


def test_alpha_low_above_high_agrees_with_float() -> None:
    """low > high: the chain pays α = low everywhere; the float path maps it to low = high and
    agrees with exact."""
    hp = {
        "max_allowed_validators": 3,
        "tempo": 100,
        "liquid_alpha_enabled": True,
        "alpha_low": 50000,
        "alpha_high": 10000,
    }
    bonds = [[[j, 20000 + 1000 * i] for j in range(3)] for i in range(3)]
    s = SubnetSnapshot.from_dict(base(3, hyperparameters=hp, bonds=bonds))
    ex, fl = run_epoch(s, "exact"), run_epoch(s, "float")
    assert np.abs(ex.bonds.to_dense(3) - fl.bonds.to_dense(3)).max() <= 1
    hp_eq = {**hp, "alpha_high": 50000}
    eq = run_epoch(SubnetSnapshot.from_dict(base(3, hyperparameters=hp_eq, bonds=bonds)))
    assert eq.to_dict() == ex.to_dict()


def test_bonds_moving_average_above_one_million() -> None:
    """Root may set BMA > 1e6; the chain's rate 1 − BMA/1e6 is then negative and its epoch pays
    out more than E (here E + 34 rao before the check). Both arithmetics refuse by name;
    exactly 1e6 (α = 0: bonds kept) still runs."""
    bonds = [[[j, 0] for j in range(3)] for _ in range(2)] + [[[0, 0], [1, 0], [2, 1]]]
    hp = {
        "max_allowed_validators": 3,
        "tempo": 100,
        "bonds_moving_average": 3_416_667,
        "yuma3_enabled": False,
    }
    s = SubnetSnapshot.from_dict(base(3, hyperparameters=hp, bonds=bonds, path="dense"))
    for arithmetic in ("exact", "float"):
        with pytest.raises(ValueError, match=r"hyperparameters\.bonds_moving_average"):
            run_epoch(s, arithmetic)  # type: ignore[arg-type]
    hp1 = {**hp, "bonds_moving_average": 1_000_000, "yuma3_enabled": True}
    old = [[[j, 30000] for j in range(3)] for _ in range(3)]
    kept = run_epoch(SubnetSnapshot.from_dict(base(3, hyperparameters=hp1, bonds=old)))
    # α = 0 keeps every bond (to the u16 -> I32F32 -> u16 round trip, which floors once)
    assert set(kept.bonds.data.tolist()) <= {29999, 30000} and kept.bonds.nnz == 9


# ------------------------------------------------------------------------------------------------
# float payout


@st.composite
def float_payout_snapshots(draw: Any) -> SubnetSnapshot:
    n = draw(st.integers(1, 8))
    return SubnetSnapshot.from_dict(
        base(
            n,
            emission=draw(
                st.one_of(st.just(U64), st.integers(U64 - 10**6, U64), st.integers(0, U64))
            ),
            alpha_stake=draw(st.lists(st.integers(0, 10**17), min_size=n, max_size=n)),
            weights=[
                [[j, draw(st.integers(0, U16))] for j in range(n) if draw(st.booleans())]
                for _ in range(n)
            ],
            path=draw(st.sampled_from(["sparse", "dense"])),
            hyperparameters={"max_allowed_validators": n, "tempo": 100},
        )
    )


def check_float_payout(s: SubnetSnapshot) -> None:
    fl = run_epoch(s, "float")
    for key in ("emission", "server_emission", "validator_emission"):
        assert sum(getattr(fl, key)) <= s.emission, key
        assert all(0 <= v <= U64 for v in getattr(fl, key))


@FAST
@given(s=float_payout_snapshots())
def test_float_payout(s: SubnetSnapshot) -> None:
    check_float_payout(s)


@pytest.mark.slow
@SLOW
@given(s=float_payout_snapshots())
def test_float_payout_slow(s: SubnetSnapshot) -> None:
    check_float_payout(s)


def test_float_pays_at_most_u64_max() -> None:
    """The issue's case: E = u64::MAX paid E + 513 rao (float64 rounds E up to 2^64)."""
    s = SubnetSnapshot.from_dict(base(3, emission=U64))
    fl, ex = run_epoch(s, "float"), run_epoch(s, "exact")
    assert sum(fl.emission) <= U64
    assert abs(sum(fl.emission) - sum(ex.emission)) <= 1e-6 * U64


# ------------------------------------------------------------------------------------------------
# huge n


def huge_snapshot(path: str) -> SubnetSnapshot:
    """n = 65535 (the largest u16), 64 validators with 8 weights and bonds each."""
    n = U16
    rng = np.random.default_rng(7)
    v = 64
    rows = np.repeat(np.arange(v, dtype=np.int64), 8)
    cols = rng.integers(0, n, rows.size)
    w = SparseRows.from_entries(n, rows, cols, rng.integers(1, U16 + 1, rows.size))
    b = SparseRows.from_entries(n, rows, cols, rng.integers(0, U16 + 1, rows.size))
    stake = np.zeros(n, dtype=np.int64)
    stake[:v] = rng.integers(10**12, 10**15, v)
    stake[v:] = 1000
    return SubnetSnapshot(
        n=n,
        block=10_000,
        emission=10**9,
        alpha_stake=stake.tolist(),
        last_update=[9_990] * n,
        block_at_registration=[0] * n,
        weights=w,
        bonds=b,
        validator_permit=[True] * v,
        path=path,
        hyperparameters=Hyperparameters(max_allowed_validators=v, tempo=360),
    )


def _peak_bytes(fn: Any) -> int:
    """Peak of traced allocations during ``fn()`` (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("arithmetic", ["exact", "float"])
def test_huge_n_sparse_runs_in_o_nnz_memory(arithmetic: str) -> None:
    s = huge_snapshot("sparse")
    run_epoch(s, arithmetic)  # type: ignore[arg-type]  # warm up the kernels outside the trace
    out: list[Any] = []
    peak = _peak_bytes(lambda: out.append(run_epoch(s, arithmetic)))  # type: ignore[arg-type]
    # one (n, n) int64 matrix would be 32 GiB; the epoch keeps a few dozen (n,) vectors
    assert peak < 256 * 2**20, peak
    res = out[0]
    assert len(res.incentive) == U16
    assert 0 < sum(res.emission) <= s.emission


@pytest.mark.parametrize("arithmetic", ["exact", "float"])
def test_huge_n_dense_is_refused_before_allocating(arithmetic: str) -> None:
    s = huge_snapshot("dense")
    errors: list[str] = []

    def attempt() -> None:
        try:
            run_epoch(s, arithmetic)  # type: ignore[arg-type]
        except ValueError as exc:
            errors.append(str(exc))

    peak = _peak_bytes(attempt)
    assert len(errors) == 1 and "path='dense'" in errors[0] and "32.0 GiB" in errors[0]
    assert peak < 64 * 2**20, peak
