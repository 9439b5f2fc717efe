"""Figures the pytest-benchmark tables do not hold: first calls, whole simulations, replay.

Usage: ``python benchmarks/extra.py [--output FILE]`` (appends a markdown section to FILE, or
prints it). Each figure is the best of a few runs in this process, except the first calls,
which are measured in fresh subprocesses (JAX: a fresh compile; numba: the on-disk cache warm,
and cold with an empty cache directory).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def best(fn: Any, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


FIRST_CALL = r"""
import time, numpy as np
t0 = time.perf_counter()
import yuma
rng = np.random.default_rng(0)
w, s = rng.random(({n}, {n})), rng.random({n})
t1 = time.perf_counter()
yuma.epoch(w, s, backend="{backend}")
t2 = time.perf_counter()
yuma.epoch(w, s, backend="{backend}")
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def first_call(backend: str, n: int, env: dict[str, str] | None = None) -> tuple[float, ...]:
    code = FIRST_CALL.format(n=n, backend=backend)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    return tuple(float(x) for x in out.stdout.split())


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path)
    parser.add_argument("--epochs", type=int, default=1000)
    args = parser.parse_args()
    from test_bench_replay import chain_snapshot
    from test_bench_simulation import drifting_stake, subnet_256

    import yuma
    from yuma.chain import run_epoch

    lines = ["", "## First calls, whole simulations, exact replay (`benchmarks/extra.py`)", ""]
    lines += ["| what | time |", "|---|---:|"]
    with tempfile.TemporaryDirectory() as cold:
        imp, first, second = first_call("numba", 256, {"NUMBA_CACHE_DIR": cold})
        lines.append(f"| numba, 256 x 256, empty cache: first epoch (compiles) | {fmt(first)} |")
    imp, first, second = first_call("numba", 256)
    lines.append(f"| numba, 256 x 256, cache warm: `import yuma` / first / second epoch | "
                 f"{fmt(imp)} / {fmt(first)} / {fmt(second)} |")  # fmt: skip
    imp, first, second = first_call("numba", 300)
    lines.append(f"| numba, first epoch at a new size (300 x 300), cache warm | {fmt(first)} |")
    imp, first, second = first_call("jax", 256)
    lines.append(f"| jax, 256 x 256: first epoch (traces and compiles) / second | "
                 f"{fmt(first)} / {fmt(second)} |")  # fmt: skip
    demo = best(lambda: subprocess.run([sys.executable, "-m", "yuma.demo"], capture_output=True,
                                       check=True), rounds=1)  # fmt: skip
    lines.append(f"| `python -m yuma.demo` (whole process) | {fmt(demo)} |")

    w, s = subnet_256()
    e = args.epochs
    stake = drifting_stake(s, e)
    weights = np.broadcast_to(w, (e, *w.shape))

    def sim(backend: str | None, keep: bool) -> Any:
        return yuma.simulate(weights, stake, backend=backend, layout="uid", keep_matrices=keep)

    sim(None, False)
    lines.append(f"| simulate {e} epochs x 256 uids, default (numba, vectors) | "
                 f"{fmt(best(lambda: sim(None, False)))} |")  # fmt: skip
    lines.append(f"| simulate {e} epochs x 256 uids, keep_matrices=True | "
                 f"{fmt(best(lambda: sim(None, True), rounds=1))} |")  # fmt: skip
    sim("jax", False)
    lines.append(f"| simulate {e} epochs x 256 uids, jax (one lax.scan, compiled) | "
                 f"{fmt(best(lambda: sim('jax', False), rounds=2))} |")  # fmt: skip
    small = yuma.scenarios.get("stable_miner_50")
    small.simulate("yuma2b", backend="jax")
    lines.append(
        "| simulate yuma2b 40 epochs 3 x 3 on jax, second call (no recompile) | "
        f"{fmt(best(lambda: small.simulate('yuma2b', backend='jax')))} |"
    )
    for validators, label in ((256, "256 validators"), (4096, "every uid a validator")):
        for path in ("sparse", "dense"):
            snap = chain_snapshot(4096, validators, path)
            run_epoch(snap)
            took = best(lambda snap=snap: run_epoch(snap), rounds=2)
            lines.append(f"| exact replay, 4096 uids ({label}), {path} path | {fmt(took)} |")
    from cutoff import table

    lines += ["", "## Parallel cut-off (`benchmarks/cutoff.py`)", "", *table()]
    text = "\n".join(lines) + "\n"
    if args.output:
        with args.output.open("a") as fh:
            fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
