"""Interleaved A/B timing of whole numba epochs: two checkouts of yuma, same inputs, same machine.

Usage: ``python benchmarks/epoch_ab.py OLD_ROOT NEW_ROOT [ROUNDS] [--backend B] [--cases C,...]``
(e.g. ``/work/main .``; ``--backend numpy --cases 64,256`` times the numpy reference).
Each root runs in its own worker process (``PYTHONPATH=root``, warm: compiled and run once
before timing); the driver alternates the two workers case by case for ``ROUNDS`` rounds and
keeps the minimum per case, which on a shared, noisy machine is the most stable statistic.
It also reports the most minor page faults per call seen in any round: fresh output matrices
fault their pages in whenever glibc maps them anew, which depends on what the worker freed
before (with ``batch`` among the cases, none at 256²; without it, about 352 per 256² call
and a 2-5x slower epoch, depending on the machine; see ``fresh_outputs.py``), so compare only
rows whose faults agree.
Both workers read the very same inputs (built once here, as ``bench_inputs`` builds them).

Cases: dense epochs at 64², 256² (every uid a validator, and the chain's 128), 1024², 4096²;
``epoch_batch`` of 1000 epochs at 64²; ``W.sum()`` of the 4096² matrix as the baseline of the
"within 15x one W.sum()" target.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent

WORKER = r"""
import json, sys, time
import numpy as np
BACKEND = sys.argv[2]
import yuma
from yuma.params import YumaParams

data = np.load(sys.argv[1])
cases = {}
for key in data.files:
    if key.startswith("w_"):
        name = key[2:]
        cases[name] = (data["w_" + name], data["s_" + name], data["b_" + name])
batch_w, batch_s = data["batch_w"], data["batch_s"]


def params(name):
    n = cases[name][0].shape[-1]
    return YumaParams() if name.endswith("chain") else YumaParams(max_allowed_validators=n)


def run(name):
    if name == "batch":
        return yuma.epoch_batch(
            batch_w, batch_s, params=YumaParams(max_allowed_validators=batch_w.shape[-1]),
            backend=BACKEND,
        )
    if name == "wsum":
        return cases["4096"][0].sum()
    w, s, b = cases[name]
    return yuma.epoch(w, s, b, params(name), backend=BACKEND)


for name in sys.argv[3].split(","):
    run(name)  # compile / warm
print(json.dumps({"ready": yuma.__file__}), flush=True)
import resource
for line in sys.stdin:
    name, reps = line.split()
    best = float("inf")
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(int(reps)):
        t0 = time.perf_counter()
        run(name)
        best = min(best, time.perf_counter() - t0)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / int(reps)
    print(json.dumps({"name": name, "best": best, "faults": faults}), flush=True)
"""

SIZES = [("64", 64), ("256", 256), ("256chain", 256), ("1024", 1024), ("4096", 4096)]
REPS = {"64": 200, "256": 100, "256chain": 100, "1024": 10, "4096": 2, "batch": 3, "wsum": 5}


def build_inputs(path: Path) -> None:
    """Dense inputs as ``bench_inputs.dense_inputs`` (u16 weights, 30 % zeros, lognormal stake,
    steady-state bonds) and the batch as ``test_bench_batch``."""
    import yuma

    arrays: dict[str, Any] = {}
    for name, n in SIZES:
        rng = np.random.default_rng(n)
        w = rng.integers(0, 65536, (n, n)).astype(np.float64) * (rng.random((n, n)) < 0.7)
        stake = rng.lognormal(0.0, 2.0, n)
        params = yuma.YumaParams(max_allowed_validators=n)
        bonds = yuma.epoch(w, stake, params=params, backend="numpy").bonds
        arrays.update({f"w_{name}": w, f"s_{name}": stake, f"b_{name}": bonds})
    rng = np.random.default_rng(64)
    arrays["batch_w"] = rng.integers(0, 65536, (1000, 64, 64)).astype(np.float64) * (
        rng.random((1000, 64, 64)) < 0.7
    )
    arrays["batch_s"] = rng.lognormal(0.0, 2.0, (1000, 64))
    np.savez(path, **arrays)


def start(root: str, inputs: Path, backend: str, names: list[str]) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(root).resolve()))
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(inputs), backend, ",".join(names)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(Path(root).resolve()),
    )
    assert proc.stdout is not None
    print(f"{root}: {json.loads(proc.stdout.readline())['ready']}", flush=True)
    return proc


def ask(proc: subprocess.Popen[str], name: str) -> tuple[float, float]:
    """(best call, page faults per call) of one batch of calls of case ``name``."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"{name} {REPS[name]}\n")
    proc.stdin.flush()
    reply = json.loads(proc.stdout.readline())
    return float(reply["best"]), float(reply["faults"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_root")
    parser.add_argument("new_root")
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    parser.add_argument("--backend", default="numba")
    everything = ",".join([name for name, _ in SIZES] + ["batch", "wsum"])
    parser.add_argument("--cases", default=everything, help=f"some of {everything}")
    args = parser.parse_args()
    old_root, new_root, rounds = args.old_root, args.new_root, args.rounds
    names = args.cases.split(",")
    unknown = sorted(set(names) - set(everything.split(",")))
    if unknown:
        parser.error(f"unknown cases {unknown}")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.npz"
        build_inputs(inputs)
        workers = {who: start(root, inputs, args.backend, names)
                   for who, root in (("old", old_root), ("new", new_root))}  # fmt: skip
        best = {(who, name): float("inf") for who in workers for name in names}
        faults = {(who, name): 0.0 for who in workers for name in names}
        for r in range(rounds):
            order = list(workers) if r % 2 == 0 else list(workers)[::-1]
            for name in names:
                for who in order:
                    t, f = ask(workers[who], name)
                    best[who, name] = min(best[who, name], t)
                    faults[who, name] = max(faults[who, name], f)
        for proc in workers.values():
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait()
    print(f"load average at the end: {os.getloadavg()}, {time.strftime('%H:%M:%S')}")
    print("| case | old | new | new / old | page faults per call (old, new) |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        o, n = best["old", name], best["new", name]
        per = 1000 if name == "batch" else 1
        label = {"batch": "batch 1000 x 64² (per epoch)", "wsum": "W.sum() 4096²"}.get(
            name, f"dense {name.replace('chain', ' (128 validators)')}"
        )
        f_old, f_new = faults["old", name], faults["new", name]
        print(
            f"| {label} | {o / per * 1e6:.1f} µs | {n / per * 1e6:.1f} µs | {n / o:.3f} | "
            f"{f_old:.1f}, {f_new:.1f} |"
        )
    if "4096" in names and "wsum" in names:
        print(
            f"4096² epoch / W.sum(): old {best['old', '4096'] / best['old', 'wsum']:.1f}x, "
            f"new {best['new', '4096'] / best['new', 'wsum']:.1f}x"
        )


if __name__ == "__main__":
    main()
