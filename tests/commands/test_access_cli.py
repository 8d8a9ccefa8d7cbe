"""``clets-watch access suspend|restore`` (finding 1): a supervisor from the console's users file, proven by
their password, through the console's own path (the ledgered recommendation and the journalled decision);
an ORI the decoder accepts; no backdating."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from clets_watch import cli
from clets_watch.cli import UserError
from clets_watch.commands.access import MAX_CLOCK_SKEW, _effective_at
from sinks.db import open_engine
from sinks.ledger import verify
from tests.sinks.stores import Stores

ORI = "CA0190000"


@pytest.fixture(autouse=True)
def isolated_home(cli_home: Path) -> None:
    """A fresh home per test, holding the console users (tests/commands/conftest.py)."""


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'clets-watch.db'}"
    open_engine(url).dispose()
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def access(capsys: pytest.CaptureFixture[str], db_url: str, *argv: str) -> tuple[int, str, str]:
    return run(capsys, "access", "--db", db_url, *argv, "--no-publish")


def test_a_supervisors_decision_is_ledgered_like_the_consoles(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    code, out, err = access(capsys, db_url, "suspend", ORI, "--by", "k.roe", "--reason", "raid", "--json")
    assert code == 0, err
    decision = json.loads(out)
    assert decision["by"] == "k.roe" and decision["reason"].startswith("raid [via CLI: os user ")
    code, out, err = access(capsys, db_url, "restore", ORI, "--by", "k.roe", "--reason", "closed")
    assert code == 0 and out.startswith(f"restore {ORI} from "), err
    sink = Stores.open(db_url, create=False)
    try:
        # the recommendation the console shows follows the decision, and both are in the hash chain
        assert [(r.state, r.actor) for r in sink.recommendations.history(ORI)] == [
            ("suspend", "k.roe"),
            ("normal", "k.roe"),
        ]
        assert [r.state for r in sink.recommendations.current()] == ["normal"]
        result = verify(sink.engine)
        assert result.ok and result.entries == 4, result.problem
        with sink.engine.connect() as conn:
            kinds = [tuple(r) for r in conn.exec_driver_sql("SELECT entity_kind, action FROM ledger_entries")]
        assert kinds == [
            ("agency", "suspend"),
            ("access", "suspend"),
            ("agency", "normal"),
            ("access", "restore"),
        ]
    finally:
        sink.close()


@pytest.mark.parametrize(
    ("argv", "password", "message"),
    [
        (["--by", "clets-watch"], None, "reserved for the pipeline itself"),
        (["--by", "system"], None, "reserved for the pipeline itself"),
        (
            ["--by", "j.doe"],
            None,
            "suspending or restoring access needs the supervisor role; j.doe is a responder",
        ),
        (["--by", "Supervisor Ruiz"], None, "'Supervisor Ruiz' is not a user in"),
        (["--by", "k.roe"], "not my password at all", "--by k.roe: wrong password"),
        (["--by", "k.roe", "--at", "2019-06-12T12:20:01Z"], None, "cannot be backdated"),
        (["--by", "k.roe", "--at", "1990-01-01T00:00:00+00:00"], None, "is before the clock"),
        (["--by", "k.roe", "--at", "2999-01-01T00:00:00+00:00"], None, "it cannot be scheduled"),
        (["--by", "k.roe", "--at", "2026-01-01T00:00:00"], None, "needs a UTC offset"),
    ],
)
def test_refused_decisions_leave_no_trace(
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    password: str | None,
    message: str,
) -> None:
    if password is not None:
        monkeypatch.setenv("CLETS_WATCH_ACTOR_PASSWORD", password)
    code, out, err = access(capsys, db_url, "restore", ORI, *argv, "--reason", "restored")
    assert (code, out) == (2, "") and message in err, err
    _assert_nothing_recorded(db_url)


@pytest.mark.parametrize("ori", ["not-an-ori<script>", "ca0190000", "CA0190000\n", "CA01900001", "ZZ9999999"])
def test_the_ori_is_validated(capsys: pytest.CaptureFixture[str], db_url: str, ori: str) -> None:
    """Only an ORI the event decoder accepts, of an agency in the registry or the database."""
    code, out, err = access(capsys, db_url, "suspend", ori, "--by", "k.roe", "--reason", "raid")
    assert (code, out) == (2, "") and ("is not an ORI" in err or "no agency 'ZZ9999999'" in err), err
    assert "<script>" not in err or "'not-an-ori<script>'" in err
    _assert_nothing_recorded(db_url)


@pytest.mark.parametrize("before", [MAX_CLOCK_SKEW / 2, dt.timedelta(0)])
def test_at_within_clock_skew_is_kept(
    capsys: pytest.CaptureFixture[str], db_url: str, before: dt.timedelta
) -> None:
    """Up to MAX_CLOCK_SKEW into the past (a supervisor's clock behind the server's), or now."""
    when = (dt.datetime.now(dt.UTC) - before).replace(microsecond=0)
    code, out, err = access(
        capsys,
        db_url,
        "suspend",
        ORI,
        "--by",
        "k.roe",
        "--reason",
        "raid",
        "--at",
        when.isoformat(),
        "--json",
    )
    assert code == 0, err
    assert dt.datetime.fromisoformat(json.loads(out)["effective_at"]) == when


@pytest.mark.parametrize("ahead", [dt.timedelta(seconds=5), MAX_CLOCK_SKEW - dt.timedelta(seconds=5)])
def test_at_in_the_future_is_refused(
    capsys: pytest.CaptureFixture[str], db_url: str, ahead: dt.timedelta
) -> None:
    """N9 of the re-test: a restore dated now+4m55s, recorded before a suspension dated now, lifted that later
    suspension for the pipeline while the console showed it: a decision cannot be scheduled, not even a little."""
    when = (dt.datetime.now(dt.UTC) + ahead).isoformat()
    code, out, err = access(capsys, db_url, "restore", ORI, "--by", "k.roe", "--reason", "back", "--at", when)
    assert (code, out) == (2, "") and "is after the clock" in err and "cannot be scheduled" in err, err
    _assert_nothing_recorded(db_url)


def test_effective_at_edges() -> None:
    """Not later than the clock; at most MAX_CLOCK_SKEW before it."""
    now = dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC)
    second = dt.timedelta(seconds=1)
    assert _effective_at(None, now) == now
    assert _effective_at(now.isoformat(), now) == now
    assert _effective_at((now - MAX_CLOCK_SKEW).isoformat(), now) == now - MAX_CLOCK_SKEW
    for refused in (now + second, now - MAX_CLOCK_SKEW - second):
        with pytest.raises(UserError):
            _effective_at(refused.isoformat(), now)


def _assert_nothing_recorded(db_url: str) -> None:
    sink = Stores.open(db_url, create=False)
    try:
        with sink.engine.connect() as conn:
            counts = [
                conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                for t in ("access_decisions", "agency_recommendation_history", "ledger_entries")
            ]
        assert counts == [0, 0, 0]
    finally:
        sink.close()


def test_a_broker_that_is_down_refuses_the_decision_and_leaves_no_trace(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    """A new user's finding: with Kafka down, suspend crashed with a traceback after recording the decision.
    Now the broker is reached before anything is recorded: a one-line error, exit 2, nothing recorded."""
    from clets_watch.stack import free_port

    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    code, out, err = run(
        capsys, "access", "--db", db_url, "suspend", ORI, "--by", "k.roe", "--reason", "raid",
        "--bootstrap", bootstrap,
    )  # fmt: skip
    assert (code, out) == (2, ""), err
    assert f"no Kafka broker at {bootstrap}" in err and "nothing was recorded" in err
    assert "Traceback" not in err
    _assert_nothing_recorded(db_url)


def test_publish_names_an_unknown_decision(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    code, out, err = run(capsys, "access", "--db", db_url, "publish", "0" * 32)
    assert (code, out) == (2, "") and f"no decision '{'0' * 32}' in the database" in err, err


@pytest.mark.integration
def test_a_recorded_decision_is_published_again_by_its_id(
    capsys: pytest.CaptureFixture[str], db_url: str, kafka_bootstrap: str
) -> None:
    """Recorded without publishing (as after a failed publish), then ``access publish ID`` puts that very
    decision on the real broker's topic."""
    import uuid

    from tests.integration.workers import read_topic

    topic = f"decisions-{uuid.uuid4().hex[:8]}"
    code, out, err = access(capsys, db_url, "suspend", ORI, "--by", "k.roe", "--reason", "raid", "--json")
    assert code == 0, err
    decision = json.loads(out)
    code, out, err = run(
        capsys, "access", "--db", db_url, "publish", decision["decision_id"],
        "--bootstrap", kafka_bootstrap, "--topic", topic,
    )  # fmt: skip
    assert code == 0 and out.startswith(f"published decision {decision['decision_id']} (suspend {ORI})"), err
    records = read_topic(kafka_bootstrap, topic, limit=1)
    assert [json.loads(value) for _p, _o, value in records] == [decision]
