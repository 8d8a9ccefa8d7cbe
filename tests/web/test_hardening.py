"""The console's defences, each tried the way an attacker would: login throttling (forms and Basic),
no user-name oracle, bounded password checks, server-side sessions that end, body limits before
login, trusted Host names, a quiet /healthz, the Content-Security-Policy and the password policy."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clets_watch import cli
from clets_watch.web import guard as guard_module
from clets_watch.web.app import ConsoleConfig, create_app
from clets_watch.web.guard import Busy, LoginGuard
from clets_watch.web.middleware import host_name
from clets_watch.web.security import SESSION_COOKIE
from clets_watch.web.users import UsersFileError, UserStore, add_user, check_password, remove_user
from sinks.db import database, open_engine
from tests.web.conftest import PASSWORDS, ROLES, basic, console_client, login, post_login

ALERTS = "/api/alerts"


@pytest.fixture
def own_users(users_file: Path, tmp_path: Path) -> Path:
    """A private copy of the users file (tests here change passwords, roles and users)."""
    path = tmp_path / "users.toml"
    shutil.copyfile(users_file, path)
    return path


@pytest.fixture
def client(console_db: str, own_users: Path) -> Iterator[TestClient]:
    with console_client(console_db, own_users) as c:
        yield c


def _login_form(client: TestClient, name: str, password: str) -> int:
    return post_login(client, name, password, next="/alerts").status_code


# ------------------------------------------------------------------------------- throttling


def test_five_wrong_passwords_lock_the_form_login_for_that_user(client: TestClient) -> None:
    assert [_login_form(client, "rita", "wrong password!") for _ in range(5)] == [401] * 5
    r = post_login(client, "rita", PASSWORDS["rita"])
    assert r.status_code == 429  # the right password too, while the window lasts
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert "Too many failed logins for this user" in r.text
    assert _login_form(client, "sam", PASSWORDS["sam"]) == 303  # another user is not locked out


def test_basic_logins_are_throttled_per_user_too(client: TestClient) -> None:
    for _ in range(5):
        assert client.get(ALERTS, auth=("rita", "wrong password!")).status_code == 401
    r = client.get(ALERTS, auth=basic("rita"))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert client.get(ALERTS, auth=basic("sam")).status_code == 200


def test_failures_from_one_address_are_throttled_across_user_names(client: TestClient) -> None:
    for i in range(10):  # spraying names: each name stays under its own limit
        assert client.get(ALERTS, auth=(f"guess{i}", "some password")).status_code == 401
    r = client.get(ALERTS, auth=basic("sam"))
    assert r.status_code == 429 and "from this address" in r.json()["detail"]


def test_an_unknown_user_costs_one_argon2_check_like_a_known_one(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No user-name oracle: the unknown name is verified against a dummy hash."""
    calls: list[str] = []
    real = guard_module.verify_password  # type: ignore[attr-defined]

    def counting(user, password):  # type: ignore[no-untyped-def]
        calls.append(user.name)
        return real(user, password)

    monkeypatch.setattr(guard_module, "verify_password", counting)
    timings = {}
    for name in ("rita", "no-such-user"):
        start = time.perf_counter()
        assert client.get(ALERTS, auth=(name, "wrong password!")).status_code == 401
        timings[name] = time.perf_counter() - start
    assert calls == ["rita", "-"]
    assert timings["no-such-user"] > 0.3 * timings["rita"]  # same work, not ~100x faster


def test_password_checks_run_at_most_max_concurrent_at_once(
    monkeypatch: pytest.MonkeyPatch, own_users: Path
) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def slow(user, password):  # type: ignore[no-untyped-def]
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return False

    guard = LoginGuard(
        UserStore(own_users), max_concurrent=2, per_user="1000/minute", per_client="1000/minute"
    )
    monkeypatch.setattr(guard_module, "verify_password", slow)
    threads = [
        threading.Thread(target=guard.authenticate, args=(f"u{i}", "pw", f"10.0.0.{i}")) for i in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2


def test_a_full_verifier_answers_503_with_retry_after(client: TestClient) -> None:
    guard: LoginGuard = client.app.state.guard  # type: ignore[attr-defined]
    guard.wait_seconds = 0.05
    for _ in range(2):
        guard.slots.acquire()
    try:
        r = client.get(ALERTS, auth=basic("sam"))
        assert r.status_code == 503 and r.headers["Retry-After"] == str(Busy.retry_after)
    finally:
        for _ in range(2):
            guard.slots.release()
    assert client.get(ALERTS, auth=basic("sam")).status_code == 200


# ------------------------------------------------------------------------------- sessions


def _cookie(client: TestClient) -> str:
    value = client.cookies.get(SESSION_COOKIE)
    assert value
    return value


def _with_cookie(client: TestClient, cookie: str) -> TestClient:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    return client


def test_the_cookie_is_opaque_and_the_database_keeps_only_its_hash(
    client: TestClient, console_db: str
) -> None:
    login(client, "rita")
    cookie = _cookie(client)
    assert "rita" not in cookie and "rita" not in base64.urlsafe_b64decode(cookie + "==").decode("latin-1")
    with database(console_db, create=False) as engine, engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT id_hash, user_name FROM console_sessions").all()
    assert [r.user_name for r in stored] == ["rita"] and stored[0].id_hash != cookie


def test_a_cookie_copied_before_logout_no_longer_works(client: TestClient) -> None:
    csrf = login(client, "sam")
    stolen = _cookie(client)
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    attacker = _with_cookie(client, stolen)
    assert attacker.get("/api/me").status_code == 401
    assert attacker.get("/alerts", follow_redirects=False).headers["location"].startswith("/login")
    r = attacker.post(
        "/api/agencies/CAICE0100/access",
        headers={"X-CSRF-Token": csrf},
        json={"action": "restore", "reason": "replayed cookie"},
    )
    assert r.status_code == 401


@pytest.mark.parametrize("change", ["password", "role", "removal"])
def test_password_role_change_or_removal_ends_the_session(
    client: TestClient, own_users: Path, change: str
) -> None:
    login(client, "rita")
    assert client.get("/api/me").status_code == 200
    if change == "password":
        add_user(own_users, "rita", ROLES["rita"], "a brand new passphrase")
    elif change == "role":
        add_user(own_users, "rita", "supervisor", PASSWORDS["rita"])
    else:
        remove_user(own_users, "rita")
    assert client.get("/api/me").status_code == 401
    if change == "role":  # the session is gone for good, not only while the stamp differs
        add_user(own_users, "rita", ROLES["rita"], PASSWORDS["rita"])
        assert client.get("/api/me").status_code == 401


def test_idle_and_absolute_timeouts(client: TestClient) -> None:
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    now = [dt.datetime.now(dt.UTC)]
    sessions.clock = lambda: now[0]
    login(client, "rita")
    start = now[0]
    for _ in range(30):  # active every 20 minutes: the idle timeout (30 min) never strikes...
        now[0] += dt.timedelta(minutes=20)
        r = client.get("/api/me")
        if r.status_code != 200:
            break
    # ...but the absolute timeout (8 h) does, at the first request after it
    assert r.status_code == 401 and dt.timedelta(hours=8) < now[0] - start <= dt.timedelta(
        hours=8, minutes=20
    )
    login(client, "rita")
    now[0] += dt.timedelta(minutes=31)
    assert client.get("/api/me").status_code == 401
    for name in ("sam", "vic"):  # sessions on other browsers, never used again
        sessions.create(name, "stamp")
    now[0] += dt.timedelta(hours=9)
    assert sessions.count() == 2
    login(client, "rita")  # a login sweeps out every expired session, not only its own
    assert sessions.count() == 1


def test_end_sessions_command_logs_a_user_out_everywhere(
    client: TestClient, console_db: str, own_users: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    login(client, "rita")
    rita_cookie = _cookie(client)
    assert cli.main(["serve", "--end-sessions", "rita", "--db", console_db, "--users", str(own_users)]) == 0
    assert "ended 1 console session(s) of rita" in capsys.readouterr().out
    assert _with_cookie(client, rita_cookie).get("/api/me").status_code == 401


@pytest.mark.parametrize("secure", [False, True])
def test_session_cookie_flags(console_db: str, own_users: Path, secure: bool) -> None:
    base_url = "https://127.0.0.1" if secure else "http://127.0.0.1"
    with console_client(console_db, own_users, base_url, secure_cookies=secure) as c:
        r = post_login(c, "rita", PASSWORDS["rita"])
        cookie = next(
            v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE)
        )
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age", "samesite"} <= attrs and "samesite=strict" in cookie.lower()
    assert ("secure" in attrs) is secure


def test_login_issues_a_new_session(client: TestClient) -> None:
    login(client, "rita")
    first = _cookie(client)
    login(client, "sam")
    assert _cookie(client) != first
    assert _with_cookie(client, first).get("/api/me").status_code == 401  # the old one ended


@pytest.mark.parametrize(
    "target",
    [
        "/\\evil.example/",
        "/\\/evil.example",
        "/\t/evil.example",
        "//evil.example",
        "https://evil.example/alerts",
    ],
)
def test_login_never_redirects_off_site(client: TestClient, target: str) -> None:
    r = post_login(client, "vic", PASSWORDS["vic"], next=target)
    assert (r.status_code, r.headers["location"]) == (303, "/alerts")


def test_login_form_needs_its_csrf_cookie(client: TestClient) -> None:
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.cookies.clear()  # a cross-site form has the token's value at best, never our cookie
    r = client.post(
        "/login",
        data={"username": "rita", "password": PASSWORDS["rita"], "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 403


# ------------------------------------------------------------------------ before any login


def test_oversized_bodies_are_refused_before_authentication(client: TestClient) -> None:
    big = b'{"note": "' + b"x" * 200_000 + b'"}'
    r = client.post("/api/alerts/x/acknowledge", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413  # not 401: the body was never read
    r = client.post(
        "/login",
        content=b"username=" + b"a" * 100_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 4096

    r = client.post(
        "/api/alerts/x/acknowledge", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413  # chunked, no Content-Length: counted as it arrives


def test_an_unknown_host_header_is_refused(client: TestClient) -> None:
    assert client.get("/healthz", headers={"Host": "attacker.example"}).status_code == 400
    assert client.get("/login", headers={"Host": "rebind.attacker.example:8470"}).status_code == 400
    for host in ("127.0.0.1:8470", "localhost", "LOCALHOST.", "[::1]:8470"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_are_configurable(console_db: str, own_users: Path) -> None:
    hosts = ("console.example.org",)
    with console_client(console_db, own_users, "http://console.example.org", allowed_hosts=hosts) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/healthz", headers={"Host": "127.0.0.1"}).status_code == 400


@pytest.mark.parametrize(
    ("header", "name"),
    [("[::1]:80", "::1"), ("Example.ORG.:443", "example.org"), ("10.0.0.1", "10.0.0.1"), ("", "")],
)
def test_host_name_parsing(header: str, name: str) -> None:
    assert host_name(header) == name


def test_healthz_says_only_ok_or_not_ok_without_login(client: TestClient, own_users: Path) -> None:
    r = client.get("/healthz")
    assert r.json() == {"status": "ok"}
    down = "postgresql+psycopg://clets:secret@127.0.0.1:1/clets"
    app = create_app(ConsoleConfig(db_url=down, users_file=own_users), engine=open_engine(down, create=False))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and r.json() == {"status": "not ok"}
    assert "127.0.0.1" not in r.text and ":1" not in r.text and "clets" not in r.text


def test_security_headers_and_a_csp_without_unsafe_inline(client: TestClient) -> None:
    for path in ("/login", "/healthz", "/static/console.css", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "cdn" not in csp and "http" not in csp
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_pages_carry_no_inline_script_or_style(client: TestClient) -> None:
    login(client, "sam")
    for path in ("/login", "/alerts", "/agencies", "/agencies/CAICE0100", "/api/docs"):
        html = client.get(path).text
        assert "<style" not in html and " style=" not in html, path
        assert "<script>" not in html and "<script " not in html.replace(
            '<script src="/static/console.js" defer>', ""
        )
        assert not re.search(r"\son[a-z]+\s*=", html), path  # no event-handler attributes
        assert "cdn.jsdelivr" not in html and "swagger" not in html.lower(), path


def test_api_docs_are_a_local_page_behind_login(client: TestClient) -> None:
    assert client.get("/api/docs", follow_redirects=False).status_code == 303
    login(client, "vic")
    page = client.get("/api/docs").text
    assert "/api/alerts/{alert_id}/acknowledge" in page and "https://" not in page


# -------------------------------------------------------------------------- password policy


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("aaaaaaaaaa", "too short"),
        ("aaaaaaaaaaaaaaaa", "too repetitive"),
        ("123456789012", "all digits"),
        ("Password2024!", "common one"),
        ("qwerty123456!!", "common one"),
        ("my rita password", "contains the user name"),
        ("Clets-Watch-2026", "tool's name"),
        ("x" * 1025, "too long"),
    ],
)
def test_password_policy_refuses_weak_passwords(password: str, message: str) -> None:
    with pytest.raises(UsersFileError, match=message):
        check_password(password, "rita")


def test_password_policy_accepts_a_passphrase() -> None:
    assert check_password("correct horse battery staple", "rita")


@pytest.mark.parametrize("name", ["clets-watch", "CLETS-WATCH", "system", "clets_watch"])
def test_the_system_actors_name_is_reserved(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsersFileError, match="reserved"):
        add_user(tmp_path / "u.toml", name, "supervisor", "a long enough passphrase")
