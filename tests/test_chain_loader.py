"""The chain loader: storage names against the SDK, pure conversion, commit-reveal, SDK layer.

The storage values are built here, in the decoded shapes the bittensor SDK returns (ints, bools,
tuples inside lists, ``query_map`` pairs, ss58 strings), from the known-answer vectors' inputs;
they must convert back to the same snapshot and replay to the vectors' outputs bit for bit. The
SDK layer runs over an in-memory substrate (the SDK's own ``Client(substrate=...)`` hook), so
no test needs the network.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
from conftest import load_json, requires_shared, vector_files
from test_chain_vectors import check

from yuma.chain import SubnetSnapshot, run_epoch
from yuma.chain.commits import CommitReveal, HashCommit, TimelockedCommit, apply_commit_reveal
from yuma.chain.loader import ChainUnreachable, FetchedEpoch, fetch_epoch, load_fetched
from yuma.chain.storage import (
    EXPECT_ITEMS,
    INPUT_ITEMS,
    MECHANISM_STRIDE,
    METAGRAPH_CALL,
    METAGRAPH_FIELDS,
    decode_weights_payload,
    encode_weights_payload,
    expect_from_storage,
    mechanism_index,
    snapshot_from_storage,
)

U64_MAX = (1 << 64) - 1

# chain storage name -> snapshot hyperparameter (written from the runtime's names, not ours)
HYPER_ITEMS = {
    "Kappa": "kappa",
    "BondsPenalty": "bonds_penalty",
    "BondsMovingAverage": "bonds_moving_average",
    "Yuma3On": "yuma3_enabled",
    "LiquidAlphaOn": "liquid_alpha_enabled",
    "AlphaSigmoidSteepness": "alpha_sigmoid_steepness",
    "MaxAllowedValidators": "max_allowed_validators",
    "Tempo": "tempo",
    "ActivityCutoffFactorMilli": "activity_cutoff_factor_milli",
    "StakeThreshold": "stake_threshold",
    "TaoWeight": "tao_weight_raw",
    "CommitRevealWeightsEnabled": "commit_reveal_enabled",
}


def hotkey(uid: int) -> str:
    return f"5HotKey{uid:05d}"


def encode_inputs(s: SubnetSnapshot) -> dict[str, Any]:
    """A snapshot's inputs as the SDK decodes the storage (read before the epoch block)."""
    hp = s.hyperparameters.to_dict()
    values: dict[str, Any] = {item: hp[field] for item, field in HYPER_ITEMS.items()}
    values["AlphaValues"] = (hp["alpha_low"], hp["alpha_high"])
    values["SubnetworkN"] = s.n
    values["Keys"] = [(uid, hotkey(uid)) for uid in range(s.n)]
    values["BlockAtRegistration"] = list(enumerate(s.block_at_registration))
    values["SubnetOwnerHotkey"] = (
        hotkey(s.owner_uid) if s.owner_uid is not None else "5NotRegisteredOwner"
    )
    values["LastMechansimStepBlock"] = s.last_mechanism_step_block
    values["LastUpdate"] = list(s.last_update)
    values["ValidatorPermit"] = list(s.validator_permit)
    # query_map lists only the rows that exist; pairs decode as tuples
    values["Weights"] = [
        (i, [tuple(p) for p in row]) for i, row in enumerate(s.weights.to_rows()) if row
    ]
    values["Bonds"] = [
        (i, [tuple(p) for p in row]) for i, row in enumerate(s.bonds.to_rows()) if row
    ]
    values["PendingServerEmission"] = s.emission
    values["PendingValidatorEmission"] = 0
    values["PendingRootAlphaDivs"] = 0
    values["metagraph"] = {
        "alpha_stake": list(s.alpha_stake),
        "tao_stake": list(s.tao_stake or ()),
        "hotkeys": [hotkey(u) for u in range(s.n)],
    }
    return values


def encode_outputs(expect: dict[str, Any]) -> dict[str, Any]:
    """An ``expect`` object as the items the chain stores after the epoch."""
    return {
        "Incentive": expect["incentive"],
        "Dividends": expect["dividends"],
        "Consensus": expect["consensus"],
        "ValidatorTrust": expect["validator_trust"],
        "StakeWeight": expect["stake_weight"],
        "Emission": expect["emission"],
        "Active": expect["active"],
        "ValidatorPermit": expect["new_validator_permit"],
        "Bonds": [(i, [tuple(p) for p in row]) for i, row in enumerate(expect["bonds"]) if row],
    }


def sparse_entries() -> list[Any]:
    out = []
    for rel in vector_files("epochs"):
        doc = load_json(f"vectors/{rel}")
        for k, entry in enumerate(doc["epochs"]):
            if entry.get("path", doc.get("path", "sparse")) == "sparse":
                out.append(pytest.param(rel, k, id=f"{rel.split('/')[-1]}[{k}]"))
    return out


# --- names and types against the SDK's generated metadata ---------------------------------------


def test_every_storage_item_and_type_is_in_the_sdk_metadata() -> None:
    bt = pytest.importorskip("bittensor")
    for item in (*INPUT_ITEMS, *EXPECT_ITEMS):
        pallet = getattr(bt.storage, item.pallet, None)
        assert pallet is not None, f"pallet {item.pallet} is not in the runtime metadata"
        descriptor = getattr(pallet, item.name, None)
        assert descriptor is not None, f"{item.pallet}.{item.name} is not a storage item"
        assert (descriptor.container, descriptor.name) == (item.pallet, item.name)
        assert descriptor.value_type_ident == item.value_type, item.name


def test_the_stake_call_and_its_fields_are_the_sdks() -> None:
    bt = pytest.importorskip("bittensor")
    api, method = METAGRAPH_CALL
    m = getattr(getattr(bt.runtime_api, api), method)
    assert (m.container, m.name) == (api, method)
    # the SDK's metagraph decodes the same record: its fields are read by these names
    source = inspect.getsource(bt.metagraph)
    for name in METAGRAPH_FIELDS:
        assert f'column("{name}")' in source, name


def test_mechanism_index_is_the_sdks() -> None:
    pytest.importorskip("bittensor")
    from bittensor.reads.weights import _mechanism_index
    from bittensor.settings import GLOBAL_MAX_SUBNET_COUNT

    assert GLOBAL_MAX_SUBNET_COUNT == MECHANISM_STRIDE
    for netuid, mechid in ((0, 0), (1, 0), (64, 1), (4095, 15)):
        assert mechanism_index(netuid, mechid) == _mechanism_index(netuid, mechid)
    assert mechanism_index(3, 1) == 4099
    with pytest.raises(ValueError, match="netuid"):
        mechanism_index(4096)
    with pytest.raises(ValueError, match="mechid"):
        mechanism_index(1, 16)


def test_the_sdks_commit_read_unpacks_the_same_tuple() -> None:
    pytest.importorskip("bittensor")
    from bittensor.reads import weights

    source = inspect.getsource(weights.timelocked_weight_commits)
    assert "hotkey, commit_block, ciphertext, reveal_round" in source


# --- the pure conversion on the known-answer vectors ------------------------------------------


@requires_shared
@pytest.mark.parametrize(("rel", "k"), sparse_entries())
def test_vector_inputs_round_trip_and_replay_bit_for_bit(rel: str, k: int) -> None:
    doc = load_json(f"vectors/{rel}")
    original = SubnetSnapshot.from_vector_entry(doc, k)
    mechid = original.mechanism_id or 0
    got = snapshot_from_storage(encode_inputs(original), block=original.block, mechid=mechid)
    want = original.to_dict()
    want["mechanism_id"] = mechid
    assert got.to_dict() == want
    entry = doc["epochs"][k]
    got_out = run_epoch(got, "exact").to_dict(include_raw=True)
    check(got_out, entry["expect"], entry["tolerance"], rel)


@requires_shared
@pytest.mark.parametrize(("rel", "k"), sparse_entries())
def test_stored_outputs_convert_to_the_expect_terms(rel: str, k: int) -> None:
    entry = load_json(f"vectors/{rel}")["epochs"][k]
    expect = entry["expect"]
    if not all(key in expect for key in ("incentive", "emission", "bonds")):
        pytest.skip("entry lists only some outputs")
    got = expect_from_storage(encode_outputs(expect), len(expect["incentive"]))
    for key, value in got.items():
        assert value == expect[key], key


def test_storage_rules_of_the_chain_reads() -> None:
    """Rows and entries the chain's getters skip, padding, uids without a hotkey, defaults."""
    values = {
        "SubnetworkN": 3,
        "Keys": [(0, "5A"), (2, "5C"), (7, "5Z")],  # uid 1 has no hotkey; uid 7 >= n
        "BlockAtRegistration": [(0, 5), (1, 9), (2, 11)],
        "SubnetOwnerHotkey": "5C",
        "LastUpdate": [20, 21],  # shorter than n: padded with 0
        "ValidatorPermit": [True, False, True, True],  # longer than n: cut
        "Weights": [(0, [(1, 10), (5, 3), (2, 0)]), (4, [(0, 1)])],
        "Bonds": [(2, [(0, 7)])],
        "AlphaValues": (1000, 2000),
        "PendingServerEmission": 5,
        "PendingValidatorEmission": 6,
        "PendingRootAlphaDivs": 7,
        "metagraph": {"alpha_stake": [1, 2, 3], "tao_stake": [0, 0]},
    }
    s = snapshot_from_storage(values, block=30)
    assert s.block_at_registration == (5, 0, 11)
    assert s.last_update == (20, 21, 0)
    assert s.validator_permit == (True, False, True)
    assert s.weights.to_rows() == [[[1, 10], [2, 0]], [], []]
    assert s.bonds.to_rows() == [[], [], [[0, 7]]]
    assert s.owner_uid == 2
    assert s.emission == 18
    assert s.tao_stake == (0, 0, 0)
    assert (s.hyperparameters.alpha_low, s.hyperparameters.alpha_high) == (1000, 2000)
    assert s.hyperparameters.kappa == 32767  # absent: the runtime default
    assert s.commit_reveal is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SubnetworkN": True}, "SubnetworkN must be an integer"),
        ({"LastUpdate": "12"}, "LastUpdate must be a list"),
        ({"Weights": [(0, [(1, 70000)])]}, "must lie in"),
        ({"Weights": [(0, [(1,)])]}, "pair"),
        ({"Kappa": 2**16}, "Kappa must lie in"),
        ({"AlphaValues": (1,)}, "AlphaValues"),
        ({"metagraph": [1, 2]}, "metagraph"),
    ],
)
def test_bad_storage_values_name_the_item(change: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {
        "SubnetworkN": 2,
        "LastUpdate": [0, 0],
        "metagraph": {"alpha_stake": [1, 1], "tao_stake": [0, 0]},
    }
    values.update(change)
    with pytest.raises(ValueError, match=message):
        snapshot_from_storage(values, block=10)


# --- commit-reveal ---------------------------------------------------------------------------


def _cr_snapshot(**changes: Any) -> SubnetSnapshot:
    """Validators 0 and 1, miners 2 and 3 (3 registered at block 150)."""
    base = SubnetSnapshot(
        n=4,
        block=200,
        emission=1_000_000,
        alpha_stake=(600, 400, 0, 0),
        last_update=(190, 190, 0, 0),
        block_at_registration=(1, 1, 50, 150),
        validator_permit=(True, True, False, False),
        weights=[[[2, 65535], [3, 65535]], [[2, 65535], [3, 32768]], [], []],
        bonds=[[], [], [], []],
        last_mechanism_step_block=100,
    )
    return base.replace(**changes)


def test_a_due_timelocked_commit_replaces_the_row_max_upscaled() -> None:
    # epoch 7 is about to run with a reveal period of 1: commits of epoch 6 reveal now
    cr = CommitReveal(
        epoch_index=7,
        reveal_period=1,
        timelocked=(TimelockedCommit(1, 6, 120, 999, ((2, 1), (3, 3))),),
    )
    out, outcome = apply_commit_reveal(_cr_snapshot(commit_reveal=cr))
    # max-upscale: round(v · 65535 / 3) -> 21845, 65535
    assert out.weights.to_rows()[1] == [[2, 21845], [3, 65535]]
    assert outcome.revealed == (1,)
    assert out.last_update == (190, 190, 0, 0)  # commit-reveal on: LastUpdate is not touched
    assert out.commit_reveal is None
    # the revealed commit is taken from storage: it no longer masks (120 < 150 would have)
    assert outcome.commit_blocks == (U64_MAX,) * 4 and outcome.masked == 0


def test_a_due_commit_without_its_payload_keeps_the_stored_row_and_is_reported() -> None:
    commit = TimelockedCommit(1, 6, 120, 999)
    cr = CommitReveal(epoch_index=7, timelocked=(commit,))
    s = _cr_snapshot(commit_reveal=cr)
    out, outcome = apply_commit_reveal(s)
    assert out.weights.to_rows() == s.weights.to_rows()
    assert outcome.undecrypted == (commit,) and outcome.revealed == ()


def test_a_bad_payload_is_refused_like_the_chain() -> None:
    cr = CommitReveal(epoch_index=7, timelocked=(TimelockedCommit(1, 6, 120, 9, ((2, 1), (2, 5))),))
    out, outcome = apply_commit_reveal(_cr_snapshot(commit_reveal=cr))
    assert outcome.rejected == (1,)
    assert out.weights.to_rows()[1] == [[2, 65535], [3, 32768]]


def test_live_commits_mask_weights_on_uids_registered_after_them() -> None:
    cr = CommitReveal(
        epoch_index=7,
        reveal_period=1,
        timelocked=(
            TimelockedCommit(0, 7, 140, 1),  # not due yet (epoch 7 reveals at epoch 8): live
            TimelockedCommit(1, 4, 10, 1),  # epoch 4 < 6: deleted as expired
        ),
        hash_commits=(
            HashCommit(1, 5, 20),  # expired: 7 > 5 + 1
            HashCommit(1, 6, 160),  # live, first live of uid 1's queue
            HashCommit(1, 7, 30),  # live but not the first live one
        ),
    )
    out, outcome = apply_commit_reveal(_cr_snapshot(commit_reveal=cr))
    assert outcome.commit_blocks == (140, 160, U64_MAX, U64_MAX)
    # uid 0 committed at 140 < reg(3) = 150: its weight on 3 goes; 160 ≥ 150 keeps uid 1's
    assert out.weights.to_rows() == [[[2, 65535]], [[2, 65535], [3, 32768]], [], []]
    assert outcome.masked == 1
    # the replay applies the same rule itself
    manual = _cr_snapshot(weights=out.weights)
    got = run_epoch(_cr_snapshot(commit_reveal=cr)).to_dict()
    assert got == run_epoch(manual).to_dict()
    assert got["incentive"] != run_epoch(_cr_snapshot()).to_dict()["incentive"]


def test_without_commit_reveal_nothing_is_masked() -> None:
    cr = CommitReveal(epoch_index=7, timelocked=(TimelockedCommit(0, 7, 140, 1),))
    hp = _cr_snapshot().hyperparameters.to_dict() | {"commit_reveal_enabled": False}
    out, outcome = apply_commit_reveal(_cr_snapshot(commit_reveal=cr, hyperparameters=hp))
    assert outcome.masked == 0 and out.weights.to_rows() == _cr_snapshot().weights.to_rows()


def test_too_early_to_reveal() -> None:
    # epoch_index < reveal_period: the chain returns before taking anything
    cr = CommitReveal(epoch_index=1, reveal_period=3, timelocked=(TimelockedCommit(0, 0, 140, 1),))
    _, outcome = apply_commit_reveal(_cr_snapshot(commit_reveal=cr))
    assert outcome.undecrypted == () and outcome.commit_blocks[0] == 140


def test_commit_state_survives_json_and_vector_documents() -> None:
    cr = CommitReveal(
        epoch_index=7,
        timelocked=(TimelockedCommit(None, 6, 120, 5, ((2, 1),)), TimelockedCommit(0, 7, 3, 4)),
        hash_commits=(HashCommit(1, 6, 9),),
    )
    s = _cr_snapshot(commit_reveal=cr)
    again = SubnetSnapshot.from_dict(s.to_dict())
    assert again.commit_reveal == cr
    fetched = FetchedEpoch(1, 0, 200, "test", s, {"incentive": [0, 0, 0, 0]})
    loaded = load_fetched(fetched.to_document())
    assert loaded.snapshot.commit_reveal == cr and loaded.expect == {"incentive": [0, 0, 0, 0]}
    with pytest.raises(ValueError, match=r"commit_reveal: unknown key\(s\) \['x'\]"):
        SubnetSnapshot.from_dict(s.to_dict() | {"commit_reveal": {"epoch_index": 1, "x": 2}})
    with pytest.raises(ValueError, match=r"timelocked\.commit_block"):
        CommitReveal.from_dict({"epoch_index": 1, "timelocked": [{"commit_epoch": 1}]})


def test_storage_commits_resolve_hotkeys_and_the_epoch_index() -> None:
    values = encode_inputs(_cr_snapshot())
    values["SubnetEpochIndex"] = 6
    values["RevealPeriodEpochs"] = 1
    values["TimelockedWeightCommits"] = [
        (7, [(hotkey(0), 140, "0xabcd", 11)]),
        (6, [(hotkey(1), 120, b"\x01", 10), ("5Gone", 121, b"", 10)]),
    ]
    values["WeightCommits"] = [(hotkey(1), [("0x" + "00" * 32, 6, 160, 0)])]
    s = snapshot_from_storage(values, block=200, reveals={(6, 0): [(2, 1), (3, 3)]})
    cr = s.commit_reveal
    assert cr is not None and cr.epoch_index == 7 and cr.reveal_period == 1
    assert cr.timelocked == (
        TimelockedCommit(1, 6, 120, 10, ((2, 1), (3, 3))),
        TimelockedCommit(None, 6, 121, 10),
        TimelockedCommit(0, 7, 140, 11),
    )
    assert cr.hash_commits == (HashCommit(1, 6, 160),)


def test_weights_payloads_decode_in_both_layouts() -> None:
    new = encode_weights_payload([0, 5, 300], [1, 2, 65535], version_key=7, hotkey=b"\x11" * 32)
    assert decode_weights_payload(new) == [(0, 1), (5, 2), (300, 65535)]
    legacy = encode_weights_payload([4], [9], version_key=1, hotkey=None)
    assert decode_weights_payload(legacy) == [(4, 9)]
    many = encode_weights_payload(range(200), range(200), hotkey=b"")
    assert decode_weights_payload(many) == [(i, i) for i in range(200)]
    with pytest.raises(ValueError, match="neither"):
        decode_weights_payload(b"\x08\x01")


# --- the SDK layer over an in-memory substrate ----------------------------------------------


class FakeSubstrate:
    """The SDK's ``Substrate`` contract over a dict: ``(item, params, block) -> value``."""

    def __init__(self, head: int, state: dict[tuple[str, tuple[Any, ...], int], Any]) -> None:
        import bittensor as bt

        self.head = head
        self.state = state
        self.token_symbols: dict[int, str] = {}
        self.storage = bt.storage
        self.reads: list[str] = []

    def _check(self, module: str, name: str) -> None:
        # every item the loader asks for must exist in the runtime metadata the SDK ships
        assert getattr(getattr(self.storage, module), name, None) is not None, name
        self.reads.append(name)

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def block_hash(self, block: int | None = None) -> str:
        return f"0x{self.head if block is None else block:064x}"

    async def block_number(self) -> int:
        return self.head

    def _block(self, block_hash: str | None) -> int:
        return self.head if block_hash is None else int(block_hash, 16)

    async def query(
        self, module: str, name: str, params: Any = None, block_hash: Any = None
    ) -> Any:
        self._check(module, name)
        return self.state.get((name, tuple(params or ()), self._block(block_hash)))

    async def query_map(
        self, module: str, name: str, params: Any = None, block_hash: Any = None
    ) -> list[tuple[Any, Any]]:
        self._check(module, name)
        return list(self.state.get((name, tuple(params or ()), self._block(block_hash))) or [])

    async def runtime_call(self, api: str, method: str, params: Any, block_hash: Any = None) -> Any:
        return self.state.get((f"{api}.{method}", tuple(params), self._block(block_hash)))


PER_UID_MAPS = ("Keys", "BlockAtRegistration")
PER_MECHANISM = ("LastUpdate", "Weights", "Bonds", "TimelockedWeightCommits", "WeightCommits")
GLOBAL = ("StakeThreshold", "TaoWeight")


def chain_state(
    s: SubnetSnapshot, expect: dict[str, Any], netuid: int, mechid: int = 0, mechanisms: int = 1
) -> FakeSubstrate:
    """A chain whose epoch of ``netuid`` ran at ``s.block`` with ``s``'s inputs (mechanism
    ``mechid``'s items under index ``mechid · 4096 + netuid``) and ``expect`` as its stored
    outputs; the subnet's pending emission grew by 10 rao a block before it."""
    b = s.block
    idx = mechid * 4096 + netuid
    state: dict[tuple[str, tuple[Any, ...], int], Any] = {}
    for name, value in encode_inputs(s).items():
        if name == "metagraph":
            state[("SubnetInfoRuntimeApi.get_metagraph", (netuid,), b - 1)] = value
        elif name in GLOBAL:
            state[(name, (), b - 1)] = value
        else:
            key = idx if name in PER_MECHANISM else netuid
            state[(name, (key,), b - 1)] = value
    total = s.emission * mechanisms
    state[("PendingServerEmission", (netuid,), b - 1)] = total - 10
    state[("PendingServerEmission", (netuid,), b - 2)] = total - 20
    state[("MechanismCountCurrent", (netuid,), b - 1)] = mechanisms
    for name, value in encode_outputs(expect).items():
        key = idx if name in ("Incentive", "Bonds") else netuid
        state[(name, (key,), b)] = value
    state[("SubnetEpochIndex", (netuid,), b - 1)] = 41
    state[("RevealPeriodEpochs", (netuid,), b - 1)] = 1
    state[("LastMechansimStepBlock", (netuid,), b)] = b
    state[("LastMechansimStepBlock", (netuid,), b + 5)] = b
    return FakeSubstrate(b + 5, state)


def _client(substrate: FakeSubstrate) -> Any:
    import bittensor as bt

    return bt.Client("local", substrate=substrate)


@requires_shared
def test_fetch_reads_a_chain_into_the_same_snapshot_and_outputs(tmp_path: Any) -> None:
    pytest.importorskip("bittensor")
    doc = load_json("vectors/epochs/test_bonds.json")
    original = SubnetSnapshot.from_vector_entry(doc, 1).replace(mechanism_id=0)
    expect = doc["epochs"][1]["expect"]
    fake = chain_state(original, expect, netuid=3)
    steps: list[tuple[str, int, int]] = []
    # any block after the epoch finds it through LastMechansimStepBlock
    fetched = fetch_epoch(
        3, original.block + 5, client=_client(fake), progress=lambda *a: steps.append(a)
    )
    assert fetched.block == original.block and fetched.netuid == 3
    # E = (E - 10) pending + 10 rao accrual; the epoch index is the one about to run
    assert fetched.snapshot.replace(commit_reveal=None).to_dict() == original.to_dict()
    assert fetched.snapshot.commit_reveal == CommitReveal(epoch_index=42, reveal_period=1)
    assert steps and steps[-1][1] == steps[-1][2] == len(steps)
    for key, value in fetched.expect.items():
        assert value == expect[key], key
    assert any("E = " in note for note in fetched.notes)
    for name in ("Weights", "Bonds", "TimelockedWeightCommits", "Incentive", "ValidatorPermit"):
        assert name in fake.reads
    path = tmp_path / "epoch.json"
    fetched.save(path)
    import json

    loaded = load_fetched(json.loads(path.read_text()))
    assert loaded.snapshot.to_dict() == fetched.snapshot.to_dict()
    assert loaded.expect == fetched.expect


def test_fetch_without_an_epoch_says_so() -> None:
    pytest.importorskip("bittensor")
    fake = FakeSubstrate(50, {})
    with pytest.raises(ValueError, match="subnet 9 has had no epoch"):
        fetch_epoch(9, client=_client(fake))


def test_fetch_unreachable_is_one_clear_error() -> None:
    pytest.importorskip("bittensor")
    # nothing listens on the loopback discard port: the SDK refuses at once
    with pytest.raises(ChainUnreachable, match=r"^cannot reach ws://127\.0\.0\.1:9"):
        fetch_epoch(1, network="ws://127.0.0.1:9")


def test_import_yuma_never_imports_the_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, yuma, yuma.chain, yuma.chain.loader, yuma.chain.storage, yuma.cli; "
        "print('bittensor' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_undecrypted_reveals_do_not_touch_other_rows() -> None:
    """A property of the reveal step on random small snapshots: only the committers' rows change."""
    rng = np.random.default_rng(7)
    for _ in range(25):
        s = _cr_snapshot()
        who = int(rng.integers(0, 2))
        pairs = tuple((int(j), int(rng.integers(0, 65536))) for j in (2, 3))
        cr = CommitReveal(epoch_index=7, timelocked=(TimelockedCommit(who, 6, 199, 1, pairs),))
        out, outcome = apply_commit_reveal(s.replace(commit_reveal=cr))
        before, after = s.weights.to_rows(), out.weights.to_rows()
        assert outcome.revealed == (who,)
        assert after[1 - who] == before[1 - who]
        assert [j for j, _ in after[who]] == [2, 3]
        top = max(v for _, v in pairs)
        assert max(v for _, v in after[who]) == (65535 if top else 0)


def test_a_failing_read_is_a_read_error() -> None:
    bt = pytest.importorskip("bittensor")
    from yuma.chain.loader import ChainReadError

    class Pruned(FakeSubstrate):
        async def query(self, *args: Any, **kwargs: Any) -> Any:
            raise bt.ChainError("state already discarded")

    with pytest.raises(ChainReadError, match="state already discarded"):
        fetch_epoch(2, 100, client=_client(Pruned(120, {})))


@requires_shared
def test_fetch_a_second_mechanism_reads_its_own_index_and_share() -> None:
    pytest.importorskip("bittensor")
    doc = load_json("vectors/epochs/test_bonds.json")
    original = SubnetSnapshot.from_vector_entry(doc, 1).replace(mechanism_id=1)
    expect = doc["epochs"][1]["expect"]
    fake = chain_state(original, expect, netuid=5, mechid=1, mechanisms=2)
    fetched = fetch_epoch(5, original.block, mechid=1, client=_client(fake))
    # an even split of 2·E over two mechanisms gives this one E
    assert fetched.snapshot.replace(commit_reveal=None).to_dict() == original.to_dict()
    # the subnet-level terms aggregate both mechanisms: only the per-mechanism ones compare
    assert sorted(fetched.expect) == ["bonds", "incentive"]
    assert fetched.expect["incentive"] == expect["incentive"]
    with pytest.raises(ValueError, match="no mechid 2"):
        fetch_epoch(5, original.block, mechid=2, client=_client(fake))
