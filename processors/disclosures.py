"""The annual misuse-disclosure tracker: who used CLETS in a year and did not disclose, or disclosed
"zero misuse investigations" while clets-watch raised prohibited-query alerts for them.

Every subscribing agency reports to DOJ, once a year, how many misuse investigations it opened and
their outcomes; clets-watch models the deadline as 1 February (Pacific) for the previous calendar
year (domain.md). DOJ warned in April 2018 that agencies failing to report face sanctions.

Pure: activity, filings and the time of the check come in; findings come out. No clock, no I/O.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

PACIFIC: Final = ZoneInfo("America/Los_Angeles")
PROHIBITED_QUERY_RULE: Final = "prohibited_query"

FindingKind = Literal["missing", "late", "zero_reported_but_alerted", "pending"]
#: worst first; ``pending`` (deadline not yet passed, nothing filed) is information, not a violation
KIND_ORDER: Final[dict[str, int]] = {"missing": 0, "zero_reported_but_alerted": 1, "late": 2, "pending": 3}
KIND_TEXT: Final[dict[str, str]] = {
    "missing": "no disclosure filed",
    "late": "filed after the deadline",
    "zero_reported_but_alerted": "reported zero misuse investigations, but prohibited-query alerts were raised",
    "pending": "not filed yet; the deadline has not passed",
}


KIND_LABEL: Final[dict[str, str]] = {
    "missing": "not filed",
    "late": "filed late",
    "zero_reported_but_alerted": "reported zero, alerted",
    "pending": "pending",
}


def deadline(year: int) -> dt.datetime:
    """The filing deadline for ``year``'s disclosure: the end of 1 February of the next year, Pacific
    (a filing at any time on 1 February is on time)."""
    return dt.datetime(year + 1, 2, 2, tzinfo=PACIFIC)


def due_date(year: int) -> dt.date:
    """The last day to file ``year``'s disclosure: 1 February of the next year."""
    return dt.date(year + 1, 2, 1)


@dataclass(frozen=True, slots=True)
class AgencyYear:
    """One agency's CLETS activity in one calendar year, as clets-watch saw it."""

    ori: str
    year: int
    queries: int
    prohibited_queries: int = 0
    alerts: int = 0
    prohibited_alerts: int = 0  # alerts of the prohibited_query rule
    name: str | None = None
    component: str | None = None
    department: str | None = None


@dataclass(frozen=True, slots=True)
class Filing:
    """An agency's annual misuse disclosure for ``year``."""

    ori: str
    year: int
    filed_at: dt.datetime | None
    investigations: int | None
    outcomes: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    agency: AgencyYear
    filing: Filing | None
    deadline: dt.datetime
    days_late: int | None = None  # for "late" (and "missing": days past the deadline at the check)

    @property
    def ori(self) -> str:
        return self.agency.ori

    @property
    def is_violation(self) -> bool:
        return self.kind != "pending"

    def describe(self) -> str:
        a = self.agency
        text = KIND_TEXT[self.kind]
        if self.kind == "late" and self.filing is not None and self.filing.filed_at is not None:
            text += f" ({self.days_late} days late, filed {self.filing.filed_at.astimezone(PACIFIC).date()})"
        elif self.kind == "missing" and self.days_late is not None:
            text += f" ({self.days_late} days past the deadline)"
        elif self.kind == "zero_reported_but_alerted":
            text += (
                f" ({a.prohibited_alerts} prohibited-query alerts, {a.prohibited_queries} prohibited queries)"
            )
        return text

    def to_json(self) -> dict[str, Any]:
        a, f = self.agency, self.filing
        return {
            "kind": self.kind,
            "ori": a.ori,
            "name": a.name,
            "component": a.component,
            "department": a.department,
            "year": a.year,
            "queries": a.queries,
            "prohibited_queries": a.prohibited_queries,
            "alerts": a.alerts,
            "prohibited_alerts": a.prohibited_alerts,
            "deadline": self.deadline.isoformat(),
            "filed_at": f.filed_at.isoformat() if f is not None and f.filed_at is not None else None,
            "investigations": f.investigations if f is not None else None,
            "days_late": self.days_late,
            "description": self.describe(),
        }


def check(
    activity: Iterable[AgencyYear], filings: Iterable[Filing], *, year: int, as_of: dt.datetime
) -> list[Finding]:
    """Findings for ``year`` as of ``as_of`` (aware): every agency with queries that year and

    - no filing, the deadline passed → ``missing`` (before the deadline → ``pending``);
    - a filing dated after the deadline → ``late``;
    - a filing of zero investigations while prohibited-query alerts were raised → ``zero_reported_but_alerted``
      (also when the filing is late: an agency can have two findings).

    A filing without a date counts as filed on time (the date is unknown, not missing). Worst first,
    then by query volume.
    """
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError(f"as_of {as_of.isoformat()} needs a UTC offset")
    due = deadline(year)
    by_ori = {f.ori: f for f in filings if f.year == year}
    findings: list[Finding] = []
    for agency in activity:
        if agency.year != year or agency.queries <= 0:
            continue
        filing = by_ori.get(agency.ori)
        if filing is None:
            if as_of >= due:
                findings.append(Finding("missing", agency, None, due, _days_after_due(as_of, year)))
            else:
                findings.append(Finding("pending", agency, None, due))
            continue
        if filing.filed_at is not None and filing.filed_at >= due:
            findings.append(Finding("late", agency, filing, due, _days_after_due(filing.filed_at, year)))
        if filing.investigations == 0 and agency.prohibited_alerts > 0:
            findings.append(Finding("zero_reported_but_alerted", agency, filing, due))
    findings.sort(key=lambda f: (KIND_ORDER[f.kind], -f.agency.queries, f.agency.ori))
    return findings


def _days_after_due(when: dt.datetime, year: int) -> int:
    """Calendar days (Pacific) from the due date to ``when``: filed on 2 February is 1 day late."""
    return max(0, (when.astimezone(PACIFIC).date() - due_date(year)).days)


# ------------------------------------------------------------------------------------------ CSV

FILING_COLUMNS: Final = ("ori", "year", "filed_at", "investigations", "outcomes")


class FilingError(ValueError):
    """A filings CSV line cannot be read; the message names the source and the line."""


def parse_filed_at(value: str, *, where: str = "filed_at") -> dt.datetime | None:
    """``2019-01-28`` (a date: the end of that day, Pacific, counts), or an RFC 3339 time; blank → None."""
    text = value.strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time(12, 0), PACIFIC)
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise FilingError(f"{where}: {value!r} is not a date (YYYY-MM-DD) or an RFC 3339 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=PACIFIC)
    return parsed


def parse_filings(text: str, *, source: str = "<filings>") -> list[Filing]:
    """Read a filings CSV with header ``ori,year,filed_at,investigations[,outcomes]``."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple((f or "").strip() for f in (reader.fieldnames or ()))
    missing = [c for c in FILING_COLUMNS[:4] if c not in header]
    if missing:
        raise FilingError(
            f"{source}: header must hold {','.join(FILING_COLUMNS)} (outcomes optional); missing {', '.join(missing)}"
        )
    out: list[Filing] = []
    for lineno, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "") for k, v in row.items()}
        where = f"{source} line {lineno}"
        ori = row["ori"].strip()
        if len(ori) != 9:
            raise FilingError(f"{where}: ORI {ori!r} is not 9 characters")
        try:
            year = int(row["year"])
        except ValueError:
            raise FilingError(f"{where}: year {row['year']!r} is not a number") from None
        inv_text = row["investigations"].strip()
        try:
            investigations = int(inv_text) if inv_text else None
        except ValueError:
            raise FilingError(f"{where}: investigations {inv_text!r} is not a whole number") from None
        if investigations is not None and investigations < 0:
            raise FilingError(f"{where}: investigations must be >= 0, got {investigations}")
        filed_at = parse_filed_at(row["filed_at"], where=f"{where} filed_at")
        out.append(Filing(ori, year, filed_at, investigations, row.get("outcomes", "").strip() or None))
    return out


def filings_csv(filings: Sequence[Filing]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FILING_COLUMNS)
    for f in filings:
        writer.writerow(
            [
                f.ori,
                f.year,
                f.filed_at.isoformat() if f.filed_at else "",
                "" if f.investigations is None else f.investigations,
                f.outcomes or "",
            ]
        )
    return buf.getvalue()
