"""The strict schema of the policy file and its statute table (msgspec, unknown keys forbidden).

``validate`` converts the parsed YAML to these types; an unknown or misspelt key, a missing required key or a
value of the wrong type raises ``PolicyError`` naming the file, the key path and its line in the file. Checks
that need more than types (dates with offsets, regular expressions, duplicate ids) follow in the loader.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
import yaml

from processors.agencies import COMPONENTS, unknown_name
from processors.policy.model import PolicyError

_Strict = {"forbid_unknown_fields": True, "frozen": True}

Word = str | int


class RevokedSpec(msgspec.Struct, **_Strict):
    component: str
    from_: Any = msgspec.field(name="from")  # ISO 8601 string or a YAML timestamp; checked by the loader


class ExceptionSpec(msgspec.Struct, **_Strict):
    data_sources: list[str]


class PresumptionSpec(msgspec.Struct, **_Strict):
    components: list[str]


class OtherSenseSpec(msgspec.Struct, **_Strict):
    word: str
    sense: str
    cues: list[Word]
    window: int = 3


class RuleSpec(msgspec.Struct, **_Strict):
    id: str
    description: str
    clause: str


class IndicatorSpec(msgspec.Struct, **_Strict):
    id: str
    kind: str
    strength: str
    description: str
    clause: str
    words: list[Word] = []
    phrases: list[Word] = []
    patterns: list[str] = []


class ReadingSpec(msgspec.Struct, **_Strict):
    protective_roles: list[Word] = []
    enforcement_actions: list[Word] = []
    case_roles: list[Word] = []
    call_types: list[Word] = []
    capital_abbreviations: dict[str, str] = {}
    phrase_abbreviations: dict[str, str] = {}
    protective_orders: list[Word] = []
    documents: list[Word] = []
    property_words: list[Word] = []
    first_person: list[Word] = []
    personal_things: list[Word] = []
    work_nouns: list[Word] = []
    relations: list[Word] = []
    public_figures: list[Word] = []
    personal_intent: list[Word] = []
    curiosity: list[Word] = []
    uninformative: list[Word] = []
    licence_words: list[Word] = []
    driving_words: list[Word] = []
    ncj_acts: list[Word] = []
    weak_ncj_acts: list[Word] = []
    criminal_process: list[Word] = []
    licence_states: list[Word] = []
    licence_documents: list[Word] = []
    traffic_words: list[Word] = []
    private_places: list[Word] = []
    acquaintances: list[Word] = []
    incident_verbs: list[Word] = []
    not_events: list[Word] = []
    favour_verbs: list[Word] = []
    informants: list[Word] = []
    rental_vehicle_cues: list[Word] = []
    history_words: list[Word] = []


class PolicySpec(msgspec.Struct, **_Strict):
    version: str | int
    data_sources: dict[str, list[str]]
    criminal_justice_purpose_codes: list[str]
    federal_law_exception: ExceptionSpec
    mission_presumption: PresumptionSpec
    rules: dict[str, RuleSpec]
    indicators: list[IndicatorSpec]
    title: str = ""
    vocabulary_revision: int = 0
    statute_table: str | None = None
    revoked_access: list[RevokedSpec] = []
    immigration_context_components: list[str] = []
    placeholder_reasons: list[Word] = []
    case_number_patterns: list[str] = []
    synonyms: dict[str, list[Word]] = {}
    case_number_indicators: list[str] = []
    fillers: list[Word] = []
    other_senses: list[OtherSenseSpec] = []
    fuzzy_exclude: list[Word] = []
    prefix_exclude: list[Word] = []
    reading: ReadingSpec | None = None


class CodeSpec(msgspec.Struct, **_Strict):
    title: str
    aliases: list[str]


class StatuteTableSpec(msgspec.Struct, **_Strict):
    version: int
    codes: dict[str, CodeSpec]
    sections: dict[str, dict[str, Any]]  # each row [kind, title] is checked with its line: check_statute_rows
    bare_number_codes: list[str] = []


T = TypeVar("T")
_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[\.\.\.\]")
_UNKNOWN = re.compile(r"unknown field `([^`]+)`")


def _node_at(node: yaml.Node | None, path: str, unknown: str | None) -> tuple[yaml.Node | None, str]:
    """The YAML node a msgspec error path (``$.rules.justified.id``) points at, and the key path it names."""
    names: list[str] = []
    for m in _PATH_PART.finditer(path):
        key, index = m.group(1), m.group(2)
        if node is None:
            break
        if key is None and index is None and isinstance(node, yaml.MappingNode):  # a dict value: "[...]"
            # msgspec does not say which entry; take the first whose mapping holds the unknown key
            found = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(v, yaml.MappingNode)
                    and any(getattr(kk, "value", None) == unknown for kk, _ in v.value)
                ),
                None,
            )
            if found is None:
                break
            names.append(str(found[0].value))
            node = found[1]
            continue
        if key is not None and isinstance(node, yaml.MappingNode):
            names.append(key)
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif index is not None and isinstance(node, yaml.SequenceNode):
            names[-1:] = [f"{names[-1] if names else ''}[{index}]"]
            i = int(index)
            node = node.value[i] if i < len(node.value) else None
        else:
            break
    if unknown is not None:
        names.append(unknown)
        if isinstance(node, yaml.MappingNode):
            node = next((k for k, _ in node.value if getattr(k, "value", None) == unknown), node)
    return node, ".".join(names) or "(top level)"


def validate(data: Any, node: yaml.Node | None, spec: type[T], source: str) -> T:
    """Convert ``data`` to ``spec``; on failure raise ``PolicyError`` naming ``source``, the key and its line."""
    try:
        return msgspec.convert(data, spec, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        path = message.rsplit(" - at `", 1)[1].rstrip("`") if " - at `" in message else "$"
        what = message.split(" - at `", 1)[0]
        m = _UNKNOWN.search(what)
        unknown = m.group(1) if m else None
        at, key = _node_at(node, path, unknown)
        line = f" (line {at.start_mark.line + 1})" if at is not None else ""
        if unknown is not None:
            raise PolicyError(
                f"{source}{line}: unknown key {key!r}: not part of the schema (misspelt?); "
                "nothing is ignored silently"
            ) from None
        raise PolicyError(f"{source}{line}: key {key!r}: {what}") from None


def check_statute_rows(
    spec: StatuteTableSpec, node: yaml.Node | None, source: str, kinds: frozenset[str]
) -> dict[str, dict[str, tuple[str, str]]]:
    """Each section row must be ``[kind, title]`` with a known kind; errors name the code, section and line."""
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for code, rows in spec.sections.items():
        out[code] = {}
        for section, row in rows.items():
            if isinstance(row, list) and len(row) == 2 and row[0] in kinds and isinstance(row[1], str):
                out[code][str(section)] = (row[0], row[1])
                continue
            at, _ = _node_at(node, f"$.sections.{code}.{section}", None)
            line = f" (line {at.start_mark.line + 1})" if at is not None else ""
            raise PolicyError(
                f"{source}{line}: key 'sections.{code}.{section}': a row is [kind, title] with kind "
                f"one of {sorted(kinds)}, got {row!r}"
            )
    return out


def check_components(spec: PolicySpec, node: yaml.Node | None, source: str) -> None:
    """Every component the policy names must be a known one (``processors.agencies.COMPONENTS``): a typo
    such as ``ICE-ER0`` would otherwise switch the clause off without a word."""
    named = [
        *(f"$.mission_presumption.components[{i}]" for i in range(len(spec.mission_presumption.components))),
        *(f"$.revoked_access[{i}].component" for i in range(len(spec.revoked_access))),
        *(f"$.immigration_context_components[{i}]" for i in range(len(spec.immigration_context_components))),
    ]
    values = [
        *spec.mission_presumption.components,
        *(r.component for r in spec.revoked_access),
        *spec.immigration_context_components,
    ]
    for path, value in zip(named, values, strict=True):
        problem = unknown_name(value, COMPONENTS, "component")
        if problem:
            at, key = _node_at(node, path, None)
            line = f" (line {at.start_mark.line + 1})" if at is not None else ""
            raise PolicyError(f"{source}{line}: key {key!r}: {problem}")
