from __future__ import annotations

from processors.policy.text import (
    Vocabulary,
    allowed_typos,
    edit_distance,
    normalize,
    remember,
    segment,
    tokens,
)


def test_normalize_folds_case_accents_underscores_and_space() -> None:
    assert normalize("  DÉPORT_Case \t x ") == "deport case x"


def test_tokens_split_letters_from_digits() -> None:
    assert tokens("i-247a hold") == ["i", "247", "a", "hold"]
    assert tokens("a#123456789") == ["a", "123456789"]


def test_edit_distance_counts_swaps_as_one() -> None:
    assert edit_distance("detainer", "detainer", 2) == 0
    assert edit_distance("detianer", "detainer", 2) == 1
    assert edit_distance("detaner", "detainer", 2) == 1
    assert edit_distance("abc", "xyz", 1) == 2  # capped at limit + 1


def test_typo_budget_grows_with_length() -> None:
    # bounded (issue 12): below 6 letters no typo (leave is not lease), 1 up to 9 (concerned is not concealed)
    assert [allowed_typos(n) for n in (3, 4, 5, 6, 9, 10, 12)] == [0, 0, 0, 1, 1, 2, 2]


def test_vocabulary_exact_prefix_and_fuzzy() -> None:
    v = Vocabulary(["detainer", "deport*", "ice"], exclude=["retainer"])
    assert v.match("detainer") == {"detainer"}
    assert v.match("deportation") == {"deport*"}
    assert v.match("detainre") == {"detainer"}  # swapped letters
    assert v.match("deprtation") == {"deport*"}  # dropped letter inside the stem
    assert v.match("retainer") == frozenset()  # a real word, never a typo; first letters differ anyway
    assert v.match("ic") == frozenset()  # short words match exactly only
    assert v.match_exact("deportation") == {"deport*"}
    assert v.match_exact("detainre") == frozenset()


def test_normalize_joins_dotted_acronyms_but_not_abbreviations() -> None:
    assert normalize("I.C.E. hold") == "ice hold"
    assert normalize("per D.H.S") == "per dhs"
    assert normalize("8 U.S.C. 1326") == "8 usc 1326"
    assert normalize("imm. enf.") == "imm. enf."


def test_segment_splits_glued_words_into_the_fewest_known_words() -> None:
    known = {"removal", "proceedings", "hold", "for", "ice", "remove"}.__contains__
    assert segment("removalproceedings", known) == ["removal", "proceedings"]
    assert segment("holdforice", known) == ["hold", "for", "ice"]
    assert segment("removal", known) is None  # a word is not split into itself
    assert segment("removalxyz", known) is None
    assert segment("icex", known) is None


def test_a_bounded_memo_is_emptied_when_full_and_returns_what_it_stores() -> None:
    cache: dict[str, int] = {}
    assert [remember(cache, k, n, limit=3) for n, k in enumerate("abc")] == [0, 1, 2]
    assert cache == {"a": 0, "b": 1, "c": 2}
    assert remember(cache, "d", 3, limit=3) == 3
    assert cache == {"d": 3}  # full: emptied before the new entry, memory never grows past the limit
