"""The policy as values: rules, indicators and the versioned policy that holds them (policy_v1.yaml)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

IndicatorKind = Literal[
    "immigration", "criminal_offence", "criminal_context", "non_criminal_justice", "personal"
]
Strength = Literal["strong", "moderate", "weak", "context"]

INDICATOR_KINDS: Final = frozenset(
    {"immigration", "criminal_offence", "criminal_context", "non_criminal_justice", "personal"}
)
STRENGTHS: Final = frozenset({"strong", "moderate", "weak", "context"})
# The rule kinds the classifier implements; the policy file gives each an id, a description and a clause.
RULE_KINDS: Final = (
    "no_justification",
    "justified",
    "immigration_indicator",
    "federal_law_exception",
    "prohibited_source",
    "mission_presumption",
    "revoked_access",
    "ncj_under_cj_code",
    "ncj_own_code",
    "personal_use",
    "uncertain",
)
# What a statute table row says a section is (statutes_v1.yaml).
STATUTE_KINDS: Final = frozenset(
    {
        "felony",
        "misdemeanor",
        "infraction",
        "wobbler",
        "smuggling",
        "licensing",
        "noncriminal",
        "civil_immigration",
        "criminal_immigration",
    }
)
OFFENCE_KINDS: Final = frozenset({"felony", "misdemeanor", "infraction", "wobbler", "smuggling"})
UNKNOWN_SOURCE: Final = "unknown"


class PolicyError(ValueError):
    """The policy file is unreadable or malformed; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule a verdict can cite: a stable id, a one-line description and the clause in domain.md."""

    kind: str
    id: str
    description: str
    clause: str


@dataclass(frozen=True, slots=True)
class Indicator:
    """A signal in the reason/case-number text: words, phrases (token sequences) and regex patterns."""

    id: str
    kind: IndicatorKind
    strength: Strength
    description: str
    clause: str
    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True, slots=True)
class OtherSense:
    """An immigration word with an everyday sense that wins when a cue word stands near it.

    ``ice`` beside ``poss``/``pipe``/``11377`` is methamphetamine; ``removal`` beside ``veh``/``tow`` is a tow;
    ``nta`` beside ``vc``/``cited`` is a traffic citation. Only the word's own single-word immigration hits
    give way; a phrase that contains it (``ice hold``) still counts.
    """

    word: str
    sense: str
    window: int
    cues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Statute:
    """One row of the statute table: a code section and what it is (an offence, a licence, immigration law)."""

    code: str  # "pc", "vc", "usc8"...
    section: str  # "12500", "273.5", "1324a"
    kind: str  # one of STATUTE_KINDS
    title: str

    @property
    def is_offence(self) -> bool:
        return self.kind in OFFENCE_KINDS


@dataclass(frozen=True, slots=True)
class StatuteTable:
    """The code sections operators type (statutes_v1.yaml): looked up by code and section."""

    code_titles: Mapping[str, str]
    aliases: Mapping[str, str]  # normalised alias ("h&s", "8 usc") -> code
    sections: Mapping[tuple[str, str], Statute]
    bare_number_codes: tuple[str, ...] = ()

    def lookup(self, code: str, section: str) -> Statute | None:
        """The row for ``section`` of ``code``: exact (``273.5``, ``1324a``), else its base number (``273``)."""
        row = self.sections.get((code, section))
        if row is None:
            base = section.rstrip("abcdefghijklmnopqrstuvwxyz")
            row = self.sections.get((code, base))
        return row

    def lookup_bare(self, section: str) -> tuple[Statute, ...]:
        """The rows of a number written without its code, in the codes a bare number may belong to."""
        return tuple(r for c in self.bare_number_codes if (r := self.lookup(c, section)) is not None)


EMPTY_STATUTES: Final = StatuteTable(code_titles={}, aliases={}, sections={})


@dataclass(frozen=True, slots=True)
class Reading:
    """Word classes that read the reason's structure (roles, relations, intent); policy ``reading:``."""

    protective_roles: frozenset[str] = (
        frozenset()
    )  # victim, witness, scam... : immigration words describe a case
    enforcement_actions: frozenset[str] = (
        frozenset()
    )  # hold, detainer, order... : still enforcement beside a role
    documents: frozenset[str] = (
        frozenset()
    )  # green card, visa, passport: an immigration document as an object
    property_words: frozenset[str] = frozenset()  # stolen, lost, found, wallet: the document is property
    protective_orders: frozenset[str] = frozenset()  # "final order of protection": an RO, not removal
    capital_abbreviations: Mapping[str, str] = field(default_factory=dict)  # "FOR" -> final order of removal
    phrase_abbreviations: Mapping[str, str] = field(default_factory=dict)  # "notice to appear" -> nta
    call_types: frozenset[str] = frozenset()  # dispute, standby...: non-CJ party words name a call's parties
    case_roles: frozenset[str] = frozenset()  # victim, suspect, rp... : a relation word names a case party
    first_person: frozenset[str] = frozenset()  # my, mi, me, self, own
    personal_things: frozenset[str] = frozenset()  # "my house", "my car": the operator's own things
    work_nouns: frozenset[str] = frozenset()  # "my case", "my beat": first person but official
    relations: frozenset[str] = frozenset()  # family, partners, exes, friends, neighbours, in-laws
    public_figures: frozenset[str] = frozenset()  # actor, reporter, councilman...
    personal_intent: frozenset[str] = frozenset()  # off duty, gym, craigslist...: only with no CJ business
    curiosity: frozenset[str] = frozenset()  # curious, nosy, lol: personal even beside a plate or a call
    uninformative: frozenset[str] = frozenset()  # ok, same, see, above, ditto... (POL-1 placeholders by rule)
    licence_words: frozenset[str] = frozenset()  # license, lic, permit...
    driving_words: frozenset[str] = frozenset()  # "no lic", "dl lic", "susp lic": a driving licence (traffic)
    ncj_acts: frozenset[str] = (
        frozenset()
    )  # permit, renewal, background...: a non-CJ act an offence cannot erase
    weak_ncj_acts: frozenset[str] = (
        frozenset()
    )  # license, lic, clearance...: an act only with no criminal business
    criminal_process: frozenset[str] = frozenset()  # booking, surrender, informant, warrant, report...
    licence_states: frozenset[str] = (
        frozenset()
    )  # revoked, suspended...: a licence beside an offence is its subject
    licence_documents: frozenset[str] = (
        frozenset()
    )  # permit, license, ccw: the acts that a licence state undoes
    traffic_words: frozenset[str] = (
        frozenset()
    )  # dl, driver, ts...: any licence word beside one is a driver's
    private_places: frozenset[str] = (
        frozenset()
    )  # gym, church, craigslist: personal only about a person met there
    acquaintances: frozenset[str] = frozenset()  # girl, guy, member, seller: a person met in private life
    incident_verbs: frozenset[str] = (
        frozenset()
    )  # took, bit, ran away...: a third-person relation in an incident
    not_events: frozenset[str] = frozenset()  # married, divorced...: -ed words that tell no event
    favour_verbs: frozenset[str] = (
        frozenset()
    )  # wants, asked...: a relation asking is a favour, not an incident
    informants: frozenset[str] = frozenset()  # cs, chs, soi, ci: vetting an informant is a criminal case's
    rental_vehicle_cues: frozenset[str] = frozenset()  # car, collision...: "rental" is then a rental car
    history_words: frozenset[str] = frozenset()  # prior, conviction, record: an offence of the subject's past


@dataclass(frozen=True, slots=True)
class RevokedAccess:
    component: str
    since: dt.datetime


@dataclass(frozen=True, slots=True)
class Policy:
    """A versioned policy. Built by ``load_policy``; immutable."""

    version: str
    title: str
    sources_by_key: Mapping[str, str]
    criminal_justice_codes: frozenset[str]
    exception_sources: frozenset[str]
    presumption_components: frozenset[str]
    revoked: tuple[RevokedAccess, ...]
    context_components: frozenset[str]
    placeholder_reasons: frozenset[str]
    fillers: frozenset[str]
    fuzzy_exclude: frozenset[str]
    case_number_patterns: tuple[re.Pattern[str], ...]
    synonyms: Mapping[str, str]  # abbreviation token → the word it stands for
    case_number_indicators: frozenset[str]
    rules: Mapping[str, Rule]
    indicators: tuple[Indicator, ...]
    other_senses: tuple[OtherSense, ...] = ()
    prefix_exclude: frozenset[str] = frozenset()
    statutes: StatuteTable = EMPTY_STATUTES
    reading: Reading = field(default_factory=Reading)
    vocabulary_revision: int = 0
    digest: str = ""  # "sha256:<16 hex>" of the policy file and its statute table
    source: str = field(default="<policy>", compare=False)

    def data_source(self, message_type: str) -> str:
        """The data source a message key reaches, e.g. ``DQ`` → ``dmv_license``; ``unknown`` otherwise."""
        return self.sources_by_key.get(message_type.strip().upper(), UNKNOWN_SOURCE)

    def rule(self, kind: str) -> Rule:
        return self.rules[kind]

    def revoked_since(self, component: str | None) -> dt.datetime | None:
        if component is None:
            return None
        for entry in self.revoked:
            if entry.component == component:
                return entry.since
        return None
