"""Forward incidents (and, for compatibility, fired alerts) to Alertmanager (API v2: ``POST {url}/api/v2/alerts``).

The worker pushes one Alertmanager alert per *incident* (``post_incidents``): labelled with the
incident id, agency, component and severity, re-sent as the incident grows (same labels, so
Alertmanager holds one alert and pages once) and resolved (``endsAt``) when it closes. A raid of
hundreds of prohibited queries is one page, not hundreds.

Each alert carries its deterministic ``alert_id`` as a label, so Alertmanager deduplicates a
re-sent alert (after a restart or a replay) into the one it already holds. Suppressed alerts are
not forwarded. Plain ``urllib``: no extra dependency.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any, Final

from schemas.outputs import Alert, Incident

DEFAULT_TIMEOUT_SECONDS: Final = 5.0
NO_COMPONENT: Final = "none"
RUNBOOK: Final = "docs/oncall.md"
INCIDENT_ALERTNAME: Final = "CletsIncident"


def runbook_url(rule: str | None = None) -> str:
    """The runbook section for a rule, or for incidents (docs/oncall.md)."""
    return f"{RUNBOOK}#rule-{rule.replace('_', '-')}" if rule else f"{RUNBOOK}#incidents"


def incident_link(incident_id: str, link_base: str | None = None) -> str:
    if link_base:
        return f"{link_base.rstrip('/')}/incidents/{incident_id}"
    return f"clets-watch incidents show {incident_id}"


def _when(ends_at: dt.datetime) -> str:
    if ends_at.tzinfo is None:
        raise ValueError(f"naive ends_at {ends_at!r}: pass a timezone-aware datetime")
    return ends_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def build_incident_payload(
    incidents: Iterable[Incident], *, link_base: str | None = None, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """The API v2 body for incidents: one entry per incident id (the last record wins); a closed
    incident is sent with ``endsAt`` = ``now`` (resolved). Labels hold no PII (the operator pseudonym
    of an operator incident stays in the annotations)."""
    by_id: dict[str, dict[str, Any]] = {}
    for inc in incidents:
        link = incident_link(inc.incident_id, link_base)
        entry: dict[str, Any] = {
            "labels": {
                "alertname": INCIDENT_ALERTNAME,
                "incident_id": inc.incident_id,
                "rule": "incident",
                "family": inc.family,
                "severity": inc.severity,
                "ori": inc.ori,
                "component": inc.component or NO_COMPONENT,
                "source": "clets-watch",
            },
            "annotations": {
                "summary": inc.story,
                "agency": inc.agency_name or inc.ori,
                "alerts": str(inc.alerts),
                "rules": ", ".join(f"{r} {n}" for r, n in inc.counts_by_rule.items()),
                "first_window_start": inc.first_window_start,
                "last_window_end": inc.last_window_end,
                "recommendation": inc.recommended_action or inc.recommendation,
                "runbook_url": runbook_url(),
                "link": link,
            },
        }
        if link.startswith(("http://", "https://")):
            entry["generatorURL"] = link
        if inc.status == "closed":
            entry["endsAt"] = _when(now or dt.datetime.now(dt.UTC))
        by_id[inc.incident_id] = entry
    return list(by_id.values())


class AlertmanagerError(RuntimeError):
    """Alertmanager could not be reached or refused the alerts (the message says which)."""


def alert_link(alert_id: str, link_base: str | None = None) -> str:
    """Where a person reads the alert: a URL under ``link_base``, else the CLI command that shows it."""
    if link_base:
        return f"{link_base.rstrip('/')}/alerts/{alert_id}"
    return f"clets-watch alerts show {alert_id}"


def build_payload(
    alerts: Iterable[Alert],
    *,
    link_base: str | None = None,
    ends_at: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The API v2 body for the fired alerts among ``alerts``: one entry per alert id (the last wins).

    ``ends_at`` marks them resolved at that time. Labels hold only low-cardinality, PII-free values.
    """
    by_id: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        if alert.status != "fired":
            continue
        link = alert_link(alert.alert_id, link_base)
        entry: dict[str, Any] = {
            "labels": {
                "alertname": alert.rule,
                "alert_id": alert.alert_id,
                "rule": alert.rule,
                "severity": alert.severity,
                "ori": alert.ori,
                "component": alert.component or NO_COMPONENT,
                "source": "clets-watch",
            },
            "annotations": {
                "summary": alert.summary,
                "evidence_count": str(alert.evidence.count),
                "window_start": alert.window_start,
                "window_end": alert.window_end,
                "link": link,
                "runbook_url": runbook_url(alert.rule),
                **({"incident_id": alert.incident_id} if alert.incident_id else {}),
            },
        }
        if link.startswith(("http://", "https://")):
            entry["generatorURL"] = link
        if ends_at is not None:
            if ends_at.tzinfo is None:
                raise ValueError(f"naive ends_at {ends_at!r}: pass a timezone-aware datetime")
            entry["endsAt"] = ends_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        by_id[alert.alert_id] = entry
    return list(by_id.values())


class AlertmanagerClient:
    """Posts alerts to one Alertmanager."""

    def __init__(
        self, url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, link_base: str | None = None
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Alertmanager URL {url!r} must start with http:// or https://")
        self.url = url.rstrip("/")
        self.endpoint = f"{self.url}/api/v2/alerts"
        self.timeout = timeout
        self.link_base = link_base

    def post(self, alerts: Iterable[Alert], *, ends_at: dt.datetime | None = None) -> int:
        """Send the fired alerts; returns how many were sent (0 sends nothing)."""
        return self._send(build_payload(alerts, link_base=self.link_base, ends_at=ends_at))

    def post_incidents(self, incidents: Iterable[Incident], *, now: dt.datetime | None = None) -> int:
        """Send one alert per incident (closed ones resolved); returns how many were sent."""
        return self._send(build_incident_payload(incidents, link_base=self.link_base, now=now))

    def _send(self, payload: list[dict[str, Any]]) -> int:
        if not payload:
            return 0
        body = json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            self.endpoint,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "clets-watch"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace").strip()
            raise AlertmanagerError(
                f"Alertmanager at {self.url} refused {len(payload)} alert(s): HTTP {exc.code} {detail}"
            ) from None
        except urllib.error.URLError as exc:
            raise AlertmanagerError(f"cannot reach Alertmanager at {self.url}: {exc.reason}") from None
        except TimeoutError:
            raise AlertmanagerError(
                f"Alertmanager at {self.url} did not answer within {self.timeout:g}s"
            ) from None
        return len(payload)
