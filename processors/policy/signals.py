"""What the reason and case-number fields say: indicator hits found by words, phrases and patterns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from processors.policy.model import Indicator, OtherSense, Policy
from processors.policy.text import Vocabulary, normalize, segment, tokens

_IMMIGRATION: Final = "immigration"
# Glued words ("removalproceedings", "holdforice") are split into known words; a piece shorter than this
# only counts inside a phrase ("ice" of "justice" is not the agency), longer pieces count on their own too.
SEGMENT_MIN_TOKEN: Final = 6
SEGMENT_ALONE_MIN: Final = 5
_CACHE_LIMIT: Final = 200_000


@dataclass(frozen=True, slots=True)
class Hit:
    """One indicator found in one field: which, how strong, and the text that matched."""

    indicator: str
    kind: str
    strength: str
    matched: str
    field: str  # "reason" or "case_number"


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything the rules need to know about the free-text fields of one event."""

    hits: tuple[Hit, ...]
    has_reason: bool  # a reason that is not empty, whitespace or a placeholder
    case_number: bool  # a non-empty case number field
    case_number_is_immigration: bool  # the case number field is an A-number or immigration file
    case_in_reason: str | None  # a case/report number written in the reason

    def of(self, kind: str, strength: str | None = None) -> tuple[Hit, ...]:
        return tuple(h for h in self.hits if h.kind == kind and (strength is None or h.strength == strength))

    @property
    def justified(self) -> bool:
        return self.has_reason or self.case_number

    @property
    def criminal_case_number(self) -> bool:
        return (self.case_number and not self.case_number_is_immigration) or self.case_in_reason is not None


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
        self.vocabulary = Vocabulary(words, exclude=policy.fuzzy_exclude)
        self._synonyms = policy.synonyms
        self._match_cache: dict[str, frozenset[str]] = {}
        self._pattern_indicators = tuple(ind for ind in policy.indicators if ind.patterns)
        self._split_cache: dict[str, list[str] | None] = {}
        self._known_cache: dict[str, bool] = {}
        self._senses: dict[str, OtherSense] = {s.word: s for s in policy.other_senses}
        self._cues: dict[str, Vocabulary] = {s.word: Vocabulary(s.cues) for s in policy.other_senses}
        self._sense_cache: dict[str, tuple[str, ...]] = {}

    def read(self, reason: str, case_number: str | None) -> Signals:
        text = normalize(reason)
        hits: list[Hit] = []
        toks = tokens(text)
        has_reason = bool(toks) and " ".join(toks) not in self.policy.placeholder_reasons
        case_in_reason = None
        blanked = self._patterns(text, "reason", hits, set())
        for pattern in self.policy.case_number_patterns:
            m = pattern.search(blanked)
            if m:
                case_in_reason = m.group(0)
                break
        words_text = text
        if case_in_reason is not None:  # a case number's prefix ("ERO-19-…") is not a word of the reason
            for pattern in self.policy.case_number_patterns:
                words_text = pattern.sub(" ", words_text)
        self._words(tokens(words_text), "reason", hits, {h.indicator for h in hits})
        case = normalize(case_number or "")
        case_imm = False
        if case:
            before = len(hits)
            self._scan(case, "case_number", hits)
            # only the policy's case-number indicators (A-numbers) count from the case number field
            allowed = self.policy.case_number_indicators
            hits[before:] = [h for h in hits[before:] if h.indicator in allowed]
            case_imm = len(hits) > before
        return Signals(
            hits=tuple(hits),
            has_reason=has_reason,
            case_number=bool(case),
            case_number_is_immigration=case_imm,
            case_in_reason=case_in_reason,
        )

    def _scan(self, text: str, field: str, hits: list[Hit]) -> None:
        seen: set[str] = set()
        self._patterns(text, field, hits, seen)
        self._words(tokens(text), field, hits, seen)

    def _patterns(self, text: str, field: str, hits: list[Hit], seen: set[str]) -> str:
        """Append the pattern hits in ``text``; return the text with immigration matches blanked out."""
        blanked = text
        for ind in self._pattern_indicators:
            for pattern in ind.patterns:
                m = pattern.search(text)
                if m:
                    if ind.id not in seen:
                        seen.add(ind.id)
                        hits.append(Hit(ind.id, ind.kind, ind.strength, m.group(0), field))
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
            if len(self._match_cache) > 200_000:
                self._match_cache.clear()
            self._match_cache[token] = hit
        return hit

    def _known(self, piece: str) -> bool:
        """Whether a piece of a glued token is a word of the policy (exactly, by prefix, or a filler/abbreviation)."""
        known = self._known_cache.get(piece)
        if known is None:
            known = (piece in self.policy.fillers or piece in self._synonyms
                     or bool(self.vocabulary.match_exact(piece)))
            if len(self._known_cache) >= _CACHE_LIMIT:
                self._known_cache.clear()
            self._known_cache[piece] = known
        return known

    def _split(self, token: str) -> list[str] | None:
        """The known words a glued token is made of, or ``None`` when it is a word (or no split exists)."""
        if token in self._split_cache:
            return self._split_cache[token]
        parts = None
        if (len(token) >= SEGMENT_MIN_TOKEN and token.isalpha() and token not in self.policy.fuzzy_exclude
                and token not in self._synonyms and not self.vocabulary.is_word(token)):
            parts = segment(token, self._known)
        if len(self._split_cache) >= _CACHE_LIMIT:
            self._split_cache.clear()
        self._split_cache[token] = parts
        return parts

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
            if len(self._sense_cache) >= _CACHE_LIMIT:
                self._sense_cache.clear()
            self._sense_cache[token] = found
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

    def _singles(self, toks: Sequence[str], matched: Sequence[frozenset[str]], counts: Sequence[bool] | None,
                 field: str, hits: list[Hit], seen: set[str]) -> None:
        """Single-word hits of ``toks`` (only where ``counts`` says so, when given)."""
        for i, (tok, keys) in enumerate(zip(toks, matched)):
            if not keys or (counts is not None and not counts[i]):
                continue
            ambiguous = self._ambiguous(tok, keys) if self._senses else ()
            other_sense = bool(ambiguous) and self._other_sense(toks, i, ambiguous)
            for key in keys:
                for ind in self._word_index.get(key, ()):
                    if other_sense and ind.kind == _IMMIGRATION:
                        continue
                    # weak signals count per distinct word ("ICE" + "alien" is two); strong ones once
                    once = ind.id if ind.strength == "strong" else f"{ind.id}|{tok}"
                    if once not in seen:
                        seen.add(once)
                        hits.append(Hit(ind.id, ind.kind, ind.strength, tok, field))

    def _words(self, toks: Sequence[str], field: str, hits: list[Hit], seen: set[str]) -> None:
        vocab = self.vocabulary
        self._singles(toks, [self._match(t) for t in toks], None, field, hits, seen)
        toks, pieces = self._expand(toks)
        matched = [self._match(t) for t in toks]
        if any(pieces):
            self._singles(toks, matched, pieces, field, hits, seen)
        # joined tokens written apart ("re entry", "ice hold" → "icehold")
        for a, b in zip(toks, toks[1:]):
            if a.isalpha() and b.isalpha():
                joined = a + b
                for key in vocab.match_exact(joined):
                    for ind in self._word_index.get(key, ()):
                        if ind.id not in seen:
                            seen.add(ind.id)
                            hits.append(Hit(ind.id, ind.kind, ind.strength, f"{a} {b}", field))
        # phrases over the token stream without filler words
        fillers = self.policy.fillers
        stream = [(t, m) for t, m in zip(toks, matched) if t not in fillers]
        for i, (tok, keys) in enumerate(stream):
            for key in keys:
                for phrase, ind in self._phrases.get(key, ()):
                    if ind.id in seen or i + len(phrase) > len(stream):
                        continue
                    if all(phrase[k] in stream[i + k][1] for k in range(1, len(phrase))):
                        seen.add(ind.id)
                        hits.append(Hit(ind.id, ind.kind, ind.strength, " ".join(t for t, _ in stream[i : i + len(phrase)]), field))
