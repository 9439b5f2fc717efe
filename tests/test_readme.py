"""The README's code runs as written, and the demo prints its table."""

from __future__ import annotations

import re

import pytest
from conftest import REPO_ROOT

from yuma import demo


def python_blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_block_runs(index: int) -> None:
    code = python_blocks()[index]
    exec(compile(code, f"README.md[python block {index}]", "exec"), {"__name__": "__readme__"})


def test_readme_has_the_two_setup_commands() -> None:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert 'python -m pip install -e ".[dev]" && python -m yuma.demo' in text
    assert "python -m pytest -q -n 2" in text
    # CI runs exactly the README's test command.
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "python -m pytest -q -n 2" in ci


def test_demo_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    demo.main()
    out = capsys.readouterr().out
    assert "consensus" in out and "incentive" in out and "dividends" in out
    rows = [line.split() for line in out.splitlines() if re.match(r"^\s*\d+\s", line)]
    assert len(rows) == 10
    # The minority cabal's miner (uid 9) gets no incentive and its validator (uid 3) no dividends.
    assert float(rows[9][4]) == 0.0 and float(rows[3][5]) == 0.0
    # The honest validators share all the dividends.
    assert sum(float(r[5]) for r in rows[:3]) == pytest.approx(1.0, abs=1e-3)
