"""The reconciler: rule sets, aggregation, normalisation, tie-breaks and presets. Pure."""

from live.domain.reconcile.engine import Inputs, Result, Row, reconcile
from live.domain.reconcile.rules import PRESETS, RuleSet, build_rules, preset, rules_hash

__all__ = [
    "PRESETS",
    "Inputs",
    "Result",
    "Row",
    "RuleSet",
    "build_rules",
    "preset",
    "reconcile",
    "rules_hash",
]
