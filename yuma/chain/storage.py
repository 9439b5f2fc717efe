"""Decoded chain storage -> :class:`SubnetSnapshot`, and stored epoch outputs -> ``expect`` terms.

This is the pure half of the chain loader (:mod:`yuma.chain.loader` is the network half). Its
input is what the bittensor SDK returns for each storage item: plain Python values, with maps
read by ``query_map`` as ``[(key, value), ...]`` pairs. It needs neither the SDK nor a network.

Which items are read, and with which value types, is listed in :data:`STORAGE_ITEMS` (pallet
``SubtensorModule`` unless stated), so that a test can check every name and type against the
SDK's generated runtime metadata (``bittensor._generated.storage``).

Per-mechanism items (``Weights``, ``Bonds``, ``LastUpdate``, ``Incentive``, the weight commits)
are keyed by the mechanism index ``mechid · 4096 + netuid``; everything else by ``netuid``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from yuma.chain.commits import CommitReveal, HashCommit, TimelockedCommit
from yuma.chain.ops import SparseRows
from yuma.chain.snapshot import Hyperparameters, SubnetSnapshot

__all__ = [
    "EXPECT_ITEMS",
    "INPUT_ITEMS",
    "MECHANISM_STRIDE",
    "METAGRAPH_CALL",
    "METAGRAPH_FIELDS",
    "STORAGE_ITEMS",
    "StorageItem",
    "decode_weights_payload",
    "encode_weights_payload",
    "expect_from_storage",
    "hyperparameters_from_storage",
    "mechanism_index",
    "snapshot_from_storage",
]

#: ``GLOBAL_MAX_SUBNET_COUNT``: mechanism ``m`` of subnet ``netuid`` stores under
#: ``m · 4096 + netuid``.
MECHANISM_STRIDE = 4096

_U16_MAX = 65535
_U64_MAX = (1 << 64) - 1


def mechanism_index(netuid: int, mechid: int = 0) -> int:
    """``get_mechanism_storage_index``: ``mechid · 4096 + netuid`` (``netuid`` for mechanism 0)."""
    if not 0 <= int(netuid) < MECHANISM_STRIDE:
        raise ValueError(f"netuid must lie in [0, {MECHANISM_STRIDE - 1}], got {netuid}")
    if not 0 <= int(mechid) <= 15:
        raise ValueError(f"mechid must lie in [0, 15], got {mechid}")
    return int(mechid) * MECHANISM_STRIDE + int(netuid)


@dataclass(frozen=True)
class StorageItem:
    """One storage item the loader reads.

    ``key`` says what it is keyed by: ``"netuid"``, ``"netuid_index"`` (the mechanism index),
    ``"netuid, uid"``, ``"netuid_index, uid"``, ``"netuid_index, epoch"``,
    ``"netuid_index, hotkey"``, ``"netuid, uid -> hotkey"`` or ``"global"``; ``value_type`` is
    the runtime's type name as the SDK's metadata layer spells it.
    """

    name: str
    value_type: str
    key: str
    pallet: str = "SubtensorModule"


#: Every storage item read for an epoch's inputs (before the epoch block) ...
INPUT_ITEMS: tuple[StorageItem, ...] = (
    StorageItem("SubnetworkN", "u16", "netuid"),
    StorageItem("Tempo", "u16", "netuid"),
    StorageItem("ActivityCutoffFactorMilli", "u32", "netuid"),
    StorageItem("Kappa", "u16", "netuid"),
    StorageItem("BondsPenalty", "u16", "netuid"),
    StorageItem("BondsMovingAverage", "u64", "netuid"),
    StorageItem("Yuma3On", "bool", "netuid"),
    StorageItem("LiquidAlphaOn", "bool", "netuid"),
    StorageItem("AlphaValues", "(u16, u16)", "netuid"),
    StorageItem("AlphaSigmoidSteepness", "i16", "netuid"),
    StorageItem("MaxAllowedValidators", "u16", "netuid"),
    StorageItem("CommitRevealWeightsEnabled", "bool", "netuid"),
    StorageItem("StakeThreshold", "u64", "global"),
    StorageItem("TaoWeight", "u64", "global"),
    StorageItem("LastMechansimStepBlock", "u64", "netuid"),
    StorageItem("SubnetOwnerHotkey", "AccountId32", "netuid"),
    StorageItem("Keys", "AccountId32", "netuid, uid"),
    StorageItem("BlockAtRegistration", "u64", "netuid, uid"),
    StorageItem("ValidatorPermit", "Vec<bool>", "netuid"),
    StorageItem("LastUpdate", "Vec<u64>", "netuid_index"),
    StorageItem("Weights", "Vec<(u16, u16)>", "netuid_index, uid"),
    StorageItem("Bonds", "Vec<(u16, u16)>", "netuid_index, uid"),
    StorageItem("PendingServerEmission", "AlphaBalance", "netuid"),
    StorageItem("PendingValidatorEmission", "AlphaBalance", "netuid"),
    StorageItem("PendingRootAlphaDivs", "AlphaBalance", "netuid"),
    StorageItem("SubnetEpochIndex", "u64", "netuid"),
    StorageItem("RevealPeriodEpochs", "u64", "netuid"),
    StorageItem(
        "TimelockedWeightCommits",
        "Vec<(AccountId32, u64, BoundedVec, u64)>",
        "netuid_index, epoch",
    ),
    StorageItem("WeightCommits", "Vec<(H256, u64, u64, u64)>", "netuid_index, hotkey"),
    StorageItem("MechanismCountCurrent", "MechId", "netuid"),
    StorageItem("MechanismEmissionSplit", "Vec<u16>", "netuid"),
    StorageItem("LiquidAlphaConsensusMode", "ConsensusMode", "netuid"),
    StorageItem("Pulses", "Pulse", "round", pallet="Drand"),
)

#: ... and every item read for the chain's stored outputs (at the epoch block).
EXPECT_ITEMS: tuple[StorageItem, ...] = (
    StorageItem("Incentive", "Vec<PerU16>", "netuid_index"),
    StorageItem("Dividends", "Vec<PerU16>", "netuid"),
    StorageItem("Consensus", "Vec<PerU16>", "netuid"),
    StorageItem("ValidatorTrust", "Vec<PerU16>", "netuid"),
    StorageItem("StakeWeight", "Vec<u16>", "netuid"),
    StorageItem("Emission", "Vec<AlphaBalance>", "netuid"),
    StorageItem("Active", "Vec<bool>", "netuid"),
    StorageItem("ValidatorPermit", "Vec<bool>", "netuid"),
    StorageItem("Bonds", "Vec<(u16, u16)>", "netuid_index, uid"),
    StorageItem("LastMechansimStepBlock", "u64", "netuid"),
)

#: All of them, by name.
STORAGE_ITEMS: dict[str, StorageItem] = {i.name: i for i in (*INPUT_ITEMS, *EXPECT_ITEMS)}

#: The runtime call that gives the epoch's stake (``get_stake_weights_for_network``, floored to
#: u64 per uid) and the fields of its record that are read.
METAGRAPH_CALL = ("SubnetInfoRuntimeApi", "get_metagraph")
METAGRAPH_FIELDS = ("alpha_stake", "tao_stake")

_BOUNDS = {"u16": _U16_MAX, "u32": (1 << 32) - 1, "u64": _U64_MAX}

# storage name -> Hyperparameters field
_HYPER: tuple[tuple[str, str], ...] = (
    ("Kappa", "kappa"),
    ("BondsPenalty", "bonds_penalty"),
    ("BondsMovingAverage", "bonds_moving_average"),
    ("Yuma3On", "yuma3_enabled"),
    ("LiquidAlphaOn", "liquid_alpha_enabled"),
    ("AlphaSigmoidSteepness", "alpha_sigmoid_steepness"),
    ("MaxAllowedValidators", "max_allowed_validators"),
    ("Tempo", "tempo"),
    ("ActivityCutoffFactorMilli", "activity_cutoff_factor_milli"),
    ("StakeThreshold", "stake_threshold"),
    ("TaoWeight", "tao_weight_raw"),
    ("CommitRevealWeightsEnabled", "commit_reveal_enabled"),
)


# --- decoded-value checks --------------------------------------------------------------------


def _int(name: str, v: Any, hi: int = _U64_MAX, lo: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {type(v).__name__}")
    x = int(v)
    if not lo <= x <= hi:
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {x}")
    return x


def _bool(name: str, v: Any) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {type(v).__name__}")
    return bool(v)


def _seq(name: str, v: Any) -> Sequence[Any]:
    if v is None:
        return ()
    if not isinstance(v, Sequence) or isinstance(v, (str, bytes, bytearray)):
        raise ValueError(f"{name} must be a list, got {type(v).__name__}")
    return v


def _pairs(name: str, v: Any) -> list[tuple[Any, Any]]:
    """A ``query_map`` result ``[(key, value), ...]`` (a mapping is accepted as well)."""
    if isinstance(v, Mapping):
        return list(v.items())
    out = []
    for k, kv in enumerate(_seq(name, v)):
        if not isinstance(kv, Sequence) or isinstance(kv, (str, bytes)) or len(kv) != 2:
            raise ValueError(f"{name}[{k}] must be a (key, value) pair")
        out.append((kv[0], kv[1]))
    return out


def _hotkey(name: str, v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if not isinstance(v, str):
        raise ValueError(f"{name} must be an account (ss58 string), got {type(v).__name__}")
    return v


def _u16_rows(name: str, v: Any, n: int, drop_cols_from: int | None) -> list[list[list[int]]]:
    """``Weights``/``Bonds`` map pairs ``[(uid, [(j, u16), ...]), ...]`` -> n rows of pairs.

    Rows with ``uid ≥ n`` are skipped (``get_weights_sparse``/``get_bonds_sparse``); entries with
    ``j ≥ drop_cols_from`` too.
    """
    rows: list[list[list[int]]] = [[] for _ in range(n)]
    for uid, row in _pairs(name, v):
        i = _int(f"{name} key", uid, _U16_MAX)
        if i >= n:
            continue
        out = []
        for k, pair in enumerate(_seq(f"{name}[{i}]", row)):
            if not isinstance(pair, Sequence) or isinstance(pair, (str, bytes)) or len(pair) != 2:
                raise ValueError(f"{name}[{i}][{k}] must be a (uid, u16) pair")
            j = _int(f"{name}[{i}][{k}] uid", pair[0], _U16_MAX)
            w = _int(f"{name}[{i}][{k}]", pair[1], _U16_MAX)
            if drop_cols_from is None or j < drop_cols_from:
                out.append([j, w])
        rows[i] = out
    return rows


def _vec(name: str, v: Any, n: int, kind: str, pad: bool = True) -> list[Any]:
    """A stored per-uid vector cut to length ``n`` and padded (0 / False) to it."""
    items = list(_seq(name, v))[:n]
    if kind == "bool":
        vals: list[Any] = [_bool(f"{name}[{i}]", x) for i, x in enumerate(items)]
        return vals + [False] * (n - len(vals)) if pad else vals
    hi = _U16_MAX if kind == "u16" else _U64_MAX
    vals = [_int(f"{name}[{i}]", x, hi) for i, x in enumerate(items)]
    return vals + [0] * (n - len(vals))


# --- inputs ----------------------------------------------------------------------------------


def _default(values: Mapping[str, Any], name: str, default: Any) -> Any:
    """An item's value, or ``default`` when it is absent or ``None``."""
    v = values.get(name)
    return default if v is None else v


def _require(values: Mapping[str, Any], name: str) -> Any:
    if name not in values:
        raise ValueError(f"storage item {name} is missing")
    return values[name]


def hyperparameters_from_storage(values: Mapping[str, Any]) -> Hyperparameters:
    """The chain-unit :class:`Hyperparameters` from decoded storage values (missing items keep
    the runtime defaults)."""
    kw: dict[str, Any] = {}
    for item, field_name in _HYPER:
        if item in values and values[item] is not None:
            v = values[item]
            if field_name.endswith("_enabled"):
                kw[field_name] = _bool(item, v)
            elif field_name == "alpha_sigmoid_steepness":
                kw[field_name] = _int(item, v, 32767, -32768)
            else:
                kw[field_name] = _int(item, v, _BOUNDS[STORAGE_ITEMS[item].value_type])
    if values.get("AlphaValues") is not None:
        pair = _seq("AlphaValues", values["AlphaValues"])
        if len(pair) != 2:
            raise ValueError("AlphaValues must be a (u16, u16) pair")
        kw["alpha_low"] = _int("AlphaValues[0]", pair[0], _U16_MAX)
        kw["alpha_high"] = _int("AlphaValues[1]", pair[1], _U16_MAX)
    try:
        return Hyperparameters(**kw)
    except ValueError as exc:
        raise ValueError(f"hyperparameters: {exc}") from None


def snapshot_from_storage(
    values: Mapping[str, Any],
    *,
    block: int,
    mechid: int = 0,
    emission: int | None = None,
    reveals: Mapping[tuple[int, int], Sequence[Sequence[int]]] | None = None,
) -> SubnetSnapshot:
    """The :class:`SubnetSnapshot` of the epoch run at ``block`` from the storage read before it.

    Parameters
    ----------
    values : mapping
        Storage item name (:data:`INPUT_ITEMS`) -> decoded value as the SDK returns it, read at
        ``block − 1``: scalars as ``int``/``bool``, ``AlphaValues`` as a pair, vectors as lists,
        maps as ``query_map`` pairs (``Weights``: ``[(uid, [(j, u16), ...]), ...]``;
        ``Keys``: ``[(uid, hotkey)]``; ``TimelockedWeightCommits``:
        ``[(epoch, [(hotkey, commit_block, ciphertext, reveal_round), ...])]``; ``WeightCommits``:
        ``[(hotkey, [(hash, commit_epoch, commit_block, _), ...])]``), plus ``"metagraph"``: the
        :data:`METAGRAPH_CALL` record (``alpha_stake``, ``tao_stake``: u64 per uid).
    block : int
        The epoch block ``b`` (the chain's current block when the epoch runs).
    mechid : int
        Mechanism whose per-mechanism items these are.
    emission : int, optional
        ``E`` for this mechanism; default: the sum of the three pending emissions.
    reveals : mapping, optional
        Decrypted timelocked payloads: ``(commit_epoch, position in that epoch's queue)`` ->
        ``[(uid, u16), ...]`` as submitted.

    Items missing from ``values`` take their storage defaults, except ``SubnetworkN``,
    ``LastUpdate`` and ``metagraph``, which are required. Entries the chain's own reads skip
    (weight and bond rows of uids ≥ n, weights and bonds on uids ≥ n) are skipped.
    """
    n = _int("SubnetworkN", _require(values, "SubnetworkN"), _U16_MAX)
    hp = hyperparameters_from_storage(values)
    keys: dict[int, str] = {}
    for uid, hk in _pairs("Keys", values.get("Keys")):
        u = _int("Keys key", uid, _U16_MAX)
        if u < n:
            keys[u] = _hotkey(f"Keys[{u}]", hk)
    uid_of = {hk: u for u, hk in keys.items()}
    reg_map = {
        _int("BlockAtRegistration key", u, _U16_MAX): _int(f"BlockAtRegistration[{u}]", b)
        for u, b in _pairs("BlockAtRegistration", values.get("BlockAtRegistration"))
    }
    # get_block_at_registration: 0 where the uid has no hotkey
    reg = [reg_map.get(u, 0) if u in keys else 0 for u in range(n)]
    owner_hk = values.get("SubnetOwnerHotkey")
    owner = uid_of.get(_hotkey("SubnetOwnerHotkey", owner_hk)) if owner_hk is not None else None

    graph = _require(values, "metagraph")
    if not isinstance(graph, Mapping):
        raise ValueError("metagraph must be the runtime call's record (a mapping)")
    alpha = _vec("metagraph.alpha_stake", graph.get("alpha_stake"), n, "u64")
    tao = _vec("metagraph.tao_stake", graph.get("tao_stake"), n, "u64")

    if emission is None:
        emission = sum(
            _int(k, values.get(k) or 0)
            for k in ("PendingServerEmission", "PendingValidatorEmission", "PendingRootAlphaDivs")
        )
    commit_reveal = _commit_reveal(values, uid_of, reveals or {})
    try:
        return SubnetSnapshot(
            n=n,
            block=_int("block", block),
            emission=min(_int("emission", emission, _U64_MAX * 3), _U64_MAX),
            alpha_stake=tuple(alpha),
            tao_stake=tuple(tao),
            last_update=tuple(_vec("LastUpdate", _require(values, "LastUpdate"), n, "u64")),
            block_at_registration=tuple(reg),
            validator_permit=tuple(
                # missing entries mean "no permit": keep the stored length
                _vec("ValidatorPermit", values.get("ValidatorPermit"), n, "bool", pad=False)
            ),
            weights=SparseRows.from_rows(_u16_rows("Weights", values.get("Weights"), n, n)),
            bonds=SparseRows.from_rows(_u16_rows("Bonds", values.get("Bonds"), n, n)),
            last_mechanism_step_block=_int(
                "LastMechansimStepBlock", values.get("LastMechansimStepBlock") or 0
            ),
            owner_uid=owner,
            path="sparse",
            hyperparameters=hp,
            mechanism_id=_int("mechid", mechid, 15),
            commit_reveal=commit_reveal,
        )
    except ValueError as exc:
        raise ValueError(f"storage does not make a valid snapshot: {exc}") from None


def _commit_reveal(
    values: Mapping[str, Any],
    uid_of: Mapping[str, int],
    reveals: Mapping[tuple[int, int], Sequence[Sequence[int]]],
) -> CommitReveal | None:
    if values.get("SubnetEpochIndex") is None:
        return None
    timelocked = []
    for epoch, queue in sorted(
        _pairs("TimelockedWeightCommits", values.get("TimelockedWeightCommits")),
        key=lambda kv: int(kv[0]),
    ):
        e = _int("TimelockedWeightCommits key", epoch)
        for k, entry in enumerate(_seq(f"TimelockedWeightCommits[{e}]", queue)):
            entry = _seq(f"TimelockedWeightCommits[{e}][{k}]", entry)
            if len(entry) != 4:
                raise ValueError(
                    f"TimelockedWeightCommits[{e}][{k}] must be "
                    "(hotkey, commit_block, ciphertext, reveal_round)"
                )
            who, commit_block, _cipher, reveal_round = entry
            w = reveals.get((e, k))
            timelocked.append(
                TimelockedCommit(
                    uid_of.get(_hotkey("TimelockedWeightCommits hotkey", who)),
                    e,
                    _int(f"TimelockedWeightCommits[{e}][{k}].commit_block", commit_block),
                    _int(f"TimelockedWeightCommits[{e}][{k}].reveal_round", reveal_round),
                    None if w is None else tuple((int(a), int(b)) for a, b in w),
                )
            )
    hashed = []
    for who, queue in _pairs("WeightCommits", values.get("WeightCommits")):
        uid = uid_of.get(_hotkey("WeightCommits key", who))
        for k, entry in enumerate(_seq("WeightCommits queue", queue)):
            entry = _seq(f"WeightCommits[{k}]", entry)
            if len(entry) != 4:
                raise ValueError("WeightCommits entries must be (hash, commit_epoch, block, _)")
            hashed.append(
                HashCommit(
                    uid,
                    _int("WeightCommits.commit_epoch", entry[1]),
                    _int("WeightCommits.commit_block", entry[2]),
                )
            )
    index = _int("SubnetEpochIndex", values["SubnetEpochIndex"])
    # the epoch block fires an epoch: current_epoch_with_lookahead = SubnetEpochIndex + 1
    return CommitReveal(
        epoch_index=min(index + 1, _U64_MAX),
        reveal_period=_int("RevealPeriodEpochs", _default(values, "RevealPeriodEpochs", 1)),
        timelocked=tuple(timelocked),
        hash_commits=tuple(hashed),
    )


# --- outputs ---------------------------------------------------------------------------------


def expect_from_storage(values: Mapping[str, Any], n: int) -> dict[str, Any]:
    """The chain's stored epoch outputs (read at the epoch block) as ``expect`` terms.

    ``values`` holds :data:`EXPECT_ITEMS` by name. Returns the keys of
    :meth:`ChainEpochOutput.to_dict` that the chain stores: ``incentive`` (per mechanism),
    ``dividends``, ``consensus``, ``validator_trust``, ``stake_weight``, ``emission``,
    ``active``, ``new_validator_permit`` (``ValidatorPermit`` after the epoch) and ``bonds``
    (per mechanism, n rows); items absent from ``values`` are left out. The server / validator
    split of the emission is not stored by the chain.
    """
    n = _int("n", n, _U16_MAX)
    out: dict[str, Any] = {}
    for item, key, kind in (
        ("Incentive", "incentive", "u16"),
        ("Dividends", "dividends", "u16"),
        ("Consensus", "consensus", "u16"),
        ("ValidatorTrust", "validator_trust", "u16"),
        ("StakeWeight", "stake_weight", "u16"),
        ("Emission", "emission", "u64"),
        ("Active", "active", "bool"),
        ("ValidatorPermit", "new_validator_permit", "bool"),
    ):
        if item in values and values[item] is not None:
            out[key] = _vec(item, values[item], n, kind)
    if values.get("Bonds") is not None:
        out["bonds"] = _u16_rows("Bonds", values["Bonds"], n, None)
    return out


# --- timelocked payloads ---------------------------------------------------------------------


def _compact(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise ValueError("payload: truncated compact length")
    mode = buf[pos] & 3
    if mode == 0:
        return buf[pos] >> 2, pos + 1
    if mode == 1:
        return int.from_bytes(buf[pos : pos + 2], "little") >> 2, pos + 2
    if mode == 2:
        return int.from_bytes(buf[pos : pos + 4], "little") >> 2, pos + 4
    size = (buf[pos] >> 2) + 4
    if size > 8:
        raise ValueError("payload: length prefix too large")
    return int.from_bytes(buf[pos + 1 : pos + 1 + size], "little"), pos + 1 + size


def _enc_compact(x: int) -> bytes:
    if x < 1 << 6:
        return bytes([x << 2])
    if x < 1 << 14:
        return ((x << 2) | 1).to_bytes(2, "little")
    if x < 1 << 30:
        return ((x << 2) | 2).to_bytes(4, "little")
    raw = x.to_bytes((x.bit_length() + 7) // 8, "little")
    return bytes([((len(raw) - 4) << 2) | 3]) + raw


def _u16s(buf: bytes, pos: int) -> tuple[list[int], int]:
    count, pos = _compact(buf, pos)
    end = pos + 2 * count
    if end > len(buf):
        raise ValueError("payload: truncated u16 vector")
    return np.frombuffer(buf[pos:end], dtype="<u2").astype(int).tolist(), end


def encode_weights_payload(
    uids: Iterable[int], values: Iterable[int], version_key: int = 0, hotkey: bytes | None = b""
) -> bytes:
    """SCALE bytes of the chain's ``WeightsTlockPayload`` (``hotkey``: ``Vec<u8>``, ``uids``,
    ``values``: ``Vec<u16>``, ``version_key``: u64), or of the legacy payload without the
    hotkey when ``hotkey`` is ``None``."""
    u, v = list(uids), list(values)
    head = b"" if hotkey is None else _enc_compact(len(hotkey)) + bytes(hotkey)
    return (
        head
        + _enc_compact(len(u))
        + np.asarray(u, dtype="<u2").tobytes()
        + _enc_compact(len(v))
        + np.asarray(v, dtype="<u2").tobytes()
        + int(version_key).to_bytes(8, "little")
    )


def decode_weights_payload(data: bytes) -> list[tuple[int, int]]:
    """The ``(uid, value)`` pairs of a decrypted timelocked weights payload.

    Tries the current ``WeightsTlockPayload`` layout (hotkey bytes first), then the legacy one
    (``uids``, ``values``, ``version_key``), as ``reveal_crv3_commits_for_subnet`` does; a
    payload that is neither raises ``ValueError``.
    """
    buf = bytes(data)
    for with_hotkey in (True, False):
        try:
            pos = 0
            if with_hotkey:
                size, pos = _compact(buf, 0)
                pos += size
            uids, pos = _u16s(buf, pos)
            vals, pos = _u16s(buf, pos)
            if pos + 8 != len(buf) or len(uids) != len(vals):
                raise ValueError("payload: layout mismatch")
            return list(zip(uids, vals, strict=True))
        except ValueError:
            continue
    raise ValueError("payload is neither a WeightsTlockPayload nor a legacy payload")
