"""Incidents in a real headless Chromium against ``clets-watch serve``: the front page lists incidents, the
raid is one incident with a timeline and its alerts (searchable, sortable, paged), one acknowledge reaches
every alert and shows in the ledgers. Screenshots go to the test's tmp dir, and into docs/img when
CLETS_WATCH_UPDATE_SCREENSHOTS is set."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import ICE_ERO, ConsoleServer
from tests.web.test_browser import browser, log_in, page, server  # noqa: F401 - fixtures

SHOTS = (
    "console-incidents.png",
    "console-incident.png",
    "console-incident-acknowledged.png",
    "console-incident-alert-ledger.png",
)


def test_incidents_front_page_incident_bulk_acknowledge_and_ledger(
    page: Page,  # noqa: F811 - the fixture imported from test_browser
    server: ConsoleServer,  # noqa: F811 - the fixture imported from test_browser
    tmp_path: Path,
    project_root: Path,
) -> None:
    log_in(page, server, "rita")
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/incidents")
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    rows = page.locator("#incident-rows tr")
    assert rows.count() >= 3
    # the raid agency's alerts are one incident, and it is listed first (critical, open)
    raid = rows.filter(has_text=ICE_ERO).first
    expect(raid).to_contain_text("critical")
    expect(raid).to_contain_text("prohibited queries")
    expect(raid).to_contain_text("suspend direct access")
    assert page.locator("#incident-rows tr", has_text=ICE_ERO).count() == 1
    page.screenshot(path=str(tmp_path / SHOTS[0]), full_page=True)

    raid.locator("a.incident-link").click()
    expect(page).to_have_url(re.compile(r"/incidents/[0-9a-f]{32}$"))
    expect(page.get_by_test_id("incident-state")).to_have_text("open")
    expect(page.get_by_test_id("timeline").locator("rect.bar").first).to_be_attached()
    table = page.get_by_test_id("incident-alerts")
    total = table.locator("tbody tr").count()
    assert total > 50
    assert table.locator("tbody tr:visible").count() == 25  # paged: 25 per page by default
    pager = page.get_by_test_id("alert-pager")
    expect(pager).to_contain_text(f"{total} of {total} alert(s)")
    pager.get_by_role("link", name="2", exact=True).click()
    expect(pager.locator("span.current")).to_have_text("2")
    page.get_by_test_id("alert-size").select_option("100")
    assert table.locator("tbody tr:visible").count() == min(100, total)
    page.get_by_test_id("alert-search").fill("dmv_by_dhs_surge")
    expect(pager).to_contain_text(re.compile(r"^\D*\d+ of " + str(total)))
    surges = table.locator("tbody tr:visible").count()
    assert 1 <= surges < total
    page.get_by_test_id("alert-search").fill("")
    table.locator("th", has_text="Evidence").click()
    table.locator("th", has_text="Evidence").click()  # descending: the surge (most evidence) first
    expect(table.locator("tbody tr:visible").first).to_contain_text("dmv_by_dhs_surge")
    page.screenshot(path=str(tmp_path / SHOTS[1]), full_page=True)

    note = "Raid: referred to the CLETS compliance lead; all alerts of the incident reviewed"
    page.get_by_label("Note").fill(note)
    page.get_by_test_id("acknowledge-all").click()
    expect(page.get_by_role("status")).to_contain_text(f"Incident acknowledged by rita with {total} alert(s)")
    expect(page.get_by_test_id("incident-state")).to_have_text("acknowledged")
    ledger_row = page.get_by_test_id("incident-ledger").locator("tbody tr").last
    expect(ledger_row).to_contain_text(note)
    expect(ledger_row).to_contain_text(str(total))
    page.screenshot(path=str(tmp_path / SHOTS[2]), full_page=True)

    # every alert of it carries the acknowledgement in its own ledger
    page.get_by_test_id("alert-size").select_option("100")
    first_alert = table.locator("tbody tr:visible").first.locator("a")
    first_alert.click()
    expect(page.get_by_test_id("alert-state")).to_have_text("acknowledged")
    expect(page.get_by_test_id("ledger").locator("tbody tr").last).to_contain_text(note)
    page.screenshot(path=str(tmp_path / SHOTS[3]), full_page=True)

    if os.environ.get("CLETS_WATCH_UPDATE_SCREENSHOTS"):
        for name in SHOTS:
            dest = project_root / "docs" / "img" / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp_path / name, dest)


def test_a_suppressed_alert_links_the_alert_it_repeats_and_its_incident(
    page: Page,  # noqa: F811 - the fixture imported from test_browser
    server: ConsoleServer,  # noqa: F811 - the fixture imported from test_browser
) -> None:
    log_in(page, server, "rita")
    page.goto(f"{server.url}/alerts?rule=dmv_by_dhs_surge&state=suppressed")
    page.locator("#alert-rows tr").first.locator("a.alert-link").click()
    repeated = page.get_by_test_id("repeats-link")
    target = repeated.text_content()
    incident = page.get_by_test_id("incident-link").text_content()
    repeated.click()
    expect(page).to_have_url(f"{server.url}/alerts/{target}")
    expect(page.get_by_test_id("incident-link")).to_have_text(incident or "")
