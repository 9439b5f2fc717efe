"""The public building blocks validate what a direct caller gives them (issue 14, item 10)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

import yuma

W = np.array([[0.5, 0.5], [1.0, 0.0]])
S = np.array([0.6, 0.4])
NAN_W = np.array([[np.nan, 0.5], [1.0, 0.0]])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: yuma.weighted_median_col(S, NAN_W, 0.5), "finite"),
        (lambda: yuma.weighted_median_col(S, -W, 0.5), "non-negative"),
        (lambda: yuma.weighted_median_col(S, W, 1.5), "kappa"),
        (lambda: yuma.weighted_median_col(S, W[0], 0.5), "2-D"),
        (lambda: yuma.weighted_median(S, [1.0], 0.5), "shape"),
        (lambda: yuma.weighted_median(S, [1.0, 2.0], float("nan")), "minority"),
        (lambda: yuma.col_clip(W, [0.5]), "columns"),
        (lambda: yuma.col_clip(W, ["a", "b"]), "consensus"),
        (lambda: yuma.normalize(np.array([1.0, np.inf])), "finite"),
        (lambda: yuma.row_normalize(np.array([1.0 + 2j, 3.0])), "complex|matrix"),
        (lambda: yuma.interpolate(W, W, 1.5), "ratio"),
        (lambda: yuma.mat_ema(W, W, -0.1), "alpha"),
        (lambda: yuma.mat_ema_alpha(W, W, np.full((2, 2), 2.0)), "alpha"),
        (lambda: yuma.alpha_sigmoid(W, W, W, 0.2, 1.2, 1000.0), "alpha_high"),
        (lambda: yuma.is_topk_nonzero(S, -1), "k must"),
        (lambda: yuma.is_topk(S, 1.5), "k must"),
        (lambda: yuma.emission_shares([0.5, 0.5], [1.0], S, S), "one length"),
    ],
)
def test_bad_direct_input_is_refused(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_malformed_sparse_input_to_a_building_block_is_refused() -> None:
    m = sp.csr_array((np.array([1.0]), np.array([0]), np.array([0, 1, 1])), shape=(2, 2))
    m.indices[0] = 7  # out of range: scipy builds it without a full check
    for call in (
        lambda: yuma.col_clip_sparse(m, [0.5, 0.5]),
        lambda: yuma.row_normalize_sparse(m),
        lambda: yuma.col_normalize_sparse(m),
        lambda: yuma.weighted_median_col_sparse(S, m, 0.5),
        lambda: yuma.mat_ema_sparse(m, m, 0.1),
    ):
        with pytest.raises(ValueError, match="out of range"):
            call()


def test_valid_direct_input_still_gives_the_known_values() -> None:
    # the 0.6-stake validator holds the majority in both columns
    np.testing.assert_array_equal(yuma.weighted_median_col(S, W, 0.5), [0.5, 0.5])
    np.testing.assert_array_equal(yuma.weighted_median_col([0.4, 0.6], W, 0.5), [1.0, 0.0])
    np.testing.assert_array_equal(yuma.col_clip(W, [0.6, 0.1]), [[0.5, 0.1], [0.6, 0.0]])
    # numpy scalars and integer arrays are numbers like any other
    np.testing.assert_array_equal(yuma.normalize(np.array([1, 3])), [0.25, 0.75])
    assert yuma.mat_ema(W, W, np.float32(0.25)).shape == (2, 2)
    # The chain's signed fixed-point helpers normalise signed values too.
    np.testing.assert_allclose(yuma.normalize([-1.0, 3.0]), [-0.5, 1.5])
