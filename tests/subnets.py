"""Hypothesis strategies for random subnets, shared by the property tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from hypothesis import strategies as st

import yuma


@dataclass(frozen=True)
class Subnet:
    """One epoch's arguments; ``kwargs`` are the optional masks for :func:`yuma.epoch`."""

    weights: np.ndarray
    stake: np.ndarray
    bonds: np.ndarray | None
    params: yuma.YumaParams
    kwargs: dict[str, Any] = field(default_factory=dict)

    def sparse_weights(self, store_zeros: bool = False) -> sp.csr_array:
        """The weights as CSR; with ``store_zeros`` every cell is stored (zeros explicit)."""
        if not store_zeros:
            return sp.csr_array(self.weights)
        rows, cols = np.indices(self.weights.shape)
        return sp.csr_array(
            (self.weights.ravel(), (rows.ravel(), cols.ravel())), shape=self.weights.shape
        )


def dyadic_stake(draw: st.DrawFn, n: int, zeros: bool = True) -> np.ndarray:
    """Integer stakes whose total is a power of two, so normalised stake and its running sums
    are exact in float64: medians then never depend on summation order."""
    hi = 64
    values = draw(st.lists(st.integers(0 if zeros else 1, hi), min_size=n, max_size=n))
    stake = np.array(values, dtype=np.float64)
    total = stake.sum()
    target = 2.0 ** np.ceil(np.log2(total + 1.0))
    stake[int(np.argmax(stake))] += target - total
    return stake


@st.composite
def params_strategy(draw: st.DrawFn, **fixed: Any) -> yuma.YumaParams:
    lo = draw(st.floats(0.0, 1.0))
    hi = draw(st.floats(lo, 1.0))
    values: dict[str, Any] = dict(
        kappa=draw(st.integers(1, 65535).map(lambda k: k / 65536)),
        bonds_moving_average=draw(st.sampled_from([0.0, 0.5, 0.9, 0.975, 1.0])),
        bonds_penalty=draw(st.sampled_from([0.0, 0.3, 1.0])),
        yuma3=draw(st.booleans()),
        liquid_alpha=draw(st.booleans()),
        alpha_low=lo,
        alpha_high=hi,
        alpha_sigmoid_steepness=draw(st.sampled_from([-500.0, 0.0, 100.0, 1000.0, 5000.0])),
        max_allowed_validators=draw(st.integers(0, 70)),
    )
    values.update(fixed)
    return yuma.YumaParams(**values)


@st.composite
def subnets(
    draw: st.DrawFn,
    max_n: int = 24,
    square: bool | None = None,
    masks: bool = True,
    dyadic: bool = False,
    **fixed_params: Any,
) -> Subnet:
    """A random subnet: u16 weights with holes, stake with zeros, optional bonds and masks."""
    is_square = draw(st.booleans()) if square is None else square
    rows = draw(st.integers(1, max_n))
    cols = rows if is_square else draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from([0.0, 0.2, 0.6, 1.0]))
    weights = np.round(rng.random((rows, cols)) * 65535) * (rng.random((rows, cols)) < density)
    if draw(st.booleans()):
        # Coarse values make ties between validators common.
        weights = np.round(weights / 16384) * 16384
    if dyadic:
        stake = dyadic_stake(draw, rows)
    else:
        stake = rng.random(rows) * (rng.random(rows) < 0.8) * 1e6
    params = draw(params_strategy(**fixed_params))
    bonds = None
    if draw(st.booleans()):
        bonds = rng.random((rows, cols)) * (rng.random((rows, cols)) < 0.5)
    kwargs: dict[str, Any] = {}
    if masks:
        if draw(st.booleans()):
            kwargs["active"] = rng.random(rows) < 0.8
        if draw(st.booleans()):
            kwargs["validator_permit"] = rng.random(rows) < 0.8
        if draw(st.booleans()):
            kwargs["outdated"] = rng.random((rows, cols)) < 0.2
        if draw(st.booleans()):
            kwargs["recently_registered"] = rng.random(cols) < 0.2
        if is_square and draw(st.booleans()):
            kwargs["owner_uid"] = draw(st.integers(0, rows - 1))
    if not is_square:
        kwargs["layout"] = "bipartite"
    return Subnet(weights, stake, bonds, params, kwargs)
