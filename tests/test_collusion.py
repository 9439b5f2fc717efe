"""Collusion resistance under minority stake: hypothesis searches for counterexamples."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from subnets import params_strategy

import yuma


@st.composite
def cabal_subnets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int, yuma.YumaParams]:
    """Honest validators weight honest miners only; cabal validators weight cabal miners only."""
    honest_v = draw(st.integers(1, 8))
    cabal_v = draw(st.integers(1, 4))
    honest_m = draw(st.integers(1, 8))
    cabal_m = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    params = draw(params_strategy(max_allowed_validators=64))
    honest_stake = rng.random(honest_v) + 0.01
    share = draw(st.floats(0.0, 1.0))
    cabal_stake = rng.random(cabal_v) + 0.01
    # Scale the cabal to a fraction `share` of κ of the total stake: strictly a minority.
    target = share * params.kappa * 0.999
    cabal_stake *= target / (1 - target) * honest_stake.sum() / cabal_stake.sum()
    stake = np.concatenate((honest_stake, cabal_stake))
    weights = np.zeros((honest_v + cabal_v, honest_m + cabal_m))
    weights[:honest_v, :honest_m] = rng.random((honest_v, honest_m)) * (
        rng.random((honest_v, honest_m)) < 0.8
    )
    weights[honest_v:, honest_m:] = rng.random((cabal_v, cabal_m)) + 0.01
    return weights, stake, honest_v, honest_m, params


@settings(max_examples=200, deadline=None)
@given(case=cabal_subnets(), sparse=st.booleans())
def test_minority_cabal_earns_nothing(
    case: tuple[np.ndarray, np.ndarray, int, int, yuma.YumaParams], sparse: bool
) -> None:
    """Invariant: a cabal holding less than κ of the active stake that weights only its own
    miners, which no honest validator weights, gets consensus 0, clipped weight 0 and incentive
    0 on every cabal miner; and with no prior bonds its validators earn no dividends
    (whatever κ, bonds penalty, EMA rate, liquid alpha and bond branch)."""
    weights, stake, honest_v, honest_m, params = case
    assume(stake[honest_v:].sum() / stake.sum() < params.kappa - 1e-9)
    w = sp.csr_array(weights) if sparse else weights
    r = yuma.epoch(w, stake, None, params, layout="bipartite")
    assert np.all(r.consensus[honest_m:] == 0)
    assert np.all(r.dense("clipped_weights")[:, honest_m:] == 0)
    assert np.all(r.incentive[honest_m:] == 0)
    assert np.all(r.dividends[honest_v:] == 0)


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    rows=st.integers(1, 12),
    cols=st.integers(1, 8),
    sparse=st.booleans(),
    params=params_strategy(max_allowed_validators=64),
)
def test_majority_support_sets_a_floor_on_consensus(
    data: st.DataObject, rows: int, cols: int, sparse: bool, params: yuma.YumaParams
) -> None:
    """Invariant: if validators holding at least κ of the active stake all give miner j a
    normalised weight of at least w, then consensus_j >= w, whatever the others do."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    weights = rng.random((rows, cols)) * (rng.random((rows, cols)) < 0.7)
    stake = rng.random(rows) * (rng.random(rows) < 0.9)
    assume(stake.sum() > 0)
    j = data.draw(st.integers(0, cols - 1))
    supporters = np.array(data.draw(st.lists(st.booleans(), min_size=rows, max_size=rows)))
    weights[supporters, j] += data.draw(st.floats(0.01, 10.0))
    w = sp.csr_array(weights) if sparse else weights
    r = yuma.epoch(w, stake, None, params, layout="bipartite")
    active = r.active_stake
    assume(active[supporters].sum() >= params.kappa * active.sum() + 1e-9)
    floor = r.dense("weights")[supporters, j].min()
    assert r.consensus[j] >= floor
