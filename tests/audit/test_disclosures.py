"""The disclosure tracker (pure): missing, late, pending, zero-reported-but-alerted; filings CSV."""

from __future__ import annotations

import datetime as dt

import pytest

from processors.disclosures import (
    PACIFIC,
    AgencyYear,
    Filing,
    FilingError,
    check,
    deadline,
    filings_csv,
    parse_filings,
)

AFTER = dt.datetime(2019, 6, 1, tzinfo=dt.UTC)


def agency(ori: str, queries: int = 100, prohibited_alerts: int = 0, **kw: object) -> AgencyYear:
    return AgencyYear(ori=ori, year=2018, queries=queries, prohibited_alerts=prohibited_alerts, **kw)  # type: ignore[arg-type]


def filed(ori: str, when: dt.datetime | None, investigations: int | None = 2) -> Filing:
    return Filing(ori, 2018, when, investigations)


def test_deadline_is_the_end_of_1_february_pacific() -> None:
    assert deadline(2018) == dt.datetime(2019, 2, 2, tzinfo=PACIFIC)
    on_time = dt.datetime(2019, 2, 1, 23, 59, tzinfo=PACIFIC)
    late = dt.datetime(2019, 2, 2, 0, 1, tzinfo=PACIFIC)
    found = check(
        [agency("CA0010000"), agency("CA0010100")],
        [filed("CA0010000", on_time), filed("CA0010100", late)],
        year=2018,
        as_of=AFTER,
    )
    assert [(f.kind, f.ori, f.days_late) for f in found] == [("late", "CA0010100", 1)]


def test_an_active_agency_without_a_filing_is_missing_after_the_deadline_and_pending_before() -> None:
    activity = [agency("CACIS0100", queries=20, component="USCIS")]
    missing = check(activity, [], year=2018, as_of=AFTER)
    assert [(f.kind, f.ori, f.agency.queries) for f in missing] == [("missing", "CACIS0100", 20)]
    assert missing[0].days_late == (AFTER.astimezone(PACIFIC).date() - dt.date(2019, 2, 1)).days
    pending = check(activity, [], year=2018, as_of=dt.datetime(2019, 1, 15, tzinfo=dt.UTC))
    assert [f.kind for f in pending] == ["pending"] and not pending[0].is_violation


def test_agencies_without_activity_and_other_years_filings_are_ignored() -> None:
    found = check(
        [agency("CA0010000", queries=0), agency("CA0010100")],
        [Filing("CA0010100", 2017, AFTER, 1)],
        year=2018,
        as_of=AFTER,
    )
    assert [(f.kind, f.ori) for f in found] == [("missing", "CA0010100")]


def test_zero_reported_while_prohibited_query_alerts_were_raised_is_a_contradiction() -> None:
    early = dt.datetime(2019, 1, 10, tzinfo=PACIFIC)
    activity = [
        agency("CAICE0100", prohibited_alerts=12),
        agency("CAHSI0100", prohibited_alerts=0),
        agency("CA0190000", prohibited_alerts=3),
    ]
    filings = [
        filed("CAICE0100", dt.datetime(2019, 6, 14, tzinfo=PACIFIC), 0),
        filed("CAHSI0100", early, 0),
        filed("CA0190000", early, 4),
    ]
    found = check(activity, filings, year=2018, as_of=AFTER)
    assert [(f.kind, f.ori) for f in found] == [
        ("zero_reported_but_alerted", "CAICE0100"),
        ("late", "CAICE0100"),
    ]
    assert "12 prohibited-query alerts" in found[0].describe()
    assert found[1].to_json()["days_late"] == 133


def test_findings_are_worst_first_then_by_volume() -> None:
    activity = [
        agency("CA0000001", queries=5),
        agency("CA0000002", queries=500),
        agency("CA0000003", prohibited_alerts=1),
    ]
    found = check(activity, [filed("CA0000003", None, 0)], year=2018, as_of=AFTER)
    assert [f.ori for f in found] == ["CA0000002", "CA0000001", "CA0000003"]


def test_naive_check_time_is_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        check([], [], year=2018, as_of=dt.datetime(2019, 6, 1))


def test_filings_csv_round_trips_and_names_bad_lines() -> None:
    rows = [
        Filing("CA0010000", 2018, dt.datetime(2019, 1, 5, 10, tzinfo=PACIFIC), 3, "3 opened"),
        Filing("CAICE0100", 2018, None, 0),
    ]
    assert parse_filings(filings_csv(rows)) == rows
    dated = parse_filings("ori,year,filed_at,investigations\nCA0010000,2018,2019-02-01,1\n")[0]
    assert dated.filed_at is not None and dated.filed_at < deadline(2018)
    with pytest.raises(FilingError, match="missing investigations"):
        parse_filings("ori,year,filed_at\nCA0010000,2018,2019-01-01\n", source="f.csv")
    with pytest.raises(FilingError, match=r"f.csv line 3: investigations 'many'"):
        parse_filings(
            "ori,year,filed_at,investigations\nCA0010000,2018,,1\nCA0010100,2018,,many\n", source="f.csv"
        )
    with pytest.raises(FilingError, match="not a date"):
        parse_filings("ori,year,filed_at,investigations\nCA0010000,2018,last week,1\n")
    with pytest.raises(FilingError, match="not 9 characters"):
        parse_filings("ori,year,filed_at,investigations\nCA001,2018,,1\n")
