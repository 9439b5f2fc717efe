"""Adversarial subnets and their outcomes: cabals against an honest majority, weight copiers.

:mod:`~yuma.attacks.cabal` is the chain's uniform-cabal study; :mod:`~yuma.attacks.search`
searches for the worst cabal and its retention threshold; :mod:`~yuma.attacks.history` plays
multi-epoch cabal strategies (honest history then defection, periodic switching);
:mod:`~yuma.attacks.copier` is the weight-copier experiment.
"""

from yuma.attacks.cabal import (
    CabalOutcome,
    CabalSubnet,
    RetentionMap,
    Threshold,
    cabal,
    cabal_subnet,
    crossing,
    retention_map,
    retention_threshold,
)
from yuma.attacks.copier import CopierOutcome, copier_experiment, copier_weights, drifting_quality
from yuma.attacks.history import CabalRun, DefectionMap, cabal_run, defection_map, periodic_schedule
from yuma.attacks.search import (
    CabalStrategy,
    WorstCabal,
    WorstCaseThreshold,
    strategy_emission,
    worst_cabal,
    worst_case_threshold,
    worst_case_thresholds,
)

__all__ = [
    "CabalOutcome",
    "CabalRun",
    "CabalStrategy",
    "CabalSubnet",
    "CopierOutcome",
    "DefectionMap",
    "RetentionMap",
    "Threshold",
    "WorstCabal",
    "WorstCaseThreshold",
    "cabal",
    "cabal_run",
    "cabal_subnet",
    "copier_experiment",
    "copier_weights",
    "crossing",
    "defection_map",
    "drifting_quality",
    "periodic_schedule",
    "retention_map",
    "retention_threshold",
    "strategy_emission",
    "worst_cabal",
    "worst_case_threshold",
    "worst_case_thresholds",
]
