"""The alert rule catalogue: one module per rule, configured by ``rules.yaml``."""

from __future__ import annotations

from pathlib import Path

from processors.rules.after_hours_burst import AfterHoursBurst
from processors.rules.base import Rule, RuleConfigError, RuleSettings
from processors.rules.cardinality import Cardinality
from processors.rules.config import RulesConfig, load_rules_config
from processors.rules.dmv_by_dhs_surge import DmvByDhsSurge
from processors.rules.flatline import Flatline
from processors.rules.immigration_share import ImmigrationShare
from processors.rules.missing_justification import MissingJustification
from processors.rules.new_term import NewTerm
from processors.rules.prohibited_query import ProhibitedQuery
from processors.rules.query_while_suspended import QueryWhileSuspended
from processors.rules.repeat_subject import RepeatSubject

CATALOGUE: dict[str, type[Rule]] = {  # type: ignore[type-arg]
    cls.rule_id: cls
    for cls in (
        ProhibitedQuery,
        QueryWhileSuspended,
        ImmigrationShare,
        DmvByDhsSurge,
        Flatline,
        NewTerm,
        Cardinality,
        MissingJustification,
        AfterHoursBurst,
        RepeatSubject,
    )
}


def build_rules(config: RulesConfig) -> list[Rule]:  # type: ignore[type-arg]
    """Instantiate every enabled rule, in catalogue order (which is also evaluation order)."""
    missing = sorted(set(CATALOGUE) - set(config.rules))
    if missing:
        raise RuleConfigError(f"rules configuration has no entry for {missing}")
    unknown = sorted(set(config.rules) - set(CATALOGUE))
    if unknown:
        raise RuleConfigError(f"rules configuration names unknown rule(s) {unknown}")
    return [cls(config.rules[rid]) for rid, cls in CATALOGUE.items() if config.rules[rid].enabled]


def load_rules(path: Path | str | None = None) -> list[Rule]:  # type: ignore[type-arg]
    return build_rules(load_rules_config(path))


__all__ = ["CATALOGUE", "Rule", "RuleConfigError", "RuleSettings", "RulesConfig", "build_rules", "load_rules"]
