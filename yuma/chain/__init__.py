"""Bit-exact replay of the chain's Yuma Consensus epoch (``yuma.chain``).

Give it a subnet's stored state at an epoch block (:class:`SubnetSnapshot`) and it returns the
u16 incentive, dividends, consensus, validator trust, bonds and the u64 emissions that the
chain computes (:func:`run_epoch`), for consecutive epochs (:func:`replay`) and for a subnet with
several mechanisms (:func:`run_mechanisms`).

``arithmetic="exact"`` reproduces the chain's fixed-point arithmetic bit for bit;
``arithmetic="float"`` runs the float core :func:`yuma.epoch` and quantises like the chain.

A real subnet's epoch is read from the chain by :func:`fetch_epoch` (the ``[chain]`` extra, the
bittensor SDK, imported only when called); :func:`snapshot_from_storage` is its pure half, and
:func:`apply_commit_reveal` what the chain does with pending weight commits.
"""

from __future__ import annotations

from yuma.chain.commits import (
    CommitReveal,
    CommitRevealOutcome,
    HashCommit,
    TimelockedCommit,
    apply_commit_reveal,
)
from yuma.chain.loader import ChainUnreachable, FetchedEpoch, fetch_epoch, load_fetched
from yuma.chain.output import OUTPUT_KEYS, ChainEpochOutput
from yuma.chain.replay import (
    AGGREGATE_KEYS,
    SubnetEpochOutput,
    apply_events,
    replay,
    run_epoch,
    run_mechanisms,
)
from yuma.chain.snapshot import Hyperparameters, PreEpochEvent, SubnetSnapshot
from yuma.chain.storage import expect_from_storage, snapshot_from_storage

__all__ = [
    "AGGREGATE_KEYS",
    "OUTPUT_KEYS",
    "ChainEpochOutput",
    "ChainUnreachable",
    "CommitReveal",
    "CommitRevealOutcome",
    "FetchedEpoch",
    "HashCommit",
    "Hyperparameters",
    "PreEpochEvent",
    "SubnetEpochOutput",
    "SubnetSnapshot",
    "TimelockedCommit",
    "apply_commit_reveal",
    "apply_events",
    "expect_from_storage",
    "fetch_epoch",
    "load_fetched",
    "replay",
    "run_epoch",
    "run_mechanisms",
    "snapshot_from_storage",
]
