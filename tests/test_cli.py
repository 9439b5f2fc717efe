"""The installed ``yuma`` command, run for real in a subprocess."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED, requires_shared

EXE = shutil.which("yuma")
COMMAND = [EXE] if EXE else [sys.executable, "-m", "yuma"]


def yuma(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_the_entry_point_is_installed() -> None:
    assert EXE is not None, "the console script 'yuma' is not on PATH: pip install -e ."


def test_help_everywhere() -> None:
    out = yuma("--help")
    assert out.returncode == 0 and "replay" in out.stdout and "compare" in out.stdout
    for command in ("demo", "replay", "fetch", "verify", "scenarios", "compare", "bench"):
        out = yuma(command, "--help")
        assert out.returncode == 0 and "usage: yuma" in out.stdout, command


def test_demo() -> None:
    out = yuma("demo")
    assert out.returncode == 0
    assert "consensus" in out.stdout and "dividends" in out.stdout


@requires_shared
def test_replay_prints_and_writes_the_chains_numbers(tmp_path: Path) -> None:
    assert SHARED is not None
    source = SHARED / "vectors" / "epochs" / "test_bonds.json"
    out_file = tmp_path / "out.json"
    out = yuma("replay", str(source), "--json", str(out_file))
    assert out.returncode == 0, out.stderr
    assert "epoch 8" in out.stdout and "incentive" in out.stdout
    outputs = json.loads(out_file.read_text())
    expected = json.loads(source.read_text())["epochs"]
    assert len(outputs) == len(expected)
    for got, entry in zip(outputs, expected, strict=True):
        assert got["incentive"] == entry["expect"]["incentive"]
        assert got["dividends"] == entry["expect"]["dividends"]


@requires_shared
def test_replay_float_is_within_one_unit(tmp_path: Path) -> None:
    assert SHARED is not None
    source = SHARED / "vectors" / "epochs" / "test_simple.json"
    out_file = tmp_path / "out.json"
    out = yuma("replay", str(source), "--float", "--quiet", "--json", str(out_file))
    assert out.returncode == 0, out.stderr
    got = json.loads(out_file.read_text())[0]
    want = json.loads(source.read_text())["epochs"][0]["expect"]
    for key in ("incentive", "dividends", "consensus", "stake_weight"):
        assert all(abs(a - b) <= 1 for a, b in zip(got[key], want[key], strict=True)), key


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"n": 2}', "block is required"),
        ("[]", "non-empty list"),
    ],
)
def test_replay_bad_files_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    out = yuma("replay", str(path))
    assert out.returncode == 2
    assert message in out.stderr and str(path) in out.stderr


def test_replay_missing_file(tmp_path: Path) -> None:
    out = yuma("replay", str(tmp_path / "nope.json"))
    assert out.returncode == 2 and "no such file" in out.stderr


def test_bench_quick() -> None:
    out = yuma("bench", "--quick")
    assert out.returncode == 0, out.stderr
    assert "numpy" in out.stdout and "ms / epoch" in out.stdout


def test_scenarios_lists_the_library() -> None:
    out = yuma("scenarios")
    assert out.returncode == 0
    names = out.stdout.split()
    assert len(names) >= 24 and "kappa_moves_first" in names


def test_compare_prints_a_table_and_writes_a_figure(tmp_path: Path) -> None:
    png = tmp_path / "grid.png"
    out = yuma(
        "compare",
        "--variants",
        "yuma2,yuma3",
        "--scenarios",
        "kappa_moves_first",
        "--plot",
        str(png),
    )
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("kappa_moves_first")]
    assert len(rows) == 6  # 3 validators x 2 variants
    relative = [float(r.split()[-1]) for r in rows]
    assert all(v > 0 for v in relative)
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


def test_compare_unknown_variant() -> None:
    out = yuma("compare", "--variants", "nope", "--scenarios", "kappa_moves_first")
    assert out.returncode == 2 and "unknown variant 'nope'" in out.stderr


# --- hostile files: one line on stderr, exit status 2, never a traceback ------------------------


def _hostile(tmp_path: Path, kind: str, fetched: bool = False) -> tuple[Path, str]:
    """A file of one hostile class and the words its error must contain (``fetched``: in the
    layout 'yuma fetch' writes, which 'yuma verify' reads)."""
    path = tmp_path / f"{kind}.json"
    good = {
        "n": 2,
        "block": 10,
        "emission": 100,
        "alpha_stake": [1, 1],
        "last_update": [9, 9],
        "block_at_registration": [0, 0],
        "weights": [[[1, 65535]], []],
        "bonds": [[], []],
    }

    def dump(d: dict[str, Any]) -> str:
        if fetched:
            n = d.pop("n")
            d = {"chain": {"netuid": 1, "block": 10}, "n": n, "epochs": [d | {"expect": {}}]}
        return json.dumps(d)

    if kind == "deep":
        path.write_text("[" * 200_000 + "]" * 200_000)
        return path, "nested too deeply"
    if kind == "digits":
        path.write_text(dump(good).replace('"n": 2', '"n": ' + "7" * 5000))
        return path, "too many digits"
    if kind == "utf8":
        path.write_bytes(b'{"n": 2, "name": "\xff\xfe"}')
        return path, "not UTF-8"
    if kind == "directory":
        path.mkdir()
        return path, "is a directory"
    if kind == "u16":
        bad = dict(good, weights=[[[1, 2**70]], []])
        path.write_text(dump(bad))
        # the snapshot's own check names the field; until then the overflow itself is reported
        return path, "weights|out of range"
    if kind == "missing":
        return path, "no such file"
    raise AssertionError(kind)


HOSTILE = ("deep", "digits", "utf8", "directory", "u16", "missing")


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("command", ["replay", "verify"])
def test_hostile_files_give_one_line_and_exit_2(tmp_path: Path, kind: str, command: str) -> None:
    path, words = _hostile(tmp_path, kind, fetched=command == "verify")
    out = yuma(command, str(path))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"yuma {command}: error: {path}")
    assert re.search(words, lines[0]), lines[0]


def test_replay_in_process_hostile_errors_are_command_errors(tmp_path: Path) -> None:
    """The same classes through ``main`` in this process (the parser's own recursion limit)."""
    from yuma.cli import main

    for kind in HOSTILE:
        where = tmp_path / kind
        where.mkdir()
        path, _ = _hostile(where, kind)
        assert main(["replay", str(path), "--quiet"]) == 2, kind


# --- fetch and verify --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["fetch", "verify"])
def test_chain_commands_offline_fail_in_one_line(command: str) -> None:
    pytest.importorskip("bittensor")
    # nothing listens on the loopback discard port: the same error as having no network
    out = yuma(command, "--netuid", "1", "--network", "ws://127.0.0.1:9")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith(f"yuma {command}: error: cannot reach ws://127.0.0.1:9")


def _fetched_file(tmp_path: Path, mutate: dict[str, Any] | None = None) -> Path:
    """A 'yuma fetch' file of a known-answer epoch: its inputs and the chain's outputs."""
    from yuma.chain import SubnetSnapshot
    from yuma.chain.loader import FetchedEpoch

    assert SHARED is not None
    doc = json.loads((SHARED / "vectors" / "epochs" / "test_bonds.json").read_text())
    snap = SubnetSnapshot.from_vector_entry(doc, 2)
    from yuma.chain.output import OUTPUT_KEYS

    # what a fetch reads from per-uid storage: no per-uid server/validator emission split
    keys = [k for k in OUTPUT_KEYS if k not in ("server_emission", "validator_emission")]
    expect = {k: doc["epochs"][2]["expect"][k] for k in keys}
    expect.update(mutate or {})
    path = tmp_path / "fetched.json"
    FetchedEpoch(3, 0, snap.block, "test", snap, expect, ("a note",)).save(path)
    return path


@requires_shared
def test_verify_a_bit_identical_epoch(tmp_path: Path) -> None:
    out = yuma("verify", str(_fetched_file(tmp_path)))
    assert out.returncode == 0, out.stderr
    assert "bit-identical: all 8 uids" in out.stdout
    assert "note: a note" in out.stdout
    rows = [line.split() for line in out.stdout.splitlines() if line[:5].strip().isdigit()]
    assert len(rows) == 8 and all(r[-1] == "-" for r in rows)


@requires_shared
def test_verify_names_the_first_differing_term(tmp_path: Path) -> None:
    assert SHARED is not None
    doc = json.loads((SHARED / "vectors" / "epochs" / "test_bonds.json").read_text())
    dividends = list(doc["epochs"][2]["expect"]["dividends"])
    uid = max(range(len(dividends)), key=lambda u: dividends[u])
    dividends[uid] += 1
    out = yuma("verify", str(_fetched_file(tmp_path, {"dividends": dividends})))
    assert out.returncode == 1, out.stderr
    row = next(r.split() for r in out.stdout.splitlines() if r[:5].strip() == str(uid))
    assert row[-1] == "dividends"
    assert "1 of 8 uids differ from the chain" in out.stdout


@requires_shared
def test_verify_what_if_another_variant(tmp_path: Path) -> None:
    out = yuma("verify", str(_fetched_file(tmp_path)), "--variant", "yuma3")
    assert out.returncode == 0, out.stderr
    assert "what-if inc" in out.stdout
    rows = [line.split() for line in out.stdout.splitlines() if line[:5].strip().isdigit()]
    # the incentive of a what-if run is a distribution again: it sums to about 65535
    assert 65535 - 8 <= sum(int(r[7]) for r in rows) <= 65535


def test_verify_refuses_a_plain_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "plain.json"
    path.write_text('{"n": 1}')
    out = yuma("verify", str(path))
    assert out.returncode == 2 and "not a fetched epoch" in out.stderr
