"""On-call, for real: raid stream -> Kafka -> worker -> Prometheus rule -> Alertmanager route -> webhook.

Also: the pipeline's own alerts, pushed with ``AlertmanagerClient``, are held once per alert id by a
real Alertmanager and reach the on-call webhook with their evidence.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from processors.agencies import AgencyRegistry
from producers.kafka_out import produce
from producers.simulator import generate
from schemas.outputs import Alert, Evidence
from sinks.alertmanager import AlertmanagerClient
from tests.helpers import REQUIRED_ALERTS
from tests.integration.scrape import KeepScraped
from tests.integration.webhook import WebhookReceiver
from tests.integration.workers import sqlite_worker
from tests.processors.factories import make_alert
from tests.sinks.stores import Stores

pytestmark = pytest.mark.integration

KEY = "oncall-test-pseudonym-key"
START = dt.datetime.fromisoformat("2019-06-12T05:00:00-07:00")
# Raid agencies of this test only, so that its alerts never share labels with another test's raid.
RAID_ORIS = {"CAICE0200": "ICE-ERO", "CACBP0200": "CBP"}


DHS_COMPONENTS = {"ICE-ERO", "ICE-HSI", "CBP", "USCIS"}


def expected_component(ori: str) -> str | None:
    agency = AgencyRegistry.load().get(ori)
    return agency.component if agency else None


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def _webhook_address(url: str) -> tuple[int, str]:
    parsed = urllib.parse.urlsplit(url)
    assert parsed.hostname == "127.0.0.1" and parsed.port, (
        f"the test Alertmanager's webhook {url} is not local"
    )
    return parsed.port, parsed.path or "/"


def _loaded_alert_rules(prometheus: Any) -> set[str]:
    body = _get_json(f"{prometheus.url}/api/v1/rules?type=alert")
    return {rule["name"] for group in body["data"]["groups"] for rule in group["rules"]}


def test_dhs_prohibited_queries_page_oncall_through_alertmanager(
    kafka_bootstrap: str, kafka_topic: Any, prometheus: Any, alertmanager: Any, free_port: Any, tmp_path: Path
) -> None:
    # The stack's Prometheus loads deploy/prometheus/rules/*.yml; reload in case it started before they changed.
    prometheus.reload()
    assert REQUIRED_ALERTS <= _loaded_alert_rules(prometheus)

    queries = kafka_topic("q")
    raid = "raid:oris=" + "+".join(RAID_ORIS)
    items = list(
        generate(
            seed=77, start=START, duration=dt.timedelta(minutes=35), rate_per_second=1.0, scenarios=[raid]
        )
    )
    prohibited_dhs = [
        i for i in items if i.event["ori"] in RAID_ORIS and i.truth.get("verdict") == "prohibited"
    ]
    assert len(prohibited_dhs) > 20, "the raid must contain prohibited DMV look-ups by the raid agencies"
    assert produce(items, bootstrap=kafka_bootstrap, topic=queries, create_topic=False).sent == len(items)

    port, path = _webhook_address(alertmanager.webhook_url)
    group = f"oncall-{uuid.uuid4().hex[:8]}"
    metrics_port = free_port()
    # the worker also pushes its own rich alerts, with a link to the console
    to_alertmanager = {
        "CLETS_WATCH_ALERTMANAGER_URL": alertmanager.url,
        "CLETS_WATCH_CONSOLE_URL": "http://127.0.0.1:8470",
    }
    worker = sqlite_worker(
        kafka_bootstrap, kafka_topic, queries, group, tmp_path, metrics_port, KEY, **to_alertmanager
    )
    instance = f"127.0.0.1:{metrics_port}"
    with WebhookReceiver(port=port, path=path) as webhook, KeepScraped(prometheus.stack, instance):
        worker.start()
        try:
            worker.wait_consumed(kafka_bootstrap, group, queries, timeout=120)

            # Prometheus: the rule fires for this worker's raid agencies (background misuse by other DHS
            # offices may add some), and for DHS components only.
            firing = prometheus.wait_for(
                f'ALERTS{{alertname="DHSProhibitedQueries", alertstate="firing", instance="{instance}"}}',
                timeout=60,
            )
            assert set(RAID_ORIS) <= {a["metric"]["ori"] for a in firing}
            for a in firing:
                assert a["metric"]["component"] == expected_component(a["metric"]["ori"])
                assert a["metric"]["component"] in DHS_COMPONENTS
                assert a["metric"]["severity"] == "critical"

            # Alertmanager routes it to the paging receiver, and the webhook gets the notification. (Within
            # group_interval when another run's alert for the same agency was already notified.)
            note, alert = webhook.wait_for(
                lambda a: (
                    a["labels"].get("alertname") == "DHSProhibitedQueries"
                    and a["labels"].get("instance") == instance
                ),
                timeout=60,
            )
            labels = alert["labels"]
            assert note["receiver"] == "oncall-webhook-critical"
            assert note["status"] == "firing" and alert["status"] == "firing"
            assert labels["severity"] == "critical"
            assert labels["component"] == expected_component(labels["ori"])
            assert labels["ori"] in alert["annotations"]["summary"]
            assert alert["annotations"]["runbook"] == "docs/oncall.md#dhsprohibitedqueries"
            assert note["groupLabels"]["alertname"] == "DHSProhibitedQueries"
            assert note["groupLabels"]["ori"] == labels["ori"]

            held = [
                a
                for a in alertmanager.alerts()
                if a["labels"].get("alertname") == "DHSProhibitedQueries"
                and a["labels"]["instance"] == instance
            ]
            assert {a["labels"]["ori"] for a in held} == {a["metric"]["ori"] for a in firing}
            assert all([r["name"] for r in a["receivers"]] == ["oncall-webhook-critical"] for a in held)

            # The pipeline's own alerts reach Alertmanager as incidents: one per raid agency (its hundreds
            # of prohibited queries are one case), each with the incident id, agency, component, severity,
            # the runbook and a link to the incident's page in the console.
            db = Stores.open(f"sqlite:///{tmp_path / 'clets-watch.db'}", create=False)
            try:
                raid_alerts = [a for a in db.alerts.list_alerts(limit=100_000) if a.ori in RAID_ORIS]
            finally:
                db.close()
            assert len(raid_alerts) > 20 and all(a.incident_id for a in raid_alerts)
            incident_ids = {a.incident_id for a in raid_alerts}
            assert len(incident_ids) == len(
                RAID_ORIS
            )  # every alert of a raiding agency is in its one incident
            pushed = [
                a
                for a in alertmanager.alerts()
                if a["labels"].get("source") == "clets-watch" and a["labels"].get("ori") in RAID_ORIS
            ]
            assert {a["labels"]["incident_id"] for a in pushed} == incident_ids
            assert all(a["labels"]["alertname"] == "CletsIncident" for a in pushed)
            sample = pushed[0]
            assert sample["labels"]["component"] == RAID_ORIS[sample["labels"]["ori"]]
            assert sample["labels"]["severity"] == "critical"
            assert sample["annotations"]["runbook_url"] == "docs/oncall.md#incidents"
            assert sample["annotations"]["link"] == (
                f"http://127.0.0.1:8470/incidents/{sample['labels']['incident_id']}"
            )

            # Pages: count the webhook notifications that carry a raid agency's incident, after waiting
            # longer than the critical route's group_interval (30 s) so a re-notification would show.
            for iid in incident_ids:

                def carries(alert: dict[str, Any], iid: str | None = iid) -> bool:
                    return bool(alert["labels"].get("incident_id") == iid)

                webhook.wait_for(carries, timeout=60)
            time.sleep(40)
            for iid in incident_ids:
                pages = [
                    n
                    for n in webhook.received()
                    if n.get("status") == "firing"
                    and any(a["labels"].get("incident_id") == iid for a in n.get("alerts", []))
                ]
                print(
                    f"incident {iid}: {len(pages)} page(s) for "
                    f"{sum(1 for a in raid_alerts if a.incident_id == iid)} alerts"
                )
                assert 1 <= len(pages) <= 2, f"incident {iid} paged {len(pages)} times"
            per_alert = [
                a
                for _n, a in webhook.alerts()
                if a["labels"].get("source") == "clets-watch"
                and a["labels"].get("ori") in RAID_ORIS
                and "incident_id" not in a["labels"]
            ]
            assert per_alert == []  # no page per query any more
        finally:
            worker.stop()


def _pipeline_alert(alert_id: str, ori: str, **kw: Any) -> Alert:
    fields: dict[str, Any] = {
        "rule": "dmv_by_dhs_surge",
        "window_start": "2019-06-12T12:30:00Z",
        "window_end": "2019-06-12T12:40:00Z",
        "summary": f"ICE-ERO {ori} ran 41 DMV look-ups in 10 minutes",
        "evidence": Evidence(count=41, event_ids=("ev-1", "ev-2")),
        "component": "ICE-ERO",
    }
    return make_alert(alert_id, ori=ori, **(fields | kw))


def test_pipeline_alerts_are_deduplicated_by_alert_id_and_reach_oncall(alertmanager: Any) -> None:
    port, path = _webhook_address(alertmanager.webhook_url)
    run = uuid.uuid4().hex[:10]
    first = _pipeline_alert(f"am-{run}-1", "CAICE0300")
    other = _pipeline_alert(
        f"am-{run}-2", "CAICE0300", window_start="2019-06-12T12:40:00Z", window_end="2019-06-12T12:50:00Z"
    )
    client = AlertmanagerClient(alertmanager.url, timeout=10)
    with WebhookReceiver(port=port, path=path) as webhook:
        assert client.post([first]) == 1
        assert client.post([first, other]) == 2  # `first` again, after a restart or a replay
        held = [a for a in alertmanager.alerts() if a["labels"].get("alert_id", "").startswith(f"am-{run}-")]
        assert sorted(a["labels"]["alert_id"] for a in held) == [first.alert_id, other.alert_id]
        for a in held:
            assert a["status"]["state"] == "active"
            assert a["labels"]["source"] == "clets-watch" and a["labels"]["severity"] == "critical"
            assert a["annotations"]["link"] == f"clets-watch alerts show {a['labels']['alert_id']}"

        # Critical: no group wait, so the on-call webhook hears of it at once, with the evidence.
        note, alert = webhook.wait_for(lambda a: a["labels"].get("alert_id") == first.alert_id, timeout=30)
        assert note["receiver"] == "oncall-webhook-critical"
        assert alert["labels"]["alertname"] == "dmv_by_dhs_surge"
        assert alert["annotations"]["summary"] == first.summary
        assert alert["annotations"]["evidence_count"] == "41"
        sent = [a for _n, a in webhook.alerts() if a["labels"].get("alert_id") == first.alert_id]
        assert len({json.dumps(a["labels"], sort_keys=True) for a in sent}) == 1

        # Resolving it (endsAt now) leaves the other one active.
        client.post([first], ends_at=dt.datetime.now(dt.UTC))
        active = [
            a["labels"]["alert_id"]
            for a in alertmanager.alerts()
            if a["labels"].get("alert_id", "").startswith(f"am-{run}-")
        ]
        assert active == [other.alert_id]
