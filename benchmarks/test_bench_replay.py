"""Chain replay benchmarks (issue 12 item 3): one exact / float epoch of a whole subnet snapshot,
and a three-epoch replay, on both of the chain's paths.

Two validator settings at each size: ``chain`` (256 validators with permits weighting and
bonding every uid: a full subnet as the chain runs it) and ``all`` (every uid a validator
weighting every uid: n² entries, the worst case for the sparse path).

Run: ``python -m pytest benchmarks/test_bench_replay.py`` (add ``--benchmark-disable`` and
``YUMA_BENCH_SMALL=1`` for a quick smoke run at n = 256).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
import pytest

from yuma.chain import Hyperparameters, SubnetSnapshot, replay, run_epoch
from yuma.chain.ops import SparseRows

SMALL = os.environ.get("YUMA_BENCH_SMALL", "") not in ("", "0")
SIZES = [256] if SMALL else [1024, 4096]
U16 = 65535


@functools.cache
def chain_snapshot(n: int, validators: int, path: str, yuma3: bool = True) -> SubnetSnapshot:
    """A full subnet: ``validators`` rows (sorted by uid, as the chain stores them) weight and
    bond every uid; stakes of 1e3–1e6 TAO for validators, dust for the rest."""
    rng = np.random.default_rng(n + validators)
    v = min(validators, n)
    stake = np.concatenate([rng.integers(10**12, 10**15, v), rng.integers(0, 10**9, n - v)]).astype(
        np.int64
    )
    rows = np.repeat(np.arange(v, dtype=np.int64), n)
    cols = np.tile(np.arange(n, dtype=np.int64), v)
    w = rng.integers(0, U16 + 1, rows.size)
    return SubnetSnapshot(
        n=n,
        block=10_000,
        emission=41 * 10**9,
        alpha_stake=stake.tolist(),
        last_update=[9_990] * n,
        block_at_registration=rng.integers(0, 9_000, n).tolist(),
        weights=SparseRows.from_entries(n, rows, cols, w),
        bonds=SparseRows.from_entries(n, rows, cols, rng.integers(0, U16 + 1, rows.size)),
        validator_permit=[True] * v + [False] * (n - v),
        last_mechanism_step_block=9_640,
        owner_uid=0,
        path=path,
        hyperparameters=Hyperparameters(yuma3_enabled=yuma3, max_allowed_validators=v, tempo=360),
    )


def _validators(n: int, setting: str) -> int:
    return n if setting == "all" else min(256, n)


CASES = [
    pytest.param(n, setting, path, id=f"{path}-{setting}-{n}")
    for n in SIZES
    for setting in ("chain", "all")
    for path in ("sparse", "dense")
]


@pytest.mark.parametrize(("n", "setting", "path"), CASES)
@pytest.mark.parametrize("arithmetic", ["exact", "float"])
def test_epoch(benchmark: Any, arithmetic: str, n: int, setting: str, path: str) -> None:
    s = chain_snapshot(n, _validators(n, setting), path)
    run_epoch(s, arithmetic)  # type: ignore[arg-type]  # compile / warm up
    out = benchmark.pedantic(
        run_epoch, args=(s, arithmetic), rounds=3 if n >= 4096 else 5, iterations=1
    )
    assert 0 < sum(out.emission) <= s.emission
    benchmark.extra_info.update(n=n, validators=_validators(n, setting), nnz=s.weights.nnz)


@pytest.mark.parametrize("yuma3", [True, False], ids=["yuma3", "yuma2"])
@pytest.mark.parametrize("path", ["sparse", "dense"])
def test_replay_three_epochs(benchmark: Any, path: str, yuma3: bool) -> None:
    n = SIZES[-1]
    first = chain_snapshot(n, min(256, n), path, yuma3)
    snaps = [first, first.replace(block=first.block + 360, last_mechanism_step_block=10_000)]
    snaps.append(snaps[1].replace(block=first.block + 720, last_mechanism_step_block=10_360))
    replay(snaps[:1])  # warm up
    outs = benchmark.pedantic(replay, args=(snaps,), rounds=3, iterations=1)
    assert len(outs) == 3
    benchmark.extra_info.update(n=n, epochs=3)
