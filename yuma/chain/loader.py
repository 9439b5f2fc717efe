"""Read a real subnet's epoch from the chain with the bittensor SDK (optional extra ``[chain]``).

:func:`fetch_epoch` finds the latest epoch of a subnet at or before a block, reads its inputs
(the state just before the epoch block) and the outputs the chain stored in it, and returns a
:class:`FetchedEpoch`: a :class:`SubnetSnapshot` plus the chain's ``expect`` terms. The
conversion itself is the pure :mod:`yuma.chain.storage`; this module only talks to the SDK
(``bittensor`` 11, imported lazily: ``import yuma`` never needs it).

What the chain does not store, and how it is handled:

* ``E``, the alpha handed to the epoch, is the pending emission drained at the epoch block,
  i.e. what was pending before it plus that block's own accrual. The accrual is taken to be the
  previous block's (``P(b−1) − P(b−2)``), so emission amounts may differ from the chain's by a
  few rao per uid; the u16 terms, permits and bonds do not depend on ``E``.
* Timelocked commits due at the epoch block are decrypted with the drand signature stored on
  chain (``Drand.Pulses``). A commit that cannot be decrypted keeps its stored row and is
  listed in ``notes``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

from yuma.chain.ops import split_emissions
from yuma.chain.snapshot import SubnetSnapshot
from yuma.chain.storage import (
    METAGRAPH_CALL,
    decode_weights_payload,
    expect_from_storage,
    mechanism_index,
    snapshot_from_storage,
)

__all__ = ["ChainReadError", "ChainUnreachable", "FetchedEpoch", "fetch_epoch", "load_fetched"]

DEFAULT_NETWORK = "finney"

Progress = Callable[[str, int, int], None]


class ChainUnreachable(ConnectionError):
    """No chain endpoint answered (the message starts with ``cannot reach``)."""


class ChainReadError(RuntimeError):
    """The node answered but a read failed (pruned state, unknown block, runtime error)."""


@dataclass(frozen=True)
class FetchedEpoch:
    """One epoch of a real subnet: the snapshot to replay and what the chain stored.

    Attributes
    ----------
    netuid, mechid : int
        The subnet and mechanism.
    block : int
        The epoch block (``LastMechansimStepBlock`` after it ran); inputs are read at
        ``block − 1``, outputs at ``block``.
    network : str
        The endpoint read.
    snapshot : SubnetSnapshot
        The epoch's inputs, with ``commit_reveal`` state.
    expect : dict
        The chain's stored outputs in :meth:`ChainEpochOutput.to_dict` keys (see
        :func:`yuma.chain.storage.expect_from_storage`).
    notes : tuple of str
        What the replay cannot reproduce exactly (estimated ``E``, undecrypted commits, ...).
    """

    netuid: int
    mechid: int
    block: int
    network: str
    snapshot: SubnetSnapshot
    expect: dict[str, Any]
    notes: tuple[str, ...] = field(default=())

    def to_document(self) -> dict[str, Any]:
        """A known-answer-vector style document (schema B, one entry): ``yuma replay`` and
        ``yuma verify`` read it, and :meth:`SubnetSnapshot.from_vector_entry` loads it."""
        snap = self.snapshot.to_dict()
        entry = {k: v for k, v in snap.items() if k not in ("n", "path", "hyperparameters")}
        entry["expect"] = self.expect
        return {
            "name": f"netuid {self.netuid} mechanism {self.mechid} epoch at block {self.block}",
            "source": f"chain {self.network} netuid {self.netuid} block {self.block}",
            "chain": {
                "netuid": self.netuid,
                "mechid": self.mechid,
                "block": self.block,
                "network": self.network,
                "notes": list(self.notes),
            },
            "path": snap["path"],
            "n": snap["n"],
            "chained": False,
            "hyperparameters": snap["hyperparameters"],
            "epochs": [entry],
        }

    def save(self, path: str | PathLike[str]) -> None:
        """Write :meth:`to_document` as JSON."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_document(), fh)


def load_fetched(doc: Mapping[str, Any]) -> FetchedEpoch:
    """The :class:`FetchedEpoch` of a document written by :meth:`FetchedEpoch.to_document`."""
    chain = doc.get("chain")
    if not isinstance(chain, Mapping):
        raise ValueError("not a fetched epoch: the 'chain' object is missing")
    epochs = doc.get("epochs")
    if not isinstance(epochs, list) or len(epochs) != 1 or not isinstance(epochs[0], Mapping):
        raise ValueError("a fetched epoch holds exactly one entry in 'epochs'")
    expect = epochs[0].get("expect", {})
    if not isinstance(expect, Mapping):
        raise ValueError("epochs[0].expect must be an object")
    notes = chain.get("notes", [])
    return FetchedEpoch(
        netuid=int(chain["netuid"]),
        mechid=int(chain.get("mechid", 0)),
        block=int(chain["block"]),
        network=str(chain.get("network", "")),
        snapshot=SubnetSnapshot.from_vector_entry(doc, 0),
        expect=dict(expect),
        notes=tuple(str(x) for x in notes) if isinstance(notes, list) else (),
    )


# --- the network part ----------------------------------------------------------------------


def _sdk() -> Any:
    try:
        import bittensor
    except ImportError:
        raise ImportError(
            "reading the chain needs the bittensor SDK: pip install 'yuma-consensus[chain]'"
        ) from None
    return bittensor


def fetch_epoch(
    netuid: int,
    block: int | None = None,
    *,
    network: str = DEFAULT_NETWORK,
    mechid: int = 0,
    progress: Progress | None = None,
    client: Any = None,
) -> FetchedEpoch:
    """Read the latest epoch of ``netuid`` at or before ``block`` (default: the chain head).

    ``network`` is ``finney``/``test``/``local`` or a ``ws(s)://`` URL; ``client`` an already
    built ``bittensor.Client`` (tests pass one over an in-memory substrate). ``progress`` is
    called as ``progress(step, done, total)`` while the reads complete.

    Raises :class:`ChainUnreachable` when no endpoint answers, :class:`ChainReadError` when a
    read fails, and ``ValueError`` when the subnet has no epoch to replay.
    """
    return asyncio.run(_fetch(netuid, block, network, mechid, progress, client))


async def _fetch(
    netuid: int,
    block: int | None,
    network: str,
    mechid: int,
    progress: Progress | None,
    client: Any,
) -> FetchedEpoch:
    bt = _sdk()
    idx = mechanism_index(netuid, mechid)
    own = client is None
    if own:
        client = bt.Client(network)
    label = str(getattr(client, "endpoint", network))
    try:
        try:
            await client.connect()
            head = await client.at(block)
            epoch_block = int(
                await head.query(bt.storage.SubtensorModule.LastMechansimStepBlock, [netuid]) or 0
            )
        except (OSError, TimeoutError, bt.RpcConnectionError) as exc:
            raise ChainUnreachable(f"cannot reach {label}: {exc}") from None
        except bt.BittensorError as exc:
            raise ChainReadError(f"reading {label} failed: {exc}") from None
        if epoch_block < 2:
            at = f"block {block}" if block is not None else "the chain head"
            raise ValueError(f"subnet {netuid} has had no epoch by {at}")
        return await _read_epoch(bt, client, netuid, mechid, idx, epoch_block, label, progress)
    finally:
        if own:
            try:
                await client.close()
            except Exception:  # pragma: no cover - best-effort teardown
                pass


async def _read_epoch(
    bt: Any,
    client: Any,
    netuid: int,
    mechid: int,
    idx: int,
    epoch_block: int,
    label: str,
    progress: Progress | None,
) -> FetchedEpoch:
    st = bt.storage.SubtensorModule
    before = await client.at(epoch_block - 1)
    earlier = await client.at(epoch_block - 2)
    after = await client.at(epoch_block)

    per_netuid = (
        "SubnetworkN Tempo ActivityCutoffFactorMilli Kappa BondsPenalty BondsMovingAverage "
        "Yuma3On LiquidAlphaOn AlphaValues AlphaSigmoidSteepness MaxAllowedValidators "
        "CommitRevealWeightsEnabled LastMechansimStepBlock SubnetOwnerHotkey ValidatorPermit "
        "PendingServerEmission PendingValidatorEmission PendingRootAlphaDivs SubnetEpochIndex "
        "RevealPeriodEpochs MechanismCountCurrent MechanismEmissionSplit LiquidAlphaConsensusMode"
    ).split()
    jobs: dict[str, Awaitable[Any]] = {}
    for name in per_netuid:
        jobs[name] = before.query(getattr(st, name), [netuid])
    for name in ("StakeThreshold", "TaoWeight"):
        jobs[name] = before.query(getattr(st, name))
    for name in ("Keys", "BlockAtRegistration"):
        jobs[name] = before.query_map(getattr(st, name), [netuid])
    jobs["LastUpdate"] = before.query(st.LastUpdate, [idx])
    for name in ("Weights", "Bonds", "TimelockedWeightCommits", "WeightCommits"):
        jobs[name] = before.query_map(getattr(st, name), [idx])
    api, method = METAGRAPH_CALL
    jobs["metagraph"] = before.runtime(getattr(getattr(bt.runtime_api, api), method), [netuid])
    for name in ("PendingServerEmission", "PendingValidatorEmission", "PendingRootAlphaDivs"):
        jobs[f"earlier.{name}"] = earlier.query(getattr(st, name), [netuid])
    jobs["out.Incentive"] = after.query(st.Incentive, [idx])
    for name in ("Dividends", "Consensus", "ValidatorTrust", "StakeWeight", "Emission"):
        jobs[f"out.{name}"] = after.query(getattr(st, name), [netuid])
    jobs["out.Active"] = after.query(st.Active, [netuid])
    jobs["out.ValidatorPermit"] = after.query(st.ValidatorPermit, [netuid])
    jobs["out.Bonds"] = after.query_map(st.Bonds, [idx])
    jobs["out.LastMechansimStepBlock"] = after.query(st.LastMechansimStepBlock, [netuid])

    values = await _gather(jobs, progress, label)
    notes: list[str] = []
    if int(values.get("out.LastMechansimStepBlock") or 0) != epoch_block:
        raise ValueError(f"block {epoch_block} is not an epoch block of subnet {netuid}")

    pending = [
        int(values.get(k) or 0)
        for k in ("PendingServerEmission", "PendingValidatorEmission", "PendingRootAlphaDivs")
    ]
    earlier_pending = [
        int(values.get(f"earlier.{k}") or 0)
        for k in ("PendingServerEmission", "PendingValidatorEmission", "PendingRootAlphaDivs")
    ]
    accrual = max(sum(pending) - sum(earlier_pending), 0)
    subnet_emission = min(sum(pending) + accrual, (1 << 64) - 1)
    mechanisms = max(int(values.get("MechanismCountCurrent") or 1), 1)
    if mechid >= mechanisms:
        raise ValueError(f"subnet {netuid} has {mechanisms} mechanism(s): no mechid {mechid}")
    split = values.get("MechanismEmissionSplit") or None
    # epoch_with_mechanisms hands each mechanism its share of E (spec §9)
    emission = split_emissions(subnet_emission, mechanisms, split)[mechid]
    notes.append(
        f"E = {subnet_emission} is reconstructed (pending {sum(pending)} + one block's accrual "
        f"{accrual}); emission amounts may differ by rounding, u16 terms and bonds do not "
        "depend on E"
    )
    mode = values.get("LiquidAlphaConsensusMode")
    if values.get("LiquidAlphaOn") and mode is not None:
        notes.append(
            f"LiquidAlphaConsensusMode = {mode!r} is read but not modelled (the specified "
            "epoch has one liquid-alpha rule)"
        )

    reveals, reveal_notes = await _decrypt_due(bt, after, values)
    notes.extend(reveal_notes)

    snapshot = snapshot_from_storage(
        values, block=epoch_block, mechid=mechid, emission=emission, reveals=reveals
    )
    out_values = {k[4:]: v for k, v in values.items() if k.startswith("out.")}
    expect = expect_from_storage(out_values, snapshot.n)
    if mechanisms > 1:
        # the subnet-level items aggregate all mechanisms: only the per-mechanism ones compare
        expect = {k: v for k, v in expect.items() if k in ("incentive", "bonds")}
        notes.append(
            f"the subnet has {mechanisms} mechanisms: only incentive and bonds are per "
            "mechanism; the other stored terms aggregate all mechanisms (yuma.chain."
            "run_mechanisms)"
        )
    return FetchedEpoch(netuid, mechid, epoch_block, label, snapshot, expect, tuple(notes))


async def _gather(
    jobs: dict[str, Awaitable[Any]], progress: Progress | None, label: str
) -> dict[str, Any]:
    bt = _sdk()
    names = list(jobs)
    total = len(names)
    done = 0

    async def one(name: str) -> tuple[str, Any]:
        nonlocal done
        value = await jobs[name]
        done += 1
        if progress is not None:
            progress(name, done, total)
        return name, value

    try:
        pairs = await asyncio.gather(*(one(n) for n in names))
    except (OSError, TimeoutError, bt.RpcConnectionError) as exc:
        raise ChainUnreachable(f"cannot reach {label}: {exc}") from None
    except bt.BittensorError as exc:
        raise ChainReadError(f"reading {label} failed: {exc}") from None
    return dict(pairs)


def _as_bytes(v: Any) -> bytes | None:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, str):
        s = v[2:] if v.startswith("0x") else v
        try:
            return bytes.fromhex(s)
        except ValueError:
            return None
    if isinstance(v, (list, tuple)) and all(isinstance(b, int) and 0 <= b < 256 for b in v):
        return bytes(v)
    return None


async def _decrypt_due(
    bt: Any, after: Any, values: Mapping[str, Any]
) -> tuple[dict[tuple[int, int], list[tuple[int, int]]], list[str]]:
    """Decrypt the timelocked commits due at the epoch block with the on-chain drand pulses."""
    index = values.get("SubnetEpochIndex")
    if index is None:
        return {}, []
    due = int(index) + 1 - int(values.get("RevealPeriodEpochs") or 1)
    reveals: dict[tuple[int, int], list[tuple[int, int]]] = {}
    failed = 0
    total = 0
    for epoch, queue in values.get("TimelockedWeightCommits") or []:
        if int(epoch) != due:
            continue
        for k, entry in enumerate(queue or []):
            total += 1
            _who, _block, cipher, reveal_round = entry
            try:
                from bittensor_core import decrypt_with_signature

                pulse = await after.query(bt.storage.Drand.Pulses, [int(reveal_round)])
                sig = _as_bytes(pulse.get("signature")) if isinstance(pulse, Mapping) else None
                data = _as_bytes(cipher)
                if sig is None or data is None:
                    raise ValueError("no pulse on chain for the reveal round")
                if sig.startswith(b"0x"):
                    sig = bytes.fromhex(sig[2:].decode("ascii"))
                plain = decrypt_with_signature(data, sig.hex())
                reveals[(int(epoch), k)] = decode_weights_payload(bytes(plain))
            except Exception:  # any failure leaves the commit undecrypted, reported below
                failed += 1
    notes = []
    if failed:
        notes.append(
            f"{failed} of {total} timelocked commit(s) due at this epoch could not be decrypted "
            "here: those validators keep their stored weights in the replay"
        )
    return reveals, notes
