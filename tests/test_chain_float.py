"""``arithmetic="float"`` against the chain's vectors: u16 within 1 unit, u64 within 1e-6 · E."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import load_json, requires_shared, vector_files

from yuma.chain import ChainEpochOutput, SubnetSnapshot, replay, run_epoch, run_mechanisms
from yuma.chain.ops import SparseRows

pytestmark = requires_shared

U16_KEYS = ("incentive", "dividends", "consensus", "validator_trust", "stake_weight")
U64_KEYS = ("emission", "server_emission", "validator_emission")
BOOL_KEYS = ("active", "new_validator_permit")


def _docs() -> list[Any]:
    return [pytest.param(rel, id=rel.split("/")[-1]) for rel in vector_files("epochs")]


def _want(expect: dict[str, Any], tolerance: dict[str, Any], key: str) -> tuple[Any, float]:
    """The exact target of ``key`` (its ``_emu`` value where the chain's target is approximate)."""
    if f"{key}_emu" in expect:
        return expect[f"{key}_emu"], tolerance[f"{key}_emu"]
    return expect[key], tolerance[key]


def check_float(
    out: ChainEpochOutput,
    expect: dict[str, Any],
    tolerance: dict[str, Any],
    e: int,
    n: int,
    u16_units: int = 1,
    u64_rel: float = 1e-6,
    bond_units: int = 1,
) -> None:
    got = out.to_dict()
    for key in U16_KEYS:
        if key in expect:
            want, tol = _want(expect, tolerance, key)
            diff = np.abs(np.array(got[key]) - np.array(want))
            assert diff.max(initial=0) <= u16_units + tol, (key, got[key], want)
    for key in U64_KEYS:
        if key in expect:
            want, tol = _want(expect, tolerance, key)
            diff = np.abs(np.array(got[key], dtype=float) - np.array(want, dtype=float))
            assert diff.max(initial=0) <= u64_rel * e + tol + 1, (key, got[key], want)
    for key in BOOL_KEYS:
        if key in expect:
            assert got[key] == expect[key], key
    if "bonds" in expect:
        want, tol = _want(expect, tolerance, "bonds")
        g = out.bonds.to_dense(n)
        w = SparseRows.from_rows(want).to_dense(n)
        assert np.abs(g - w).max(initial=0) <= bond_units + tol


@pytest.mark.parametrize("rel", _docs())
def test_float_each_entry(rel: str) -> None:
    doc = load_json(f"vectors/{rel}")
    for k in range(len(doc["epochs"])):
        snap = SubnetSnapshot.from_vector_entry(doc, k)
        entry = doc["epochs"][k]
        out = run_epoch(snap, "float")
        check_float(out, entry["expect"], entry["tolerance"], snap.emission, snap.n)


@pytest.mark.parametrize("rel", _docs())
def test_float_replay_and_aggregate(rel: str) -> None:
    doc = load_json(f"vectors/{rel}")
    snaps = [SubnetSnapshot.from_vector_entry(doc, k) for k in range(len(doc["epochs"]))]
    if doc["chained"]:
        # A replay carries float bonds that were floored to u16 independently of the chain's;
        # a one-unit difference in a carried bond moves later dividends by a few 1e-6 of E
        # (test_bonds @5: 2e-6 · E), so the bounds here are looser than for a single epoch. The
        # chain's floors bias its Yuma2 bonds down by about one unit per epoch relative to
        # float64; through the EMA (rate 0.1) that bias settles near 1 / 0.1 = 10 units.
        for k, out in enumerate(replay(snaps, arithmetic="float")):
            entry = doc["epochs"][k]
            check_float(
                out, entry["expect"], entry["tolerance"], snaps[k].emission, doc["n"], 2, 1e-5, 10
            )
    agg = doc.get("aggregate")
    if agg is not None:
        _, subnet = run_mechanisms(
            snaps, agg["subnet_emission"], agg["emission_split"], arithmetic="float"
        )
        got = subnet.to_dict()
        for key, want in agg["expect"].items():
            g, w = np.array(got[key], dtype=float), np.array(want, dtype=float)
            bound = 1e-6 * agg["subnet_emission"] + 2 if key in U64_KEYS else 2
            assert np.abs(g - w).max(initial=0) <= bound, (key, got[key], want)
