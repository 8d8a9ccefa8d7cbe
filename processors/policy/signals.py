"""What the reason and case-number fields say: indicator hits found by words, phrases and patterns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from processors.policy.model import Indicator, Policy
from processors.policy.text import Vocabulary, normalize, tokens

_IMMIGRATION: Final = "immigration"


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
        self.vocabulary = Vocabulary(words, exclude=policy.fuzzy_exclude)
        self._pattern_indicators = tuple(ind for ind in policy.indicators if ind.patterns)

    def read(self, reason: str, case_number: str | None) -> Signals:
        text = normalize(reason)
        hits: list[Hit] = []
        text_wo_forms = self._scan(text, "reason", hits)
        toks = tokens(text)
        has_reason = bool(toks) and " ".join(toks) not in self.policy.placeholder_reasons
        case_in_reason = None
        for pattern in self.policy.case_number_patterns:
            m = pattern.search(text_wo_forms)
            if m:
                case_in_reason = m.group(0)
                break
        case = normalize(case_number or "")
        case_imm = False
        if case:
            before = len(hits)
            self._scan(case, "case_number", hits)
            case_imm = any(h.kind == _IMMIGRATION and h.strength == "strong" for h in hits[before:])
            # only immigration signals count from the case number field
            hits[before:] = [h for h in hits[before:] if h.kind == _IMMIGRATION]
        return Signals(
            hits=tuple(hits),
            has_reason=has_reason,
            case_number=bool(case),
            case_number_is_immigration=case_imm,
            case_in_reason=case_in_reason,
        )

    def _scan(self, text: str, field: str, hits: list[Hit]) -> str:
        """Append the hits in ``text``; return the text with pattern matches blanked out."""
        seen: set[str] = set()
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
        toks = tokens(text)
        self._words(toks, field, hits, seen)
        return blanked

    def _words(self, toks: Sequence[str], field: str, hits: list[Hit], seen: set[str]) -> None:
        vocab = self.vocabulary
        matched = [vocab.match(t) for t in toks]
        for tok, keys in zip(toks, matched):
            for key in keys:
                for ind in self._word_index.get(key, ()):
                    if ind.id not in seen:
                        seen.add(ind.id)
                        hits.append(Hit(ind.id, ind.kind, ind.strength, tok, field))
        # joined tokens written apart ("re entry", "ice hold" → "icehold")
        for a, b in zip(toks, toks[1:]):
            if a.isalpha() and b.isalpha():
                joined = a + b
                for key in vocab.match(joined):
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
