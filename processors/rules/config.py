"""Load the rule catalogue's configuration: the bundled ``rules.yaml`` merged with an optional file.

Strict (fail closed): unknown keys, rules or parameters, and values of the wrong type refuse to load,
naming the file, the line and the key; a parameter's type is its bundled default's.

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

from processors import strict_yaml
from processors.incidents import IncidentConfigError, IncidentPolicy
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


Path_ = tuple[str, ...]


class _Where:
    """Where a key of the merged configuration was written: ``<file> line <n>`` (the user's file first)."""

    def __init__(self) -> None:
        self._maps: list[tuple[str, dict[Path_, int]]] = []

    def add(self, source: str, lines: dict[Path_, int]) -> None:
        self._maps.insert(0, (source, lines))

    def __call__(self, path: Path_) -> str:
        for depth in range(len(path), 0, -1):
            for source, lines in self._maps:
                if path[:depth] in lines:
                    return f"{source} line {lines[path[:depth]]}: {'.'.join(path)}"
        source = self._maps[0][0] if self._maps else "rules"
        return f"{source}: {'.'.join(path) or 'top level'}"


def _line_map(text: str) -> dict[Path_, int]:
    """The line (1-based) of every mapping key in a YAML text, by its key path."""
    out: dict[Path_, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return out

    def walk(node: yaml.Node, path: Path_) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                out.setdefault(sub, key.start_mark.line + 1)
                walk(value, sub)

    if root is not None:
        walk(root, ())
    return out


def _parse_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        data = strict_yaml.load(text)
    except yaml.YAMLError as exc:
        raise RuleConfigError(f"{source}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RuleConfigError(f"{source}: the top level must be a mapping")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        lines = _line_map(text)
        raise RuleConfigError(
            f"{source} line {lines.get((str(unknown[0]),), 1)}: unknown top-level key(s) {unknown}; "
            f"known: {sorted(_TOP_KEYS)}"
        )
    return data


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return over


def load_rules_config(path: Path | str | None = None) -> RulesConfig:
    """The bundled rules.yaml, with ``path`` (if given) merged over it. Strict: an unknown key (a rule, a
    setting, a parameter) or a value of the wrong type refuses to load, naming the file, line and key."""
    bundled = bundled_text()
    data = _parse_yaml(bundled, "bundled rules.yaml")
    bundled_data = data
    where = _Where()
    where.add("bundled rules.yaml", _line_map(bundled))
    source = "bundled rules.yaml"
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleConfigError(f"cannot read rules file {path}: {exc}") from exc
        source = str(path)
        text = text.removeprefix("\ufeff")
        user = _parse_yaml(text, source)
        where.add(source, _line_map(text))
        user_rules = user.get("rules") or {}
        if not isinstance(user_rules, dict):
            raise RuleConfigError(f"{where(('rules',))}: must be a mapping of rule id -> settings")
        unknown_rules = sorted(set(user_rules) - set(data["rules"]))
        if unknown_rules:
            raise RuleConfigError(
                f"{where(('rules', str(unknown_rules[0])))}: unknown rule(s) {unknown_rules}; "
                f"known: {sorted(data['rules'])}"
            )
        data = _merge(data, user)
    return _validate(data, source, where, bundled_data)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _same_type(default: Any, value: Any) -> bool:
    """A parameter value has the type of its bundled default (an int is accepted for a float)."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, float) or _is_int(value)
    if isinstance(default, int):
        return _is_int(value)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, list):
        return isinstance(value, list)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True


def _validate(
    data: Mapping[str, Any],
    source: str,
    where: _Where | None = None,
    bundled: Mapping[str, Any] | None = None,
) -> RulesConfig:
    where = where or _Where()
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise RuleConfigError(f"{where(('defaults',))}: must be a mapping")
    for name, value in defaults.items():
        if name not in ("suppress_seconds", "sample_size"):
            raise RuleConfigError(
                f"{where(('defaults', str(name)))}: unknown key; known: ['sample_size', 'suppress_seconds']"
            )
        if not _is_int(value) or value < 0:
            raise RuleConfigError(f"{where(('defaults', str(name)))}: must be an integer >= 0, got {value!r}")
    bundled_rules = (bundled or {}).get("rules") or {}
    rules: dict[str, RuleSettings] = {}
    for rule_id, entry in sorted((data.get("rules") or {}).items()):
        at = ("rules", str(rule_id))
        if entry is not None and not isinstance(entry, dict):
            raise RuleConfigError(f"{where(at)}: must be a mapping of settings, got {entry!r}")
        entry = {
            **{k: v for k, v in defaults.items() if k in ("suppress_seconds", "sample_size")},
            **(entry or {}),
        }
        unknown = sorted(set(entry) - _RULE_KEYS)
        if unknown:
            raise RuleConfigError(
                f"{where((*at, str(unknown[0])))}: unknown key(s) {unknown}; known: {sorted(_RULE_KEYS)}"
            )
        version: Any = entry.get("version")
        if not _is_int(version) or version < 1:
            raise RuleConfigError(f"{where((*at, 'version'))}: must be a positive integer, got {version!r}")
        severity = entry.get("severity")
        if severity not in SEVERITIES:
            raise RuleConfigError(
                f"{where((*at, 'severity'))}: must be one of {SEVERITIES}, got {severity!r}"
            )
        for name in ("suppress_seconds", "sample_size"):
            value = entry.get(name, 0)
            if not _is_int(value) or value < 0:
                raise RuleConfigError(f"{where((*at, name))}: must be an integer >= 0, got {value!r}")
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            raise RuleConfigError(f"{where((*at, 'enabled'))}: must be true or false, got {enabled!r}")
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise RuleConfigError(f"{where((*at, 'params'))}: must be a mapping")
        if bundled is not None:
            known = (bundled_rules.get(rule_id) or {}).get("params") or {}
            for name, value in params.items():
                if name not in known:
                    raise RuleConfigError(
                        f"{where((*at, 'params', str(name)))}: unknown parameter of rule {rule_id}; "
                        f"known: {sorted(known) or 'none'}"
                    )
                if not _same_type(known[name], value):
                    raise RuleConfigError(
                        f"{where((*at, 'params', str(name)))}: must be a {type(known[name]).__name__} "
                        f"like the default {known[name]!r}, got {value!r}"
                    )
        rules[rule_id] = RuleSettings(
            rule_id=rule_id,
            version=version,
            severity=severity,
            enabled=enabled,
            suppress_seconds=int(entry.get("suppress_seconds", 3600)),
            sample_size=int(entry.get("sample_size", 20)),
            params=params,
        )
    version = data.get("version", 1)
    if not _is_int(version) or version < 1:
        raise RuleConfigError(f"{where(('version',))}: must be a positive integer, got {version!r}")
    recommendation = data.get("recommendation") or {}
    if not isinstance(recommendation, dict):
        raise RuleConfigError(f"{where(('recommendation',))}: must be a mapping")
    for name, value in recommendation.items():
        at = ("recommendation", str(name))
        if name == "counted_severities":
            if not isinstance(value, list) or any(v not in SEVERITIES for v in value):
                raise RuleConfigError(f"{where(at)}: must be a list of {SEVERITIES}, got {value!r}")
        elif name in ("watch_after", "suspend_after"):
            if not _is_int(value) or value < 1:
                raise RuleConfigError(f"{where(at)}: must be a positive integer, got {value!r}")
        else:
            raise RuleConfigError(
                f"{where(at)}: unknown key; known: ['counted_severities', 'suspend_after', 'watch_after']"
            )
    incidents = data.get("incidents") or {}
    try:
        IncidentPolicy.from_mapping(incidents)
    except IncidentConfigError as exc:
        raise RuleConfigError(f"{where(('incidents',))}: {exc}") from None
    return RulesConfig(
        config_version=version, rules=rules, recommendation=recommendation, incidents=incidents
    )
