"""Commit-reveal state of a snapshot and what the chain does with it at the epoch block.

With ``CommitRevealWeightsEnabled`` a validator's weights reach ``Weights`` only when its commit is
revealed. Timelocked commits (``TimelockedWeightCommits[netuid_index][commit_epoch]``, the
SDK's ``timelocked_weight_commits``) are decrypted by the chain itself in ``block_step``
(``reveal_crv3_commits``), at the start of the block whose epoch they belong to and before that
epoch runs. The epoch then masks weights that were committed before their target uid was
registered (spec §4.6.d).

A snapshot read just before an epoch block therefore needs, besides the stored ``Weights``:

* the pending timelocked commits, each with the weights it reveals when those are known
  (decryption needs the drand round's signature, so a commit read offline may not carry them);
* the classic ``WeightCommits`` queue (hash commits, revealed by their owner: only their blocks
  matter here);
* ``SubnetEpochIndex`` with the look-ahead (the index of the epoch about to run) and
  ``RevealPeriodEpochs``.

:func:`apply_commit_reveal` turns such a snapshot into the one the epoch reads, and says which
commits it could not reveal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from yuma.chain.snapshot import SubnetSnapshot

__all__ = [
    "CommitReveal",
    "CommitRevealOutcome",
    "HashCommit",
    "TimelockedCommit",
    "apply_commit_reveal",
]

_U16_MAX = 65535
_U64_MAX = (1 << 64) - 1


def _uint(name: str, value: Any, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if not 0 <= v <= hi:
        raise ValueError(f"{name} must lie in [0, {hi}], got {v}")
    return v


def _opt_uid(name: str, value: Any) -> int | None:
    return None if value is None else _uint(name, value, _U16_MAX)


def _pairs(name: str, value: Any) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a list of [uid, u16] pairs")
    out = []
    for k, pair in enumerate(value):
        if not isinstance(pair, Sequence) or isinstance(pair, (str, bytes)) or len(pair) != 2:
            raise ValueError(f"{name}[{k}] must be a [uid, u16] pair")
        out.append(
            (_uint(f"{name}[{k}] uid", pair[0], _U16_MAX), _uint(f"{name}[{k}]", pair[1], _U16_MAX))
        )
    return tuple(out)


def _known(name: str, d: Mapping[str, Any], allowed: set[str]) -> None:
    if not isinstance(d, Mapping):
        raise ValueError(f"{name} must be an object")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {unknown}")


@dataclass(frozen=True)
class TimelockedCommit:
    """One entry of ``TimelockedWeightCommits[netuid_index][commit_epoch]``.

    Attributes
    ----------
    uid : int or None
        The committing hotkey's uid (``Uids``); ``None`` if it is no longer registered (the chain
        then ignores the commit in the mask).
    commit_epoch : int
        The map key: ``SubnetEpochIndex`` (with look-ahead) when the commit was made.
    commit_block : int
        Block of the commit (u64), compared with ``BlockAtRegistration`` by the mask.
    reveal_round : int
        The drand round whose signature decrypts the commit.
    weights : tuple of (uid, u16) or None
        The decrypted payload (``uids`` zipped with ``values``, as submitted, before the
        chain's max-upscale), or ``None`` when it was not decrypted.
    """

    uid: int | None
    commit_epoch: int
    commit_block: int
    reveal_round: int = 0
    weights: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "uid", _opt_uid("timelocked.uid", self.uid))
        for name in ("commit_epoch", "commit_block", "reveal_round"):
            set_(self, name, _uint(f"timelocked.{name}", getattr(self, name), _U64_MAX))
        if self.weights is not None:
            set_(self, "weights", _pairs("timelocked.weights", self.weights))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TimelockedCommit:
        _known("timelocked", d, {"uid", "commit_epoch", "commit_block", "reveal_round", "weights"})
        for key in ("commit_epoch", "commit_block"):
            if key not in d:
                raise ValueError(f"timelocked.{key} is required")
        return cls(
            d.get("uid"),
            d["commit_epoch"],
            d["commit_block"],
            d.get("reveal_round", 0),
            d.get("weights"),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "uid": self.uid,
            "commit_epoch": self.commit_epoch,
            "commit_block": self.commit_block,
            "reveal_round": self.reveal_round,
        }
        if self.weights is not None:
            d["weights"] = [list(p) for p in self.weights]
        return d


@dataclass(frozen=True)
class HashCommit:
    """One entry of a hotkey's ``WeightCommits[netuid_index][hotkey]`` queue (hash commits):
    ``(hash, commit_epoch, commit_block, _)``; only the epoch and block matter to the epoch."""

    uid: int | None
    commit_epoch: int
    commit_block: int

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "uid", _opt_uid("hash_commits.uid", self.uid))
        for name in ("commit_epoch", "commit_block"):
            set_(self, name, _uint(f"hash_commits.{name}", getattr(self, name), _U64_MAX))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HashCommit:
        _known("hash_commits", d, {"uid", "commit_epoch", "commit_block"})
        for key in ("commit_epoch", "commit_block"):
            if key not in d:
                raise ValueError(f"hash_commits.{key} is required")
        return cls(d.get("uid"), d["commit_epoch"], d["commit_block"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "commit_epoch": self.commit_epoch,
            "commit_block": self.commit_block,
        }


@dataclass(frozen=True)
class CommitReveal:
    """Commit-reveal storage of one mechanism, read just before the epoch block.

    Attributes
    ----------
    epoch_index : int
        ``current_epoch_with_lookahead`` at the epoch block: ``SubnetEpochIndex`` read before
        the block, plus one (the epoch fires in that block).
    reveal_period : int
        ``RevealPeriodEpochs`` (default 1): a commit of epoch ``e`` is revealed at epoch
        ``e + reveal_period`` and expired after it.
    timelocked : tuple of TimelockedCommit
        Every entry of ``TimelockedWeightCommits[netuid_index]``, in map then queue order.
    hash_commits : tuple of HashCommit
        Every entry of ``WeightCommits[netuid_index]``, each hotkey's queue in order.
    """

    epoch_index: int
    reveal_period: int = 1
    timelocked: tuple[TimelockedCommit, ...] = ()
    hash_commits: tuple[HashCommit, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "epoch_index", _uint("commit_reveal.epoch_index", self.epoch_index, _U64_MAX))
        set_(
            self,
            "reveal_period",
            _uint("commit_reveal.reveal_period", self.reveal_period, _U64_MAX),
        )
        set_(
            self,
            "timelocked",
            tuple(
                c if isinstance(c, TimelockedCommit) else TimelockedCommit.from_dict(c)
                for c in _seq("commit_reveal.timelocked", self.timelocked)
            ),
        )
        set_(
            self,
            "hash_commits",
            tuple(
                c if isinstance(c, HashCommit) else HashCommit.from_dict(c)
                for c in _seq("commit_reveal.hash_commits", self.hash_commits)
            ),
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CommitReveal:
        """From a ``commit_reveal`` object; unknown keys raise ``ValueError``."""
        _known("commit_reveal", d, {"epoch_index", "reveal_period", "timelocked", "hash_commits"})
        if "epoch_index" not in d:
            raise ValueError("commit_reveal.epoch_index is required")
        return cls(
            d["epoch_index"],
            d.get("reveal_period", 1),
            tuple(d.get("timelocked", ())),
            tuple(d.get("hash_commits", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch_index": self.epoch_index,
            "reveal_period": self.reveal_period,
            "timelocked": [c.to_dict() for c in self.timelocked],
            "hash_commits": [c.to_dict() for c in self.hash_commits],
        }

    @property
    def reveal_epoch(self) -> int:
        """The commit epoch revealed at this block: ``epoch_index − reveal_period`` (saturating)."""
        return max(self.epoch_index - self.reveal_period, 0)

    def is_expired(self, commit_epoch: int) -> bool:
        """``is_commit_expired``: ``epoch_index > commit_epoch + reveal_period``."""
        return self.epoch_index > commit_epoch + self.reveal_period


def _seq(name: str, value: Any) -> Sequence[Any]:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a list")
    return value


@dataclass(frozen=True)
class CommitRevealOutcome:
    """What :func:`apply_commit_reveal` did.

    Attributes
    ----------
    revealed : tuple of int
        Uids whose ``Weights`` row was replaced by a revealed commit.
    rejected : tuple of int
        Uids whose decrypted commit the chain would refuse (length mismatch, duplicate or
        out-of-range uid); their stored row is kept.
    undecrypted : tuple of TimelockedCommit
        Commits due at this block whose payload is unknown: the chain reveals them (when the
        drand round is on chain) but the snapshot cannot, so those rows keep their stored
        weights and the replay may differ from the chain on them.
    commit_blocks : tuple of int
        Per uid, the earliest live commit block used by the mask (u64::MAX = none).
    masked : int
        Number of weight entries the commit-reveal mask removed.
    """

    revealed: tuple[int, ...]
    rejected: tuple[int, ...]
    undecrypted: tuple[TimelockedCommit, ...]
    commit_blocks: tuple[int, ...]
    masked: int


def apply_commit_reveal(snapshot: SubnetSnapshot) -> tuple[SubnetSnapshot, CommitRevealOutcome]:
    """The snapshot the epoch reads once the chain has revealed and masked commits.

    1. ``reveal_crv3_commits_for_subnet``: when ``epoch_index ≥ reveal_period``, the timelocked
       commits of epoch ``epoch_index − reveal_period`` are taken from storage, in queue order;
       each decrypted one replaces its uid's ``Weights`` row with the max-upscaled values
       (``internal_set_weights``; ``LastUpdate`` is left alone while commit-reveal is on, set to
       the block otherwise). Commits of older epochs are deleted.
    2. The epoch's commit-reveal mask (spec §4.6.d, sparse path, when
       ``commit_reveal_enabled``): ``cb_i`` is the earliest block among uid ``i``'s first live
       hash commit and its live timelocked commits; every weight ``(i, j)`` with
       ``cb_i < BlockAtRegistration_j`` is removed. Removing it here, before the epoch, gives the
       same result as the chain's removal after the other masks (they only remove entries and
       the row normalisation comes after all of them).

    Returns the new snapshot (``commit_reveal`` cleared, so it is not applied twice) and an
    outcome listing what could not be revealed offline.
    """
    from yuma.chain.ops import SparseRows, vec_mask_sparse_matrix, vec_u16_max_upscale_to_u16

    cr = snapshot.commit_reveal
    n = snapshot.n
    if cr is None:
        return snapshot, CommitRevealOutcome((), (), (), (_U64_MAX,) * n, 0)
    hp = snapshot.hyperparameters
    rows = snapshot.weights.to_rows()
    last_update = list(snapshot.last_update)
    revealed: list[int] = []
    rejected: list[int] = []
    undecrypted: list[TimelockedCommit] = []
    due = cr.reveal_epoch
    reveals = cr.epoch_index >= cr.reveal_period
    remaining: list[TimelockedCommit] = []
    for c in cr.timelocked:
        if c.commit_epoch < due:
            continue  # deleted as expired before the reveal
        if not (reveals and c.commit_epoch == due):
            remaining.append(c)
            continue
        if c.uid is None or c.uid >= n:
            continue  # the committer is gone: the chain cannot set its weights
        if c.weights is None:
            undecrypted.append(c)
            continue
        uids = [u for u, _ in c.weights]
        if not uids or len(set(uids)) != len(uids) or max(uids) >= n:
            rejected.append(c.uid)
            continue
        values = vec_u16_max_upscale_to_u16(np.array([v for _, v in c.weights], dtype=np.int64))
        rows[c.uid] = [[u, int(v)] for u, v in zip(uids, values.tolist(), strict=True)]
        if not hp.commit_reveal_enabled:
            last_update[c.uid] = snapshot.block
        revealed.append(c.uid)

    commit_blocks = [_U64_MAX] * n
    if hp.commit_reveal_enabled:
        seen: set[int | None] = set()
        for h in cr.hash_commits:
            # the first live commit of each hotkey's queue counts
            if h.uid is None or h.uid in seen or h.uid >= n or cr.is_expired(h.commit_epoch):
                continue
            seen.add(h.uid)
            commit_blocks[h.uid] = min(commit_blocks[h.uid], h.commit_block)
        for c in remaining:
            if c.uid is None or c.uid >= n or cr.is_expired(c.commit_epoch):
                continue
            commit_blocks[c.uid] = min(commit_blocks[c.uid], c.commit_block)

    weights = SparseRows.from_rows(rows)
    masked = 0
    if hp.commit_reveal_enabled and snapshot.path == "sparse":
        kept = vec_mask_sparse_matrix(
            weights, commit_blocks, list(snapshot.block_at_registration), "lt"
        )
        masked = weights.nnz - kept.nnz
        weights = kept
    out = snapshot.replace(weights=weights, last_update=tuple(last_update), commit_reveal=None)
    return out, CommitRevealOutcome(
        tuple(revealed), tuple(rejected), tuple(undecrypted), tuple(commit_blocks), masked
    )
