"""The numba backend called from several Python threads (issue 14, item 9).

numba's fallback threading layer, workqueue, aborts the whole process on concurrent parallel
launches; :func:`yuma._threads.numba_parallel_guard` serialises calls under it. The end-to-end
checks run in a subprocess with ``NUMBA_THREADING_LAYER=workqueue`` (the layer is chosen once
per process), so an abort fails the test instead of killing pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from yuma import _threads

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import json
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import scipy.sparse as sp

    import yuma
    from yuma._threads import threading_layer

    rng = np.random.default_rng(7)
    # Sparse input always runs the parallel kernels; dense from 512 x 512 cells on.
    cases = [(sp.random_array((48, 48), density=0.3, rng=rng, format="csr"), rng.random(48))
             for _ in range(3)]
    cases.append((rng.random((520, 520)), rng.random(520)))
    batch = (rng.random((6, 16, 16)), rng.random((6, 16)))

    def run(k):
        if k == len(cases):
            return yuma.epoch_batch(*batch, backend="numba").dividends
        return yuma.epoch(*cases[k], backend="numba").dividends

    jobs = list(range(len(cases) + 1)) * 6
    alone = [run(k) for k in range(len(cases) + 1)]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(run, jobs))
    same = all(np.array_equal(out, alone[k]) for k, out in zip(jobs, together))
    print(json.dumps({"layer": threading_layer(), "same": same, "runs": len(together)}))
    """
)


def run_script(layer: str) -> dict[str, object]:
    pytest.importorskip("numba")
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-3000:]}"
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_epochs_from_many_threads_under_workqueue_complete_and_match() -> None:
    out = run_script("workqueue")
    assert out == {"layer": "workqueue", "same": True, "runs": 30}


def test_the_guard_locks_only_under_an_unsafe_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deterministic check of the guard itself: under workqueue at most one thread is ever
    inside it; under a thread-safe layer they overlap (here: all four wait at one barrier)."""

    def peak_inside(layer: str) -> int:
        monkeypatch.setattr(_threads, "threading_layer", lambda: layer)
        inside = 0
        peak = 0
        count_lock = threading.Lock()
        barrier = threading.Barrier(4, timeout=0.3)

        def work() -> None:
            nonlocal inside, peak
            with _threads.numba_parallel_guard():
                with count_lock:
                    inside += 1
                    peak = max(peak, inside)
                try:
                    barrier.wait()  # only passes when all four are inside at once
                except threading.BrokenBarrierError:
                    time.sleep(0.01)
                with count_lock:
                    inside -= 1

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return peak

    assert peak_inside("workqueue") == 1
    assert peak_inside("omp") == 4
    assert peak_inside("tbb") == 4


def test_the_guard_is_reentrant_and_the_decorator_guards(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_threads, "threading_layer", lambda: "workqueue")
    with _threads.numba_parallel_guard(), _threads.numba_parallel_guard():
        pass  # a nested guarded call (an epoch inside a simulation) must not deadlock

    seen: list[bool] = []

    def try_lock() -> None:
        got = _threads._LAUNCH_LOCK.acquire(blocking=False)
        seen.append(got)
        if got:
            _threads._LAUNCH_LOCK.release()

    @_threads.serialised
    def probe() -> None:
        # While the decorated function runs, another thread cannot take the lock.
        t = threading.Thread(target=try_lock)
        t.start()
        t.join()

    probe()
    assert seen == [False]
    monkeypatch.setattr(_threads, "threading_layer", lambda: "omp")
    probe()  # under a thread-safe layer nothing is locked
    assert seen == [False, True]


def test_threading_layer_reports_the_real_layer() -> None:
    numba = pytest.importorskip("numba")
    layer = _threads.threading_layer()
    assert layer == numba.threading_layer()
    assert layer in {"tbb", "omp", "workqueue"}
    assert _threads.threading_layer_is_threadsafe() == (layer != "workqueue")
