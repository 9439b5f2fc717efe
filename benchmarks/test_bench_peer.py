"""The community simulator's epoch next to ours (issue 12 item 7), where it is installed.

``yuma_simulation`` (torch, float32 on the CPU) is never a dependency: without it these tests
skip. They run last in ``benchmarks/run.py`` (their own file), so torch's thread pool is never
started beside numba's while our kernels are timed.

Run: ``python -m pytest benchmarks/test_bench_peer.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from bench_inputs import DENSE_SIZES, dense_inputs


def _peer_epoch() -> Any:
    """The community simulator's Yuma3 epoch (``yuma_simulation``, torch), or None when it is
    not installed. Its internal module holds the per-epoch function; a release that moves it
    reads as absent."""
    try:
        import torch
        from yuma_simulation._internal.yumas import Yuma3, YumaConfig, YumaParams
    except ImportError:
        return None
    config = YumaConfig()
    config.yuma_params = YumaParams()
    return lambda w, s, b: Yuma3(
        torch.from_numpy(w).to(torch.float32),
        torch.from_numpy(s).to(torch.float32),
        num_servers=w.shape[1],
        num_validators=w.shape[0],
        use_full_matrices=True,
        B_old=b,
        config=config,
    )


@pytest.mark.parametrize("n", DENSE_SIZES)
def test_dense_peer(benchmark: Any, n: int) -> None:
    """The community simulator's epoch on the same matrix (never required: skipped when its
    package is not installed)."""
    peer = _peer_epoch()
    if peer is None:
        pytest.skip("the community simulator (yuma_simulation, torch) is not installed")
    w, stake, _ = dense_inputs(n)
    bonds = peer(w, stake, None)["validator_bonds"]
    benchmark.extra_info.update(case="dense", n=n, backend="peer", permits="all")
    benchmark.pedantic(lambda: peer(w, stake, bonds), rounds=3 if n >= 1024 else 10)
