"""Load and validate a policy file (YAML). ``load_policy(None)`` loads the bundled policy_v1.yaml.

The file is checked against a strict schema first (``processors.policy.schema``): an unknown or misspelt key
(``revoked_acess:``) or a value of the wrong type refuses to load with a message naming the file, the key and
its line. The statute table the policy names (``statute_table:``, a file beside it) is checked the same way.
A digest of both files' content is stamped on every verdict beside the policy version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from processors import strict_yaml
from processors.policy.model import (
    INDICATOR_KINDS,
    RULE_KINDS,
    STATUTE_KINDS,
    STRENGTHS,
    Indicator,
    OtherSense,
    Policy,
    PolicyError,
    Reading,
    RevokedAccess,
    Rule,
    Statute,
    StatuteTable,
)
from processors.policy.schema import (
    PolicySpec,
    StatuteTableSpec,
    check_components,
    check_statute_rows,
    validate,
)
from processors.policy.text import normalize, tokens

BUNDLED = "policy_v1.yaml"


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a policy file; raise ``PolicyError`` naming the file and the problem."""
    if path is None:
        root = resources.files("processors.policy")
        text = root.joinpath(BUNDLED).read_text(encoding="utf-8")
        return parse_policy(
            text,
            source=f"bundled {BUNDLED}",
            read_beside=lambda name: root.joinpath(name).read_text(encoding="utf-8"),
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
    base = Path(path).parent

    def read_beside(name: str) -> str:
        # the statute table beside the policy file; a policy copied alone reads the bundled table of that name
        # (its content is in the digest all the same)
        beside = base / name
        if (
            not beside.exists()
            and "/" not in name
            and resources.files("processors.policy").joinpath(name).is_file()
        ):
            return _bundled_beside(name)
        return beside.read_text(encoding="utf-8")

    return parse_policy(text, source=str(path), read_beside=read_beside)


def _bundled_beside(name: str) -> str:
    return resources.files("processors.policy").joinpath(name).read_text(encoding="utf-8")


def _yaml_mapping(text: str, source: str, what: str) -> tuple[dict[str, Any], yaml.Node | None]:
    """The YAML mapping ``text`` holds and its node tree (for line numbers); ``what`` names it in errors."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = strict_yaml.load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: {what} must be a YAML mapping")
    return data, node


def parse_policy(
    text: str, *, source: str = "<policy>", read_beside: Callable[[str], str] = _bundled_beside
) -> Policy:
    """Parse policy text. ``read_beside`` reads a file the policy names (its statute table) by name."""
    data, node = _yaml_mapping(text, source, "the policy")
    check_components(validate(data, node, PolicySpec, source), node, source)
    statute_text = ""
    table_name = data.get("statute_table")
    statutes = StatuteTable(code_titles={}, aliases={}, sections={})
    if table_name:
        where = f"{source} (statute_table {table_name})"
        try:
            statute_text = read_beside(str(table_name))
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{where}: cannot read the statute table: {exc}") from exc
        statutes = parse_statutes(statute_text, source=str(table_name))
    digest = (
        "sha256:"
        + hashlib.sha256(
            text.encode("utf-8") + b"\0statute_table\0" + statute_text.encode("utf-8")
        ).hexdigest()[:16]
    )
    return _Builder(data, source, statutes=statutes, digest=digest).build()


def parse_statutes(text: str, *, source: str = "<statutes>") -> StatuteTable:
    """Parse and validate a statute table (statutes_v1.yaml)."""
    data, node = _yaml_mapping(text, source, "the statute table")
    spec = validate(data, node, StatuteTableSpec, source)
    titles: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for code, entry in spec.codes.items():
        titles[code] = entry.title
        for alias in entry.aliases:
            key = " ".join(normalize(alias).split())
            if key in aliases and aliases[key] != code:
                raise PolicyError(f"{source}: alias {alias!r} names both {aliases[key]} and {code}")
            aliases[key] = code
    sections: dict[tuple[str, str], Statute] = {}
    for code, rows in check_statute_rows(spec, node, source, STATUTE_KINDS).items():
        if code not in titles:
            raise PolicyError(f"{source}: sections.{code}: code {code!r} is not declared under codes")
        for section, (kind, title) in rows.items():
            key = str(section).strip().lower()
            if not re.fullmatch(r"\d{1,6}(?:\.\d{1,4})?[a-z]{0,2}", key):
                raise PolicyError(
                    f"{source}: sections.{code}.{section}: not a section number like 273.5 or 1324a"
                )
            sections[(code, key)] = Statute(code=code, section=key, kind=kind, title=title)
    for code in spec.bare_number_codes:
        if code not in titles:
            raise PolicyError(f"{source}: bare_number_codes: code {code!r} is not declared under codes")
    return StatuteTable(
        code_titles=titles,
        aliases=aliases,
        sections=sections,
        bare_number_codes=tuple(spec.bare_number_codes),
    )


class _Builder:
    def __init__(
        self, data: dict[str, Any], source: str, *, statutes: StatuteTable | None = None, digest: str = ""
    ) -> None:
        self.data = data
        self.source = source
        self.statutes = statutes or StatuteTable(code_titles={}, aliases={}, sections={})
        self.digest = digest

    def fail(self, message: str) -> PolicyError:
        return PolicyError(f"{self.source}: {message}")

    def get(self, key: str, kind: type, default: Any = None) -> Any:
        if key not in self.data:
            if default is not None:
                return default
            raise self.fail(f"missing required key {key!r}")
        value = self.data[key]
        if not isinstance(value, kind):
            raise self.fail(f"{key!r} must be a {kind.__name__}, got {type(value).__name__}")
        return value

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            raise self.fail(f"{where} must be a list of strings")
        return tuple(str(v) for v in value)

    def build(self) -> Policy:
        version = self.data.get("version")
        if not isinstance(version, (str, int)) or isinstance(version, bool) or not str(version).strip():
            raise self.fail("'version' must be a non-empty string, e.g. \"1\"")
        sources: dict[str, str] = {}
        for name, keys in self.get("data_sources", dict).items():
            for key in self.strings(keys, f"data_sources.{name}"):
                if key.upper() in sources:
                    raise self.fail(
                        f"message key {key} is listed under both {sources[key.upper()]} and {name}"
                    )
                sources[key.upper()] = str(name)
        exception = self.get("federal_law_exception", dict)
        presumption = self.get("mission_presumption", dict)
        fillers = frozenset(self.strings(self.get("fillers", list, []), "fillers"))
        return Policy(
            version=str(version).strip(),
            title=str(self.data.get("title", "")),
            sources_by_key=sources,
            criminal_justice_codes=frozenset(
                c.upper()
                for c in self.strings(
                    self.get("criminal_justice_purpose_codes", list), "criminal_justice_purpose_codes"
                )
            ),
            exception_sources=frozenset(
                self.strings(exception.get("data_sources"), "federal_law_exception.data_sources")
            ),
            presumption_components=frozenset(
                self.strings(presumption.get("components"), "mission_presumption.components")
            ),
            revoked=self.revoked(),
            context_components=frozenset(
                self.strings(
                    self.get("immigration_context_components", list, []), "immigration_context_components"
                )
            ),
            placeholder_reasons=frozenset(
                " ".join(tokens(normalize(p)))
                for p in self.strings(self.get("placeholder_reasons", list, []), "placeholder_reasons")
            ),
            fillers=fillers,
            fuzzy_exclude=frozenset(self.strings(self.get("fuzzy_exclude", list, []), "fuzzy_exclude")),
            case_number_patterns=self.patterns(
                self.get("case_number_patterns", list, []), "case_number_patterns"
            ),
            synonyms=self.synonyms(),
            case_number_indicators=frozenset(
                self.strings(self.get("case_number_indicators", list, []), "case_number_indicators")
            ),
            rules=self.rules(),
            indicators=self.indicators(fillers),
            other_senses=self.other_senses(),
            prefix_exclude=frozenset(self.strings(self.get("prefix_exclude", list, []), "prefix_exclude")),
            statutes=self.statutes,
            reading=self.reading(),
            vocabulary_revision=int(self.data.get("vocabulary_revision", 0)),
            digest=self.digest,
            source=self.source,
        )

    def reading(self) -> Reading:
        raw = self.data.get("reading") or {}

        def words(key: str) -> frozenset[str]:
            return frozenset(" ".join(normalize(str(w)).split()) for w in raw.get(key, []))

        maps = ("capital_abbreviations", "phrase_abbreviations")
        fields = {name: words(name) for name in Reading.__dataclass_fields__ if name not in maps}
        capitals = {str(k): str(v) for k, v in (raw.get("capital_abbreviations") or {}).items()}
        phrases = {
            " ".join(str(k).lower().split()): str(v).lower()
            for k, v in (raw.get("phrase_abbreviations") or {}).items()
        }
        return Reading(capital_abbreviations=capitals, phrase_abbreviations=phrases, **fields)

    def patterns(self, raw: Any, where: str) -> tuple[re.Pattern[str], ...]:
        out = []
        for pattern in self.strings(raw, where):
            try:
                out.append(re.compile(pattern))
            except re.error as exc:
                raise self.fail(f"{where}: bad pattern {pattern!r}: {exc}") from exc
        return tuple(out)

    def synonyms(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for word, abbreviations in self.get("synonyms", dict, {}).items():
            for abbreviation in self.strings(abbreviations, f"synonyms.{word}"):
                key = abbreviation.strip().lower()
                if key in out and out[key] != str(word).lower():
                    raise self.fail(f"synonym {key!r} stands for both {out[key]!r} and {word!r}")
                out[key] = str(word).lower()
        return out

    def other_senses(self) -> tuple[OtherSense, ...]:
        out = []
        seen: set[str] = set()
        for i, entry in enumerate(self.get("other_senses", list, [])):
            where = f"other_senses[{i}]"
            if not isinstance(entry, dict):
                raise self.fail(f"{where} must be a mapping with word, sense, window and cues")
            word = entry.get("word")
            if not isinstance(word, str) or tokens(normalize(word)) != [word.strip().lower()]:
                raise self.fail(f"{where}.word must be one token (letters or digits), got {word!r}")
            word = word.strip().lower()
            if word in seen:
                raise self.fail(f"{where}: word {word!r} is listed twice")
            seen.add(word)
            window = entry.get("window", 3)
            if not isinstance(window, int) or isinstance(window, bool) or window < 1:
                raise self.fail(f"{where}.window must be a positive integer, got {window!r}")
            if not isinstance(entry.get("sense"), str) or not entry["sense"].strip():
                raise self.fail(f"{where}.sense must be a non-empty string (the everyday sense of {word!r})")
            cues = tuple(c.lower() for c in self.strings(entry.get("cues"), f"{where}.cues"))
            if not cues:
                raise self.fail(f"{where}.cues must list at least one cue word")
            out.append(OtherSense(word=word, sense=entry["sense"].strip(), window=window, cues=cues))
        return tuple(out)

    def revoked(self) -> tuple[RevokedAccess, ...]:
        out = []
        for i, entry in enumerate(self.get("revoked_access", list, [])):
            if not isinstance(entry, dict) or "component" not in entry or "from" not in entry:
                raise self.fail(f"revoked_access[{i}] needs 'component' and 'from'")
            raw = entry["from"]
            try:
                since = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
            except ValueError as exc:
                raise self.fail(f"revoked_access[{i}].from {raw!r} is not an ISO 8601 time: {exc}") from exc
            if since.tzinfo is None:
                raise self.fail(f"revoked_access[{i}].from {raw!r} needs a UTC offset")
            out.append(RevokedAccess(component=str(entry["component"]), since=since))
        return tuple(out)

    def rules(self) -> dict[str, Rule]:
        raw = self.get("rules", dict)
        rules: dict[str, Rule] = {}
        seen: set[str] = set()
        for kind in RULE_KINDS:
            entry = raw.get(kind)
            if not isinstance(entry, dict):
                raise self.fail(f"rules.{kind} is missing (needs id, description, clause)")
            for key in ("id", "description", "clause"):
                if not isinstance(entry.get(key), str) or not entry[key].strip():
                    raise self.fail(f"rules.{kind}.{key} must be a non-empty string")
            if entry["id"] in seen:
                raise self.fail(f"rule id {entry['id']} is used twice")
            seen.add(entry["id"])
            rules[kind] = Rule(
                kind=kind, id=entry["id"], description=entry["description"], clause=entry["clause"]
            )
        unknown = set(raw) - set(RULE_KINDS)
        if unknown:
            raise self.fail(f"rules has unknown kinds {sorted(unknown)}; known: {list(RULE_KINDS)}")
        return rules

    def indicators(self, fillers: frozenset[str]) -> tuple[Indicator, ...]:
        out = []
        ids: set[str] = set()
        for i, entry in enumerate(self.get("indicators", list)):
            where = f"indicators[{i}]"
            if not isinstance(entry, dict):
                raise self.fail(f"{where} must be a mapping")
            ind_id = entry.get("id")
            if not isinstance(ind_id, str) or not ind_id:
                raise self.fail(f"{where}.id must be a non-empty string")
            where = f"indicator {ind_id}"
            if ind_id in ids:
                raise self.fail(f"{where} is defined twice")
            ids.add(ind_id)
            if entry.get("kind") not in INDICATOR_KINDS:
                raise self.fail(f"{where}: kind must be one of {sorted(INDICATOR_KINDS)}")
            if entry.get("strength") not in STRENGTHS:
                raise self.fail(f"{where}: strength must be one of {sorted(STRENGTHS)}")
            for key in ("description", "clause"):
                if not isinstance(entry.get(key), str):
                    raise self.fail(f"{where}: {key} must be a string")
            words = tuple(w.lower() for w in self.strings(entry.get("words", []), f"{where}.words"))
            phrases = []
            for phrase in self.strings(entry.get("phrases", []), f"{where}.phrases"):
                parts = tuple(p for p in _phrase_words(phrase) if p not in fillers)
                if len(parts) < 2 <= len(phrase.split()):
                    raise self.fail(
                        f"{where}: phrase {phrase!r} is a single word once filler words are dropped; "
                        "list that word under words, or drop the phrase"
                    )
                if not parts:
                    raise self.fail(f"{where}: phrase {phrase!r} has only filler words")
                phrases.append(parts)
            patterns = self.patterns(entry.get("patterns", []), f"{where}.patterns")
            out.append(
                Indicator(
                    id=ind_id,
                    kind=entry["kind"],
                    strength=entry["strength"],
                    description=entry["description"],
                    clause=entry["clause"],
                    words=words,
                    phrases=tuple(phrases),
                    patterns=tuple(patterns),
                )
            )
        return tuple(out)


def _phrase_words(phrase: str) -> list[str]:
    """Split a phrase like the text it must match, keeping a trailing ``*`` on prefix words."""
    out = []
    for raw in normalize(phrase).split(" "):
        star = raw.endswith("*")
        parts = tokens(raw)
        if star and parts:
            parts[-1] += "*"
        out.extend(parts)
    return out
