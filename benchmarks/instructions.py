"""Instructions executed by one warm epoch, counted by valgrind's callgrind (deterministic).

On a shared or noisy machine wall-clock figures drift by tens of percent between minutes;
the instruction count of the same call on the same inputs does not (it repeats to the
instruction), so it compares two checkouts where a timing cannot. It is blind to memory
stalls and to parallel speed-up: read it next to the timings of ``run.py``, not instead.

Usage (valgrind, gcc and valgrind's ``callgrind.h`` needed; nothing here is needed by tests)::

    python benchmarks/instructions.py CASE BACKEND [--checkout DIR] [--top N]

CASE: ``dense:N`` (every uid a validator), ``dense:N:chain`` (128 validators), ``sparse:N``
(the benchmarks' 0.5 % CSR subnet) or ``batch`` (1000 epochs at 64 x 64); the inputs are
those of ``bench_inputs.py``. BACKEND: ``numpy``, ``numba`` (numba's threads), ``numba:1``
or ``jax`` (XLA on one thread, so that no idle thread's spinning is counted). ``--checkout``
imports ``yuma`` from another checkout (e.g. a worktree of an older commit).

The epoch runs twice outside the count (compilation, caches), then once between two
callgrind client requests (a tiny C library built here with gcc) that start and stop the
count; only that call's instructions, on every thread, are reported.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_TOGGLE_C = """
#include <valgrind/callgrind.h>
void yuma_count_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void yuma_count_stop(void) { CALLGRIND_DUMP_STATS_AT("measured"); CALLGRIND_STOP_INSTRUMENTATION; }
"""


def _epoch_call(case: str, backend: str) -> Any:
    """The call to count, with its inputs built (outside the count)."""
    import numpy as np
    from bench_inputs import all_validators, dense_inputs, sparse_inputs

    import yuma

    name, _, threads = backend.partition(":")
    if threads:
        import numba

        numba.set_num_threads(int(threads))
    kind, _, rest = case.partition(":")
    if kind == "batch":
        rng = np.random.default_rng(64)
        w = rng.integers(0, 65536, (1000, 64, 64)).astype(np.float64)
        w *= rng.random((1000, 64, 64)) < 0.7
        stake = rng.lognormal(0.0, 2.0, (1000, 64))
        params = all_validators(64)
        run = lambda: yuma.epoch_batch(w, stake, params=params, backend=name)  # noqa: E731
    else:
        size, _, permits = rest.partition(":")
        n = int(size)
        w, stake, bonds = (dense_inputs if kind == "dense" else sparse_inputs)(n)
        params = yuma.YumaParams() if permits == "chain" else all_validators(n)
        run = lambda: yuma.epoch(w, stake, bonds, params, backend=name)  # noqa: E731

    def call() -> Any:
        out = run()
        if name == "jax":
            import jax

            jax.block_until_ready(getattr(out, "bonds", out))
        return out

    return call


def _child(case: str, backend: str, library: str) -> None:
    import ctypes

    call = _epoch_call(case, backend)
    call()
    call()
    counter = ctypes.CDLL(library)
    counter.yuma_count_start()
    call()
    counter.yuma_count_stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case")
    parser.add_argument("backend")
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument(
        "--top", type=int, default=0, help="also list the N costliest functions (self cost)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.case, args.backend, args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "toggle.c")
        source.write_text(_TOGGLE_C)
        library = Path(tmp, "libtoggle.so")
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", library, source], check=True)
        env = dict(os.environ, PYTHONPATH=str(args.checkout), PYTHONHASHSEED="0")
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        out = Path(tmp, "callgrind.out")
        cmd = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            sys.executable, __file__, args.case, args.backend, "--child", str(library),
        ]  # fmt: skip
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        dumps = sorted(Path(tmp).glob("callgrind.out.*"))
        summary = [ln for ln in dumps[0].read_text().splitlines() if ln.startswith("summary:")]
        count = int(summary[0].split()[1])
        print(f"{args.case} {args.backend} {args.checkout}: {count:,} instructions")
        if args.top:
            table = subprocess.run(
                ["callgrind_annotate", "--threshold=100", str(dumps[0])],
                check=True, capture_output=True, text=True,
            ).stdout.splitlines()  # fmt: skip
            rows = [ln for ln in table if "Ir" not in ln and ln.strip()[:1].isdigit()]
            print("\n".join(rows[1 : args.top + 1]))


if __name__ == "__main__":
    main()
