"""Adversarial subnets and their outcomes: cabals against an honest majority."""

from yuma.attacks.cabal import (
    CabalOutcome,
    CabalSubnet,
    RetentionMap,
    cabal,
    cabal_subnet,
    retention_map,
    retention_threshold,
)

__all__ = [
    "CabalOutcome",
    "CabalSubnet",
    "RetentionMap",
    "cabal",
    "cabal_subnet",
    "retention_map",
    "retention_threshold",
]
