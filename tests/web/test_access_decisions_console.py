"""A supervisor's suspend/restore in the console becomes an access decision the pipeline enforces: kept in
the database (replay and a restarted worker read it) and handed to the publisher when the console publishes."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from schemas import AccessDecision
from sinks.access_decisions import load_decisions
from sinks.db import database
from tests.web.conftest import ICE_ERO, basic, make_app


def test_suspend_and_restore_are_recorded_and_published(console_db: str, users_file: Path) -> None:
    app = make_app(console_db, users_file)
    published: list[AccessDecision] = []
    app.state.console.publish = published.append
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for action in ("suspend", "restore"):
            r = client.post(
                f"/api/agencies/{ICE_ERO}/access",
                json={"action": action, "reason": "raid review"},
                auth=basic("sam"),
            )
            assert r.status_code in (200, 201), r.text
    app.state.engine.dispose()
    with database(console_db, create=False) as engine:
        stored = load_decisions(engine)
    assert [(d.ori, d.action, d.by) for d in stored] == [
        (ICE_ERO, "suspend", "sam"),
        (ICE_ERO, "restore", "sam"),
    ]
    assert published == stored
