"""The ``yuma`` command line: the jobs people do without writing Python.

``yuma demo`` · ``yuma replay SNAPSHOTS.json [--float] [--json OUT]`` · ``yuma scenarios`` ·
``yuma compare --variants yuma2,yuma3 [--plot out.png]`` · ``yuma bench``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

__all__ = ["main"]

T = TypeVar("T")


class CommandError(Exception):
    """A user-facing error: printed as ``yuma <command>: error: ...``, exit status 2."""


def _progress(items: Iterable[T], total: int, desc: str) -> Iterator[T]:
    """A progress bar on standard error when there is enough work to wait for."""
    if total < 2:
        return iter(items)
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the dev extra
        return iter(items)
    return iter(tqdm(items, total=total, desc=desc, file=sys.stderr, leave=False))


# --- demo ----------------------------------------------------------------------------------------


def _cmd_demo(_: argparse.Namespace) -> None:
    from yuma.demo import main as demo

    demo()


# --- replay --------------------------------------------------------------------------------------


def _load_snapshots(path: Path) -> list[Any]:
    """Snapshots from a JSON file: one snapshot object, a list of them, ``{"snapshots": [...]}``,
    or a known-answer vector file (``{"epochs": [...]}``)."""
    from yuma.chain import SubnetSnapshot

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not valid JSON ({exc})") from None
    try:
        if isinstance(doc, dict) and "epochs" in doc and "n" in doc:
            return [SubnetSnapshot.from_vector_entry(doc, k) for k in range(len(doc["epochs"]))]
        if isinstance(doc, dict) and "snapshots" in doc:
            doc = doc["snapshots"]
        if isinstance(doc, dict):
            return [SubnetSnapshot.from_dict(doc)]
        if isinstance(doc, list) and doc:
            return [SubnetSnapshot.from_dict(d) for d in doc]
    except (ValueError, TypeError, KeyError) as exc:
        raise CommandError(f"{path}: {exc}") from None
    raise CommandError(f"{path}: expected a snapshot object or a non-empty list of snapshots")


def _replay_table(output: dict[str, Any]) -> str:
    columns = ("stake_weight", "consensus", "incentive", "dividends", "validator_trust", "emission")
    header = f"{'uid':>4}  " + "  ".join(f"{c:>15}" for c in columns)
    lines = [header, "-" * len(header)]
    for uid in range(len(output["incentive"])):
        cells = "  ".join(f"{output[c][uid]:>15}" for c in columns)
        lines.append(f"{uid:>4}  {cells}")
    return "\n".join(lines)


def _cmd_replay(args: argparse.Namespace) -> None:
    from yuma.chain import replay

    snapshots = _load_snapshots(Path(args.snapshots))
    arithmetic: Literal["exact", "float"] = "float" if args.float else "exact"
    if len(snapshots) > 10:
        print(f"replaying {len(snapshots)} epochs ...", file=sys.stderr)
    outputs = []
    for k, out in enumerate(replay(snapshots, arithmetic=arithmetic)):
        d = out.to_dict()
        outputs.append(d)
        if not args.quiet:
            print(f"epoch {k} (block {snapshots[k].block}, {arithmetic} arithmetic)")
            print(_replay_table(d))
            print()
    if args.json:
        Path(args.json).write_text(json.dumps(outputs, indent=1), encoding="utf-8")
        print(f"wrote {len(outputs)} epoch output(s) to {args.json}")


# --- scenarios, compare, bench -------------------------------------------------------------------


def _cmd_scenarios(_: argparse.Namespace) -> None:
    try:
        from yuma import scenarios
    except ImportError:
        raise CommandError("the scenario library is not available in this installation") from None
    for name in scenarios.list():
        print(name)


def _cmd_compare(args: argparse.Namespace) -> None:
    import numpy as np

    try:
        from yuma import scenarios
        from yuma.compare import compare
    except ImportError:
        raise CommandError("yuma.compare is not available in this installation") from None
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    names = (
        [s.strip() for s in args.scenarios.split(",") if s.strip()]
        if args.scenarios
        else list(scenarios.list())
    )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
    from yuma.compare import Comparison

    # One scenario at a time, so the progress bar moves; the parts merge into one comparison.
    parts = []
    try:
        for name in _progress(names, len(names), "compare"):
            parts.append(compare([name], variants))
    except (ValueError, KeyError) as exc:
        raise CommandError(str(exc).strip("'\"")) from None
    result = Comparison(
        scenarios=tuple(s for part in parts for s in part.scenarios),
        variants=parts[0].variants,
        results={k: v for part in parts for k, v in part.results.items()},
        table={
            column: np.concatenate([np.asarray(part.table[column]) for part in parts])
            for column in parts[0].table
        },
    )
    print(_compare_table(result.table))
    if args.plot:
        result.plot().savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")


def _compare_table(table: Any) -> str:
    """Total dividends relative to stake, one row per scenario x variant x validator."""
    header = (
        f"{'scenario':<32} {'variant':<12} {'validator':<26} "
        f"{'stake':>7} {'dividends':>10} {'relative':>9}"
    )
    lines = [header, "-" * len(header)]
    for k in range(len(table["scenario"])):
        lines.append(
            f"{table['scenario'][k]!s:<32} {table['variant'][k]!s:<12} "
            f"{table['validator'][k]!s:<26} {table['stake_share'][k]:>7.3f} "
            f"{table['total_dividends'][k]:>10.3f} {table['relative_dividends'][k]:>9.3f}"
        )
    return "\n".join(lines)


def _cmd_bench(args: argparse.Namespace) -> None:
    import numpy as np

    from yuma.run import epoch

    rng = np.random.default_rng(0)
    sizes = [64, 256, 1024] if not args.quick else [64, 256]
    print(f"{'n':>6}  {'backend':>8}  {'ms / epoch':>10}")
    for n in _progress(sizes, len(sizes), "bench"):
        weights = rng.random((n, n)) * (rng.random((n, n)) < 0.5)
        stake = rng.random(n)
        for backend in _backends():
            kwargs: dict[str, Any] = {"backend": backend}
            try:
                epoch(weights, stake, **kwargs)  # warm-up (compilation)
            except (ValueError, ImportError):
                continue
            reps = max(3, int(2000 / n))
            start = time.perf_counter()
            for _ in range(reps):
                epoch(weights, stake, **kwargs)
            per = (time.perf_counter() - start) / reps
            print(f"{n:>6}  {backend:>8}  {per * 1e3:>10.3f}")


def _backends() -> list[str]:
    try:
        from yuma.backends import available_backends

        return list(available_backends())
    except ImportError:
        return ["numpy"]


# --- entry point ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``yuma`` argument parser (one subcommand per job)."""
    parser = argparse.ArgumentParser(
        prog="yuma", description="Bittensor's Yuma Consensus, from the command line."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="one epoch of a small built-in subnet, as a table")
    p.set_defaults(run=_cmd_demo)

    p = sub.add_parser(
        "replay",
        help="replay the chain's epochs from stored subnet state (bit-exact by default)",
        description="Replay consecutive epochs of one subnet from a JSON file of snapshots "
        "(yuma.chain.SubnetSnapshot) and print the chain's u16/u64 outputs.",
    )
    p.add_argument("snapshots", help="JSON: a snapshot, a list of snapshots, or a vector file")
    p.add_argument("--float", action="store_true", help="float64 arithmetic instead of exact")
    p.add_argument("--json", metavar="OUT", help="also write the outputs to OUT as JSON")
    p.add_argument("--quiet", action="store_true", help="print no tables")
    p.set_defaults(run=_cmd_replay)

    p = sub.add_parser("scenarios", help="list the scenario library")
    p.set_defaults(run=_cmd_scenarios)

    p = sub.add_parser("compare", help="run scenarios under consensus variants")
    p.add_argument("--variants", default="yuma2,yuma3", help="comma-separated variant names")
    p.add_argument("--scenarios", default="", help="comma-separated scenario names (default all)")
    p.add_argument("--plot", metavar="PNG", help="write the figure grid to PNG")
    p.set_defaults(run=_cmd_compare)

    p = sub.add_parser("bench", help="a quick benchmark of this machine, per backend")
    p.add_argument("--quick", action="store_true", help="small sizes only")
    p.set_defaults(run=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except CommandError as exc:
        print(f"yuma {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
