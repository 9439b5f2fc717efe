"""Timing goals of the simulation layer (issue 5), with pytest-benchmark.

* a 40-epoch, 3 x 3 scenario runs in milliseconds (numpy steps, every variant);
* 1000 epochs of a 256-uid subnet in under a second on the fastest backend (the compiled
  numba loop on CPU; the ``lax.scan`` is there to compare, and is the one to use on a GPU).

Run: ``python -m pytest benchmarks/test_bench_simulation.py --benchmark-only``. The 1000-epoch
numpy run is marked ``slow`` (several seconds); add ``-m slow`` or ``-m ""`` to include it.
``YUMA_BENCH_EPOCHS`` changes the long runs' epoch count (default 1000).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import yuma

EPOCHS = int(os.environ.get("YUMA_BENCH_EPOCHS", "1000"))
SN15 = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SN15 /= "sn15_block4769998_metagraph.npz"


def subnet_256() -> tuple[Any, Any]:
    """The real subnet 15 metagraph (256 uids, 2.6 % dense) when shared data is present, else
    a random subnet of the same size and density."""
    if SN15.is_file():
        data = np.load(SN15)
        return data["W"].astype(np.float64), data["S"].astype(np.float64)
    rng = np.random.default_rng(0)
    w = rng.random((256, 256)) * (rng.random((256, 256)) < 0.026)
    return w, rng.lognormal(size=256)


def drifting_stake(stake: Any, epochs: int) -> Any:
    """Stake that drifts a little every epoch, so every epoch differs."""
    rng = np.random.default_rng(1)
    return stake[None, :] * np.exp(np.cumsum(rng.normal(0, 0.01, (epochs, stake.size)), axis=0))


@pytest.mark.parametrize("variant", ["yuma1", "yuma2", "yuma2_paper", "yuma2b", "yuma2c", "yuma3"])
def test_bench_scenario_3x3_40_epochs(benchmark: Any, variant: str) -> None:
    sc = yuma.scenarios.get("stable_miner_50")  # 3 validators x 3 servers, 40 epochs
    result = benchmark(sc.simulate, variant)
    assert result.n_epochs == 40


def _long_run(benchmark: Any, backend: str, rounds: int = 3) -> None:
    w, s = subnet_256()
    stake = drifting_stake(s, EPOCHS)
    weights = np.broadcast_to(w, (EPOCHS, *w.shape))

    def run() -> Any:
        return yuma.simulate(weights, stake, backend=backend, layout="uid", keep_matrices=False)

    run()  # compile (numba, jax) outside the timing
    result = benchmark.pedantic(run, rounds=rounds, iterations=1)
    assert result.n_epochs == EPOCHS


def test_bench_1000_epochs_256_uids_numba(benchmark: Any) -> None:
    if importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed")
    _long_run(benchmark, "numba")


def test_bench_1000_epochs_256_uids_jax(benchmark: Any) -> None:
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    _long_run(benchmark, "jax", rounds=1)  # seconds per round on a CPU


@pytest.mark.slow
def test_bench_1000_epochs_256_uids_numpy(benchmark: Any) -> None:
    _long_run(benchmark, "numpy", rounds=1)
