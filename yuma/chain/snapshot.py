"""The stored state one epoch of one subnet mechanism reads (`SubnetSnapshot`).

The layout is that of an epoch entry of the known-answer vectors (``vectors/README.md``,
schema B) plus ``n``, ``path`` and ``hyperparameters``: every number is in chain units
(u16 weights and bonds as stored, u64 stakes and blocks).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from os import PathLike
from typing import Any

import numpy as np

from yuma.chain.commits import CommitReveal
from yuma.chain.ops import SparseRows

__all__ = ["Hyperparameters", "PreEpochEvent", "SubnetSnapshot"]

U16_MAX = 65535
U64_MAX = (1 << 64) - 1


def _show(value: Any) -> str:
    """A short repr for error messages (a 5000-digit integer or a huge list stays one line)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, (list, tuple, dict)) and len(value) > 8:
        return f"a {type(value).__name__} of length {len(value)}"
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def _is_int(value: Any) -> bool:
    """The one rule for integer fields: a Python or numpy integer, never a bool, float or str."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def _uint(name: str, value: Any, hi: int) -> int:
    if not _is_int(value):
        raise ValueError(f"{name} must be an integer, got {_show(value)}")
    v = int(value)
    if not 0 <= v <= hi:
        raise ValueError(f"{name} must lie in [0, {hi}], got {_show(v)}")
    return v


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {_show(value)}")
    return bool(value)


@dataclass(frozen=True)
class Hyperparameters:
    """Subnet hyperparameters in chain units (the vector files' ``hyperparameters``).

    Defaults are the runtime's (``kappa`` 32767, ``bonds_moving_average`` 900 000 per million,
    ``bonds_penalty`` 65535, Yuma3 on as ``init_new_network`` sets it, liquid alpha off,
    ``AlphaValues`` (45875, 58982), steepness 1000, 128 validators, tempo 360, activity-cutoff
    factor 13 889 ‰, no stake threshold, ``TaoWeight`` 0, commit-reveal on).
    """

    kappa: int = 32767
    bonds_moving_average: int = 900_000
    bonds_penalty: int = 65535
    yuma3_enabled: bool = True
    liquid_alpha_enabled: bool = False
    alpha_low: int = 45875
    alpha_high: int = 58982
    alpha_sigmoid_steepness: int = 1000
    max_allowed_validators: int = 128
    tempo: int = 360
    activity_cutoff_factor_milli: int = 13889
    stake_threshold: int = 0
    tao_weight_raw: int = 0
    commit_reveal_enabled: bool = True

    def __post_init__(self) -> None:
        for name, hi in (
            ("kappa", U16_MAX),
            ("bonds_penalty", U16_MAX),
            ("alpha_low", U16_MAX),
            ("alpha_high", U16_MAX),
            ("max_allowed_validators", U16_MAX),
            ("tempo", U16_MAX),
            ("activity_cutoff_factor_milli", (1 << 32) - 1),
            ("bonds_moving_average", U64_MAX),
            ("stake_threshold", U64_MAX),
            ("tao_weight_raw", U64_MAX),
        ):
            object.__setattr__(
                self, name, _uint(f"hyperparameters.{name}", getattr(self, name), hi)
            )
        s = self.alpha_sigmoid_steepness
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not -32768 <= s <= 32767:
            raise ValueError(f"hyperparameters.alpha_sigmoid_steepness must be an i16, got {s!r}")
        object.__setattr__(self, "alpha_sigmoid_steepness", int(s))
        for name in ("yuma3_enabled", "liquid_alpha_enabled", "commit_reveal_enabled"):
            object.__setattr__(self, name, _bool(f"hyperparameters.{name}", getattr(self, name)))

    @property
    def activity_cutoff(self) -> int:
        """Activity cutoff in blocks: ``max(1, floor(factor · tempo / 1000))``."""
        return max(1, (self.activity_cutoff_factor_milli * self.tempo) // 1000)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Hyperparameters:
        """From a ``hyperparameters`` object; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"hyperparameters: unknown key(s) {unknown}")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        """As a plain ``hyperparameters`` object."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class PreEpochEvent:
    """A storage change between two chained epochs (``pre_epoch_events``).

    ``event`` is ``"replace_neuron"`` (a new hotkey took ``uid`` at ``block``: its bond row is
    cleared and its permit dropped) or ``"reset_bonds"`` (``do_reset_bonds``: every bond on
    ``uid`` is removed from every row).
    """

    event: str
    uid: int
    block: int | None = None

    def __post_init__(self) -> None:
        if self.event not in ("replace_neuron", "reset_bonds"):
            raise ValueError(f"pre_epoch_events.event: unknown event {self.event!r}")
        _uint("pre_epoch_events.uid", self.uid, U16_MAX)
        if self.event == "replace_neuron":
            if self.block is None:
                raise ValueError("pre_epoch_events.block is required for replace_neuron")
            _uint("pre_epoch_events.block", self.block, U64_MAX)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"event": self.event, "uid": self.uid}
        if self.block is not None:
            d["block"] = self.block
        return d


def _u16_rows(name: str, rows: Any, n: int) -> SparseRows:
    """Validate ``[[uid, u16], ...]`` rows (n of them, uids < n) into a read-only SparseRows.

    Every uid and value follows the rule of the other integer fields (:func:`_uint`): an
    integer (no bool, float or string), in range; a :class:`SparseRows` must have integer
    arrays and a consistent ``indptr``. O(nnz).
    """
    if isinstance(rows, SparseRows):
        sp = _check_sparse_rows(name, rows, n)
    else:
        if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
            raise ValueError(f"{name} must be a list of n = {n} rows")
        if len(rows) != n:
            raise ValueError(f"{name} must have n = {n} rows, got {len(rows)}")
        sp = _parse_rows(name, rows, n)
    for arr in (sp.indptr, sp.indices, sp.data):
        arr.flags.writeable = False
    return sp


def _parse_rows(name: str, rows: Sequence[Any], n: int) -> SparseRows:
    lengths = np.zeros(n, dtype=np.int64)
    cols: list[int] = []
    vals: list[int] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Sequence) or isinstance(row, (str, bytes)):
            raise ValueError(f"{name}[{i}] must be a list of [uid, u16] pairs")
        for k, pair in enumerate(row):
            if not isinstance(pair, Sequence) or isinstance(pair, (str, bytes)) or len(pair) != 2:
                raise ValueError(f"{name}[{i}][{k}] must be a [uid, u16] pair, got {_show(pair)}")
            uid, value = pair
            # type(x) is int is the fast path for what JSON gives
            if type(uid) is not int or not 0 <= uid < n:
                if not _is_int(uid):
                    raise ValueError(f"{name}[{i}][{k}]: uid must be an integer, got {_show(uid)}")
                if not 0 <= int(uid) < n:
                    raise ValueError(f"{name}[{i}][{k}]: uid {_show(int(uid))} is not < n = {n}")
            if type(value) is not int or not 0 <= value <= U16_MAX:
                if not _is_int(value):
                    raise ValueError(
                        f"{name}[{i}][{k}]: value must be an integer, got {_show(value)}"
                    )
                if not 0 <= int(value) <= U16_MAX:
                    raise ValueError(
                        f"{name}[{i}][{k}]: value {_show(int(value))} is not a u16 (0..65535)"
                    )
            cols.append(int(uid))
            vals.append(int(value))
        lengths[i] = len(row)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return SparseRows(indptr, np.array(cols, dtype=np.int64), np.array(vals, dtype=np.int64))


def _check_sparse_rows(name: str, m: SparseRows, n: int) -> SparseRows:
    arrays = []
    for part in ("indptr", "indices", "data"):
        arr = np.asarray(getattr(m, part))
        if arr.ndim != 1 or arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name}.{part} must be a 1-d integer array, got {arr.dtype}")
        arrays.append(arr.astype(np.int64, copy=True))
    indptr, indices, data = arrays
    if indptr.size != n + 1:
        raise ValueError(f"{name} must have n = {n} rows, got {indptr.size - 1}")
    if indices.size != data.size:
        raise ValueError(f"{name}: indices and data differ in length")
    if indptr[0] != 0 or indptr[-1] != data.size or np.any(np.diff(indptr) < 0):
        raise ValueError(f"{name}.indptr must rise from 0 to nnz = {data.size}")
    if data.size:
        bad = (indices < 0) | (indices >= n)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}: uid {int(indices[k])} is not < n = {n}")
        bad = (data < 0) | (data > U16_MAX)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}: value {int(data[k])} is not a u16 (0..65535)")
    return SparseRows(indptr, indices, data)


def _u64_vec(name: str, v: Any, n: int) -> tuple[int, ...]:
    if not isinstance(v, Sequence) or isinstance(v, (str, bytes)):
        if isinstance(v, np.ndarray):
            v = v.tolist()
        else:
            raise ValueError(f"{name} must be a list of n = {n} integers")
    if len(v) != n:
        raise ValueError(f"{name} must have length n = {n}, got {len(v)}")
    if all(type(x) is int and 0 <= x <= U64_MAX for x in v):
        return tuple(v)
    return tuple(_uint(f"{name}[{i}]", x, U64_MAX) for i, x in enumerate(v))


_ENTRY_KEYS = (
    "block",
    "emission",
    "last_mechanism_step_block",
    "alpha_stake",
    "tao_stake",
    "owner_uid",
    "last_update",
    "block_at_registration",
    "validator_permit",
    "weights",
    "bonds",
)


@dataclass(frozen=True, eq=False)
class SubnetSnapshot:
    """The chain state one call of ``epoch_mechanism`` (or ``epoch_dense_mechanism``) reads.

    Attributes
    ----------
    n : int
        ``SubnetworkN``: number of uids.
    block : int
        The current block ``b``.
    emission : int
        ``E``: alpha (u64) handed to this mechanism's epoch.
    last_mechanism_step_block : int
        ``LastMechansimStepBlock``: block of the previous successful epoch (0 = none; then the
        recently-registered mask uses ``b − tempo``).
    alpha_stake, tao_stake : (n,) tuple of int
        Inherited alpha and root TAO stake per uid (u64).
    owner_uid : int or None
        The subnet owner's uid, if its hotkey is registered.
    last_update : (n,) tuple of int
        ``LastUpdate`` of this mechanism per uid (blocks).
    block_at_registration : (n,) tuple of int
        ``BlockAtRegistration`` per uid.
    validator_permit : tuple of bool, length ≤ n
        ``ValidatorPermit`` written by the previous epoch; a missing entry means no permit.
    weights : SparseRows
        ``Weights``: n rows of ``(uid, u16)`` as stored (max-upscaled, stored order, explicit
        zeros kept); ``data`` holds the u16 values.
    bonds : SparseRows
        ``Bonds`` before the epoch, n rows of ``(uid, u16)`` (Yuma3: proportion × 65535;
        Yuma2: column-max-upscaled).
    path : str
        ``"sparse"`` (``epoch_mechanism``, what the chain runs) or ``"dense"``
        (``epoch_dense_mechanism``, the chain's test path).
    hyperparameters : Hyperparameters
        Chain-unit hyperparameters.
    mechanism_id : int or None
        Which mechanism's ``Weights``/``LastUpdate``/``Bonds`` these are.
    pre_epoch_events : tuple of PreEpochEvent
        Storage changes since the previous epoch of a replay (applied by :func:`replay`).
    commit_reveal : CommitReveal or None
        Pending weight commits (``TimelockedWeightCommits``, ``WeightCommits``) read before the
        epoch block; :func:`run_epoch` reveals and masks them as the chain does
        (:func:`yuma.chain.commits.apply_commit_reveal`). ``None``: no commit state.
    """

    n: int
    block: int
    emission: int
    alpha_stake: tuple[int, ...]
    last_update: tuple[int, ...]
    block_at_registration: tuple[int, ...]
    weights: SparseRows
    bonds: SparseRows
    validator_permit: tuple[bool, ...] = ()
    tao_stake: tuple[int, ...] | None = None
    last_mechanism_step_block: int = 0
    owner_uid: int | None = None
    path: str = "sparse"
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    mechanism_id: int | None = None
    pre_epoch_events: tuple[PreEpochEvent, ...] = ()
    commit_reveal: CommitReveal | None = None

    def __post_init__(self) -> None:
        n = _uint("n", self.n, U16_MAX)
        set_ = object.__setattr__
        set_(self, "n", n)
        for name in ("block", "emission", "last_mechanism_step_block"):
            set_(self, name, _uint(name, getattr(self, name), U64_MAX))
        set_(self, "alpha_stake", _u64_vec("alpha_stake", self.alpha_stake, n))
        tao = self.tao_stake if self.tao_stake is not None else (0,) * n
        set_(self, "tao_stake", _u64_vec("tao_stake", tao, n))
        set_(self, "last_update", _u64_vec("last_update", self.last_update, n))
        set_(
            self,
            "block_at_registration",
            _u64_vec("block_at_registration", self.block_at_registration, n),
        )
        vp = self.validator_permit
        if isinstance(vp, np.ndarray):
            vp = vp.tolist()
        if not isinstance(vp, Sequence) or isinstance(vp, (str, bytes)):
            raise ValueError("validator_permit must be a list of bools")
        if len(vp) > n:
            raise ValueError(f"validator_permit must have length <= n = {n}, got {len(vp)}")
        set_(
            self,
            "validator_permit",
            tuple(_bool(f"validator_permit[{i}]", b) for i, b in enumerate(vp)),
        )
        if self.owner_uid is not None:
            uid = _uint("owner_uid", self.owner_uid, U16_MAX)
            if uid >= n:
                raise ValueError(f"owner_uid {uid} is not < n = {n}")
            set_(self, "owner_uid", uid)
        set_(self, "weights", _u16_rows("weights", self.weights, n))
        set_(self, "bonds", _u16_rows("bonds", self.bonds, n))
        if self.path not in ("sparse", "dense"):
            raise ValueError(f"path must be 'sparse' or 'dense', got {self.path!r}")
        hp = self.hyperparameters
        if isinstance(hp, Mapping):
            hp = Hyperparameters.from_dict(hp)
        if not isinstance(hp, Hyperparameters):
            raise ValueError("hyperparameters must be a Hyperparameters or a mapping")
        set_(self, "hyperparameters", hp)
        if self.mechanism_id is not None:
            set_(self, "mechanism_id", _uint("mechanism_id", self.mechanism_id, 255))
        events = tuple(
            e if isinstance(e, PreEpochEvent) else _event(e) for e in self.pre_epoch_events
        )
        for e in events:
            if e.uid >= n:
                raise ValueError(f"pre_epoch_events.uid {e.uid} is not < n = {n}")
        set_(self, "pre_epoch_events", events)
        cr = self.commit_reveal
        if cr is not None and not isinstance(cr, CommitReveal):
            if not isinstance(cr, Mapping):
                raise ValueError("commit_reveal must be an object")
            set_(self, "commit_reveal", CommitReveal.from_dict(cr))

    # --------------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SubnetSnapshot:
        """From a snapshot object (an epoch entry with ``n``, ``path`` and ``hyperparameters``).

        Unknown keys raise ``ValueError``; missing optional keys take their defaults.
        """
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise ValueError(f"snapshot: unknown key(s) {unknown}")
        for key in (
            "n",
            "block",
            "emission",
            "alpha_stake",
            "last_update",
            "block_at_registration",
            "weights",
            "bonds",
        ):
            if key not in d:
                raise ValueError(f"{key} is required")
        kw = dict(d)
        if "hyperparameters" in kw:
            hp = kw["hyperparameters"]
            if not isinstance(hp, Mapping):
                raise ValueError("hyperparameters must be an object")
            kw["hyperparameters"] = Hyperparameters.from_dict(hp)
        if "pre_epoch_events" in kw:
            kw["pre_epoch_events"] = tuple(_event(e) for e in kw["pre_epoch_events"])
        return cls(**kw)

    @classmethod
    def from_vector_entry(cls, doc: Mapping[str, Any], index: int) -> SubnetSnapshot:
        """Snapshot of epoch entry ``index`` of a vector file (schema B), with the file's ``n``,
        ``path`` and ``hyperparameters`` and the entry's own overrides merged."""
        entry = doc["epochs"][index]
        hp = dict(doc.get("hyperparameters", {}))
        hp.update(entry.get("hyperparameters", {}))
        d: dict[str, Any] = {k: entry[k] for k in _ENTRY_KEYS if k in entry}
        d.update(n=doc["n"], path=entry.get("path", doc.get("path", "sparse")), hyperparameters=hp)
        for k in ("mechanism_id", "pre_epoch_events", "commit_reveal"):
            if k in entry:
                d[k] = entry[k]
        return cls.from_dict(d)

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-ready snapshot object (inverse of :meth:`from_dict`)."""
        d: dict[str, Any] = {
            "n": self.n,
            "path": self.path,
            "hyperparameters": self.hyperparameters.to_dict(),
            "block": self.block,
            "emission": self.emission,
            "last_mechanism_step_block": self.last_mechanism_step_block,
            "alpha_stake": list(self.alpha_stake),
            "tao_stake": list(self.tao_stake or ()),
            "owner_uid": self.owner_uid,
            "last_update": list(self.last_update),
            "block_at_registration": list(self.block_at_registration),
            "validator_permit": list(self.validator_permit),
            "weights": self.weights.to_rows(),
            "bonds": self.bonds.to_rows(),
        }
        if self.mechanism_id is not None:
            d["mechanism_id"] = self.mechanism_id
        if self.pre_epoch_events:
            d["pre_epoch_events"] = [e.to_dict() for e in self.pre_epoch_events]
        if self.commit_reveal is not None:
            d["commit_reveal"] = self.commit_reveal.to_dict()
        return d

    @classmethod
    def load(cls, path: str | PathLike[str]) -> SubnetSnapshot:
        """Read a snapshot from a JSON file."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def save(self, path: str | PathLike[str]) -> None:
        """Write the snapshot as JSON."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.to_dict(), fh)

    def replace(self, **changes: Any) -> SubnetSnapshot:
        """A copy with ``changes`` applied (validated again)."""
        return replace(self, **changes)


def _event(e: Any) -> PreEpochEvent:
    if isinstance(e, PreEpochEvent):
        return e
    if not isinstance(e, Mapping):
        raise ValueError("pre_epoch_events entries must be objects")
    unknown = sorted(set(e) - {"event", "uid", "block"})
    if unknown:
        raise ValueError(f"pre_epoch_events: unknown key(s) {unknown}")
    if "event" not in e or "uid" not in e:
        raise ValueError("pre_epoch_events entries need 'event' and 'uid'")
    if not isinstance(e["event"], str):
        raise ValueError(f"pre_epoch_events.event must be a string, got {_show(e['event'])}")
    return PreEpochEvent(e["event"], e["uid"], e.get("block"))
