"""``SubnetSnapshot``: round trips, JSON, validation errors that name the field, replay events,
and the speed of a 256-uid epoch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from yuma.chain import (
    Hyperparameters,
    PreEpochEvent,
    SubnetSnapshot,
    apply_events,
    replay,
    run_epoch,
    run_mechanisms,
)


def base(n: int = 3) -> dict[str, Any]:
    return {
        "n": n,
        "path": "sparse",
        "hyperparameters": {"tempo": 100, "yuma3_enabled": False, "max_allowed_validators": 2},
        "block": 50,
        "emission": 10**9,
        "last_mechanism_step_block": 0,
        "alpha_stake": [10**12, 3 * 10**12, 0][:n] + [0] * max(0, n - 3),
        "tao_stake": [0] * n,
        "owner_uid": None,
        "last_update": [50] * n,
        "block_at_registration": [0] * n,
        "validator_permit": [True] * n,
        "weights": [[[2, 65535]], [[2, 30000], [0, 65535]]] + [[] for _ in range(n - 2)],
        "bonds": [[[2, 65535]], []] + [[] for _ in range(n - 2)],
    }


def test_round_trip_dict_and_json(tmp_path: Path) -> None:
    d = base()
    s = SubnetSnapshot.from_dict(d)
    again = s.to_dict()
    for key, value in d.items():
        if key == "hyperparameters":
            assert {k: again[key][k] for k in value} == value
        else:
            assert again[key] == value, key
    path = tmp_path / "snap.json"
    s.save(path)
    loaded = SubnetSnapshot.load(path)
    assert loaded.to_dict() == again
    assert json.loads(path.read_text())["n"] == 3
    assert run_epoch(loaded).to_dict() == run_epoch(s).to_dict()


def test_defaults_and_hyperparameters() -> None:
    hp = Hyperparameters()
    assert hp.kappa == 32767 and hp.yuma3_enabled and hp.activity_cutoff == 5000
    assert Hyperparameters(tempo=0).activity_cutoff == 1
    s = SubnetSnapshot(
        n=1,
        block=0,
        emission=0,
        alpha_stake=[0],
        last_update=[0],
        block_at_registration=[0],
        weights=[[]],
        bonds=[[]],
    )
    assert s.tao_stake == (0,) and s.validator_permit == () and s.path == "sparse"
    out = run_epoch(s)
    assert out.emission == (0,) and out.bonds.to_rows() == [[]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"alpha_stake": [1, 2]}, "alpha_stake"),
        ({"alpha_stake": [1, 2, -1]}, "alpha_stake[2]"),
        ({"alpha_stake": [1, 2, 1 << 64]}, "alpha_stake[2]"),
        ({"tao_stake": [0, 0, 0.5]}, "tao_stake[2]"),
        ({"last_update": [1, 2, 3, 4]}, "last_update"),
        ({"block_at_registration": [0, 0]}, "block_at_registration"),
        ({"validator_permit": [True] * 4}, "validator_permit"),
        ({"validator_permit": [1, 0, 0]}, "validator_permit[0]"),
        ({"weights": [[], []]}, "weights"),
        ({"weights": [[[3, 1]], [], []]}, "weights[0][0]: uid 3"),
        ({"weights": [[[1, 65536]], [], []]}, "weights[0][0]: value 65536"),
        ({"weights": [[[1, 1.0]], [], []]}, "weights[0][0]: value must be an integer"),
        ({"weights": [[["1", 1]], [], []]}, "weights[0][0]: uid must be an integer"),
        ({"bonds": [[[1, True]], [], []]}, "bonds[0][0]: value must be an integer"),
        ({"bonds": [[[1, 2**70]], [], []]}, "bonds[0][0]: value 1180591620717411303424"),
        ({"alpha_stake": [0, 0, 10**5000]}, "alpha_stake[2] must lie in"),
        ({"weights": [[[1]], [], []]}, "weights"),
        ({"bonds": [[[0, -1]], [], []]}, "bonds[0][0]: value -1"),
        ({"owner_uid": 3}, "owner_uid"),
        ({"block": -1}, "block"),
        ({"emission": 1.5}, "emission"),
        ({"path": "fast"}, "path"),
        ({"hyperparameters": {"kappa": 70000}}, "hyperparameters.kappa"),
        ({"hyperparameters": {"kapa": 1}}, "hyperparameters: unknown key"),
        ({"hyperparameters": {"yuma3_enabled": 1}}, "hyperparameters.yuma3_enabled"),
        ({"hyperparameters": {"alpha_sigmoid_steepness": 40000}}, "alpha_sigmoid_steepness"),
        ({"surprise": 1}, "unknown key"),
        ({"pre_epoch_events": [{"event": "explode", "uid": 0}]}, "pre_epoch_events.event"),
        ({"pre_epoch_events": [{"event": "replace_neuron", "uid": 0}]}, "pre_epoch_events.block"),
        ({"pre_epoch_events": [{"event": "reset_bonds", "uid": 9}]}, "pre_epoch_events.uid"),
        ({"mechanism_id": 256}, "mechanism_id"),
    ],
)
def test_bad_snapshot_names_the_field(change: dict[str, Any], field: str) -> None:
    d = base()
    d.update(change)
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        SubnetSnapshot.from_dict(d)


def test_missing_required_key() -> None:
    d = base()
    del d["weights"]
    with pytest.raises(ValueError, match="weights is required"):
        SubnetSnapshot.from_dict(d)


def test_arithmetic_must_be_known() -> None:
    with pytest.raises(ValueError, match="arithmetic"):
        run_epoch(SubnetSnapshot.from_dict(base()), "decimal")  # type: ignore[arg-type]


def test_pre_epoch_events() -> None:
    d = base()
    d["bonds"] = [[[0, 5], [2, 7]], [[2, 9]], [[0, 1]]]
    d["pre_epoch_events"] = [
        {"event": "replace_neuron", "uid": 1, "block": 40},
        {"event": "reset_bonds", "uid": 0},
    ]
    s = apply_events(SubnetSnapshot.from_dict(d))
    assert s.bonds.to_rows() == [[[2, 7]], [], []]
    assert s.validator_permit == (True, False, True)
    assert s.pre_epoch_events[0] == PreEpochEvent("replace_neuron", 1, 40)


def test_replay_carries_bonds_and_permits() -> None:
    first = SubnetSnapshot.from_dict(base())
    second = first.replace(bonds=[[], [], []], validator_permit=[False, False, False], block=60)
    a, b = replay([first, second])
    carried = second.replace(bonds=a.bonds, validator_permit=a.new_validator_permit)
    assert b.to_dict() == run_epoch(carried).to_dict()


def test_run_mechanisms_single_mechanism_is_identity() -> None:
    s = SubnetSnapshot.from_dict(base())
    outs, subnet = run_mechanisms([s], s.emission)
    one = run_epoch(s)
    assert outs[0].to_dict() == one.to_dict()
    assert subnet.dividends == one.dividends and subnet.emission == one.emission
    assert subnet.mechanism_emissions == (s.emission,)
    with pytest.raises(ValueError, match="snapshots"):
        run_mechanisms([], 10)


def snapshot_256(seed: int = 0, validators: int = 256, path: str = "sparse") -> SubnetSnapshot:
    """A full 256-uid subnet: ``validators`` rows weight every uid and hold bonds to every uid."""
    n = 256
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 65536, (n, n))
    b = rng.integers(0, 65536, (n, n))
    rows_w = [[[j, int(w[i, j])] for j in range(n)] if i < validators else [] for i in range(n)]
    rows_b = [[[j, int(b[i, j])] for j in range(n)] if i < validators else [] for i in range(n)]
    return SubnetSnapshot(
        n=n,
        block=7200,
        emission=10**12,
        alpha_stake=[int(x) for x in rng.integers(10**12, 10**16, n)],
        last_update=[int(x) for x in rng.integers(7000, 7200, n)],
        block_at_registration=[int(x) for x in rng.integers(0, 7100, n)],
        weights=rows_w,
        bonds=rows_b,
        validator_permit=[True] * n,
        path=path,
        hyperparameters=Hyperparameters(max_allowed_validators=validators, tempo=360),
    )


@pytest.mark.parametrize("path", ["sparse", "dense"])
def test_256_uid_epoch_pays_out_and_stores_full_rows(path: str) -> None:
    # speed of this epoch is measured in benchmarks/test_bench_replay.py
    s = snapshot_256(path=path)
    out = run_epoch(s)
    assert 0 < sum(out.emission) <= s.emission
    if path == "dense":
        # every permitted row is stored whole
        assert out.bonds.nnz == 256 * 256
    else:
        # zero bonds are not stored: most, not all, cells
        assert 0.9 * 256 * 256 < out.bonds.nnz < 256 * 256
