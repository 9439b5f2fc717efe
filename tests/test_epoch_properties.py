"""Property tests of the float64 epoch on random subnets (hypothesis), dense and sparse."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from subnets import Subnet, dyadic_stake, subnets

import yuma

VECTOR_FIELDS = (
    "stake",
    "active_stake",
    "consensus",
    "validator_trust",
    "ranks",
    "incentive",
    "dividends",
    "server_emission",
    "validator_emission",
    "combined_emission",
)
MATRIX_FIELDS = ("weights", "clipped_weights", "bonds")


def run(subnet: Subnet, sparse: bool, store_zeros: bool = False) -> yuma.EpochResult:
    w = subnet.sparse_weights(store_zeros) if sparse else subnet.weights
    bonds = subnet.bonds
    if sparse and bonds is not None:
        bonds = sp.csr_array(bonds)
    return yuma.epoch(w, subnet.stake, bonds, subnet.params, **subnet.kwargs)


def sums_to_one_or_zero(x: np.ndarray) -> None:
    total = x.sum()
    assert total == pytest.approx(1.0, abs=1e-9) or np.all(x == 0), total


@settings(max_examples=150, deadline=None)
@given(subnet=subnets(max_n=64), sparse=st.booleans())
def test_shares_bounds_and_finiteness(subnet: Subnet, sparse: bool) -> None:
    """Incentive and dividends each sum to 1 or are all 0; consensus lies between 0 and the
    column's largest weight; clipping never raises a weight; every output is finite and >= 0."""
    r = run(subnet, sparse)
    sums_to_one_or_zero(r.incentive)
    sums_to_one_or_zero(r.dividends)
    sums_to_one_or_zero(r.stake)
    sums_to_one_or_zero(r.active_stake)
    for name in VECTOR_FIELDS:
        value = getattr(r, name)
        assert np.all(np.isfinite(value)) and np.all(value >= 0), name
    for name in MATRIX_FIELDS:
        value = r.dense(name)
        assert np.all(np.isfinite(value)) and np.all(value >= 0), name
    w = r.dense("weights")
    col_max = w.max(axis=0) if w.shape[0] else np.zeros(w.shape[1])
    assert np.all(r.consensus <= col_max + 1e-12)
    assert np.all(r.dense("clipped_weights") <= w + 1e-15)
    # Stored bonds (spec §4.11.7, §4.12.7, §6.6): a row with a new permit holds the new bonds,
    # proportions in [0, 1] (Yuma3: an EMA of weights and of previous bonds, both in [0, 1];
    # original Yuma: column-max-upscaled). Without a new permit the sparse path stores nothing;
    # the dense path empties a row whose permit was lost and leaves any other row as it was.
    assert subnet.bonds is None or subnet.bonds.max(initial=0.0) <= 1.0  # premise of the bound
    bonds = r.dense("bonds")
    permit = r.validator_permit
    assert np.all(bonds[permit] <= 1.0 + 1e-12)
    if sparse:
        assert np.all(bonds[~permit] == 0)
    else:
        old_permit = np.asarray(subnet.kwargs.get("validator_permit", permit), dtype=bool)
        previous = np.zeros_like(bonds) if subnet.bonds is None else subnet.bonds
        lost = old_permit & ~permit
        assert np.all(bonds[lost] == 0)
        kept = ~old_permit & ~permit
        np.testing.assert_array_equal(bonds[kept], previous[kept])
    # The emission shares split the same total: servers + validators = combined.
    assert r.server_emission.sum() + r.validator_emission.sum() == pytest.approx(
        r.combined_emission.sum(), abs=1e-12
    )


@settings(max_examples=120, deadline=None)
@given(subnet=subnets(max_n=24, dyadic=True), data=st.data())
def test_relabelling_uids_permutes_every_output(subnet: Subnet, data: st.DataObject) -> None:
    """Relabelling rows (validators) and columns (miners) permutes every output the same way.

    Permits at a stake tie on the cut-off go to the higher uid, so ties there are excluded;
    stakes are dyadic so that the medians do not depend on summation order."""
    rows, cols = subnet.weights.shape
    square = subnet.kwargs.get("layout") != "bipartite"
    p = np.array(data.draw(st.permutations(range(rows))))
    q = p if square else np.array(data.draw(st.permutations(range(cols))))
    k = subnet.params.max_allowed_validators
    normalized = subnet.stake / subnet.stake.sum()
    ordered = np.sort(normalized)[::-1]
    assume(k == 0 or k >= rows or ordered[k - 1] != ordered[k])
    kwargs = dict(subnet.kwargs)
    for name in ("active", "validator_permit"):
        if name in kwargs:
            kwargs[name] = kwargs[name][p]
    if "recently_registered" in kwargs:
        kwargs["recently_registered"] = kwargs["recently_registered"][q]
    if "outdated" in kwargs:
        kwargs["outdated"] = kwargs["outdated"][np.ix_(p, q)]
    if "owner_uid" in kwargs:
        kwargs["owner_uid"] = int(np.flatnonzero(p == kwargs["owner_uid"])[0])
    bonds = None if subnet.bonds is None else subnet.bonds[np.ix_(p, q)]
    for sparse in (False, True):
        base = run(subnet, sparse)
        w = subnet.weights[np.ix_(p, q)]
        relabelled = yuma.epoch(
            sp.csr_array(w) if sparse else w,
            subnet.stake[p],
            None if bonds is None else (sp.csr_array(bonds) if sparse else bonds),
            subnet.params,
            **kwargs,
        )
        row_fields = ("stake", "active_stake", "validator_trust", "dividends", "validator_emission")
        for name in row_fields:
            np.testing.assert_allclose(
                getattr(relabelled, name), getattr(base, name)[p], atol=1e-12
            )
        for name in ("consensus", "ranks", "incentive", "server_emission"):
            np.testing.assert_allclose(
                getattr(relabelled, name), getattr(base, name)[q], atol=1e-12
            )
        np.testing.assert_array_equal(relabelled.validator_permit, base.validator_permit[p])
        for name in MATRIX_FIELDS:
            np.testing.assert_allclose(
                relabelled.dense(name), base.dense(name)[np.ix_(p, q)], atol=1e-12
            )


@settings(max_examples=100, deadline=None)
@given(subnet=subnets(max_n=24, dyadic=True), scale=st.sampled_from([2.0, 3.0, 1000.0, 2.0**-20]))
def test_scaling_stake_changes_nothing(subnet: Subnet, scale: float) -> None:
    """Stake is normalised first: multiplying it by a positive constant changes no output."""
    for sparse in (False, True):
        base = run(subnet, sparse)
        scaled = run(
            Subnet(
                subnet.weights, subnet.stake * scale, subnet.bonds, subnet.params, subnet.kwargs
            ),
            sparse,
        )
        for name in VECTOR_FIELDS:
            np.testing.assert_allclose(getattr(scaled, name), getattr(base, name), atol=1e-12)
        for name in MATRIX_FIELDS:
            np.testing.assert_allclose(scaled.dense(name), base.dense(name), atol=1e-12)


@settings(max_examples=150, deadline=None)
@given(subnet=subnets(max_n=64), store_zeros=st.booleans())
def test_dense_equals_sparse_where_the_chain_agrees(subnet: Subnet, store_zeros: bool) -> None:
    """The chain's dense and sparse epochs agree (spec §6) unless an owner is set (the sparse
    path's owner rules), or Yuma3 runs with liquid alpha (the sparse path drops a bond whose
    weight entry is absent). Bond storage differs only for rows without a new permit."""
    assume(subnet.kwargs.get("owner_uid") is None)
    assume(not (subnet.params.yuma3 and subnet.params.liquid_alpha))
    dense = run(subnet, sparse=False)
    sparse = run(subnet, sparse=True, store_zeros=store_zeros)
    for name in VECTOR_FIELDS:
        np.testing.assert_allclose(getattr(sparse, name), getattr(dense, name), atol=1e-12)
    np.testing.assert_array_equal(sparse.validator_permit, dense.validator_permit)
    for name in ("weights", "clipped_weights"):
        np.testing.assert_allclose(sparse.dense(name), dense.dense(name), atol=1e-12)
    permit = dense.validator_permit
    np.testing.assert_allclose(
        sparse.dense("bonds")[permit], dense.dense("bonds")[permit], atol=1e-12
    )
    assert np.all(sparse.dense("bonds")[~permit] == 0)


@settings(max_examples=60, deadline=None)
@given(
    subnet=subnets(max_n=24, masks=False, yuma3=True, liquid_alpha=True),
)
def test_dense_and_sparse_liquid_alpha_differ_only_on_absent_weights(subnet: Subnet) -> None:
    """With Yuma3 + liquid alpha, the sparse path drops a previous bond whose (validator, miner)
    entry has no weight for bonds, while the dense path decays it by 1 − α. Where every weight
    for bonds is present and positive, the two agree."""
    assume(subnet.bonds is not None)
    dense = run(subnet, sparse=False)
    sparse = run(subnet, sparse=True, store_zeros=True)
    np.testing.assert_allclose(sparse.consensus, dense.consensus, atol=1e-12)
    np.testing.assert_allclose(sparse.incentive, dense.incentive, atol=1e-12)
    permit = dense.validator_permit
    # The sparse path's weights for bonds: the entries that take part in its EMA.
    weights_for_bonds = yuma.interpolate_sparse(
        sparse.weights, sparse.clipped_weights, subnet.params.bonds_penalty
    )
    present = np.zeros(subnet.weights.shape, dtype=bool)
    present[weights_for_bonds.tocoo().row, weights_for_bonds.tocoo().col] = True
    if not np.any(dense.consensus != 0):
        # Liquid alpha is off without consensus: both paths use the fixed-rate EMA.
        present[:] = True
    both = present & permit[:, None]
    np.testing.assert_allclose(sparse.dense("bonds")[both], dense.dense("bonds")[both], atol=1e-12)
    # A bond whose weight entry is gone is dropped on the sparse path.
    assert np.all(sparse.dense("bonds")[~present] == 0)


def brute_force_median(stake: np.ndarray, score: np.ndarray, kappa: float) -> float:
    """The largest score ``v`` such that the stake voting strictly above ``v`` is below κ of
    the total, found by trying every distinct score from the smallest up."""
    total = stake.sum()
    for v in sorted(set(score.tolist())):
        above = sum(s for s, x in zip(stake, score, strict=True) if x > v)
        if above < kappa * total:
            return float(v)
    return float(max(score))


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 20),
    m=st.integers(1, 6),
    kappa=st.integers(1, 65535).map(lambda k: k / 65536),
)
def test_weighted_median_equals_brute_force(
    data: st.DataObject, n: int, m: int, kappa: float
) -> None:
    """The vectorised medians (scalar, dense columns, sparse columns) equal the brute-force
    definition; dyadic stakes and κ keep every comparison exact."""
    stake = dyadic_stake(data.draw, n)
    stake = stake / stake.sum()
    levels = data.draw(st.lists(st.integers(0, 4), min_size=n * m, max_size=n * m))
    scores = np.array(levels, dtype=np.float64).reshape(n, m) / 4
    expected = [brute_force_median(stake, scores[:, j], kappa) for j in range(m)]
    assert [yuma.weighted_median(stake, scores[:, j], 1 - kappa) for j in range(m)] == expected
    np.testing.assert_array_equal(yuma.weighted_median_col(stake, scores, kappa), expected)
    np.testing.assert_array_equal(
        yuma.weighted_median_col_sparse(stake, sp.csr_array(scores), kappa), expected
    )


def test_weighted_median_at_the_default_kappa() -> None:
    """κ = 32767/65535 is just below ½: a 50/50 split between 0 and 1 gives consensus 1."""
    kappa = yuma.YumaParams().kappa
    c = yuma.weighted_median_col([0.5, 0.5], np.array([[0.0], [1.0]]), kappa)
    assert c.tolist() == [1.0]
    c = yuma.weighted_median_col([0.51, 0.49], np.array([[0.0], [1.0]]), kappa)
    assert c.tolist() == [0.0]
