"""The multi-threaded kernels of the exact sparse epoch (:mod:`yuma.chain._parallel`) against
their serial twins in :mod:`yuma.chain.ops`, bit for bit.

Each parallel kernel takes its chunk count as an argument, so these tests run 1 to 6 chunks
(more chunks than rows or columns too) on any machine, whatever its core count: the chunk
bounds, the count-then-fill offsets of the weights, the gaps the EMA closes, the per-chunk
partial column sums and the median's per-chunk start columns are all exercised. The epoch
itself is compared with every kernel forced onto the parallel path (any size), and once above
the cut-off with numba's own thread choice against ``threads=1``.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_chain_fused import PROPORTION, RAW, SETTINGS, any_rows, same, sorted_rows
from test_chain_fused_rows import clip_ema_case
from test_chain_properties import snapshots

from yuma.chain import ChainEpochOutput, Hyperparameters, SubnetSnapshot, ops, run_epoch
from yuma.chain import _parallel as par
from yuma.chain import fixedpoint as fp
from yuma.chain.ops import SparseRows

CHUNKS = st.integers(1, 6)
U16 = st.one_of(st.integers(0, fp.U16_MAX), st.sampled_from([0, 1, fp.U16_MAX]))


def _weights_buffers(nnz: int, rows: int) -> tuple[Any, Any, Any]:
    return np.zeros(rows + 1, dtype=np.int64), np.zeros(nnz, np.int64), np.zeros(nnz, np.int64)


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 12), width=st.integers(0, 12), chunks=CHUNKS)
def test_parallel_weights_are_the_serial_kernel(
    data: Any, rows: int, width: int, chunks: int
) -> None:
    weights = data.draw(any_rows(rows, width, U16))
    masked = data.draw(hnp.arrays(np.bool_, rows))
    owner = data.draw(st.integers(-1, rows + 1))
    lu = data.draw(
        hnp.arrays(np.uint64, data.draw(st.integers(0, rows)), elements=st.integers(0, 5))
    )
    reg = data.draw(hnp.arrays(np.uint64, width, elements=st.integers(0, 5)))
    args = (weights.indptr, weights.indices, weights.data, masked, owner, lu, reg)
    want_ptr, want_idx, want_val = _weights_buffers(weights.nnz, rows)
    want_k, want_asc = ops._epoch_weights_sparse_kernel(*args, want_ptr, want_idx, want_val)
    ptr, idx, val = _weights_buffers(weights.nnz, rows)
    k, asc = par.epoch_weights(*args, ptr, idx, val, chunks)
    assert (k, asc) == (want_k, want_asc)
    assert np.array_equal(ptr, want_ptr)
    assert np.array_equal(idx[:k], want_idx[:k]) and np.array_equal(val[:k], want_val[:k])


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 40), width=st.integers(0, 40), chunks=CHUNKS)
def test_parallel_medians_are_the_serial_kernel(
    data: Any, rows: int, width: int, chunks: int
) -> None:
    stake = data.draw(hnp.arrays(np.int64, rows, elements=st.integers(-(1 << 31), 1 << 33)))
    kappa = data.draw(st.integers(0, 1 << 33))
    values = data.draw(st.sampled_from([PROPORTION, st.integers(0, 3), RAW]))
    m = data.draw(sorted_rows(rows, width, values, density=data.draw(st.sampled_from([0.3, 1.0]))))
    pos, u, minority = ops._median_stake(stake, kappa)
    slot = np.full(rows, -1, dtype=np.int64)
    slot[pos] = np.arange(int(pos.sum()))
    args = (u, slot, m.indptr, m.indices, m.data, width, minority)
    want = np.zeros(width, dtype=np.int64)
    ops._median_sparse_sorted_kernel(*args, want)
    got = np.zeros(width, dtype=np.int64)
    par.median_sorted(*args, got, chunks)
    assert np.array_equal(got, want)
    if u.size:
        assert np.array_equal(
            got, ops._weighted_median_col_sparse_reference(stake, m, width, kappa)
        )


def _clip_ema_args(
    w: SparseRows, consensus: Any, stake: Any, bonds: SparseRows, tempo: int, reg: Any, alpha: int
) -> tuple[Any, ...]:
    n = w.n_rows
    return (
        w.indptr, w.indices, w.data, fp.i32(consensus), fp.i32(stake), n,
        bonds.indptr, bonds.indices, bonds.data, np.uint64(tempo),
        np.asarray(reg, dtype=np.uint64), alpha, int(fp.saturating_sub(fp.ONE, alpha)),
    )  # fmt: skip


def _outputs(n: int, cap: int) -> tuple[Any, ...]:
    z = np.zeros
    return z(n, np.int64), z(n, np.int64), z(n + 1, np.int64), z(cap, np.int64), z(cap, np.int64)


@SETTINGS
@given(data=st.data(), n=st.integers(0, 11), alpha=st.integers(0, fp.ONE), chunks=CHUNKS)
def test_parallel_clip_ema_is_the_serial_kernel(data: Any, n: int, alpha: int, chunks: int) -> None:
    w, consensus, stake, bonds, tempo, reg = data.draw(clip_ema_case(n, RAW))
    args = _clip_ema_args(w, consensus, stake, bonds, tempo, reg, alpha)

    cap = w.nnz + bonds.nnz
    trust, ranks, ptr, oc, ov = _outputs(n, cap)
    sums = np.zeros(n, dtype=np.int64)
    k = ops._clip_ema_kernel(*args, trust, ranks, ptr, oc, ov, sums)

    bounds, starts, p_cap = par.clip_ema_bounds(w.indptr, bonds.indptr, n, chunks)
    assert p_cap <= cap and bounds[0] == 0 and bounds[-1] == n
    p_trust, p_ranks, p_ptr, p_oc, p_ov = _outputs(n, p_cap)
    p_sums = np.zeros(n, dtype=np.int64)
    p_k = par.clip_ema(
        *args, p_trust, p_ranks, p_ptr, p_oc, p_ov, p_sums, bounds=bounds, starts=starts
    )
    assert p_k == k
    assert np.array_equal(p_trust, trust) and np.array_equal(p_ranks, ranks)
    assert np.array_equal(p_ptr, ptr) and np.array_equal(p_sums, sums)
    assert np.array_equal(p_oc[:k], oc[:k]) and np.array_equal(p_ov[:k], ov[:k])


@SETTINGS
@given(data=st.data(), rows=st.integers(0, 12), width=st.integers(0, 12), chunks=CHUNKS)
def test_parallel_dot_u16_is_the_serial_kernel(
    data: Any, rows: int, width: int, chunks: int
) -> None:
    m = data.draw(any_rows(rows, width, data.draw(st.sampled_from([PROPORTION, RAW]))))
    sums = data.draw(
        hnp.arrays(
            np.int64,
            data.draw(st.integers(0, width + 1)),
            elements=st.one_of(RAW, st.integers(1, 1 << 40), st.just(0)),
        )
    )
    x = data.draw(hnp.arrays(np.int64, data.draw(st.integers(0, width + 1)), elements=RAW))
    want_tb = np.zeros(rows, dtype=np.int64)
    want_u16 = np.empty(m.nnz, dtype=np.int64)
    ops._dot_u16_kernel(m.indptr, m.indices, m.data, sums, x, want_tb, want_u16)
    tb = np.zeros(rows, dtype=np.int64)
    u16 = np.empty(m.nnz, dtype=np.int64)
    par.dot_u16(m.indptr, m.indices, m.data, sums, x, tb, u16, chunks)
    assert np.array_equal(tb, want_tb) and np.array_equal(u16, want_u16)
    # over its own input, as the epoch calls it
    data_copy = m.data.copy()
    tb2 = np.zeros(rows, dtype=np.int64)
    par.dot_u16(m.indptr, m.indices, data_copy, sums, x, tb2, data_copy, chunks)
    assert np.array_equal(tb2, want_tb) and np.array_equal(data_copy, want_u16)


@given(
    cum=hnp.arrays(np.int64, st.integers(1, 30), elements=st.integers(0, 50)).map(np.sort),
    chunks=st.integers(1, 8),
)
def test_split_evenly_covers_every_item_in_order(cum: Any, chunks: int) -> None:
    bounds = par.split_evenly(cum, chunks)
    assert bounds.size == chunks + 1
    assert bounds[0] == 0 and bounds[-1] == cum.size - 1
    assert bool(np.all(np.diff(bounds) >= 0))


def test_chunks_follow_the_cut_off_and_the_thread_count() -> None:
    from yuma._threads import numba_threads

    assert par.chunks_for(par.PARALLEL_MIN_ENTRIES - 1) == 1
    with numba_threads(1):
        assert par.chunks_for(1 << 30) == 1
    most = int(numba.config.NUMBA_NUM_THREADS)
    with numba_threads(most):
        assert par.chunks_for(par.PARALLEL_MIN_ENTRIES) == most


def _outputs_equal(a: Any, b: Any) -> bool:
    for key, x in vars(a).items():
        y = getattr(b, key)
        if isinstance(x, SparseRows):
            if not same(x, y):
                return False
        elif x != y:
            return False
    return True


def _run(snap: SubnetSnapshot) -> ChainEpochOutput | str:
    try:
        return run_epoch(snap)
    except ValueError as exc:
        return str(exc)


@SETTINGS
@given(
    snap=st.one_of(
        snapshots(extreme=False, path="sparse", yuma3=True, liquid_alpha=False),
        snapshots(extreme=True, path="sparse", yuma3=True, liquid_alpha=False),
    ),
    chunks=st.integers(2, 5),
)
def test_epoch_with_every_kernel_parallel_is_the_serial_epoch(
    snap: SubnetSnapshot, chunks: int
) -> None:
    serial = _run(snap)
    with mock.patch.object(ops, "_parallel_chunks", lambda entries: chunks):
        parallel = _run(snap)
    if isinstance(serial, str):
        # the one refusal (a total stake past 2^63 rao) comes before any kernel runs
        assert parallel == serial
    else:
        assert not isinstance(parallel, str) and _outputs_equal(parallel, serial)


def _full_snapshot(n: int, seed: int) -> SubnetSnapshot:
    """Every uid a validator weighting and bonding most uids (rows sorted, as on chain), with
    zero weights and bonds, outdated rows, recent registrations and zero stakes: masked cells,
    dropped bonds and clipped entries."""
    rng = np.random.default_rng(seed)
    keep = rng.random((n, n)) < 0.9
    rows, cols = np.nonzero(keep)
    w = np.where(rng.random(rows.size) < 0.05, 0, rng.integers(0, fp.U16_MAX + 1, rows.size))
    b = np.where(rng.random(rows.size) < 0.05, 0, rng.integers(0, fp.U16_MAX + 1, rows.size))
    stake = np.where(rng.random(n) < 0.1, 0, rng.integers(10**12, 10**15, n))
    return SubnetSnapshot(
        n=n,
        block=10_000,
        emission=41 * 10**9,
        alpha_stake=stake.tolist(),
        last_update=np.where(rng.random(n) < 0.05, 100, 9_990).tolist(),
        block_at_registration=np.where(rng.random(n) < 0.05, 9_700, 50).tolist(),
        weights=SparseRows.from_entries(n, rows, cols, w),
        bonds=SparseRows.from_entries(n, rows, cols, b),
        validator_permit=[True] * n,
        last_mechanism_step_block=9_640,
        owner_uid=3,
        path="sparse",
        hyperparameters=Hyperparameters(max_allowed_validators=n, tempo=360),
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_epoch_above_the_cut_off_is_the_one_thread_epoch(seed: int) -> None:
    snap = _full_snapshot(560, seed)
    one = run_epoch(snap, threads=1)
    # the real dispatch (numba's thread count), with the cut-off lowered under this epoch's
    # 282 240 entries (a 2**22-entry epoch would make a slow test)
    with mock.patch.object(par, "PARALLEL_MIN_ENTRIES", 1 << 18):
        assert snap.weights.nnz >= par.PARALLEL_MIN_ENTRIES
        assert _outputs_equal(run_epoch(snap), one)
        most = int(numba.config.NUMBA_NUM_THREADS)
        assert _outputs_equal(run_epoch(snap, threads=most), one)
        assert _outputs_equal(run_epoch(snap, threads=1), one)
