"""The ``yuma`` command line: the jobs people do without writing Python.

``yuma demo`` · ``yuma replay SNAPSHOTS.json [--float] [--json OUT]`` ·
``yuma fetch --netuid N [--block B] [--network URL]`` · ``yuma verify SNAPSHOT.json`` ·
``yuma scenarios`` · ``yuma compare --variants yuma2,yuma3 [--plot out.png]`` · ``yuma bench``
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


# What a hostile or broken input file can raise while it is read and validated; each becomes
# one line and exit status 2, never a traceback.
_INPUT_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
    MemoryError,
)


def _one_line(exc: BaseException) -> str:
    """An exception as one short line (messages may carry newlines or whole inputs)."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, MemoryError):
        return "too large to hold in memory"
    text = " ".join(str(exc).strip("'\"").split()) or type(exc).__name__
    if isinstance(exc, KeyError):
        text = f"missing key {text!r}"
    elif isinstance(exc, OverflowError):
        text = f"a number is out of range ({text})"
    return text if len(text) <= 300 else text[:297] + "..."


def _read_json(path: Path) -> Any:
    """Parse a JSON file; every way it can fail is a :class:`CommandError` naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CommandError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise CommandError(f"{path}: permission denied") from None
    except OSError as exc:
        raise CommandError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not valid JSON ({_one_line(exc)})") from None
    except RecursionError:
        raise CommandError(f"{path}: not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        # Python refuses int() of more than 4300 digits (sys.int_info.default_max_str_digits)
        if "digits" in str(exc):
            raise CommandError(f"{path}: an integer has too many digits") from None
        raise CommandError(f"{path}: not valid JSON ({_one_line(exc)})") from None
    except MemoryError:
        raise CommandError(f"{path}: too large to hold in memory") from None


def _load_snapshots(path: Path) -> list[Any]:
    """Snapshots from a JSON file: one snapshot object, a list of them, ``{"snapshots": [...]}``,
    or a known-answer vector file (``{"epochs": [...]}``, also what ``yuma fetch`` writes)."""
    from yuma.chain import SubnetSnapshot

    doc = _read_json(path)
    try:
        if isinstance(doc, dict) and "epochs" in doc and "n" in doc:
            if not isinstance(doc["epochs"], list) or not doc["epochs"]:
                raise ValueError("epochs must be a non-empty list")
            return [SubnetSnapshot.from_vector_entry(doc, k) for k in range(len(doc["epochs"]))]
        if isinstance(doc, dict) and "snapshots" in doc:
            doc = doc["snapshots"]
        if isinstance(doc, dict):
            return [SubnetSnapshot.from_dict(doc)]
        if isinstance(doc, list) and doc:
            return [SubnetSnapshot.from_dict(d) for d in doc]
    except _INPUT_ERRORS as exc:
        raise CommandError(f"{path}: {_one_line(exc)}") from None
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
    try:
        results = replay(snapshots, arithmetic=arithmetic)
    except _INPUT_ERRORS as exc:
        raise CommandError(f"{args.snapshots}: {_one_line(exc)}") from None
    for k, out in enumerate(results):
        d = out.to_dict()
        outputs.append(d)
        if not args.quiet:
            print(f"epoch {k} (block {snapshots[k].block}, {arithmetic} arithmetic)")
            print(_replay_table(d))
            print()
    if args.json:
        Path(args.json).write_text(json.dumps(outputs, indent=1), encoding="utf-8")
        print(f"wrote {len(outputs)} epoch output(s) to {args.json}")


# --- fetch and verify (a real subnet, through the bittensor SDK) --------------------------------


def _fetch(args: argparse.Namespace) -> Any:
    """Read the epoch named by ``--netuid/--block/--network`` (a progress bar on stderr)."""
    from yuma.chain.loader import ChainReadError, ChainUnreachable, fetch_epoch

    bar: Any = None

    def progress(step: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None and total > 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # pragma: no cover - tqdm is in the chain extra
                return
            bar = tqdm(total=total, desc="reading storage", file=sys.stderr, leave=False)
        if bar is not None:
            bar.set_postfix_str(step, refresh=False)
            bar.update(1)

    try:
        return fetch_epoch(
            args.netuid, args.block, network=args.network, mechid=args.mechid, progress=progress
        )
    except (ChainUnreachable, ChainReadError) as exc:
        raise CommandError(_one_line(exc)) from None
    except ImportError as exc:
        raise CommandError(_one_line(exc)) from None
    except _INPUT_ERRORS as exc:
        raise CommandError(_one_line(exc)) from None
    finally:
        if bar is not None:
            bar.close()


def _cmd_fetch(args: argparse.Namespace) -> None:
    fetched = _fetch(args)
    out = Path(args.out or f"subnet{fetched.netuid}_block{fetched.block}.json")
    try:
        fetched.save(out)
    except OSError as exc:
        raise CommandError(f"{out}: cannot write ({exc.strerror or exc})") from None
    s = fetched.snapshot
    print(
        f"wrote {out}: netuid {fetched.netuid} mechanism {fetched.mechid}, epoch at block "
        f"{fetched.block}, {s.n} uids, {s.weights.nnz} weights, {s.bonds.nnz} bonds"
    )
    for note in fetched.notes:
        print(f"note: {note}")


#: Terms compared by ``yuma verify``, in the order the first difference is reported.
_VERIFY_KEYS = (
    "stake_weight",
    "new_validator_permit",
    "active",
    "consensus",
    "validator_trust",
    "incentive",
    "dividends",
    "bonds",
    "emission",
)


def _cmd_verify(args: argparse.Namespace) -> None:
    from yuma.chain import run_epoch
    from yuma.chain.commits import apply_commit_reveal

    if args.snapshot:
        if args.netuid is not None:
            raise CommandError("give either SNAPSHOT.json or --netuid, not both")
        path = Path(args.snapshot)
        doc = _read_json(path)
        try:
            from yuma.chain.loader import load_fetched

            fetched = load_fetched(doc) if isinstance(doc, dict) else None
        except _INPUT_ERRORS as exc:
            raise CommandError(f"{path}: {_one_line(exc)}") from None
        if fetched is None:
            raise CommandError(f"{path}: not a file written by 'yuma fetch'")
    elif args.netuid is not None:
        fetched = _fetch(args)
    else:
        raise CommandError("give SNAPSHOT.json or --netuid")

    snap = fetched.snapshot
    try:
        effective, outcome = apply_commit_reveal(snap)
        ours = run_epoch(effective, "float" if args.float else "exact").to_dict()
    except _INPUT_ERRORS as exc:
        raise CommandError(_one_line(exc)) from None
    chain = fetched.expect
    keys = [k for k in _VERIFY_KEYS if k in chain]
    n = snap.n
    first: list[str | None] = []
    for uid in range(n):
        diff = next((k for k in keys if _cell(ours[k], uid) != _cell(chain[k], uid)), None)
        first.append(diff)
    differing = [u for u in range(n) if first[u] is not None]

    arithmetic = "float" if args.float else "exact"
    print(
        f"netuid {fetched.netuid} mechanism {fetched.mechid}, epoch at block {fetched.block} "
        f"({n} uids, {arithmetic} arithmetic); compared: {', '.join(keys)}"
    )
    extra = _variant_terms(effective, args) if args.variant or args.params else None
    header = (
        f"{'uid':>5}  {'incentive':>9} {'chain':>6}  {'dividends':>9} {'chain':>6}  "
        f"{'consensus':>9} {'chain':>6}"
    )
    if extra is not None:
        header += f"  {'what-if inc':>11} {'div':>6}"
    header += "  first difference"
    print(header)
    print("-" * len(header))
    show = range(n) if (args.all or n <= 64) else differing
    for uid in show:
        cells = "  ".join(
            f"{_cell(ours[k], uid)!s:>9} {_cell(chain.get(k), uid)!s:>6}"
            for k in ("incentive", "dividends", "consensus")
        )
        line = f"{uid:>5}  {cells}"
        if extra is not None:
            line += f"  {extra['incentive'][uid]:>11} {extra['dividends'][uid]:>6}"
        print(f"{line}  {first[uid] or '-'}")
    if outcome.revealed or outcome.undecrypted or outcome.masked:
        print(
            f"commit-reveal: {len(outcome.revealed)} commit(s) revealed, "
            f"{len(outcome.undecrypted)} not decryptable here (those rows keep their stored "
            f"weights), {outcome.masked} weight(s) masked"
        )
    for note in fetched.notes:
        print(f"note: {note}")
    if differing:
        print(f"{len(differing)} of {n} uids differ from the chain")
        raise SystemExit(1)
    print(f"bit-identical: all {n} uids match the chain on every compared term")


def _cell(values: Any, uid: int) -> Any:
    if values is None:
        return ""
    if uid >= len(values):
        return None
    v = values[uid]
    return [tuple(p) for p in v] if isinstance(v, list) else v


def _variant_terms(snapshot: Any, args: argparse.Namespace) -> dict[str, list[int]]:
    """Incentive and dividends (u16) of one epoch of the snapshot under another variant or other
    parameters: the chain's masked weights, active stake and stored bonds through
    :func:`yuma.simulate` (permits from this epoch's stake)."""
    import dataclasses

    import numpy as np

    import yuma
    from yuma.chain.floatpath import float_inputs

    kw = float_inputs(snapshot)
    params = kw["params"]
    if args.params:
        try:
            changes = json.loads(args.params)
            if not isinstance(changes, dict):
                raise ValueError("--params must be a JSON object of YumaParams fields")
            params = dataclasses.replace(params, **changes)
        except (ValueError, TypeError) as exc:
            raise CommandError(f"--params: {_one_line(exc)}") from None
    weights = kw["weights"]
    dense = weights.toarray() if hasattr(weights, "toarray") else np.asarray(weights)
    outdated = kw["outdated"]
    # The sparse path's mask covers the stored entries only (O(nnz)); absent cells are 0 anyway.
    outdated = outdated.toarray() != 0 if hasattr(outdated, "toarray") else outdated
    dense = np.where(outdated, 0.0, dense) * kw["validator_permit"][:, None]
    stake = kw["stake"] * kw["active"]
    bonds = kw["bonds"]
    bonds = bonds.toarray() if hasattr(bonds, "toarray") else np.asarray(bonds)
    try:
        res = yuma.simulate(
            dense, stake, params, variant=args.variant, bonds=bonds, epochs=1, layout="uid"
        )
    except (ValueError, KeyError) as exc:
        raise CommandError(_one_line(exc)) from None
    u16 = 65535

    def q(x: Any) -> list[int]:
        return [int(v) for v in np.clip(np.floor(np.asarray(x)[0] * u16), 0, u16)]

    return {"incentive": q(res.incentive), "dividends": q(res.dividends)}


# --- scenarios, compare, bench -------------------------------------------------------------------


def _cmd_scenarios(_: argparse.Namespace) -> None:
    try:
        from yuma import scenarios
    except ImportError:
        raise CommandError("the scenario library is not available in this installation") from None
    for name in scenarios.names():
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
        else list(scenarios.names())
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

    p = sub.add_parser(
        "fetch",
        help="read a subnet's epoch from the chain into a snapshot file (bittensor SDK)",
        description="Read the latest epoch of a subnet at or before a block: its inputs (the "
        "state before the epoch block) and the outputs the chain stored. Needs the [chain] "
        "extra and a network connection.",
    )
    _chain_args(p, required=True)
    p.add_argument("-o", "--out", metavar="OUT", help="output file (default subnetN_blockB.json)")
    p.set_defaults(run=_cmd_fetch)

    p = sub.add_parser(
        "verify",
        help="replay a subnet's epoch and compare it with what the chain stored",
        description="Replay a fetched epoch (SNAPSHOT.json from 'yuma fetch', or read it now "
        "with --netuid) in exact arithmetic and print, per uid, our values beside the chain's "
        "and the first term that differs. Exit status 0 when bit-identical, 1 otherwise.",
    )
    p.add_argument("snapshot", nargs="?", help="a file written by 'yuma fetch'")
    _chain_args(p, required=False)
    p.add_argument("--float", action="store_true", help="float64 arithmetic instead of exact")
    p.add_argument("--all", action="store_true", help="print every uid, not only differences")
    p.add_argument("--variant", help="also show incentive/dividends under this variant")
    p.add_argument("--params", help="JSON of YumaParams fields to change for the what-if run")
    p.set_defaults(run=_cmd_verify)

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


def _chain_args(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--netuid", type=int, required=required, help="the subnet")
    p.add_argument("--block", type=int, help="replay the latest epoch at or before this block")
    p.add_argument(
        "--network", default="finney", help="finney, test, local or a ws(s):// URL (finney)"
    )
    p.add_argument("--mechid", type=int, default=0, help="mechanism (default 0)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except CommandError as exc:
        print(f"yuma {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    except _INPUT_ERRORS as exc:  # a last net: one line, never a traceback
        print(f"yuma {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
