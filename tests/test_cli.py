"""The installed ``yuma`` command, run for real in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

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
    for command in ("demo", "replay", "scenarios", "compare", "bench"):
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
