"""Disclosure gauges: one series per finding, removed when the finding goes away; refreshed from the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prometheus_client import CollectorRegistry

from processors.disclosures import AgencyYear, Filing, check
from sinks.disclosure_metrics import DisclosureMetrics
from tests.processors.factories import pe

NOW = dt.datetime(2019, 6, 1, tzinfo=dt.UTC)


def value(
    reg: CollectorRegistry, name: str, ori: str, component: str = "", year: str = "2018"
) -> float | None:
    return reg.get_sample_value(name, {"ori": ori, "component": component, "year": year})


def test_gauges_follow_the_findings() -> None:
    reg = CollectorRegistry()
    metrics = DisclosureMetrics(reg)
    activity = [
        AgencyYear("CACIS0100", 2018, 20, component="USCIS"),
        AgencyYear("CAICE0100", 2018, 300, prohibited_alerts=5, component="ICE-ERO"),
    ]
    filings = [Filing("CAICE0100", 2018, dt.datetime(2019, 1, 5, tzinfo=dt.UTC), 0)]
    metrics.update(check(activity, filings, year=2018, as_of=NOW), years=[2018], now=NOW)
    assert value(reg, "clets_watch_disclosure_missing", "CACIS0100", "USCIS") == 1
    assert value(reg, "clets_watch_disclosure_contradiction", "CAICE0100", "ICE-ERO") == 1
    assert value(reg, "clets_watch_disclosure_missing", "CAICE0100", "ICE-ERO") is None
    assert reg.get_sample_value("clets_watch_disclosure_last_check_timestamp_seconds") == NOW.timestamp()
    filings.append(Filing("CACIS0100", 2018, dt.datetime(2019, 5, 30, tzinfo=dt.UTC), 1))
    metrics.update(check(activity, filings, year=2018, as_of=NOW), years=[2018], now=NOW)
    assert value(reg, "clets_watch_disclosure_missing", "CACIS0100", "USCIS") is None
    assert value(reg, "clets_watch_disclosure_late", "CACIS0100", "USCIS") == 1


def test_refresh_reads_the_live_tables(tmp_path: Path) -> None:
    from sinks.writer import SinkBatch
    from tests.sinks.stores import Stores

    url = f"sqlite:///{tmp_path / 'live.db'}"
    with Stores.open(url) as sink:
        sink.writer.write_batch(
            SinkBatch(
                processed=[
                    pe(
                        "e1",
                        when=dt.datetime(2018, 5, 1, 12, tzinfo=dt.UTC),
                        ori="CACIS0100",
                        department="DHS",
                        component="USCIS",
                        message_type="DQ",
                        data_source="dmv_license",
                        subject_key=None,
                    )
                ]
            )
        )
    reg = CollectorRegistry()
    found = DisclosureMetrics(reg).refresh(url, now=NOW)
    assert [(f.kind, f.ori) for f in found] == [("missing", "CACIS0100")]
    assert value(reg, "clets_watch_disclosure_missing", "CACIS0100", "USCIS") == 1
