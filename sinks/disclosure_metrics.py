"""Prometheus gauges of the misuse-disclosure tracker, for on-call.

    clets_watch_disclosure_missing{ori,component,year}        1: CLETS activity that year, no disclosure
                                                              filed, deadline passed
    clets_watch_disclosure_late{ori,component,year}           1: disclosure filed after the deadline
    clets_watch_disclosure_contradiction{ori,component,year}  1: zero misuse investigations reported while
                                                              prohibited-query alerts were raised
    clets_watch_disclosure_last_check_timestamp_seconds       when the check last ran

Series exist only for agencies with a finding (one per agency and year, a few dozen at most), and a
series is removed when the finding goes away (a filing arrives). The worker (or any process that
serves /metrics) calls ``refresh`` periodically, e.g. hourly; see docs/audit.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Gauge

from processors.disclosures import Finding, check

_KINDS = {"missing": "missing", "late": "late", "zero_reported_but_alerted": "contradiction"}


class DisclosureMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = registry if registry is not None else REGISTRY
        labels = ("ori", "component", "year")
        self.gauges: dict[str, Gauge] = {
            "missing": Gauge(
                "clets_watch_disclosure_missing",
                "1 when an agency with CLETS activity in the year filed no misuse disclosure by the "
                "deadline (1 Feb of the next year)",
                labels,
                registry=reg,
            ),
            "late": Gauge(
                "clets_watch_disclosure_late",
                "1 when an agency's misuse disclosure was filed late",
                labels,
                registry=reg,
            ),
            "contradiction": Gauge(
                "clets_watch_disclosure_contradiction",
                "1 when an agency reported zero misuse investigations for the year while "
                "prohibited-query alerts were raised for it",
                labels,
                registry=reg,
            ),
        }
        self.last_check = Gauge(
            "clets_watch_disclosure_last_check_timestamp_seconds",
            "Unix time of the last disclosure check",
            registry=reg,
        )
        self._set: set[tuple[str, str, str, str]] = set()

    def update(self, findings: Iterable[Finding], *, years: Sequence[int], now: dt.datetime) -> None:
        """Replace the series of ``years`` with these findings (``pending`` findings are not exported)."""
        wanted: set[tuple[str, str, str, str]] = set()
        for f in findings:
            kind = _KINDS.get(f.kind)
            if kind is None:
                continue
            wanted.add((kind, f.agency.ori, f.agency.component or "", str(f.agency.year)))
        year_labels = {str(y) for y in years}
        for key in self._set - wanted:
            if key[3] in year_labels:
                self.gauges[key[0]].remove(*key[1:])
        for kind, ori, component, year in wanted:
            self.gauges[kind].labels(ori, component, year).set(1)
        self._set = {k for k in self._set if k[3] not in year_labels} | wanted
        self.last_check.set(now.timestamp())

    def refresh(
        self, db_url: str, *, now: dt.datetime | None = None, years: Sequence[int] | None = None
    ) -> list[Finding]:
        """Check the live tables of ``db_url`` (default years: the previous calendar year) and update."""
        from sinks.audit import AuditStore, agency_years, filings

        now = now or dt.datetime.now(dt.UTC)
        years = list(years) if years is not None else [now.year - 1]
        found: list[Finding] = []
        with AuditStore(db_url) as store:
            for year in years:
                found += check(agency_years(store, year), filings(store, year), year=year, as_of=now)
        self.update(found, years=years, now=now)
        return found
