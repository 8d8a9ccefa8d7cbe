"""Property-based tests: how the reason is typed never changes the verdict; POL-2 never forbids a
criminal-history query by itself."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import QueryEvent
from tests.processors.policy.builders import CLF, POLICY, ev

ORIS = [a.ori for a in CLF.registry] + ["CA9999999"]
KEYS = ["QH", "QR", "IQ", "FQ", "AQ", "DQ", "DNQ", "RQ", "QW", "QV", "PAQ", "YQ"]
CH_KEYS = ["QH", "QR", "IQ", "FQ", "AQ"]
PHRASES = [
    "ICE detainer",
    "hold for ice",
    "I-247A",
    "A# 123456789",
    "deport",
    "removal proceedings",
    "imm status chk",
    "FUGOPS target",
    "8 USC 1326",
    "EOIR",
    "narcotics",
    "traffic stop",
    "CCW app",
    "section 8",
    "investigation",
    "DUI arrest",
    "warrant check",
    "pre-employment",
    "personal",
    "susp veh",
    "",
    "status chk",
    "alien smuggling",
]
IMMIGRATION_PHRASES = [
    "ICE detainer",
    "hold for ice",
    "I-247A",
    "A# 123456789",
    "deportation",
    "removal order",
    "immigration status",
    "FUGOPS target",
    "8 USC 1326",
    "EOIR hearing",
    "visa overstay",
    "I-862 NTA",
    "ERO target",
    "imm hold",
    "illegal re-entry",
]
# (a bare "NTA" beside "traffic stop" is a California traffic citation: policy other_senses.nta)
times = st.datetimes(
    min_value=dt.datetime(2017, 1, 1),
    max_value=dt.datetime(2021, 12, 31),
    timezones=st.just(dt.timezone(dt.timedelta(hours=-8))),
)


@dataclass(frozen=True, slots=True)
class Query:
    """A query event but for its reason: agency, message key, purpose code, case number and time."""

    ori: str
    key: str
    code: str | None
    case: str | None
    at: dt.datetime

    def event(self, reason: str) -> QueryEvent:
        return ev(reason, ori=self.ori, mt=self.key, code=self.code, case=self.case, at=self.at)


def queries(
    keys: st.SearchStrategy[str],
    codes: st.SearchStrategy[str | None],
    cases: st.SearchStrategy[str | None],
) -> st.SearchStrategy[Query]:
    """Queries of any registry agency (or an unknown one) at any time of 2017-2021."""
    return st.builds(Query, st.sampled_from(ORIS), keys, codes, cases, times)


@st.composite
def retyped(draw: st.DrawFn, text: str) -> str:
    """The same text with random letter case and random runs of whitespace around and between words."""
    cased = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in text)
    words = cased.split(" ")
    gaps = [draw(st.sampled_from([" ", "  ", "\t", " \t "])) for _ in words]
    lead = draw(st.sampled_from(["", " ", "\t", "   "]))
    trail = draw(st.sampled_from(["", " ", "\n", "  "]))
    return lead + "".join(w + g for w, g in zip(words, gaps)).rstrip() + trail


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(PHRASES),
    st.sampled_from(PHRASES),
    st.data(),
    queries(
        st.sampled_from(KEYS),
        st.sampled_from(["C", "F", "I", None]),
        st.sampled_from([None, "19-004512", "A-12345678"]),
    ),
)
def test_case_and_whitespace_never_change_a_verdict(
    a: str, b: str, data: st.DataObject, query: Query
) -> None:
    text = f"{a} {b}".strip()
    other = data.draw(retyped(text))
    first = CLF.classify(query.event(text))
    second = CLF.classify(query.event(other))
    assert (first.verdict, first.purpose, first.rules) == (second.verdict, second.purpose, second.rules)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(IMMIGRATION_PHRASES),
    st.sampled_from(PHRASES + ["", "ICE"]),
    queries(
        st.sampled_from(CH_KEYS),
        st.sampled_from(["C", "V", None]),
        st.sampled_from([None, "A123456789", "19-1"]),
    ),
)
def test_criminal_history_with_immigration_purpose_is_never_prohibited_by_pol2(
    imm: str, extra: str, query: Query
) -> None:
    verdict = CLF.classify(query.event(f"{imm} {extra}"))
    assert verdict.purpose == "immigration_enforcement"
    assert "POL-2b.prohibited-source" not in verdict.rules
    if verdict.verdict == "prohibited":
        # only revoked access (POL-2d) or another clause (POL-3, POL-4) may forbid it
        assert {"POL-2d.revoked-access", "POL-3.ncj-under-cj-code", "POL-4.personal-use"} & set(verdict.rules)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=80),
    queries(
        st.sampled_from(KEYS + ["XX"]),
        st.one_of(st.none(), st.text(max_size=3)),
        st.one_of(st.none(), st.text(max_size=20)),
    ),
)
def test_any_text_gets_a_well_formed_verdict(reason: str, query: Query) -> None:
    v = CLF.classify(query.event(reason))
    assert v.verdict in {"prohibited", "review", "allowed"}
    assert v.purpose in {"immigration_enforcement", "criminal_justice", "non_criminal_justice", "unknown"}
    assert v.rules and all(r in {rule.id for rule in POLICY.rules.values()} for r in v.rules)
    assert v.policy_version == "1"
