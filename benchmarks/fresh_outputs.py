"""Fresh outputs against ``out=``: a loop of dense numba epochs, time and page faults per call.

Usage: ``python benchmarks/fresh_outputs.py [--sizes 64,256,1024] [--runs 2]``

Each (size, mode) runs in a process of its own that first loads every input (as
``epoch_ab.py``'s workers do), so the allocator starts from the same state: ``fresh`` calls
``yuma.epoch(W, S, B)`` and drops the result; ``out`` alternates two results
(``a, b = b, yuma.epoch(W, S, B, out=a)``). Reported: the best and the mean call, and the
minor page faults per call (``getrusage``): what a fresh ``R x C`` output costs when glibc
serves it with a new mapping (blocks at or above its mmap threshold; the threshold starts at
128 KiB and rises, up to 32 MiB, only when the process frees a mapped block) or trims its
heap after the last one, and the operating system faults its pages in on first write.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPS = {64: 400, 256: 200, 512: 60, 1024: 20, 4096: 2}


def _child(mode: str, n: int, inputs: str) -> None:
    import numpy as np

    import yuma

    data = np.load(inputs)
    w, s, b = data[f"w_{n}"], data[f"s_{n}"], data[f"b_{n}"]
    params = yuma.YumaParams(max_allowed_validators=n)
    a, c = yuma.epoch(w, s, b, params), yuma.epoch(w, s, b, params)
    reps = REPS.get(n, 10)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    best, total = float("inf"), 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        if mode == "fresh":
            yuma.epoch(w, s, b, params)
        else:
            a, c = c, yuma.epoch(w, s, b, params, out=a)
        dt = time.perf_counter() - t0
        best, total = min(best, dt), total + dt
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(
        f"| {n}² | {mode} | {best * 1e6:.1f} µs | {total / reps * 1e6:.1f} µs | "
        f"{faults / reps:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,1024")
    parser.add_argument("--runs", type=int, default=2, help="alternations of the two modes")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, n, inputs = args.child
        _child(mode, int(n), inputs)
        return
    import numpy as np

    import yuma

    sizes = [int(x) for x in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inputs.npz"
        arrays = {}
        for n in sizes:  # as bench_inputs.dense_inputs builds them
            rng = np.random.default_rng(n)
            w = rng.integers(0, 65536, (n, n)).astype(np.float64) * (rng.random((n, n)) < 0.7)
            stake = rng.lognormal(0.0, 2.0, n)
            bonds = yuma.epoch(w, stake, params=yuma.YumaParams(max_allowed_validators=n)).bonds
            arrays.update({f"w_{n}": w, f"s_{n}": stake, f"b_{n}": bonds})
        np.savez(path, **arrays)
        print("| n | outputs | best call | mean call | page faults per call |")
        print("|---|---|---:|---:|---:|")
        for n in sizes:
            for _ in range(args.runs):
                for mode in ("fresh", "out"):
                    cmd = [sys.executable, __file__, "--child", mode, str(n), str(path)]
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    print(out.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
