"""Adversarial subnets and their outcomes: cabals against an honest majority, weight copiers."""

from yuma.attacks.cabal import (
    CabalOutcome,
    CabalSubnet,
    RetentionMap,
    cabal,
    cabal_subnet,
    retention_map,
    retention_threshold,
)
from yuma.attacks.copier import CopierOutcome, copier_experiment, copier_weights, drifting_quality

__all__ = [
    "CabalOutcome",
    "CabalSubnet",
    "CopierOutcome",
    "RetentionMap",
    "cabal",
    "cabal_subnet",
    "copier_weights",
    "retention_map",
    "retention_threshold",
    "copier_experiment",
    "drifting_quality",
]
