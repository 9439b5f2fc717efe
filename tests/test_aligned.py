"""The dense epoch's output matrices, placed by :mod:`yuma.backends._aligned`."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import yuma
from yuma.backends import _aligned
from yuma.backends.numba_dense import allocate


@pytest.mark.parametrize("shape", [(256, 256), (91, 91), (3, 64, 64), (1, 8192)])
def test_large_matrices_sit_at_their_offsets_and_share_nothing(shape: tuple[int, ...]) -> None:
    mats = _aligned.aligned_matrices(shape)
    for m, offset in zip(mats, _aligned.OFFSETS, strict=True):
        assert m.shape == shape and m.dtype == np.float64
        assert m.flags.c_contiguous and m.flags.writeable and m.flags.aligned
        assert m.ctypes.data % _aligned.PAGE == offset
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.shares_memory(mats[i], mats[j])
    for k, m in enumerate(mats):
        m[...] = k  # every byte of each is its own
    assert [float(m.min()) for m in mats] == [0.0, 1.0, 2.0]
    assert [float(m.max()) for m in mats] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("shape", [(64, 64), (0, 256, 256), (4, 4), (8191, 1)])
def test_small_matrices_are_plain_arrays(shape: tuple[int, ...]) -> None:
    assert 8 * int(np.prod(shape)) < _aligned.MIN_BYTES
    for m in _aligned.aligned_matrices(shape):
        assert m.shape == shape and m.dtype == np.float64 and m.flags.owndata


def test_allocate_places_the_three_matrices_batch_stacks_included() -> None:
    o = allocate(128, 128, True)
    assert [a.ctypes.data % _aligned.PAGE for a in (o.w, o.clipped, o.bonds)] == list(
        _aligned.OFFSETS
    )
    stacked = allocate(16, 64, False, (10,))
    assert stacked.w.shape == (10, 16, 64) and stacked.w.ctypes.data % 64 == 0
    empty = allocate(16, 64, False, (10,), matrices=False)
    assert empty.w.shape == (0, 16, 64)


def test_an_epochs_aligned_results_behave_as_arrays() -> None:
    """Views of a longer buffer: equal to the numpy reference, picklable, usable as ``out``
    and as the next epoch's bonds."""
    rng = np.random.default_rng(3)
    n = 128
    W = rng.random((n, n)) * (rng.random((n, n)) < 0.7)
    S = rng.lognormal(0.0, 2.0, n)
    a = yuma.epoch(W, S, backend="numba")
    assert a.weights.ctypes.data % 64 == 0 and a.bonds.ctypes.data % 64 == 0
    ref = yuma.epoch(W, S, backend="numpy")
    np.testing.assert_allclose(a.bonds, ref.bonds, rtol=1e-9, atol=1e-12)
    back = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(back.clipped_weights, a.clipped_weights)
    b = yuma.epoch(W, S, a.bonds, backend="numba")
    c = yuma.epoch(W, S, b.bonds, backend="numba", out=a)
    assert c is a
    np.testing.assert_array_equal(c.bonds, yuma.epoch(W, S, b.bonds, backend="numba").bonds)
