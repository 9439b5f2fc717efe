"""The README's worked example of "Reproduce the chain" runs and gives the numbers it shows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_values() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Reproduce the chain") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    ns: dict[str, Any] = {}
    exec(compile(code.group(1), str(README), "exec"), ns)
    out, second = ns["out"], ns["second"]
    assert out.incentive == (0, 0, 38676, 26858)
    assert out.dividends == (44545, 20989, 0, 0)
    assert out.consensus == (0, 0, 43689, 21845)
    assert out.emission == (339859156, 160140843, 295080470, 204919529)
    assert out.bonds.to_rows() == [[[2, 31368], [3, 20184]], [[2, 10310], [3, 38184]], [], []]
    assert second.dividends == (44905, 20629, 0, 0)
