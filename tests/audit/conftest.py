"""A thin simulated audit year (2018), replayed once per session into a SQLite audit run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clets_watch.settings import get_settings
from processors.disclosures import Filing
from producers.archive import write_archive
from producers.audit_year import AuditYear
from tests.helpers import run_ok

KEY = "audit-test-key"


def thin_year() -> AuditYear:
    """A 2018 with a few events per agency per day, a raid of 120 look-ups, small CCW and snooping runs."""
    return AuditYear(
        rate_per_second=0.0004, raid_lookups=120, raid_targets=30, ccw_checks=40, snooping_lookups=30
    )


@dataclass(frozen=True)
class RecordedYear:
    archive: Path
    db_url: str
    run_id: str
    filings: list[Filing]
    year: AuditYear
    summary: str


@pytest.fixture(scope="session")
def recorded_year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordedYear]:
    from clets_watch.commands import replay

    mp = pytest.MonkeyPatch()
    mp.setenv("CLETS_WATCH_PSEUDONYM_KEY", KEY)
    get_settings.cache_clear()
    root = tmp_path_factory.mktemp("audit-year")
    year = thin_year()
    archive = root / "audit-2018.jsonl.gz"
    write_archive(archive, year.events())
    db_url = f"sqlite:///{root / 'audit.db'}"
    argv = ["--input", str(archive), "--record", "--run-id", "y2018", "--db", db_url, "--no-progress"]
    summary = run_ok(replay, "replay", *argv)
    try:
        yield RecordedYear(archive, db_url, "y2018", year.filings(), year, summary)
    finally:
        mp.undo()
        get_settings.cache_clear()
