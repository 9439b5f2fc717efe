"""Every ``vectors/epochs/*.json`` file through ``yuma.chain`` with exact arithmetic.

Rules (``vectors/README.md``): tolerance 0 → bit for bit, otherwise absolute in the key's units;
``<key>_asserted`` compares the listed entries, ``<key>_emu`` the exact emulator value; each
entry runs alone from its own inputs, chained files also run through ``replay`` from their first
entry, and ``aggregate`` objects are reproduced by ``run_mechanisms``.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import load_json, requires_shared, vector_files

from yuma.chain import SubnetSnapshot, replay, run_epoch, run_mechanisms

pytestmark = requires_shared


def _docs() -> list[Any]:
    return [pytest.param(rel, id=rel.split("/")[-1]) for rel in vector_files("epochs")]


def _load(rel: str) -> dict[str, Any]:
    doc: dict[str, Any] = load_json(f"vectors/{rel}")
    return doc


def _snapshots(doc: dict[str, Any]) -> list[SubnetSnapshot]:
    return [SubnetSnapshot.from_vector_entry(doc, k) for k in range(len(doc["epochs"]))]


def _bond(rows: list[list[list[int]]], i: int, j: int) -> int:
    """Stored bond (i, j); 0 when absent (the vectors' convention for ``bonds_asserted``)."""
    for col, v in rows[i]:
        if col == j:
            return v
    return 0


def _within(got: Any, want: Any, tol: float) -> bool:
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(_within(g, w, tol) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, bool):
        return bool(got == want)
    return bool(abs(got - want) <= tol)


def _bonds_match(got: list[Any], want: list[Any], tol: float) -> bool:
    if tol == 0:
        return got == want
    cols_g = [[e[0] for e in r] for r in got]
    cols_w = [[e[0] for e in r] for r in want]
    vals_g = [[e[1] for e in r] for r in got]
    vals_w = [[e[1] for e in r] for r in want]
    return cols_g == cols_w and _within(vals_g, vals_w, tol)


def check(
    got: dict[str, Any], expect: dict[str, Any], tolerance: dict[str, Any], where: str
) -> int:
    """Compare one output dict against an ``expect`` object (all derived-key rules).

    Returns the number of values compared. An empty ``expect``, an empty ``<key>_asserted``
    object or a key without a tolerance fails: a check must compare something.
    """
    assert expect, f"{where}: empty expect"
    assert set(tolerance) == set(expect), f"{where}: tolerance keys differ from expect keys"
    compared = 0
    for key, want in expect.items():
        tol = tolerance[key]
        if key.endswith("_asserted"):
            base = key[: -len("_asserted")]
            assert want, f"{where}: {key} asserts nothing"
            for idx, value in want.items():
                if base == "bonds":
                    i, j = (int(x) for x in idx.split(","))
                    g = _bond(got["bonds"], i, j)
                else:
                    g = got[base][int(idx)]
                assert _within(g, value, tol), f"{where}: {key}[{idx}] = {g}, want {value} ± {tol}"
                compared += 1
            continue
        base = key[: -len("_emu")] if key.endswith("_emu") else key
        if base not in got:
            pytest.fail(f"{where}: output has no key {base!r}")
        g = got[base]
        if base in ("bonds", "weights_normalized_raw"):
            assert _bonds_match(g, want, tol), f"{where}: {key} differs:\n{g}\n!=\n{want}"
        else:
            assert _within(g, want, tol), f"{where}: {key} = {g}, want {want} ± {tol}"
        compared += 1
    return compared


def test_check_refuses_to_compare_nothing() -> None:
    """The comparison itself: an empty expect or asserted object fails; a wrong value fails."""
    with pytest.raises(AssertionError, match="empty expect"):
        check({"incentive": [1]}, {}, {}, "empty")
    with pytest.raises(AssertionError, match="asserts nothing"):
        check({"incentive": [1]}, {"incentive_asserted": {}}, {"incentive_asserted": 0}, "x")
    with pytest.raises(AssertionError):
        check({"incentive": [1, 2]}, {"incentive": [1, 3]}, {"incentive": 0}, "value")
    with pytest.raises(AssertionError):
        check({"incentive": [1]}, {"incentive": [1, 0]}, {"incentive": 0}, "length")
    assert check({"incentive": [1, 2]}, {"incentive_asserted": {"1": 2}},
                 {"incentive_asserted": 0}, "ok") == 1  # fmt: skip


def test_every_vector_entry_is_collected() -> None:
    """Every file and entry the vectors' index lists is seen, and none is empty."""
    index = load_json("vectors/index.json")["epochs"]
    assert len(index) > 0
    assert [p.values[0] for p in _docs()] == [entry["file"] for entry in index]
    for entry in index:
        doc = _load(entry["file"])
        assert len(doc["epochs"]) == entry["epochs"] > 0, entry["file"]


@pytest.mark.parametrize("rel", _docs())
def test_each_entry_alone(rel: str) -> None:
    doc = _load(rel)
    snaps = _snapshots(doc)
    assert snaps, f"{rel}: no entries"
    for k, snap in enumerate(snaps):
        entry = doc["epochs"][k]
        got = run_epoch(snap, "exact").to_dict(include_raw=True)
        assert check(got, entry["expect"], entry["tolerance"], f"{rel} entry {k}") > 0


@pytest.mark.parametrize("rel", _docs())
def test_chained_replay(rel: str) -> None:
    doc = _load(rel)
    if not doc["chained"]:
        pytest.skip("entries are independent calls")
    outs = replay(_snapshots(doc), arithmetic="exact")
    assert len(outs) == len(doc["epochs"]) > 0
    for k, out in enumerate(outs):
        entry = doc["epochs"][k]
        check(out.to_dict(include_raw=True), entry["expect"], entry["tolerance"], f"{rel} @{k}")


@pytest.mark.parametrize("rel", _docs())
def test_aggregate(rel: str) -> None:
    doc = _load(rel)
    agg = doc.get("aggregate")
    if agg is None:
        pytest.skip("no aggregate")
    snaps = _snapshots(doc)
    assert len(snaps) == agg["mechanism_count"] > 0
    outs, subnet = run_mechanisms(
        snaps, agg["subnet_emission"], agg["emission_split"], arithmetic="exact"
    )
    assert list(subnet.mechanism_emissions) == agg["mechanism_emissions"]
    check(subnet.to_dict(), agg["expect"], agg["tolerance"], f"{rel} aggregate")
    assert len(outs) == len(snaps)
    for k, out in enumerate(outs):
        entry = doc["epochs"][k]
        check(out.to_dict(include_raw=True), entry["expect"], entry["tolerance"], f"{rel} mech {k}")
