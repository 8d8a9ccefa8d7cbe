"""Alertmanager forwarding: the API v2 payload, HTTP errors, and a real Alertmanager."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from schemas.outputs import Alert, Evidence
from sinks.alertmanager import AlertmanagerClient, AlertmanagerError, build_payload
from tests.processors.factories import make_alert

UTC = dt.UTC


def alert(
    alert_id: str = "a3f9c2",
    *,
    component: str | None = "ICE-ERO",
    summary: str = "ICE-ERO ran 41 DMV look-ups in one hour",
    **fields: Any,
) -> Alert:
    return make_alert(
        alert_id,
        rule="dmv_burst",
        rule_version=2,
        ori="CA0370000",
        component=component,
        window_start="2019-03-01T12:00:00Z",
        window_end="2019-03-01T13:00:00Z",
        summary=summary,
        evidence=Evidence(count=41, event_ids=("ev-1", "ev-2")),
        **fields,
    )


def test_payload_has_the_labels_and_annotations_alertmanager_needs() -> None:
    [entry] = build_payload([alert()], link_base="https://clets-watch.example.org/")
    assert entry["labels"] == {
        "alertname": "dmv_burst",
        "alert_id": "a3f9c2",
        "rule": "dmv_burst",
        "severity": "critical",
        "ori": "CA0370000",
        "component": "ICE-ERO",
        "source": "clets-watch",
    }
    assert entry["annotations"]["summary"] == "ICE-ERO ran 41 DMV look-ups in one hour"
    assert entry["annotations"]["evidence_count"] == "41"
    assert entry["annotations"]["link"] == "https://clets-watch.example.org/alerts/a3f9c2"
    assert entry["generatorURL"] == "https://clets-watch.example.org/alerts/a3f9c2"
    assert "endsAt" not in entry
    assert all(isinstance(v, str) for v in [*entry["labels"].values(), *entry["annotations"].values()])


def test_payload_without_a_link_base_points_at_the_cli_and_has_no_generator_url() -> None:
    [entry] = build_payload([alert(component=None)])
    assert entry["annotations"]["link"] == "clets-watch alerts show a3f9c2"
    assert "generatorURL" not in entry  # Alertmanager requires a URL there
    assert entry["labels"]["component"] == "none"


def test_payload_dedups_by_alert_id_and_skips_suppressed_alerts() -> None:
    payload = build_payload(
        [
            alert("a1"),
            alert("a1", summary="updated"),
            alert("a2", status="suppressed", suppressed_reason="dup"),
        ]
    )
    assert [(e["labels"]["alert_id"], e["annotations"]["summary"]) for e in payload] == [("a1", "updated")]


def test_payload_can_mark_alerts_resolved() -> None:
    ends = dt.datetime(2024, 5, 1, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    [entry] = build_payload([alert()], ends_at=ends)
    assert entry["endsAt"] == "2024-05-01T09:00:00Z"
    with pytest.raises(ValueError, match="naive"):
        build_payload([alert()], ends_at=dt.datetime(2024, 5, 1))


class _Receiver(BaseHTTPRequestHandler):
    status = 200
    bodies: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(
            (self.path, self.headers["Content-Type"], json.loads(self.rfile.read(length)))
        )
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"bad alert" if type(self).status >= 400 else b"")

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"bodies": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_post_sends_json_to_the_v2_endpoint(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    client = AlertmanagerClient(url + "/", timeout=5)
    assert client.post([alert("a1"), alert("a2"), alert("a3", status="suppressed")]) == 2
    [(path, content_type, body)] = handler.bodies
    assert path == "/api/v2/alerts"
    assert content_type == "application/json"
    assert [e["labels"]["alert_id"] for e in body] == ["a1", "a2"]
    assert client.post([alert("a4", status="suppressed")]) == 0
    assert len(handler.bodies) == 1  # nothing to send, no request


def test_post_reports_a_refusal_with_the_status_and_body(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    handler.status = 400
    with pytest.raises(AlertmanagerError, match=r"refused 1 alert\(s\): HTTP 400 bad alert"):
        AlertmanagerClient(url).post([alert()])


def test_post_reports_an_unreachable_alertmanager() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AlertmanagerError, match=f"cannot reach Alertmanager at http://127.0.0.1:{port}"):
        AlertmanagerClient(f"http://127.0.0.1:{port}", timeout=2).post([alert()])


def test_client_refuses_a_url_without_a_scheme() -> None:
    with pytest.raises(ValueError, match="must start with http"):
        AlertmanagerClient("127.0.0.1:9093")


@pytest.mark.integration
def test_a_real_alertmanager_holds_one_alert_per_alert_id(alertmanager: Any) -> None:
    alert_id = f"it-{time.time_ns()}"
    client = AlertmanagerClient(alertmanager.url, timeout=10)
    assert client.post([alert(alert_id)]) == 1
    assert client.post([alert(alert_id)]) == 1  # a re-send (restart, replay) is the same alert
    deadline = time.monotonic() + 20
    held: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        held = [a for a in alertmanager.alerts() if a["labels"].get("alert_id") == alert_id]
        if held:
            break
        time.sleep(0.2)
    assert len(held) == 1
    assert held[0]["labels"]["ori"] == "CA0370000"
    assert held[0]["annotations"]["evidence_count"] == "41"
    client.post([alert(alert_id)], ends_at=dt.datetime.now(UTC))  # resolve it again: leave no noise behind
