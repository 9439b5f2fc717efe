"""Bit-exact replay of the chain's Yuma Consensus epoch (``yuma.chain``).

Give it a subnet's stored state at an epoch block (:class:`SubnetSnapshot`) and it returns the
u16 incentive, dividends, consensus, validator trust, bonds and the u64 emissions that the
chain computes (:func:`run_epoch`), for consecutive epochs (:func:`replay`) and for a subnet with
several mechanisms (:func:`run_mechanisms`).

``arithmetic="exact"`` reproduces the chain's fixed-point arithmetic bit for bit;
``arithmetic="float"`` runs the float core :func:`yuma.epoch` and quantises like the chain.
"""

from __future__ import annotations

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

__all__ = [
    "AGGREGATE_KEYS",
    "OUTPUT_KEYS",
    "ChainEpochOutput",
    "Hyperparameters",
    "PreEpochEvent",
    "SubnetEpochOutput",
    "SubnetSnapshot",
    "apply_events",
    "replay",
    "run_epoch",
    "run_mechanisms",
]
