"""What the reason and case-number fields say: indicator hits found by words, phrases and patterns."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from processors.policy.model import Indicator, OtherSense, Policy, Statute
from processors.policy.text import Vocabulary, normalize, remember, segment, segments, tokens

_IMMIGRATION: Final = "immigration"
# Glued words ("removalproceedings", "holdforice") are split into known words; a piece shorter than this
# only counts inside a phrase ("ice" of "justice" is not the agency), longer pieces count on their own too.
SEGMENT_MIN_TOKEN: Final = 6
SEGMENT_ALONE_MIN: Final = 5
SEGMENT_MAX_TOKEN: Final = (
    48  # splitting is quadratic in the token's length: longer runs are not words anyway
)


@dataclass(frozen=True, slots=True)
class Hit:
    """One indicator found in one field: which, how strong, and the text that matched."""

    indicator: str
    kind: str
    strength: str
    matched: str
    field: str  # "reason" or "case_number"


@dataclass(frozen=True, slots=True)
class StatuteRef:
    """A code section written in the reason and what the statute table says it is (``None``: not in it)."""

    matched: str
    code: str | None  # None: a bare number with no code written
    section: str
    statute: Statute | None

    def describe(self) -> str:
        where = f"{self.code.upper()} {self.section}" if self.code else f"{self.section} (no code written)"
        if self.statute is None:
            return f"{self.matched!r} -> {where}: not in the statute table (weak criminal-justice hint)"
        st = self.statute
        return f"{self.matched!r} -> {st.code.upper()} {st.section}: {st.kind}, {st.title}"


class _Found:
    """The hits of one field, each indicator once (a weak word once per distinct word, ``once``)."""

    __slots__ = ("field", "hits", "seen")

    def __init__(self, field: str, hits: list[Hit], seen: set[str]) -> None:
        self.field = field
        self.hits = hits
        self.seen = seen

    def add(self, ind: Indicator, matched: str, once: str | None = None) -> None:
        key = ind.id if once is None else once
        if key not in self.seen:
            self.seen.add(key)
            self.hits.append(Hit(ind.id, ind.kind, ind.strength, matched, self.field))


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything the rules need to know about the reason field of one event (read once per reason)."""

    hits: tuple[Hit, ...]
    has_reason: bool  # a reason with an informative token (not empty, whitespace or a placeholder)
    case_in_reason: str | None  # a case/report number written in the reason
    statutes: tuple[StatuteRef, ...] = ()
    vetoed: tuple[Hit, ...] = ()  # immigration hits a protective role (victim, witness, scam...) set aside
    role: str | None = None  # the protective role word that did it
    ncj_act: bool = (
        False  # a non-CJ act is written (permit, renewal, background...): an offence cannot erase it
    )
    history: bool = False  # the offences written are the subject's record (prior, conviction), not a case

    def of(self, kind: str, strength: str | None = None) -> tuple[Hit, ...]:
        return tuple(h for h in self.hits if h.kind == kind and (strength is None or h.strength == strength))


@dataclass(frozen=True, slots=True)
class CaseReading:
    """What the case-number field says: present or not, an immigration file (A-number) or a criminal case."""

    present: bool
    hits: tuple[Hit, ...] = ()

    @property
    def immigration(self) -> bool:
        return bool(self.hits)

    @property
    def criminal(self) -> bool:
        return self.present and not self.hits


NO_CASE: Final = CaseReading(present=False)
PRESENT_CASE: Final = CaseReading(present=True)


class SignalReader:
    """Reads indicator hits out of the reason and case number under one policy. Pure; caches tokens."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        words: list[str] = []
        self._word_index: dict[str, list[Indicator]] = {}
        self._phrases: dict[str, list[tuple[tuple[str, ...], Indicator]]] = {}
        for ind in policy.indicators:
            for word in ind.words:
                words.append(word)
                self._word_index.setdefault(word, []).append(ind)
            for phrase in ind.phrases:
                words.extend(phrase)
                if len(phrase) == 1:
                    self._word_index.setdefault(phrase[0], []).append(ind)
                else:
                    self._phrases.setdefault(phrase[0], []).append((phrase, ind))
        words.extend(policy.synonyms.values())
        self.vocabulary = Vocabulary(
            words, exclude=policy.fuzzy_exclude | policy.prefix_exclude, not_prefix=policy.prefix_exclude
        )
        self._synonyms = policy.synonyms
        self._match_cache: dict[str, frozenset[str]] = {}
        self._pattern_indicators = tuple(ind for ind in policy.indicators if ind.patterns)
        self._split_cache: dict[str, list[str] | None] = {}
        self._known_cache: dict[str, bool] = {}
        self._senses: dict[str, OtherSense] = {s.word: s for s in policy.other_senses}
        self._cues: dict[str, Vocabulary] = {s.word: Vocabulary(s.cues) for s in policy.other_senses}
        self._sense_cache: dict[str, tuple[str, ...]] = {}
        self._reading = policy.reading
        caps = policy.reading.capital_abbreviations
        # only where a noun stands, not after a verb ("Check FOR warrants"): at the start, after punctuation, or
        # after has/had/now/with/on/active/prior
        self._capitals = (
            re.compile(
                r"(^\s*|[,;:(/-]\s*|\b(?:has|had|now|with|w/|on|active|prior|outstanding)\s+)("
                + "|".join(map(re.escape, caps))
                + r")(?![A-Za-z0-9])"
            )
            if caps
            else None
        )
        abbreviations = policy.reading.phrase_abbreviations
        self._abbreviations = (
            re.compile(
                r"(?<![a-z0-9])("
                + "|".join(
                    r"\s+".join(map(re.escape, k.split()))
                    for k in sorted(abbreviations, key=len, reverse=True)
                )
                + r")(?![a-z0-9])"
            )
            if abbreviations
            else None
        )
        self._relations = Vocabulary(sorted(policy.reading.relations), exclude=policy.fuzzy_exclude)
        self._statute_re = _statute_regex(policy)
        self._aliases = {k.replace(" ", ""): v for k, v in policy.statutes.aliases.items()}

    def read(self, reason: str) -> Signals:
        """Read one reason field: statutes, indicator hits (within punctuation), roles, relations, placeholders."""
        if self._capitals is not None and self._capitals.search(reason) and any(c.islower() for c in reason):
            caps = self._reading.capital_abbreviations
            reason = self._capitals.sub(lambda m: f"{m.group(1)} {caps[m.group(2)]} ", reason)
        original = text = normalize(reason)
        if (
            self._abbreviations is not None
        ):  # "notice to appear" is read as "nta", with that word's other senses
            abbreviations = self._reading.phrase_abbreviations
            text = self._abbreviations.sub(lambda m: abbreviations[" ".join(m.group(1).split())], text)
        if "/" in text:  # "t/s", "w/o": letters on both sides of a slash are one abbreviation
            text = _SLASHED_LETTERS.sub(r"\1\2", text)
        if "o" in text and any(c.isdigit() for c in text):  # "I-2O5": the letter O typed for a zero
            text = _O_FOR_ZERO.sub("0", text)
        hits: list[Hit] = []
        refs, text = self._statutes(text)
        case_in_reason = None
        blanked = self._patterns(text, _Found("reason", hits, set()))
        for pattern in self.policy.case_number_patterns:
            m = pattern.search(blanked)
            if m:
                case_in_reason = m.group(0)
                break
        words_text = text
        if case_in_reason is not None:  # a case number's prefix ("ERO-19-…") is not a word of the reason
            for pattern in self.policy.case_number_patterns:
                words_text = pattern.sub(" , ", words_text)
        groups = segments(words_text)
        found = _Found("reason", hits, {h.indicator for h in hits})
        flat = [t for g in groups for t in g]
        offset = 0
        for group in groups:
            self._words(group, found, flat, offset)
            offset += len(group)
        refs = refs + self._bare_numbers(groups, refs)
        if refs and any(h.kind == _IMMIGRATION for h in hits):
            # the digits of an immigration form or file number ("I-166", "A-file 201-884-530") are no section
            numbers = {n for h in hits if h.kind == _IMMIGRATION for n in _DIGITS.findall(h.matched)}
            refs = [ref for ref in refs if ref.code is not None or ref.section not in numbers]
        hits.extend(self._statute_hits(refs))
        hits.extend(self._licences(flat))
        hits, vetoed, role = self._roles(flat, hits)
        hits, vetoed = self._order_sense(flat, hits, vetoed)
        offence = any(h.kind == "criminal_offence" for h in hits)
        r = self._reading
        hits = self._non_cj(groups, flat, hits, offence)
        ncj_act = any(t in r.ncj_acts or self._synonyms.get(t) in r.ncj_acts for t in flat)
        if r.informants and any(t in r.informants for t in flat):
            # vetting or a background on an informant (CS, CHS, SOI, CI) is part of a criminal case
            hits = [h for h in hits if h.kind != "non_criminal_justice" or h.indicator == "STATUTE-LICENSING"]
            ncj_act = False
        if ncj_act or any(
            t in r.case_roles or t in r.call_types for t in flat
        ):  # "DV susp ex-husband": a party
            hits = [h for h in hits if h.kind != "personal"]
            # the first person's own relation or thing is the operator's, whatever call, party or act is written:
            # "my landlord - deposit dispute", "my own DL - renewal", "custody fight - my kid's mom"
            context = any(h.kind == "criminal_context" for h in hits)
            hits.extend(h for h in self._personal(groups, offence, context, owned_only=True) if _owned(h))
        else:
            context = any(h.kind == "criminal_context" for h in hits)
            hits.extend(self._personal(groups, offence, context))
        has_reason = bool(hits) or bool(refs) or case_in_reason is not None or self._informative(flat)
        if has_reason and " ".join(tokens(original)) in self.policy.placeholder_reasons:
            has_reason = False
        return Signals(
            hits=tuple(hits),
            has_reason=has_reason,
            case_in_reason=case_in_reason,
            statutes=tuple(refs),
            vetoed=tuple(vetoed),
            role=role,
            ncj_act=ncj_act,
            history=any(t in r.history_words for t in flat),
        )

    def read_case_number(self, case_number: str | None) -> CaseReading:
        """Read the case-number field: only the policy's case-number indicators (A-numbers) count from it."""
        if not case_number or not case_number.strip():
            return NO_CASE
        if (
            "a" not in case_number.lower()
        ):  # every A-number form and word has an "a": most case numbers stop here
            return PRESENT_CASE
        case = normalize(case_number)
        hits: list[Hit] = []
        self._scan(case, "case_number", hits)
        allowed = self.policy.case_number_indicators
        return CaseReading(present=True, hits=tuple(h for h in hits if h.indicator in allowed))

    # ------------------------------------------------------------------ statutes
    def _statutes(self, text: str) -> tuple[list[StatuteRef], str]:
        """Code sections written with their code (``12500(a) VC``, ``PC 459``, ``8 USC 1326``) or with a
        subsection (``22651(k)``); each is looked up and blanked from the text, so its digits and subsection
        letters are never read as anything else (``(a) no`` is not an A-number)."""
        if self._statute_re is None or not any(c.isdigit() for c in text):
            return [], text
        refs: list[StatuteRef] = []
        table = self.policy.statutes

        def found(m: re.Match[str]) -> str:
            alias = m.group("a1") or m.group("a2")
            # "16028 A": a section only when the table knows the number
            if m.group("n5") is not None and not table.lookup_bare(m.group("n5")):
                return f" {m.group('n5')} , "
            section = (
                m.group("n1") or m.group("n2") or m.group("n3") or m.group("n4") or m.group("n5")
            ).lower()
            subs = "".join(_SUB_RE.findall(m.group(0)))
            if alias is None:
                rows = table.lookup_bare(section)
                statute = rows[0] if len(rows) == 1 or (rows and all(r.is_offence for r in rows)) else None
                refs.append(StatuteRef(m.group(0).strip(), None, section, statute))
                code_word = statute.code if statute else ""
            else:
                code = self._aliases.get(alias.replace(" ", ""))
                if code is None:  # "usc" with no title: the first US code that has the section
                    statute = next(
                        (r for c in ("usc8", "usc18", "usc21") if (r := table.lookup(c, section))), None
                    )
                    code = statute.code if statute else "usc"
                else:
                    statute = table.lookup(code, section)
                refs.append(StatuteRef(m.group(0).strip(), code, section, statute))
                code_word = code
            # the section stays readable as words ("vc 22651", "287 g"), its subsection closed off by a break so
            # that "(a) no" can never be read as an A-number phrase
            return f" {code_word.rstrip('0123456789')} {section} {subs} , "

        return refs, self._statute_re.sub(found, text)

    def _bare_numbers(self, groups: Sequence[Sequence[str]], refs: Sequence[StatuteRef]) -> list[StatuteRef]:
        """Numbers written alone (``459``, ``11377``) that the table knows in exactly one code, or as an offence
        in every code that has them. Unknown numbers say nothing (they may be times, units, addresses)."""
        table = self.policy.statutes
        if not table.bare_number_codes:
            return []
        out = []
        done = {r.section for r in refs}
        for group in groups:
            for tok in group:
                if tok.isdigit() and 3 <= len(tok) <= 5 and tok not in done:
                    rows = table.lookup_bare(tok)
                    if len(rows) == 1 or (rows and all(r.is_offence for r in rows)):
                        done.add(tok)
                        out.append(StatuteRef(tok, None, tok, rows[0]))
        return out

    def _statute_hits(self, refs: Sequence[StatuteRef]) -> list[Hit]:
        out = []
        for ref in refs:
            st = ref.statute
            if st is None:
                kind, ind, strength = "criminal_context", "STATUTE-UNKNOWN", "weak"
            elif st.is_offence:
                kind, ind, strength = "criminal_offence", "STATUTE-OFFENCE", "strong"
            elif st.kind == "licensing":
                kind, ind, strength = "non_criminal_justice", "STATUTE-LICENSING", "strong"
            elif st.kind in ("civil_immigration", "criminal_immigration"):
                kind, ind, strength = "immigration", "STATUTE-IMMIGRATION", "strong"
            else:
                kind, ind, strength = "criminal_context", "STATUTE-NONCRIMINAL", "weak"
            out.append(Hit(ind, kind, strength, ref.matched, "reason"))
        return out

    def _licences(self, toks: Sequence[str]) -> list[Hit]:
        """``<occupation> license|permit`` (``locksmith license``, ``bingo lic``, ``alarm co. permit``) is a
        licensing purpose (POL-3) unless the word before it is about driving (``no lic``, ``dl lic``) or the
        reason speaks of driving anywhere (``reading.traffic_words``: ``operator license A765 suspended``)."""
        r = self._reading
        out: list[Hit] = []
        traffic = any(t in r.traffic_words for t in toks)  # "mexican DL, no CA lic": a driver's licence
        for i in range(1, len(toks)):
            tok, prev = toks[i], toks[i - 1]
            if tok not in r.licence_words or prev in r.driving_words or prev in self.policy.fillers:
                continue
            if (
                traffic and tok in r.weak_ncj_acts
            ):  # a licence, not a permit ("food truck permit - vendor DL")
                continue
            if not prev.isalpha() or len(prev) < 2:
                continue
            if i + 1 < len(toks) and toks[i + 1] in r.driving_words:  # "lic plate"
                continue
            if i >= 2 and toks[i - 2] in r.driving_words and prev in ("co", "company"):
                continue
            out.append(Hit("NCJ-LICENCE-OF", "non_criminal_justice", "strong", f"{prev} {tok}", "reason"))
            break
        return out

    # ------------------------------------------------------------------ roles, relations, placeholders
    def _roles(self, toks: Sequence[str], hits: list[Hit]) -> tuple[list[Hit], list[Hit], str | None]:
        """Immigration words beside a protective role (victim, witness, scam, hate crime...) describe a
        criminal case, not enforcement: those hits are set aside unless they name an enforcement act."""
        r = self._reading
        roles = r.protective_roles
        role = next((t for t in toks if t in roles or self._prefix_in(t, roles)), None)
        if role is None or not any(h.kind == _IMMIGRATION for h in hits):
            prop = next(
                (t for t in toks if t in r.property_words or self._prefix_in(t, r.property_words)), None
            )
            docs = [
                h for h in hits if h.kind == _IMMIGRATION and all(w in r.documents for w in tokens(h.matched))
            ]
            if prop is None or not docs:
                return hits, [], None
            return [h for h in hits if h not in docs], docs, prop
        actions = self._reading.enforcement_actions
        kept, vetoed = [], []
        for h in hits:
            if h.kind == _IMMIGRATION and not any(
                w in actions or self._prefix_in(w, actions) for w in tokens(h.matched)
            ):
                vetoed.append(h)
            else:
                kept.append(h)
        return kept, vetoed, role

    def _non_cj(
        self, groups: Sequence[Sequence[str]], flat: Sequence[str], hits: list[Hit], offence: bool
    ) -> list[Hit]:
        """Non-criminal-justice hits that stand (precedence, domain.md): a non-CJ *act* (permit, licence,
        renewal, background, screening) is not erased by an offence written apart ("CCW renewal - prior 245"),
        only by one in the same phrase ("building permit fraud") or a case party ("work permit found on
        arrestee"); a non-CJ *party* word (employee, tenant, tow truck driver, bail agent) gives way to any
        offence, case party, call type or criminal-justice context ("employee theft 487", "tow truck driver
        collision", "bail agent surrender, verify wt"), and so does a weak act (``reading.weak_ncj_acts``: a bare
        licence word, clearance), which is a purpose cue only where no criminal business is written."""
        if not any(h.kind == "non_criminal_justice" for h in hits):
            return hits
        r = self._reading
        role = any(t in r.case_roles or t in r.call_types for t in flat)
        # criminal business written: an offence, a case party, or criminal-justice context (warrant, booking,
        # report, a code section). Beside it a weak act (a bare licence word, clearance) is not a purpose cue:
        # "no CA DL 12500 - lic in Mexico" is a licence offence, "release clearance - wts" a jail release.
        business = (
            offence
            or role
            or any(t in r.criminal_process or self._synonyms.get(t) in r.criminal_process for t in flat)
            or any(h.indicator in ("STATUTE-UNKNOWN", "STATUTE-NONCRIMINAL") for h in hits)
        )
        act = any(
            a in r.ncj_acts and not (business and a in r.weak_ncj_acts)
            for t in flat
            for a in (t, self._synonyms.get(t))
        )
        if act and offence and any(t in r.licence_states for t in flat):  # "permit revoked, 29800 poss"
            act = any(
                a in r.ncj_acts and a not in r.licence_documents and a not in r.weak_ncj_acts
                for t in flat
                for a in (t, self._synonyms.get(t))
            )
        # "lost/found property, owner appl": a claim for property, not an application for a licence or a job
        claim = any(t in r.property_words for t in flat)
        if act and claim:
            act = any(
                a in r.ncj_acts and a not in _APPLICATION and not (business and a in r.weak_ncj_acts)
                for t in flat
                for a in (t, self._synonyms.get(t))
            )
        offence_words = [set(tokens(h.matched)) for h in hits if h.kind == "criminal_offence"]
        # "rental" beside a car, a driver's licence or a collision is a rental car, not rental housing
        rental_car = any(t in r.rental_vehicle_cues for t in flat)
        kept = []
        for h in hits:
            if h.kind != "non_criminal_justice" or h.indicator == "STATUTE-LICENSING":
                kept.append(h)
                continue
            if rental_car and any(w in _RENTAL for w in tokens(h.matched)):
                continue
            if claim and all(w in _APPLICATION for w in tokens(h.matched)):
                continue
            if not act:
                if not business:
                    kept.append(h)
                continue
            if role:
                continue
            words = set(tokens(h.matched))
            together = any(words <= set(g) and any(o <= set(g) for o in offence_words) for g in groups)
            if not together:
                kept.append(h)
        return kept

    def _order_sense(
        self, toks: Sequence[str], hits: list[Hit], vetoed: list[Hit]
    ) -> tuple[list[Hit], list[Hit]]:
        """ "order" beside protection/restraining/court words is a protective or court order: immigration phrases
        built on it ("final order of protection") are set aside unless they name removal or deportation."""
        orders = self._reading.protective_orders
        if not orders or not any(t in orders for t in toks):
            return hits, vetoed
        kept = []
        for h in hits:
            words = tokens(h.matched)
            if (
                h.kind == _IMMIGRATION
                and any(w.startswith("ord") for w in words)
                and not any(w.startswith(("remov", "deport", "rmv")) for w in words)
            ):
                vetoed.append(h)
            else:
                kept.append(h)
        return kept, vetoed

    @staticmethod
    def _prefix_in(token: str, words: frozenset[str]) -> bool:
        return any(w.endswith("*") and token.startswith(w[:-1]) for w in words)

    def _personal(
        self, groups: Sequence[Sequence[str]], offence: bool, context: bool, owned_only: bool = False
    ) -> list[Hit]:
        """POL-4 from the reason's structure: the operator's own relations and things (``my cousin``, ``my
        house``, ``me``, ``self``), a relation as the reason's subject or possessor (``stepdad``, ``landlord's
        son``), intent (curious, off duty, a date) and public figures. Never when a case role is written (the
        relation is then a party: ``DV susp ex-husband``); an offence or other criminal-justice business
        (``context``) keeps the weaker forms (bare relations, intent, public figures) from counting.
        ``owned_only``: read even beside a case role (the caller keeps only the first-person possessives)."""
        r = self._reading
        flat = [t for g in groups for t in g]
        if not owned_only and any(t in r.case_roles for t in flat):
            return []
        out: list[Hit] = []
        official = offence or context
        # the reason tells an event: a relation in the third person is then a party of it, not the operator's
        incident = any(
            t in r.incident_verbs or (len(t) > 4 and t.endswith("ed") and t not in r.not_events) for t in flat
        )

        def hit(why: str, matched: str) -> None:
            out.append(Hit(f"PERSONAL-{why}", "personal", "strong", matched, "reason"))

        for g in groups:
            for i, tok in enumerate(g):
                nxt = g[i + 1] if i + 1 < len(g) else None
                prev = g[i - 1] if i > 0 else None
                if tok in r.first_person:
                    if tok in ("my", "mi", "mine"):  # first person owning a relation or a personal thing
                        # the thing owned, or the noun after one describing word ("my upstairs neighbor")
                        after = g[i + 2] if i + 2 < len(g) else None
                        if (
                            nxt is not None
                            and nxt not in r.work_nouns
                            and (
                                self._relation(nxt)
                                or nxt in r.personal_things
                                or (
                                    after is not None
                                    and nxt.isalpha()
                                    and (self._relation(after) or after in r.personal_things)
                                )
                            )
                            and prev not in _HELD_BY  # "in my custody": a prisoner held by the operator
                            # "my ex partner's case": the noun phrase ends in official work
                            and not any(
                                t in r.work_nouns and t != "or" and t not in self.policy.fillers
                                for t in g[i + 2 : i + 5]
                            )
                        ):
                            hit("SELF", f"{tok} {nxt}")
                    elif tok == "me":
                        if not official:
                            hit("SELF", tok)
                    elif tok == "own":
                        if prev not in ("his", "her", "their", "its", "on") and nxt not in r.work_nouns:
                            hit("SELF", tok if nxt is None else f"{tok} {nxt}")
                    elif nxt not in r.work_nouns:  # self, myself
                        hit("SELF", tok if nxt is None else f"{tok} {nxt}")
                elif self._relation(tok):
                    if prev in r.first_person:
                        continue  # read with the first person above
                    if incident and nxt not in r.favour_verbs:
                        continue
                    if nxt == "s":  # a relation's possession or person: "wife's coworker"
                        # as what the reason is about ("wife's plate", "wife's ex"), only an offence keeps it
                        # from counting; elsewhere any criminal-justice business does
                        if not official or (g is groups[0] and i == 0 and not offence):
                            hit("RELATION", f"{tok}'s")
                    elif (g is groups[0] and i == 0 and not offence) or (  # what the reason is about, or
                        not official and sum(t not in self.policy.fillers for t in flat) <= 4
                    ):  # all it says
                        hit("RELATION", tok)
                elif not offence and (
                    tok in r.curiosity or (nxt is not None and f"{tok} {nxt}" in r.curiosity)
                ):
                    hit("INTENT", tok if tok in r.curiosity else f"{tok} {nxt}")
                elif not official and (
                    tok in r.personal_intent or (nxt is not None and f"{tok} {nxt}" in r.personal_intent)
                ):
                    hit("INTENT", tok if tok in r.personal_intent else f"{tok} {nxt}")
                elif tok in r.public_figures and (
                    not official or (g is groups[0] and i <= 1 and not offence)
                ):  # about a public figure ("that actor arrested on TMZ"), with no offence of a case written
                    hit("PUBLIC-FIGURE", tok)
                elif (
                    not official
                    and (tok in r.private_places or (nxt is not None and f"{tok} {nxt}" in r.private_places))
                    and any(t in r.acquaintances for t in flat)
                ):
                    hit("ACQUAINTANCE", tok if tok in r.private_places else f"{tok} {nxt}")
        return out

    def _relation(self, tok: str) -> bool:
        """A relation word, exactly or with a typo (``feiend``); memoized through the relation vocabulary."""
        relations = self._reading.relations
        return (
            tok in relations
            or bool(self._relations.match(tok))
            or (len(tok) > 3 and tok[-1] == "s" and tok[:-1] in relations)
        )  # "sons new gf": possessive

    def _informative(self, toks: Sequence[str]) -> bool:
        """Whether a reason says anything: a word or abbreviation (two letters or more, not one letter repeated,
        not a word that says nothing) or four digits or more. ``ok``, ``same``, ``see above``, ``xx``, ``123``,
        ``zzz`` say nothing: no justification (POL-1), by rule rather than by a list of whole reasons."""
        uninformative = self._reading.uninformative
        digits = 0
        for tok in toks:
            if tok.isdigit():
                digits += len(tok)
                continue
            if tok in uninformative or tok in self.policy.fillers or len(tok) < 2 or len(set(tok)) == 1:
                continue
            return True
        return digits >= 4

    def _scan(self, text: str, field: str, hits: list[Hit]) -> None:
        found = _Found(field, hits, set())
        self._patterns(text, found)
        self._words(tokens(text), found)

    def _patterns(self, text: str, found: _Found) -> str:
        """Append the pattern hits in ``text``; return the text with immigration matches blanked out."""
        blanked = text
        for ind in self._pattern_indicators:
            for pattern in ind.patterns:
                m = pattern.search(text)
                if m:
                    found.add(ind, m.group(0))
                    if ind.kind == _IMMIGRATION:
                        blanked = blanked.replace(m.group(0), " ")
                    break
        return blanked

    def _match(self, token: str) -> frozenset[str]:
        hit = self._match_cache.get(token)
        if hit is None:
            hit = self.vocabulary.match(token)
            canonical = self._synonyms.get(token)
            if canonical is not None:
                hit = hit | self.vocabulary.match(canonical) | {canonical}
            remember(self._match_cache, token, hit)
        return hit

    def _known(self, piece: str) -> bool:
        """Whether a piece of a glued token is a word of the policy (exactly, by prefix, or a filler/abbreviation)."""
        known = self._known_cache.get(piece)
        if known is None:
            known = (
                piece in self.policy.fillers
                or piece in self._synonyms
                or bool(self.vocabulary.match_exact(piece))
            )
            remember(self._known_cache, piece, known)
        return known

    def _split(self, token: str) -> list[str] | None:
        """The known words a glued token is made of, or ``None`` when it is a word (or no split exists)."""
        if token in self._split_cache:
            return self._split_cache[token]
        parts = None
        if (
            SEGMENT_MIN_TOKEN <= len(token) <= SEGMENT_MAX_TOKEN
            and token.isalpha()
            and token not in self.policy.fuzzy_exclude
            and token not in self._synonyms
            and not self.vocabulary.is_word(token)
        ):
            parts = segment(token, self._known)
        return remember(self._split_cache, token, parts)

    def _expand(self, toks: Sequence[str]) -> tuple[list[str], list[bool]]:
        """Tokens with glued words split, and whether each is a piece that counts on its own."""
        out: list[str] = []
        piece: list[bool] = []
        for tok in toks:
            parts = self._split(tok) if tok.isalpha() else None
            if parts is None:
                out.append(tok)
                piece.append(False)
            else:
                out.extend(parts)
                piece.extend(len(p) >= SEGMENT_ALONE_MIN for p in parts)
        return out, piece

    def _ambiguous(self, token: str, keys: frozenset[str]) -> tuple[str, ...]:
        """The other-sense words this token stands for (``rmvl`` → ``removal``), if any."""
        found = self._sense_cache.get(token)
        if found is None:
            senses = self._senses
            found = tuple(w for w in {token, *(k.rstrip("*") for k in keys)} if w in senses)
            remember(self._sense_cache, token, found)
        return found

    def _other_sense(self, toks: Sequence[str], i: int, words: tuple[str, ...]) -> bool:
        """Whether a cue of one of ``words``' everyday senses stands within its window of token ``i``."""
        for word in words:
            window = self._senses[word].window
            cues = self._cues[word]
            for j in range(max(0, i - window), min(len(toks), i + window + 1)):
                if j != i and cues.match(toks[j]):
                    return True
        return False

    def _singles(
        self,
        toks: Sequence[str],
        matched: Sequence[frozenset[str]],
        counts: Sequence[bool] | None,
        found: _Found,
        context: Sequence[str] | None = None,
        offset: int = 0,
    ) -> None:
        """Single-word hits of ``toks`` (only where ``counts`` says so, when given). Other senses look at
        ``context`` (the whole reason, ``toks`` starting at ``offset``): a cue across a comma still counts."""
        for i, (tok, keys) in enumerate(zip(toks, matched)):
            if not keys or (counts is not None and not counts[i]):
                continue
            ambiguous = self._ambiguous(tok, keys) if self._senses else ()
            other_sense = bool(ambiguous) and (
                self._other_sense(context, offset + i, ambiguous)
                if context is not None
                else self._other_sense(toks, i, ambiguous)
            )
            for key in keys:
                for ind in self._word_index.get(key, ()):
                    if other_sense and ind.kind == _IMMIGRATION:
                        continue
                    # weak signals count per distinct word ("ICE" + "alien" is two); strong ones once
                    found.add(ind, tok, None if ind.strength == "strong" else f"{ind.id}|{tok}")

    def _words(
        self,
        toks: Sequence[str],
        found: _Found,
        context: Sequence[str] | None = None,
        offset: int = 0,
    ) -> None:
        vocab = self.vocabulary
        self._singles(toks, [self._match(t) for t in toks], None, found, context, offset)
        toks, pieces = self._expand(toks)
        matched = [self._match(t) for t in toks]
        if any(pieces):
            self._singles(toks, matched, pieces, found)
        # joined tokens written apart ("re entry", "ice hold" → "icehold")
        fillers = self.policy.fillers
        for a, b in itertools.pairwise(toks):
            # a preposition is not the front of a word ("de portar" is not "deportar"); "re entry" is
            if a.isalpha() and b.isalpha() and (a not in fillers or a == "re"):
                joined = a + b
                for key in vocab.match_exact(joined):
                    if (
                        key.endswith("*") and len(a) >= len(key) - 1
                    ):  # the prefix lies in a alone: "deportes store"
                        continue
                    for ind in self._word_index.get(key, ()):
                        found.add(ind, f"{a} {b}")
        # phrases over the token stream without filler words
        stream = [(t, m) for t, m in zip(toks, matched) if t not in fillers]
        for i, (tok, keys) in enumerate(stream):
            for key in keys:
                for phrase, ind in self._phrases.get(key, ()):
                    if ind.id in found.seen or i + len(phrase) > len(stream):
                        continue
                    if all(phrase[k] in stream[i + k][1] for k in range(1, len(phrase))):
                        found.add(ind, " ".join(t for t, _ in stream[i : i + len(phrase)]))


_HELD_BY: Final = frozenset({"in", "into", "under", "from", "en", "bajo"})


def _owned(h: Hit) -> bool:
    """A first-person possessive hit (``my landlord``, ``mi carro``): the operator's own relation or thing."""
    return h.indicator == "PERSONAL-SELF" and h.matched.split()[0] in ("my", "mi", "mine")


_DIGITS: Final = re.compile(r"\d+")
_APPLICATION: Final = frozenset({"application", "applications", "app", "appl", "applic", "apps"})
_RENTAL: Final = frozenset({"rental", "rentals", "rent", "renting"})
_SLASHED_LETTERS: Final = re.compile(r"(?<![a-z0-9])([a-z])/([a-z])(?![a-z0-9])")
_O_FOR_ZERO: Final = re.compile(r"(?<=\d)o(?=\d)|(?<=\d)o(?=o?\d)|(?<=[\s-]\d)o(?![a-z])")
_SUB_RE: Final = re.compile(r"\(([a-z0-9]{1,4})\)")
_SECTION: Final = r"\d{1,6}(?:\.\d{1,4})?[a-z]{0,2}"
_SUBSECTIONS: Final = r"(?:\s?\([a-z0-9]{1,4}\))*"


def _statute_regex(policy: Policy) -> re.Pattern[str] | None:
    """Code sections with their code before or after (``pc 459``, ``459 pc``, ``8 usc 1326``, ``12500(a) vc``),
    or with a subsection alone (``22651(k)``)."""
    table = policy.statutes
    if not table.aliases:
        return None
    aliases = sorted({*table.aliases, "usc", "u s c"}, key=len, reverse=True)
    alt = "|".join(r"\s*".join(re.escape(part) for part in a.split()) for a in aliases)
    return re.compile(
        rf"(?<![a-z0-9])(?P<a1>{alt})\s*(?:§+|sec\.?|section)?\s*(?P<n1>{_SECTION})(?![0-9]){_SUBSECTIONS}"
        rf"|(?<![a-z0-9.])(?:§\s*)?(?P<n2>{_SECTION})(?![0-9]){_SUBSECTIONS}\s*(?P<a2>{alt})(?![a-z0-9])"
        rf"|(?<![a-z0-9.])(?P<n3>\d{{3,6}}(?:\.\d{{1,4}})?[a-z]?)(?:\s?\([a-z0-9]{{1,4}}\))+"
        # four or five digits with a subsection letter glued on ("21461a", "4000a"): a code section, never an
        # A-number marker or a word
        rf"|(?<![a-z0-9.])(?P<n4>\d{{4,5}})[a-z](?![a-z0-9])"
        # ... or set off by a space or a dot ("16028 A", "4000.A"): still the section's subsection
        rf"|(?<![a-z0-9.])(?P<n5>\d{{4,5}})(?:\s|\.\s?)[a-z](?![a-z0-9])"
    )
