"""Reason-field text: normalisation, tokens, and fuzzy token matching against indicator vocabularies.

Operators type short, abbreviated, misspelled text. We lower-case, fold accents, split into letter
runs and digit runs, and match each token against the policy's words exactly, by prefix (``deport*``),
or with a bounded Damerau-Levenshtein distance for longer words (first letter kept). Joined tokens
("icehold") are caught by also matching adjacent token pairs concatenated.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, TypeVar

from rapidfuzz.distance import OSA

_TOKEN_RE: Final = re.compile(r"[a-z]+|\d+")
# Where a phrase may not run on: commas, semicolons, colons, brackets, ?, !, a full stop before a space, a
# spaced dash ("DUI conviction - removal"), a pipe. Slashes and hyphens inside words ("ice/ero", "I-247") join.
_BREAK_RE: Final = re.compile(r"[,;:()\[\]{}|!?]|\.(?:\s|$)|\s-+\s|\s-+(?=[a-z])|(?<=[a-z])-+\s")
_SPACE_RE: Final = re.compile(r"\s+")
# Dotted acronyms ("I.C.E.", "d.h.s", "u.s.c.") read as the word they spell: single letters each followed by a dot.
_DOTTED_RE: Final = re.compile(r"(?<![a-z0-9])(?:[a-z]\.){2,}(?:[a-z](?![a-z0-9]))?")
_CACHE_LIMIT: Final = 200_000
K = TypeVar("K")
V = TypeVar("V")


def remember(cache: dict[K, V], key: K, value: V, limit: int = _CACHE_LIMIT) -> V:
    """Store ``value`` in a bounded memo and return it; a full memo is emptied first, so memory never grows
    with the stream (a memo of a pure function: emptying it costs time, never a different answer)."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


def normalize(text: str) -> str:
    """Lower-case, fold accents and compatibility forms, join dotted acronyms, collapse whitespace."""
    if text.isascii():
        folded = text.lower().replace("_", " ")
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        folded = "".join(c for c in decomposed if not unicodedata.combining(c)).lower().replace("_", " ")
    if "." in folded:
        folded = _DOTTED_RE.sub(lambda m: m.group(0).replace(".", "") + " ", folded)
    return _SPACE_RE.sub(" ", folded).strip()


def tokens(normalized: str) -> list[str]:
    """Letter runs and digit runs of normalised text: ``"I-247a hold"`` → ``["i", "247", "a", "hold"]``."""
    return _TOKEN_RE.findall(normalized)


def segments(normalized: str) -> list[list[str]]:
    """Tokens of normalised text grouped by the punctuation that separates them: phrases stay inside one group.

    ``"12500(a) no lic, ice hold"`` → ``[["12500"], ["a"], ["no", "lic"], ["ice", "hold"]]``.
    """
    out = []
    for part in _BREAK_RE.split(normalized):
        toks = _TOKEN_RE.findall(part)
        if toks:
            out.append(toks)
    return out


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap adjacent), capped at limit+1.

    Computed by rapidfuzz (C); ``score_cutoff`` stops early past the limit.
    """
    return int(OSA.distance(a, b, score_cutoff=limit))


# Fuzzy matching is bounded: short tokens never match by typo (too many ordinary words lie one letter from a
# short cue: leave/lease), long ones tolerate one typo, very long ones two (concerned is not concealed: two).
FUZZY_MIN_LENGTH: Final = 6
SWAP_LENGTH: Final = 5  # five-letter tokens match only with two neighbouring letters swapped
_DOUBLED: Final = re.compile(r"([a-z])\1+")
FUZZY_TWO_TYPOS_LENGTH: Final = 10


def allowed_typos(length: int) -> int:
    """How many typos a word of this length may carry and still match: 0 below 6 letters, 1, then 2 from 10."""
    if length >= FUZZY_TWO_TYPOS_LENGTH:
        return 2
    if length >= FUZZY_MIN_LENGTH:
        return 1
    return 0


def segment(
    token: str, known: Callable[[str], bool], *, max_parts: int = 4, min_part: int = 2
) -> list[str] | None:
    """Split a glued token into the fewest known words: ``"removalproceedings"`` → ``["removal", "proceedings"]``.

    ``known`` says whether a piece is a word of the vocabulary. ``None`` when no split into 2..max_parts
    known pieces (each at least ``min_part`` letters) exists; ties go to the split with the longest first piece.
    """
    n = len(token)
    if n < 2 * min_part:
        return None
    # best[i]: fewest pieces covering token[i:], with the chosen first piece's end
    best: list[tuple[int, int] | None] = [None] * (n + 1)
    best[n] = (0, n)
    for i in range(n - min_part, -1, -1):
        choice: tuple[int, int] | None = None
        for j in range(n, i + min_part - 1, -1):  # longest piece first
            rest = best[j]
            if (i == 0 and j == n) or rest is None or rest[0] + 1 > max_parts or not known(token[i:j]):
                continue
            if choice is None or rest[0] + 1 < choice[0]:
                choice = (rest[0] + 1, j)
        best[i] = choice
    top = best[0]
    if top is None or top[0] < 2:
        return None
    parts, i = [], 0
    while i < n:
        entry = best[i]
        assert entry is not None
        parts.append(token[i : entry[1]])
        i = entry[1]
    return parts


@dataclass(frozen=True, slots=True)
class Term:
    """A vocabulary entry: ``text`` is the word, ``prefix`` when written ``word*``."""

    text: str
    prefix: bool


def parse_term(raw: str) -> Term:
    raw = raw.strip().lower()
    if raw.endswith("*"):
        return Term(raw[:-1], True)
    return Term(raw, False)


class Vocabulary:
    """Maps a token to the set of term keys it matches (exactly, by prefix, or within the typo budget).

    Results are cached per token: reason text is highly repetitive, so the fuzzy work runs once per
    distinct token.
    """

    def __init__(
        self, terms: Iterable[str], *, exclude: Iterable[str] = (), not_prefix: Iterable[str] = ()
    ) -> None:
        self._exact: dict[str, str] = {}
        self._prefixes: list[Term] = []
        self._by_first: dict[str, list[Term]] = {}
        self._swappable: dict[str, list[str]] = {}  # five-letter words by their sorted letters
        for raw in terms:
            term = parse_term(raw)
            key = raw.strip().lower()
            if term.prefix:
                self._prefixes.append(term)
            else:
                self._exact[term.text] = key
            if not term.prefix and len(term.text) == SWAP_LENGTH and term.text.isalpha():
                self._swappable.setdefault("".join(sorted(term.text)), []).append(term.text)
            if term.text and term.text[0].isalpha() and len(term.text) >= FUZZY_MIN_LENGTH:
                self._by_first.setdefault(term.text[0], []).append(term)
        self._exclude = frozenset(e.lower() for e in exclude) | frozenset(self._exact)
        self._cache: dict[str, frozenset[str]] = {}
        self._not_prefix = frozenset(not_prefix)

    def match(self, token: str) -> frozenset[str]:
        """The term keys (``"deport*"``, ``"detainer"``…) this token matches."""
        hit = self._cache.get(token)
        if hit is not None:
            return hit
        return remember(self._cache, token, self._compute(token))

    def is_word(self, token: str) -> bool:
        """Whether the token is itself a vocabulary word or excluded real word (not a prefix or typo match)."""
        return token in self._exact or token in self._exclude

    def match_exact(self, token: str) -> frozenset[str]:
        """Exact and prefix matches only (for joined tokens, where typos would over-reach)."""
        found = set()
        exact = self._exact.get(token)
        if exact is not None:
            found.add(exact)
        for term in self._prefixes:
            if token.startswith(term.text):
                found.add(term.text + "*")
        return frozenset(found)

    def _compute(self, token: str) -> frozenset[str]:
        if token in self._not_prefix:  # a real word that only begins like a cue ("deportes")
            exact = self._exact.get(token)
            return frozenset({exact} if exact is not None else ())
        if len(token) >= 4 and token not in self._exact and token not in self._exclude:
            squeezed = _DOUBLED.sub(r"\1", token)  # "alienn", "illlegal": a key held down is not another word
            # only onto a word of four letters or more: "foot" is not "fot", "good" not "god"
            if (
                squeezed != token
                and len(squeezed) >= 4
                and (squeezed in self._exact or squeezed in self._exclude)
            ):
                return self.match(squeezed)
        exact = self._exact.get(token)
        found = set(self.match_exact(token))
        if exact is not None or token in self._exclude or not token.isalpha() or len(token) < SWAP_LENGTH:
            return frozenset(found)
        if (
            len(token) < FUZZY_MIN_LENGTH
        ):  # a five-letter token: only two neighbouring letters swapped ("ailen")
            for word in self._swappable.get("".join(sorted(token)), ()):
                if edit_distance(token, word, 1) == 1:
                    found.add(self._exact[word])
            return frozenset(found)
        for term in self._by_first.get(token[0], ()):
            budget = allowed_typos(len(term.text))
            if term.prefix:
                n = len(term.text)
                if len(token) < n:
                    continue
                if any(
                    edit_distance(token[:k], term.text, budget) <= budget
                    for k in range(max(1, n - budget), min(len(token), n + budget) + 1)
                ):
                    found.add(term.text + "*")
            elif edit_distance(token, term.text, budget) <= budget:
                found.add(term.text)
        return frozenset(found)
