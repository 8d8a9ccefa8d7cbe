"""Concurrent acknowledge/resolve on one alert over SQLite: every request is answered 201 or 409, never a
500 "database is locked" (the ledger's write transactions begin IMMEDIATE, so a read-then-write never has to
upgrade a stale snapshot), and the ledger stays one chain: one resolve, the acks before it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sinks.alert_store import AlertStateError, AlertStore
from sinks.db import open_engine
from sinks.ledger import verify
from tests.web.conftest import basic, make_app

THREADS = 16


@pytest.mark.parametrize("round_", range(3))
def test_parallel_sinks_acting_on_one_alert_never_fail_with_a_lock(console_db: str, round_: int) -> None:
    sinks = [AlertStore(open_engine(console_db, create=False)) for _ in range(THREADS)]
    try:
        alert_id = sinks[0].list_alerts(status="fired", limit=10)[round_].alert_id
        start = threading.Barrier(THREADS)

        def act(i: int) -> str:
            start.wait()
            try:
                if i % 4 == 3:
                    sinks[i].resolve(alert_id, "rita", f"resolve {i}")
                    return "resolved"
                sinks[i].acknowledge(alert_id, "rita", f"ack {i}")
                return "acknowledged"
            except AlertStateError:
                return "refused"

        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = list(pool.map(act, range(THREADS)))
        assert outcomes.count("resolved") == 1, outcomes
        history = [
            e.action for e in sorted(sinks[0].alert_ledger(alert_id), key=lambda e: e.id)
        ]  # commit order
        assert history[0] == "fired" and history[-1] == "resolved" and history.count("resolved") == 1
        assert len(history) == 1 + outcomes.count("resolved") + outcomes.count("acknowledged")
        assert verify(sinks[0].engine).ok
    finally:
        for sink in sinks:
            sink.engine.dispose()


def test_parallel_api_requests_on_one_alert_get_201_or_409(console_db: str, users_file: Path) -> None:
    apps = [make_app(console_db, users_file) for _ in range(4)]  # four console processes over one file
    clients = [TestClient(app, base_url="http://127.0.0.1") for app in apps]
    try:
        alert_id = (
            clients[0]
            .get("/api/alerts", params={"state": "open", "limit": 1}, auth=basic("vic"))
            .json()["alerts"][0]["alert_id"]
        )
        start = threading.Barrier(THREADS)

        def post(i: int) -> int:
            action = "resolve" if i % 4 == 3 else "acknowledge"
            start.wait()
            r = clients[i % len(clients)].post(
                f"/api/alerts/{alert_id}/{action}", json={"note": f"{action} {i}"}, auth=basic("rita")
            )
            return r.status_code

        with ThreadPoolExecutor(THREADS) as pool:
            codes = list(pool.map(post, range(THREADS)))
        assert set(codes) <= {201, 409}, codes
        assert codes.count(201) >= 1
    finally:
        for client, app in zip(clients, apps, strict=True):
            client.close()
            app.state.engine.dispose()
