"""One Alertmanager alert per incident: labels, runbook and console link; a closed incident resolves it."""

from __future__ import annotations

import datetime as dt

from schemas.outputs import Incident
from sinks.alertmanager import INCIDENT_ALERTNAME, build_incident_payload
from tests.processors.factories import make_incident


def incident(status: str = "open", alerts: int = 3) -> Incident:
    return make_incident(
        ori="CAICE0100",
        agency_name="ICE ERO - Los Angeles",
        component="ICE-ERO",
        status=status,
        counts_by_rule={"prohibited_query": alerts},
        story="ICE ERO: 3 prohibited queries",
    )


def test_one_entry_per_incident_the_last_record_wins_with_runbook_and_link() -> None:
    [entry] = build_incident_payload(
        [incident(alerts=1), incident(alerts=3)], link_base="http://127.0.0.1:8470"
    )
    assert entry["labels"] == {
        "alertname": INCIDENT_ALERTNAME,
        "incident_id": "inc-1",
        "rule": "incident",
        "family": "agency",
        "severity": "critical",
        "ori": "CAICE0100",
        "component": "ICE-ERO",
        "source": "clets-watch",
    }
    assert entry["annotations"]["alerts"] == "3"
    assert entry["annotations"]["runbook_url"] == "docs/oncall.md#incidents"
    assert entry["annotations"]["link"] == "http://127.0.0.1:8470/incidents/inc-1"
    assert "endsAt" not in entry


def test_a_closed_incident_is_sent_resolved() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    [entry] = build_incident_payload([incident("closed")], now=now)
    assert entry["endsAt"] == "2026-01-01T00:00:00Z"
    assert entry["annotations"]["link"] == "clets-watch incidents show inc-1"
