"""Load the rule catalogue's configuration: the bundled ``rules.yaml`` merged with an optional file.

A user file only needs the values it changes: ``rules.<id>.params.<name>`` etc. are merged over the
bundled defaults, so a one-line file can raise one threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from processors.rules.base import SEVERITIES, RuleConfigError, RuleSettings

_TOP_KEYS = frozenset({"version", "defaults", "rules", "recommendation", "incidents"})
_RULE_KEYS = frozenset({"version", "severity", "enabled", "suppress_seconds", "sample_size", "params"})


@dataclass(frozen=True, slots=True)
class RulesConfig:
    config_version: int
    rules: Mapping[str, RuleSettings]
    recommendation: Mapping[str, Any] = field(default_factory=dict)
    incidents: Mapping[str, Any] = field(default_factory=dict)


def bundled_text() -> str:
    return resources.files("processors.rules").joinpath("rules.yaml").read_text(encoding="utf-8")


def _parse_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleConfigError(f"{source}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RuleConfigError(f"{source}: the top level must be a mapping")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise RuleConfigError(f"{source}: unknown top-level key(s) {unknown}; known: {sorted(_TOP_KEYS)}")
    return data


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return over


def load_rules_config(path: Path | str | None = None) -> RulesConfig:
    """The bundled rules.yaml, with ``path`` (if given) merged over it."""
    data = _parse_yaml(bundled_text(), "bundled rules.yaml")
    source = "bundled rules.yaml"
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleConfigError(f"cannot read rules file {path}: {exc}") from exc
        source = str(path)
        user = _parse_yaml(text, source)
        unknown_rules = sorted(set(user.get("rules") or {}) - set(data["rules"]))
        if unknown_rules:
            raise RuleConfigError(f"{source}: unknown rule(s) {unknown_rules}; known: {sorted(data['rules'])}")
        data = _merge(data, user)
    return _validate(data, source)


def _validate(data: Mapping[str, Any], source: str) -> RulesConfig:
    defaults = data.get("defaults") or {}
    rules: dict[str, RuleSettings] = {}
    for rule_id, entry in sorted((data.get("rules") or {}).items()):
        entry = {**{k: v for k, v in defaults.items() if k in ("suppress_seconds", "sample_size")}, **(entry or {})}
        unknown = sorted(set(entry) - _RULE_KEYS)
        if unknown:
            raise RuleConfigError(f"{source}: rule {rule_id}: unknown key(s) {unknown}; known: {sorted(_RULE_KEYS)}")
        version = entry.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise RuleConfigError(f"{source}: rule {rule_id}: version must be a positive integer, got {version!r}")
        severity = entry.get("severity")
        if severity not in SEVERITIES:
            raise RuleConfigError(f"{source}: rule {rule_id}: severity must be one of {SEVERITIES}, got {severity!r}")
        for name in ("suppress_seconds", "sample_size"):
            value = entry.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise RuleConfigError(f"{source}: rule {rule_id}: {name} must be an integer >= 0, got {value!r}")
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise RuleConfigError(f"{source}: rule {rule_id}: params must be a mapping")
        rules[rule_id] = RuleSettings(
            rule_id=rule_id,
            version=version,
            severity=severity,
            enabled=bool(entry.get("enabled", True)),
            suppress_seconds=int(entry.get("suppress_seconds", 3600)),
            sample_size=int(entry.get("sample_size", 20)),
            params=params,
        )
    version = data.get("version", 1)
    return RulesConfig(
        config_version=int(version), rules=rules, recommendation=data.get("recommendation") or {},
        incidents=data.get("incidents") or {},
    )
