"""End to end in a real headless browser (Debian's chromium driven by Playwright) against
``clets-watch serve`` as a process: log in, open an alert from the list, acknowledge it with a note,
see the ledger entry; a viewer cannot acknowledge; a supervisor suspends an agency's direct access.
Each page is screenshotted into the test's tmp dir; the alerts list also into docs/img for the README
when CLETS_WATCH_UPDATE_SCREENSHOTS is set."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.web.conftest import ICE_ERO, PASSWORDS, ConsoleServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def server(start_console: Callable[..., ConsoleServer], console_db: str) -> ConsoleServer:
    return start_console(console_db)


# Every CSP violation a page causes, from the browser's console and from the DOM event (the init
# script runs in the page before any of its own scripts; it is not subject to the page's CSP).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def csp_violations(page: Page) -> list[str]:
    return [str(v) for v in page.evaluate("window.__cspViolations || []")]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page whose console is watched: the test fails on any Content-Security-Policy violation."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_LISTENER)
    pg = context.new_page()
    console_csp: list[str] = []
    pg.on(
        "console", lambda msg: console_csp.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    try:
        yield pg
        assert not console_csp, f"CSP violations in the console log: {console_csp}"
    finally:
        context.close()


def log_in(page: Page, server: ConsoleServer, name: str, *, shot: Path | None = None) -> None:
    page.goto(f"{server.url}/alerts")
    expect(page).to_have_url(re.compile(r"/login\?next=/alerts$"))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    if shot is not None:
        page.screenshot(path=str(shot), full_page=True)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{server.url}/alerts")
    expect(page.get_by_test_id("current-user")).to_have_text(name)


def test_responder_acknowledges_an_alert_and_sees_the_ledger_entry(
    page: Page, server: ConsoleServer, tmp_path: Path, project_root: Path
) -> None:
    log_in(page, server, "rita", shot=tmp_path / "console-login.png")

    # the list: newest first, with the raid's alerts
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    rows = page.locator("#alert-rows tr")
    assert rows.count() >= 50
    page.screenshot(path=str(tmp_path / "console-alerts.png"))
    if os.environ.get("CLETS_WATCH_UPDATE_SCREENSHOTS"):  # refresh the README's picture on request only
        readme_shot = project_root / "docs" / "img" / "console-alerts.png"
        readme_shot.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tmp_path / "console-alerts.png", readme_shot)

    # filter to the raid surge rule and open the alert from the list
    page.get_by_label("Rule").select_option("dmv_by_dhs_surge")
    page.get_by_label("State").select_option("open")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"rule=dmv_by_dhs_surge"))
    first = page.locator("#alert-rows tr").first
    alert_id = first.get_attribute("data-alert-id")
    assert alert_id
    first.locator("a.alert-link").click()
    expect(page).to_have_url(f"{server.url}/alerts/{alert_id}")
    expect(page.get_by_test_id("alert-state")).to_have_text("open")
    expect(page.get_by_text("dmv_by_dhs_surge version 1")).to_be_visible()
    expect(page.locator(".pill.clause").first).to_be_visible()  # the policy clauses behind it
    assert page.locator("table.events tbody tr").count() >= 3  # evidence events (pseudonymized)
    page.screenshot(path=str(tmp_path / "console-alert.png"), full_page=True)

    # a note is required: the browser refuses the empty form, the server does too
    note = "Called ICE ERO LA CLETS coordinator; raid queries referred to DOJ"
    page.get_by_label("Note").fill(note)
    page.get_by_test_id("acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("acknowledged by rita")
    expect(page.get_by_test_id("alert-state")).to_have_text("acknowledged")
    ledger_row = page.get_by_test_id("ledger").locator("tbody tr").last
    expect(ledger_row).to_contain_text("acknowledged")
    expect(ledger_row).to_contain_text("rita")
    expect(ledger_row).to_contain_text(note)
    page.screenshot(path=str(tmp_path / "console-alert-acknowledged.png"), full_page=True)

    # the agency behind it: chart, immigration share, recommendation, filings
    agency_link = page.get_by_test_id("agency-link")
    ori = agency_link.inner_text()
    agency_link.click()
    expect(page).to_have_url(f"{server.url}/agencies/{ori}")
    expect(page.locator("svg.chart rect").first).to_be_visible()
    expect(page.get_by_test_id("immigration-share")).to_contain_text("immigration-enforcement purpose")
    expect(page.get_by_role("heading", name="Misuse disclosure filings")).to_be_visible()
    expect(page.get_by_text("Only supervisors change")).to_be_visible()
    page.screenshot(path=str(tmp_path / "console-agency.png"), full_page=True)
    for name in ("console-login.png", "console-alerts.png", "console-alert.png", "console-agency.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_viewer_cannot_acknowledge(page: Page, server: ConsoleServer, tmp_path: Path) -> None:
    log_in(page, server, "vic")
    page.locator("#alert-rows a.alert-link").first.click()
    expect(page.get_by_test_id("read-only")).to_contain_text("viewer")
    expect(page.get_by_test_id("acknowledge")).to_have_count(0)
    ledger_before = page.get_by_test_id("ledger").locator("tbody tr").count()
    page.screenshot(path=str(tmp_path / "console-alert-viewer.png"), full_page=True)

    # even a hand-made POST with the session's CSRF token is refused for the viewer's role
    alert_path = page.url.removeprefix(server.url)
    status = page.evaluate(
        """async (path) => {
            const me = await (await fetch('/api/me')).json();
            const form = new URLSearchParams({note: 'viewer tries', csrf_token: me.csrf_token});
            const r = await fetch(path + '/acknowledge', {method: 'POST', body: form, redirect: 'manual'});
            const api = await fetch('/api' + path + '/acknowledge', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
                body: JSON.stringify({note: 'viewer tries'})});
            return [r.status, api.status];
        }""",
        alert_path,
    )
    assert status == [403, 403]
    page.reload()
    assert page.get_by_test_id("ledger").locator("tbody tr").count() == ledger_before
    expect(page.get_by_test_id("alert-state")).not_to_have_text("acknowledged")


def test_supervisor_suspends_direct_access(page: Page, server: ConsoleServer, tmp_path: Path) -> None:
    log_in(page, server, "sam")
    page.goto(f"{server.url}/agencies/{ICE_ERO}")
    reason = "Raid on 12 Jun 2019: DMV look-ups for immigration enforcement"
    page.get_by_label("Reason").fill(reason)
    page.get_by_test_id("suspend").click()
    expect(page.get_by_role("status")).to_contain_text(
        "suspend direct access; written requests only — by sam"
    )
    expect(page.get_by_test_id("recommendation")).to_have_text("suspend")
    history = page.locator("table.history tbody tr").first
    expect(history).to_contain_text("sam")
    expect(history).to_contain_text(reason)
    page.screenshot(path=str(tmp_path / "console-agency-suspended.png"), full_page=True)

    page.goto(f"{server.url}/agencies")
    expect(page.locator("table.agencies tbody tr").first).to_contain_text(ICE_ERO)
    expect(page.locator("table.agencies tbody tr").first).to_contain_text("suspend")


def test_every_page_works_under_the_content_security_policy(page: Page, server: ConsoleServer) -> None:
    """No inline script or style: the CSP has no 'unsafe-inline', and the console log shows no
    violation on any page, while the external script and stylesheet do their work."""
    response = page.goto(f"{server.url}/login")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "http" not in csp  # no CDN
    log_in(page, server, "sam")
    # the stylesheet applies (header colour) and console.js runs (it stamps the live-refresh time)
    header_bg = page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor")
    assert header_bg == "rgb(20, 33, 61)"
    expect(page.locator("[data-updated]")).to_have_text(re.compile(r"\d\d:\d\d:\d\d UTC"))
    page.locator("#alert-rows a.alert-link").first.click()
    expect(page.get_by_test_id("alert-state")).to_be_visible()
    page.goto(f"{server.url}/agencies")
    page.goto(f"{server.url}/agencies/{ICE_ERO}")
    expect(page.locator("svg.chart rect").first).to_be_visible()
    expect(page.locator("svg.swatch rect").first).to_be_visible()  # the legend colours, without style=""
    page.goto(f"{server.url}/api/docs")
    expect(page.get_by_role("heading", name="Console API")).to_be_visible()
    assert page.locator("table.api-ops tbody tr").count() >= 9
    assert csp_violations(page) == []


def test_the_csp_watch_sees_an_inline_script(browser: Browser, server: ConsoleServer) -> None:
    """The control for the test above: an inline script added to a console page is blocked, and
    both the DOM event and the console message report it."""
    context = browser.new_context()
    context.add_init_script(CSP_LISTENER)
    pg = context.new_page()
    messages: list[str] = []
    pg.on("console", lambda msg: messages.append(msg.text))
    try:
        pg.goto(f"{server.url}/login")
        pg.evaluate("""() => { const s = document.createElement('script');
                              s.textContent = 'window.__ran = true'; document.body.appendChild(s); }""")
        pg.wait_for_timeout(200)
        assert pg.evaluate("window.__ran === true") is False
        assert any("script-src" in v for v in csp_violations(pg))
        assert any("Content Security Policy" in m for m in messages)
    finally:
        context.close()
