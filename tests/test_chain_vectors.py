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
) -> None:
    """Compare one output dict against an ``expect`` object (all derived-key rules)."""
    for key, want in expect.items():
        tol = tolerance[key]
        if key.endswith("_asserted"):
            base = key[: -len("_asserted")]
            for idx, value in want.items():
                if base == "bonds":
                    i, j = (int(x) for x in idx.split(","))
                    g = _bond(got["bonds"], i, j)
                else:
                    g = got[base][int(idx)]
                assert _within(g, value, tol), f"{where}: {key}[{idx}] = {g}, want {value} ± {tol}"
            continue
        base = key[: -len("_emu")] if key.endswith("_emu") else key
        if base not in got:
            pytest.fail(f"{where}: output has no key {base!r}")
        g = got[base]
        if base in ("bonds", "weights_normalized_raw"):
            assert _bonds_match(g, want, tol), f"{where}: {key} differs:\n{g}\n!=\n{want}"
        else:
            assert _within(g, want, tol), f"{where}: {key} = {g}, want {want} ± {tol}"


@pytest.mark.parametrize("rel", _docs())
def test_each_entry_alone(rel: str) -> None:
    doc = _load(rel)
    for k, snap in enumerate(_snapshots(doc)):
        entry = doc["epochs"][k]
        got = run_epoch(snap, "exact").to_dict(include_raw=True)
        check(got, entry["expect"], entry["tolerance"], f"{rel} entry {k}")


@pytest.mark.parametrize("rel", _docs())
def test_chained_replay(rel: str) -> None:
    doc = _load(rel)
    if not doc["chained"]:
        pytest.skip("entries are independent calls")
    outs = replay(_snapshots(doc), arithmetic="exact")
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
    assert len(snaps) == agg["mechanism_count"]
    outs, subnet = run_mechanisms(
        snaps, agg["subnet_emission"], agg["emission_split"], arithmetic="exact"
    )
    assert list(subnet.mechanism_emissions) == agg["mechanism_emissions"]
    check(subnet.to_dict(), agg["expect"], agg["tolerance"], f"{rel} aggregate")
    for k, out in enumerate(outs):
        entry = doc["epochs"][k]
        check(out.to_dict(include_raw=True), entry["expect"], entry["tolerance"], f"{rel} mech {k}")
