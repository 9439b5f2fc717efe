"""Run the epoch benchmarks and write ``benchmarks/RESULTS.md``.

Usage::

    python benchmarks/run.py            # full sizes (minutes; run on an otherwise idle machine)
    YUMA_BENCH_SMALL=1 python benchmarks/run.py --output /tmp/RESULTS.md   # quick check

What it does:

1. runs ``test_bench_epoch.py``, ``test_bench_batch.py`` and ``test_bench_median.py`` with
   pytest-benchmark in one pytest process (so each epoch and its ``np.sort`` / ``W.sum()``
   baselines are measured in the same process on the same matrix) and reads the JSON report;
2. measures the peak memory of the numba sparse epoch at each sparse size in a fresh
   subprocess (peak resident memory during the call, above what the process held before, over
   the bytes of the CSR weight matrix);
3. writes the tables: best time per epoch per backend, the ratios to one sort and one sum, and
   the issue's targets with what was reached.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FILES = ["test_bench_epoch.py", "test_bench_batch.py", "test_bench_median.py", "test_bench_peer.py"]


MEMORY_PROBE = r"""
import json, sys, time
import numpy as np
import scipy.sparse as sp
sys.path.insert(0, {here!r})
import yuma
from bench_inputs import all_validators, sparse_inputs

def status_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0

def rss_kib():
    # Reset this process's high-water mark to its present size first (clear_refs 5), so the
    # peak read after the call is the call's own.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status_kib("VmRSS")

import yuma.backends.numba_sparse as ns
from yuma.backends import run_epoch
from yuma.inputs import prepare_inputs

small = sparse_inputs(256)
default = ns.PARALLEL_MIN_ENTRIES
for ns.PARALLEL_MIN_ENTRIES in (0, default):  # load the serial and the parallel code
    yuma.epoch(small[0], small[1], small[2], all_validators(256), backend="numba")
# The inputs were saved by the parent: loading .npy files allocates the arrays and nothing else,
# so the high-water mark after the epoch minus the resident size before it is the epoch's own.
d = {folder!r}
load = lambda name: np.load(d + "/" + name + ".npy")
n = int(load("n"))
csr = lambda p: sp.csr_array(
    (load(p + "_data"), load(p + "_indices"), load(p + "_indptr")), shape=(n, n), copy=False
)
w = csr("w")
bonds = csr("b")
stake = load("stake")
params = all_validators(n)
csr_bytes = w.data.nbytes + w.indices.nbytes + w.indptr.nbytes
if {mode!r} == "kernel":
    # The kernels alone, on inputs validated beforehand (no validation copies counted).
    import tracemalloc

    inputs, params = prepare_inputs(w, stake, bonds, params)
    before = rss_kib()
    tracemalloc.start()  # numpy reports its allocations: the arrays' own peak, without allocator
    t = time.perf_counter()
    result = run_epoch(inputs, params, "numba")
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
else:
    before = rss_kib()
    t = time.perf_counter()
    result = yuma.epoch(w, stake, bonds, params, backend="numba")
elapsed = time.perf_counter() - t
# VmHWM is this address space's own high-water mark. Not ru_maxrss: a child started with vfork
# inherits at exec the parent's peak, which here holds the inputs and their generation.
peak = status_kib("VmHWM")
out_bytes = sum(
    m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
    for m in (result.weights, result.clipped_weights, result.bonds)
)
row = dict(n=n, nnz=int(w.nnz), csr_bytes=csr_bytes, peak_extra=(peak - before) * 1024,
           output_bytes=out_bytes, seconds=elapsed)
if {mode!r} == "kernel":
    row["traced"] = traced
print(json.dumps(row))
"""


def child_env() -> dict[str, str]:
    """Environment of the timing subprocesses: they import ``yuma`` from ``PYTHONPATH`` when it
    names a checkout (an older commit timed for comparison), else from this checkout.

    They run in ``benchmarks/`` (``cwd``), never the repository root: ``python -m`` and
    ``python -c`` put the working directory first on ``sys.path``, ahead of ``PYTHONPATH``, so
    from the root every subprocess imported this checkout's ``yuma`` whatever ``PYTHONPATH``
    said.
    """
    env = dict(os.environ)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([*parts, str(HERE.parent)])
    return env


def imported_yuma() -> str:
    """Where the timing subprocesses import ``yuma`` from (printed, and written in RESULTS)."""
    proc = run_probe("import yuma; print(yuma.__file__)")
    proc.check_returncode()
    return str(Path(proc.stdout.strip()).parent.parent)


def run_probe(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code`` in a fresh process that imports the checkout under test."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=HERE,
        env=child_env(),
        check=False,
    )


def run_benchmarks(json_path: Path) -> list[dict[str, Any]]:
    cmd = [
        sys.executable, "-m", "pytest", *[str(HERE / f) for f in FILES], "-q",
        "-p", "no:cacheprovider", "--benchmark-only", "--benchmark-disable-gc",
        f"--benchmark-json={json_path}", "-o", "addopts=",
    ]  # fmt: skip
    print("running:", " ".join(cmd), flush=True)
    print("yuma imported from:", imported_yuma(), flush=True)
    subprocess.run(cmd, check=True, cwd=HERE, env=child_env())
    report = json.loads(json_path.read_text())
    return list(report["benchmarks"])


def measure_memory(n: int) -> dict[str, Any] | None:
    """Peak memory of one numba sparse epoch at size ``n``, in a fresh process."""
    import numpy as np
    from bench_inputs import sparse_inputs

    w, stake, bonds = sparse_inputs(n)
    with tempfile.TemporaryDirectory() as folder:
        arrays = {
            "n": np.asarray(n), "stake": stake, "w_data": w.data, "w_indices": w.indices,
            "w_indptr": w.indptr, "b_data": bonds.data, "b_indices": bonds.indices,
            "b_indptr": bonds.indptr,
        }  # fmt: skip
        for name, array in arrays.items():
            np.save(Path(folder) / f"{name}.npy", array)
        found: dict[str, Any] = {}
        for mode in ("epoch", "kernel"):
            code = MEMORY_PROBE.format(here=str(HERE), folder=folder, mode=mode)
            proc = run_probe(code)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return None
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            if mode == "epoch":
                found.update(row)
            else:
                found.update(kernel_extra=row["peak_extra"], kernel_traced=row["traced"])
    sparse_inputs.cache_clear()
    return found


PROFILE_PROBE = r"""
import cProfile, io, pstats, sys, time
sys.path.insert(0, {here!r})
import yuma
from bench_inputs import all_validators, dense_inputs, sparse_inputs

case, n = {case!r}, {n}
w, stake, bonds = dense_inputs(n) if case == "dense" else sparse_inputs(n)
params = all_validators(n)
for _ in range(2):
    yuma.epoch(w, stake, bonds, params, backend="numba")  # compile and warm up
prof = cProfile.Profile()
t = time.perf_counter()
prof.enable()
yuma.epoch(w, stake, bonds, params, backend="numba")
prof.disable()
total = time.perf_counter() - t
stats = pstats.Stats(prof)
rows = []
for (file, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
    rows.append((tt, name, file.rsplit("/", 1)[-1]))
rows.sort(reverse=True)
print(repr((total, rows[:6])))
"""


def profile_passes(case: str, n: int) -> tuple[float, list[tuple[float, str, str]]] | None:
    """Time per compiled pass of one numba epoch (cProfile: each pass is one Python call)."""
    code = PROFILE_PROBE.format(here=str(HERE), case=case, n=n)
    proc = run_probe(code)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return None
    import ast

    total, rows = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    return float(total), [(float(t), str(name), str(f)) for t, name, f in rows]


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def best(entries: list[dict[str, Any]], **match: Any) -> float | None:
    for e in entries:
        info = e.get("extra_info", {})
        if all(info.get(k) == v for k, v in match.items()) and set(match) >= {
            k for k in ("baseline", "backend", "method") if k in info
        }:
            return float(e["stats"]["min"])
    return None


def machine() -> str:
    import numba
    import numpy as np
    import scipy

    try:
        import jax

        jax_version = jax.__version__
    except ImportError:
        jax_version = "absent"
    cpu = platform.processor() or "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores (numba threads: {numba.get_num_threads()}); "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"numba {numba.__version__}, jax {jax_version}"
    )


def peer_sentence(entries: list[dict[str, Any]]) -> str:
    """What the ``peer`` rows are, or why there are none."""
    if any(e.get("extra_info", {}).get("backend") == "peer" for e in entries):
        return (
            "`peer`: the community simulator's Yuma3 epoch (`yuma_simulation`, torch float32 on "
            "the CPU, one Python call per epoch) on the same matrix and stake, with its own "
            "steady-state bonds (dense only: it has no sparse path)."
        )
    return (
        "No `peer` rows: the community simulator (`yuma_simulation`, torch) is not installed "
        "here; `benchmarks/test_bench_peer.py` times it wherever it is."
    )


def write_results(
    entries: list[dict[str, Any]],
    memory: list[dict[str, Any]],
    profiles: dict[str, Any],
    load: tuple[float, float],
    out: Path,
    note: str = "",
) -> None:
    from bench_inputs import BATCH, DENSE_SIZES, SMALL, SPARSE_SIZES

    lines = [
        "# Benchmarks: one Yuma epoch per backend, against the physical floor",
        "",
        "Written by `python benchmarks/run.py` (pytest-benchmark; the best of its rounds, each "
        "round one call on warm compiled code). Machine: " + machine() + ".",
        "",
        f"Load average (1 min) at the start and end of the timings: {load[0]:.2f} and "
        f"{load[1]:.2f} "
        "(the 2-core machine is shared; a parallel region waits for its slowest thread, so a "
        "busy core costs each region milliseconds: compare the `numba` and `numba:1` (one "
        "thread) rows).",
        "",
        "Ratios: the epoch's time over one `np.sort(W, axis=0)` and over one `W.sum()` of the same "
        "matrix, measured in the same process (for CSR: a sort of the stored values and their "
        "sum, the memory-bound floor). The numpy backend is the float64 reference.",
        "",
    ]
    if note:
        lines += [note, ""]
    if SMALL:
        lines += ["**Smoke run (`YUMA_BENCH_SMALL=1`): smallest sizes only.**", ""]

    lines += [
        "## Dense epoch (the chain's dense path)",
        "",
        "`all`: every uid may hold a permit (`max_allowed_validators = n`, every row votes in "
        "every column's median: the worst case). `chain`: the chain's default 128 validators.",
        "",
        peer_sentence(entries),
        "",
        "| n | permits | backend | time / epoch | / sort | / sum |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for n in DENSE_SIZES:
        t_sort = best(entries, case="dense", n=n, baseline="sort")
        t_sum = best(entries, case="dense", n=n, baseline="sum")
        for permits, names in (
            ("all", ("numpy", "numba", "numba:1", "numba, out=", "jax", "peer")),
            ("chain", ("numba", "numba:1", "numba, out=")),
        ):
            for backend in names:
                t = best(entries, case="dense", n=n, backend=backend, permits=permits)
                if t is None:
                    continue
                r_sort = f"{t / t_sort:.3f}" if t_sort else "-"
                r_sum = f"{t / t_sum:.1f}" if t_sum else "-"
                lines.append(
                    f"| {n} | {permits} | {backend} | {fmt_time(t)} | {r_sort} | {r_sum} |"
                )
        if t_sort and t_sum:
            lines.append(
                f"| {n} | | *np.sort / W.sum* | {fmt_time(t_sort)} / {fmt_time(t_sum)} | | |"
            )
    lines += [
        "",
        "## Sparse epoch (the chain's sparse path, CSR, never densified)",
        "",
        "Random subnets at 0.5 % density, every uid may validate; SN15 is the real subnet 15 "
        "metagraph (block 4 769 998, 256 uids, 64 permits).",
        "",
        "| case | nnz | backend | time / epoch | / sort | / sum |",
        "|---|---:|---|---:|---:|---:|",
    ]
    cases = [("sparse", n) for n in SPARSE_SIZES] + [("sn15", 256)]
    for case, n in cases:
        t_sort = best(entries, case=case, n=n, baseline="sort")
        t_sum = best(entries, case=case, n=n, baseline="sum")
        for backend in ("numpy", "numba", "numba:1"):
            t = best(entries, case=case, n=n, backend=backend)
            if t is None:
                continue
            nnz = next(
                (
                    e["extra_info"].get("nnz")
                    for e in entries
                    if e["extra_info"].get("case") == case
                    and e["extra_info"].get("n") == n
                    and "nnz" in e["extra_info"]
                ),
                "",
            )
            label = f"n = {n}" if case == "sparse" else "SN15"
            r_sort = f"{t / t_sort:.1f}" if t_sort else "-"
            r_sum = f"{t / t_sum:.0f}" if t_sum else "-"
            lines.append(f"| {label} | {nnz} | {backend} | {fmt_time(t)} | {r_sort} | {r_sum} |")
    if memory:
        lines += [
            "",
            "Memory of the numba sparse epoch (`yuma.epoch` on CSR with steady-state bonds, in a "
            "fresh process that loads its inputs from `.npy` files): peak resident memory "
            "(`VmHWM`, reset to the resident size just before the call) minus that resident size, "
            "over the bytes of "
            "the CSR weights. Validation copies nothing when the input is already canonical "
            "float64 CSR (as here), so this is the three CSR outputs `EpochResult` returns "
            "(weights, clipped weights, bonds: about 3x) and the consensus's temporary copy of "
            "the voters' entries (about 1.2x, freed before the last two outputs exist).",
            "",
            "The kernel columns measure `run_epoch` on inputs validated beforehand: the "
            "backend's own peak (outputs and temporaries), without the validation copies; "
            "'arrays' is the peak of the numpy arrays alone (tracemalloc), without the "
            "allocator's and the page cache's share of the resident size.",
            "",
            "| n | nnz | CSR weights | outputs | `yuma.epoch` peak | / CSR | kernels' peak "
            "| / CSR | kernels' arrays | / CSR |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for m in memory:
            mib = 2**20
            lines.append(
                f"| {m['n']} | {m['nnz']} | {m['csr_bytes'] / mib:.0f} MiB | "
                f"{m['output_bytes'] / mib:.0f} MiB | {m['peak_extra'] / mib:.0f} MiB | "
                f"{m['peak_extra'] / m['csr_bytes']:.2f} | {m['kernel_extra'] / mib:.0f} MiB | "
                f"{m['kernel_extra'] / m['csr_bytes']:.2f} | {m['kernel_traced'] / mib:.0f} MiB | "
                f"{m['kernel_traced'] / m['csr_bytes']:.2f} |"
            )
    b, n = BATCH
    lines += [
        "",
        f"## Batch: {b} independent epochs at n = {n} in one call (`yuma.epoch_batch`)",
        "",
        "| backend | whole batch | per epoch |",
        "|---|---:|---:|",
    ]
    for backend in ("numpy", "numba", "numba:1", "jax"):
        t = best(entries, case="batch", backend=backend)
        if t is not None:
            lines.append(f"| {backend} | {fmt_time(t)} | {fmt_time(t / b)} |")
    for backend in ("numba", "numba:1"):
        t = best(entries, case="batch_vectors", backend=backend)
        if t is not None:
            lines.append(
                f"| {backend}, `keep_matrices=False` | {fmt_time(t)} | {fmt_time(t / b)} |"
            )
    lines += [
        "",
        "## Median kernel: multi-pivot sweep, weighted quickselect, sort",
        "",
        "One column per call, a different random column every call (repeating one column lets "
        "the branch predictor learn it and flatters branchy code). The sweep "
        "(`wmedian_sweep`) is the epochs' kernel (dense and sparse), the quickselect its "
        "fallback.",
        "",
        "| column length | sweep | quickselect | sort | sweep / select | select / sort |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sorted(
        {e["extra_info"]["n"] for e in entries if e["extra_info"].get("case") == "median"}
    ):
        cols = next(
            e["extra_info"]["columns"] for e in entries if e["extra_info"].get("case") == "median"
        )
        tw = best(entries, case="median", n=size, method="sweep")
        ts = best(entries, case="median", n=size, method="select")
        to = best(entries, case="median", n=size, method="sort")
        if tw and ts and to:
            lines.append(
                f"| {size} | {fmt_time(tw / cols)} | {fmt_time(ts / cols)} | "
                f"{fmt_time(to / cols)} | {tw / ts:.2f} | {ts / to:.2f} |"
            )
    consensus_sizes = sorted(
        {e["extra_info"]["n"] for e in entries if e["extra_info"].get("case") == "consensus"}
    )
    if consensus_sizes:
        lines += [
            "",
            "## Consensus of a whole matrix: on the rows, or column by column",
            "",
            "Every column's median of an n x n matrix of normalised u16 weights (30 % zeros), "
            "every row a voter, one thread: `consensus_rows` (passes over the voters' rows for "
            "all columns at once; the dense epoch's path from 17 to 1024 voters) and "
            "`_cols_gathered` (8 columns at a time gathered into a block, then the sweep per "
            "column; the path outside those bounds). Columns `half`: the first n/2 columns "
            "only, the range each of two threads takes in the parallel epoch.",
            "",
            "| n | columns | on the rows | gathered | rows / gathered |",
            "|---:|---|---:|---:|---:|",
        ]
        for size in consensus_sizes:
            for span in ("all", "half"):
                tr = best(entries, case="consensus", n=size, path="rows", span=span)
                tg = best(entries, case="consensus", n=size, path="gathered", span=span)
                if tr and tg:
                    lines.append(
                        f"| {size} | {span} | {fmt_time(tr)} | {fmt_time(tg)} | {tr / tg:.2f} |"
                    )
    if profiles:
        lines += [
            "",
            "## Where the time goes (numba, one epoch, cProfile of the compiled passes)",
            "",
            "Each compiled pass is one Python-level call, so cProfile's own time per function "
            "is the time of that pass (largest first).",
            "",
        ]
        for label, (total, rows) in profiles.items():
            parts = ", ".join(f"`{name}` {fmt_time(t)}" for t, name, _ in rows if t > 0)
            lines.append(f"* {label}: {fmt_time(total)} in all; {parts}.")
    lines += [
        "",
        "## Targets of issues 4 and 12",
        "",
        "The absolute times were set on the machine the issues were measured on; ratios to the "
        "floors travel between machines, absolute times do not (compare this machine's "
        "`W.sum()` and `np.sort` rows above with the same rows of another run).",
        "",
    ]
    lines += targets(entries, memory)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("wrote", out)


def targets(entries: list[dict[str, Any]], memory: list[dict[str, Any]]) -> list[str]:
    rows = ["| target | reached | met |", "|---|---|---|"]

    def add(name: str, value: float | None, limit: float, shown: str) -> None:
        if value is None:
            return
        rows.append(f"| {name} | {shown} | {'yes' if value < limit else 'no'} |")

    for permits in ("all", "chain"):
        t = best(entries, case="dense", n=4096, backend="numba", permits=permits)
        t_sort = best(entries, case="dense", n=4096, baseline="sort")
        t_sum = best(entries, case="dense", n=4096, baseline="sum")
        if t and t_sort and t_sum:
            add(f"dense 4096 numba ({permits}): faster than one sort", t / t_sort, 1.0,
                f"{fmt_time(t)} = {t / t_sort:.3f} x sort")  # fmt: skip
            add(f"dense 4096 numba ({permits}): within 15x one sum", t / t_sum, 15.0,
                f"{t / t_sum:.1f} x sum")  # fmt: skip
        for n, limit in ((1024, 5e-3), (256, 3e-4), (256, 2e-4)):  # issue 4; 256: 12 and 4
            t = best(entries, case="dense", n=n, backend="numba", permits=permits)
            add(f"dense {n} ({permits}): under {fmt_time(limit)}", t, limit,
                fmt_time(t) if t else "")  # fmt: skip
            t = best(entries, case="dense", n=n, backend="numba, out=", permits=permits)
            add(f"dense {n} ({permits}), `out=` an earlier result: under {fmt_time(limit)}", t,
                limit, fmt_time(t) if t else "")  # fmt: skip
    t = best(entries, case="sparse", n=65536, backend="numba")
    add("sparse 65536 at 0.5 %: under 1 s", t, 1.0, fmt_time(t) if t else "")
    for m in memory:
        if m["n"] == 65536:
            ratio = m["peak_extra"] / m["csr_bytes"]
            add(
                "sparse 65536: memory under 4x the CSR (`yuma.epoch`)", ratio, 4.0, f"{ratio:.2f} x"
            )
            ratio = m["kernel_extra"] / m["csr_bytes"]
            add("sparse 65536: memory under 4x the CSR (kernels)", ratio, 4.0, f"{ratio:.2f} x")
            ratio = m["kernel_traced"] / m["csr_bytes"]
            add("sparse 65536: memory under 4x the CSR (kernels' arrays)", ratio, 4.0,
                f"{ratio:.2f} x")  # fmt: skip
    from bench_inputs import BATCH

    t = best(entries, case="batch", backend="numba")
    tj = best(entries, case="batch", backend="jax")
    cands = [x for x in (t, tj) if x is not None]
    if cands:
        per = min(cands) / BATCH[0]
        add(f"batch of {BATCH[0]} at n = 64: under 20 µs per epoch", per, 20e-6, fmt_time(per))
    t = best(entries, case="batch_vectors", backend="numba")
    if t is not None:
        per = t / BATCH[0]
        add(f"batch of {BATCH[0]} at n = 64, `keep_matrices=False`: under 20 µs per epoch",
            per, 20e-6, fmt_time(per))  # fmt: skip
    return rows


def before_after(entries: list[dict[str, Any]], before_json: Path, label: str) -> list[str]:
    """The table of every timing in both runs, with after / before (a ratio < 1 is faster now).

    ``before_json``: the ``.benchmarks/last_epoch_run.json`` another checkout's run.py saved.
    """
    before = json.loads(before_json.read_text())["benchmarks"]

    def key(e: dict[str, Any]) -> tuple[str, ...] | None:
        info = e.get("extra_info", {})
        if "backend" not in info or "baseline" in info:
            return None
        case = str(info.get("case", e.get("group") or e["name"].split("[")[0]))
        return (case, str(info.get("n", "")), str(info.get("permits", "")), str(info["backend"]))

    old = {k: float(e["stats"]["min"]) for e in before if (k := key(e))}
    lines = [
        "",
        f"## Before and after ({label})",
        "",
        "Both runs of `python benchmarks/run.py` in the same session on this machine, one after "
        f"the other (before: `--before {before_json.name}` from the other checkout). "
        "after / before < 1 is faster now.",
        "",
        "| case | n | permits | backend | before | after | after / before |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for e in entries:
        k = key(e)
        if k is None or k not in old:
            continue
        t = float(e["stats"]["min"])
        case, n, permits, backend = k
        lines.append(
            f"| {case} | {n} | {permits} | {backend} | {fmt_time(old[k])} | {fmt_time(t)} | "
            f"{t / old[k]:.2f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--json", type=Path, help="reuse a pytest-benchmark JSON report")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument(
        "--before", type=Path, help="another checkout's .benchmarks/last_epoch_run.json to compare"
    )
    parser.add_argument("--before-label", default="the pipeline redesign, issue 10")
    parser.add_argument("--note", default="", help="a paragraph to print under the header")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    if args.json:
        saved = json.loads(args.json.read_text())
        entries = list(saved["benchmarks"])
        load = tuple(saved.get("load", (float("nan"), float("nan"))))
    else:
        load_start = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            entries = run_benchmarks(Path(tmp) / "bench.json")
        load = (load_start, os.getloadavg()[0])
        (HERE.parent / ".benchmarks").mkdir(exist_ok=True)
        (HERE.parent / ".benchmarks" / "last_epoch_run.json").write_text(
            json.dumps({"benchmarks": entries, "load": load}), encoding="utf-8"
        )
    from bench_inputs import DENSE_SIZES, SPARSE_SIZES

    memory = [] if args.no_memory else [m for n in SPARSE_SIZES if (m := measure_memory(n))]
    profiles: dict[str, Any] = {}
    for case, n in (("dense", DENSE_SIZES[-1]), ("sparse", SPARSE_SIZES[-1])):
        found = profile_passes(case, n)
        if found is not None:
            profiles[f"{case} n = {n} (every uid may validate)"] = found
    write_results(entries, memory, profiles, (load[0], load[1]), args.output, args.note)
    if args.before:
        with args.output.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(before_after(entries, args.before, args.before_label)) + "\n")


if __name__ == "__main__":
    main()
