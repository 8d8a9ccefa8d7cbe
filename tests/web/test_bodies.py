"""Request bodies: NaN or Infinity in JSON is a 422 (never a 500), and a note or reason with a control
character (NUL, ESC, …) is refused alike by the API, the alert page and the incident page (one validator,
``models.AlertNote``); tab and line breaks stay allowed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import ICE_ERO, basic, login


def _open_alert(client: TestClient) -> dict[str, str]:
    alerts = client.get("/api/alerts", params={"state": "open", "limit": 50}, auth=basic("vic")).json()[
        "alerts"
    ]
    return next(a for a in alerts if a["incident_id"])


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_in_a_json_body_is_a_422(app_client: TestClient, constant: str) -> None:
    alert_id = _open_alert(app_client)["alert_id"]
    json_header = {"Content-Type": "application/json"}
    for url, body in (
        (f"/api/alerts/{alert_id}/acknowledge", f'{{"note": {constant}}}'),
        (f"/api/agencies/{ICE_ERO}/access", f'{{"action": {constant}, "reason": "x"}}'),
        (f"/api/alerts/{alert_id}/resolve", f'{{"note": "ok", "n": [1, {constant}]}}'),
    ):
        r = app_client.post(url, content=body, headers=json_header, auth=basic("sam"))
        assert r.status_code == 422, (url, r.status_code, r.text)
        assert r.json()["detail"][0]["type"] == "json_invalid"
    assert app_client.get(f"/api/alerts/{alert_id}", auth=basic("vic")).json()["alert"]["state"] == "open"


@pytest.mark.parametrize(
    "note", ["see\x00hidden part", "ok\x1b[2K\rall clear", "x\x07", "bad\x9bc", "del\x7f"]
)
def test_a_note_with_a_control_character_is_refused_everywhere(app_client: TestClient, note: str) -> None:
    alert = _open_alert(app_client)
    api = app_client.post(
        f"/api/alerts/{alert['alert_id']}/acknowledge", json={"note": note}, auth=basic("rita")
    )
    assert api.status_code == 422
    access = app_client.post(
        f"/api/agencies/{ICE_ERO}/access", json={"action": "restore", "reason": note}, auth=basic("sam")
    )
    assert access.status_code == 422
    token = login(app_client, "rita")
    for url in (f"/alerts/{alert['alert_id']}/acknowledge", f"/incidents/{alert['incident_id']}/acknowledge"):
        page = app_client.post(url, data={"note": note, "csrf_token": token}, follow_redirects=True)
        assert page.status_code == 200 and "Write a note to acknowledge" in page.text, url
    incident = app_client.get(f"/incidents/{alert['incident_id']}")
    assert "acknowledged by rita" not in incident.text
    assert app_client.get(f"/api/alerts/{alert['alert_id']}").json()["alert"]["state"] == "open"


def test_tabs_and_line_breaks_stay_allowed_in_a_note(app_client: TestClient) -> None:
    alert = _open_alert(app_client)
    token = login(app_client, "rita")
    page = app_client.post(
        f"/incidents/{alert['incident_id']}/acknowledge",
        data={"note": "called the agency\r\n\tno answer", "csrf_token": token},
        follow_redirects=True,
    )
    assert page.status_code == 200 and "Incident acknowledged by rita" in page.text
