"""The console's JSON API and pages in-process (the real app over a replayed database): login,
roles, CSRF, filters, alert detail with evidence, acknowledge/resolve, access changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sinks.alertmanager import alert_link
from tests.web.conftest import ICE_ERO, basic, fill_database, login, make_app


def test_nothing_but_health_without_login(app_client: TestClient) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    for path in ("/api/alerts", "/api/agencies", "/api/me", "/api/openapi.json"):
        r = app_client.get(path)
        assert r.status_code == 401, path
        assert "www-authenticate" not in r.headers  # browsers never cache Basic credentials
    for path in ("/alerts", "/agencies", f"/agencies/{ICE_ERO}", "/api/docs"):
        r = app_client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    assert app_client.get("/api/alerts", auth=("rita", "wrong-password")).status_code == 401


def test_alert_list_filters_and_order(app_client: TestClient) -> None:
    body = app_client.get("/api/alerts", params={"limit": 500}, auth=basic("vic")).json()
    starts = [a["window_start"] for a in body["alerts"]]
    assert starts == sorted(starts, reverse=True) and body["total"] == len(body["alerts"])
    assert body["counts_by_state"]["open"] > 0 and body["counts_by_state"]["suppressed"] > 0
    surge = app_client.get(
        "/api/alerts",
        params={"rule": "dmv_by_dhs_surge", "state": "open", "component": "ICE-ERO"},
        auth=basic("vic"),
    ).json()
    assert surge["total"] >= 1
    assert {(a["rule"], a["state"], a["component"]) for a in surge["alerts"]} == {
        ("dmv_by_dhs_surge", "open", "ICE-ERO")
    }
    crit = app_client.get(
        "/api/alerts", params={"severity": "critical", "ori": ICE_ERO}, auth=basic("vic")
    ).json()
    assert crit["total"] > 0 and {(a["severity"], a["ori"]) for a in crit["alerts"]} == {
        ("critical", ICE_ERO)
    }
    assert app_client.get("/api/alerts", params={"state": "bogus"}, auth=basic("vic")).status_code == 422


def test_alert_detail_has_evidence_clauses_sources_and_ledger(app_client: TestClient) -> None:
    alerts = app_client.get(
        "/api/alerts", params={"rule": "dmv_by_dhs_surge", "state": "open"}, auth=basic("vic")
    ).json()
    alert_id = alerts["alerts"][0]["alert_id"]
    d = app_client.get(f"/api/alerts/{alert_id}", auth=basic("vic")).json()
    assert d["alert"]["rule_version"] == 1 and d["alert"]["url"] == f"/alerts/{alert_id}"
    assert d["evidence"]["count"] >= len(d["evidence"]["event_ids"]) > 0
    assert len(d["evidence_events"]) == len(set(d["evidence"]["event_ids"]))
    assert any(c.startswith("POL-2") for c in d["policy_clauses"])
    assert sum(d["verdict_counts"].values()) == len(d["evidence_events"])
    sources = {e["source"] for e in d["evidence_events"]}
    assert sources and all(s.startswith("clets.queries/0/") for s in sources)
    for event in d["evidence_events"]:  # pseudonyms only: no names, birth dates, plates
        assert event["operator"].startswith("op-") and (event["subject_key"] or "s-").startswith("s-")
        assert (
            set(event) >= {"has_reason", "has_case_number"}
            and "reason" not in event
            and "subject" not in event
        )
    assert [e["action"] for e in d["ledger"]] == ["fired"]
    assert d["agency_url"] == f"/agencies/{d['alert']['ori']}"
    assert app_client.get("/api/alerts/no-such-alert", auth=basic("vic")).status_code == 404


def test_alertmanager_link_is_the_alert_page(app_client: TestClient) -> None:
    alert_id = app_client.get("/api/alerts", params={"limit": 1}, auth=basic("vic")).json()["alerts"][0][
        "alert_id"
    ]
    link = alert_link(alert_id, "http://testserver/")
    assert link == f"http://testserver/alerts/{alert_id}"
    login(app_client, "vic")
    page = app_client.get(link.removeprefix("http://testserver"))
    assert page.status_code == 200 and alert_id in page.text


def test_acknowledge_and_resolve_need_a_responder_and_a_note(app_client: TestClient) -> None:
    alert_id = app_client.get("/api/alerts", params={"state": "open", "limit": 1}, auth=basic("vic")).json()[
        "alerts"
    ][0]["alert_id"]
    url = f"/api/alerts/{alert_id}"
    r = app_client.post(f"{url}/acknowledge", json={"note": "looked"}, auth=basic("vic"))
    assert r.status_code == 403 and "responder" in r.json()["detail"]
    for note in ("", "   ", "a\x00b"):
        assert (
            app_client.post(f"{url}/acknowledge", json={"note": note}, auth=basic("rita")).status_code == 422
        )
    r = app_client.post(f"{url}/acknowledge", json={"note": "  called the agency  "}, auth=basic("rita"))
    assert r.status_code == 201 and r.json()["actor"] == "rita" and r.json()["note"] == "called the agency"
    r = app_client.post(f"{url}/resolve", json={"note": "operator disciplined"}, auth=basic("sam"))
    assert r.status_code == 201 and r.json()["action"] == "resolved"
    assert app_client.post(f"{url}/resolve", json={"note": "again"}, auth=basic("rita")).status_code == 409
    d = app_client.get(url, auth=basic("vic")).json()
    assert d["alert"]["state"] == "resolved"
    assert [(e["action"], e["actor"]) for e in d["ledger"]] == [
        ("fired", "clets-watch"),
        ("acknowledged", "rita"),
        ("resolved", "sam"),
    ]
    assert app_client.get("/api/alerts", params={"state": "resolved"}, auth=basic("vic")).json()["total"] == 1


def test_session_changes_need_the_csrf_token(app_client: TestClient) -> None:
    token = login(app_client, "rita")
    alert_id = app_client.get("/api/alerts", params={"state": "open", "limit": 1}).json()["alerts"][0][
        "alert_id"
    ]
    assert app_client.post(f"/api/alerts/{alert_id}/acknowledge", json={"note": "x"}).status_code == 403
    assert app_client.post(f"/alerts/{alert_id}/acknowledge", data={"note": "x"}).status_code == 403
    assert (
        app_client.post(
            f"/alerts/{alert_id}/acknowledge", data={"note": "x", "csrf_token": "forged"}
        ).status_code
        == 403
    )
    r = app_client.post(
        f"/api/alerts/{alert_id}/acknowledge", json={"note": "seen"}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 201
    r = app_client.post(
        f"/alerts/{alert_id}/acknowledge", data={"note": "", "csrf_token": token}, follow_redirects=True
    )
    assert "Write a note" in r.text  # the form refuses an empty note
    r = app_client.post(
        f"/alerts/{alert_id}/acknowledge",
        data={"note": "form note", "csrf_token": token},
        follow_redirects=True,
    )
    assert "acknowledged by rita" in r.text and "form note" in r.text


def test_login_form_needs_csrf_and_right_password(app_client: TestClient) -> None:
    assert (
        app_client.post("/login", data={"username": "rita", "password": "responder-password-1"}).status_code
        == 403
    )
    page = app_client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    bad = app_client.post("/login", data={"username": "rita", "password": "nope", "csrf_token": token})
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    ok = app_client.post(
        "/login",
        data={
            "username": "rita",
            "password": "responder-password-1",
            "csrf_token": token,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/alerts"  # never redirected off-site
    assert app_client.get("/alerts").status_code == 200


def test_only_supervisors_change_access(app_client: TestClient) -> None:
    body = {"action": "suspend", "reason": "raid: DMV look-ups for immigration enforcement"}
    assert (
        app_client.post(f"/api/agencies/{ICE_ERO}/access", json=body, auth=basic("rita")).status_code == 403
    )
    r = app_client.post(f"/api/agencies/{ICE_ERO}/access", json=body, auth=basic("sam"))
    assert r.status_code == 201
    rec = r.json()
    assert (
        rec["state"] == "suspend"
        and rec["actor"] == "sam"
        and rec["action"] == "suspend direct access; written requests only"
    )
    assert rec["alert_ids"]  # the open alerts behind the decision
    r = app_client.post(
        f"/api/agencies/{ICE_ERO}/access",
        json={"action": "restore", "reason": "DOJ review done"},
        auth=basic("sam"),
    )
    assert r.json()["state"] == "normal"
    d = app_client.get(f"/api/agencies/{ICE_ERO}", auth=basic("vic")).json()
    assert d["agency"]["recommendation"] == "normal"
    assert [(h["state"], h["actor"]) for h in d["recommendation_history"][:2]] == [
        ("normal", "sam"),
        ("suspend", "sam"),
    ]
    assert any(h["actor"] == "clets-watch" for h in d["recommendation_history"])  # the pipeline's own moves
    assert app_client.post("/api/agencies/CA9999999/access", json=body, auth=basic("sam")).status_code == 404
    assert (
        app_client.post(
            f"/api/agencies/{ICE_ERO}/access", json={"action": "delete", "reason": "x"}, auth=basic("sam")
        ).status_code
        == 422
    )


def test_agency_traffic_share_and_filings(app_client: TestClient) -> None:
    d = app_client.get(f"/api/agencies/{ICE_ERO}", auth=basic("vic")).json()
    t = d["traffic"]
    assert t["total"] == sum(p["total"] for p in t["points"]) > 0
    assert 0 < t["immigration_share"] <= 1 and t["immigration_enforcement"] > 0
    assert {"dmv_license"} <= set(t["data_sources"])
    starts = [p["start"] for p in t["points"]]
    assert starts == sorted(starts) and len(starts) <= 48
    assert [(f["year"], f["investigations_opened"]) for f in d["disclosures"]] == [(2019, None), (2018, 0)]
    assert d["agency"]["component"] == "ICE-ERO" and d["agency"]["recommendation"] in ("watch", "suspend")
    agencies = app_client.get("/api/agencies", auth=basic("vic")).json()
    rank = {"suspend": 0, "watch": 1, "normal": 2}
    assert [rank[a["recommendation"]] for a in agencies] == sorted(
        rank[a["recommendation"]] for a in agencies
    )
    assert app_client.get("/api/agencies/CA9999999", auth=basic("vic")).status_code == 404


def test_openapi_is_published_behind_login(app_client: TestClient) -> None:
    spec = app_client.get("/api/openapi.json", auth=basic("vic")).json()
    assert spec["openapi"].startswith("3.")
    assert {
        "/api/alerts",
        "/api/alerts/{alert_id}",
        "/api/alerts/{alert_id}/acknowledge",
        "/api/alerts/{alert_id}/resolve",
        "/api/agencies",
        "/api/agencies/{ori}",
        "/api/agencies/{ori}/access",
        "/api/me",
        "/healthz",
    } <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["basic"]["scheme"] == "basic"
    assert not any(p.startswith(("/alerts", "/agencies", "/login")) for p in spec["paths"])  # pages stay out


@pytest.mark.integration
def test_console_over_postgresql(postgres_url: str, users_file: Path) -> None:
    counts = fill_database(postgres_url)
    app = make_app(postgres_url, users_file)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            listing = client.get("/api/alerts", params={"limit": 500}, auth=basic("vic")).json()
            assert listing["total"] == counts["alerts"]
            alert_id = client.get(
                "/api/alerts", params={"state": "open", "rule": "dmv_by_dhs_surge"}, auth=basic("vic")
            ).json()["alerts"][0]["alert_id"]
            r = client.post(f"/api/alerts/{alert_id}/acknowledge", json={"note": "on it"}, auth=basic("rita"))
            assert r.status_code == 201
            ledger = client.get(f"/api/alerts/{alert_id}", auth=basic("vic")).json()["ledger"]
            assert [(e["action"], e["actor"], e["note"]) for e in ledger][-1] == (
                "acknowledged",
                "rita",
                "on it",
            )
            assert (
                client.post(
                    f"/api/alerts/{alert_id}/resolve", json={"note": "bad\x00"}, auth=basic("rita")
                ).status_code
                == 422
            )
            traffic = client.get(f"/api/agencies/{ICE_ERO}", auth=basic("vic")).json()["traffic"]
            assert traffic["total"] > 0 and traffic["immigration_share"] > 0
            assert client.get("/agencies", follow_redirects=False).status_code == 303
    finally:
        app.state.engine.dispose()
