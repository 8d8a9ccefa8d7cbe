"""A tiny real HTTP server that receives Alertmanager webhook notifications (for integration tests).

Alertmanager POSTs a JSON body per notification (webhook payload version 4): ``receiver``, ``status``,
``groupLabels``, ``commonLabels`` and ``alerts`` (each with ``labels``, ``annotations``, ``status``...).
``WebhookReceiver`` keeps every body it receives; ``wait_for`` polls them for a matching alert.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

Notification = dict[str, Any]
AlertMatch = Callable[[dict[str, Any]], bool]


@dataclass
class WebhookReceiver:
    """Listens on ``host:port`` in a background thread; use as a context manager."""

    port: int
    host: str = "127.0.0.1"
    path: str = "/alerts"
    notifications: list[Notification] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> Self:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path != receiver.path:
                    self.send_error(404, f"webhook listens on {receiver.path}, not {self.path}")
                    return
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    self.send_error(400, f"body is not JSON: {exc}")
                    return
                with receiver._lock:
                    receiver.notifications.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # silence per-request logs
                return

        try:
            self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            raise OSError(
                f"cannot listen for Alertmanager webhooks on {self.host}:{self.port}: {exc}"
            ) from exc
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self) -> list[Notification]:
        with self._lock:
            return list(self.notifications)

    def alerts(self) -> Iterator[tuple[Notification, dict[str, Any]]]:
        """Every (notification, alert) pair received so far."""
        for note in self.received():
            for alert in note.get("alerts", []):
                yield note, alert

    def wait_for(self, match: AlertMatch, timeout: float = 60.0) -> tuple[Notification, dict[str, Any]]:
        """The first received (notification, alert) whose alert satisfies ``match``; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for note, alert in self.alerts():
                if match(alert):
                    return note, alert
            if time.monotonic() > deadline:
                names = sorted({a.get("labels", {}).get("alertname", "?") for _n, a in self.alerts()})
                raise AssertionError(
                    f"no matching alert reached the webhook on {self.host}:{self.port}{self.path} within "
                    f"{timeout:.0f}s; received {len(self.received())} notification(s) with alerts {names}"
                )
            time.sleep(0.2)
