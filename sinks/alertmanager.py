"""Forward fired alerts to Alertmanager (API v2: ``POST {url}/api/v2/alerts``).

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

from schemas.outputs import Alert

DEFAULT_TIMEOUT_SECONDS: Final = 5.0
NO_COMPONENT: Final = "none"


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
        payload = build_payload(alerts, link_base=self.link_base, ends_at=ends_at)
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
