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


# --- the threads option ---------------------------------------------------------------------

numba = pytest.importorskip("numba")


def _subnet(n: int, seed: int) -> tuple[object, object]:
    import numpy as np

    rng = np.random.default_rng(seed)
    w = rng.integers(0, 65536, (n, n)) * (rng.random((n, n)) < 0.6)
    return w.astype(float), rng.lognormal(0.0, 2.0, n)


def test_threads_one_gives_the_parallel_result_and_restores_the_count() -> None:
    import numpy as np
    import scipy.sparse as sp

    import yuma

    before = numba.get_num_threads()
    # 600 x 600 is over the dense cut-off (512 x 512): the default runs the parallel passes.
    w, s = _subnet(600, 1)
    bonds = yuma.epoch(w, s, backend="numba").bonds
    default = yuma.epoch(w, s, bonds, backend="numba")
    serial = yuma.epoch(w, s, bonds, backend="numba", threads=1)
    for field in ("consensus", "incentive", "dividends", "bonds", "validator_trust"):
        np.testing.assert_allclose(getattr(serial, field), getattr(default, field), atol=1e-12)
    csr = sp.csr_array(w)
    a = yuma.epoch(csr, s, backend="numba", threads=1)
    b = yuma.epoch(csr, s, backend="numba")
    np.testing.assert_allclose(a.dividends, b.dividends, atol=1e-12)
    batch = yuma.epoch_batch(np.stack([w[:40, :40]] * 3), s[:40], backend="numba", threads=1)
    one = yuma.epoch(w[:40, :40], s[:40], backend="numba")
    np.testing.assert_allclose(batch.dividends[2], one.dividends, atol=1e-12)
    assert numba.get_num_threads() == before


def test_threads_applies_only_inside_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    import yuma
    from yuma.backends import numba_dense

    seen: list[int] = []
    real = numba_dense.epoch_dense

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(numba.get_num_threads())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(numba_dense, "epoch_dense", spy)
    w, s = _subnet(16, 2)
    yuma.epoch(w, s, backend="numba", threads=1)
    yuma.epoch(w, s, backend="numba")
    assert seen == [1, numba.get_num_threads()]
    assert np.all(np.isfinite(yuma.epoch(w, s, threads=1).dividends))


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2", 10**6])
def test_threads_out_of_range_or_not_an_int_is_refused(bad: object) -> None:
    import numpy as np

    import yuma

    w, s = _subnet(8, 3)
    with pytest.raises(ValueError, match="threads"):
        yuma.epoch(w, s, threads=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threads"):
        yuma.epoch_batch(np.stack([w, w]), s, threads=bad)  # type: ignore[arg-type]
