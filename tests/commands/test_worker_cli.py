"""``clets-watch worker``: takes ``--rules`` like replay, and refuses a bad config file before it starts."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from clets_watch.cli import UserError
from clets_watch.commands import worker


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clets-watch")
    worker.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["worker", *argv])


def test_rules_flag_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules.yaml"
    assert worker.settings_from_args(parse("--rules", str(rules))).rules_file == rules
    monkeypatch.setenv("CLETS_WATCH_RULES_FILE", str(rules))
    assert worker.settings_from_args(parse()).rules_file == rules


def test_a_bad_rules_file_stops_the_worker_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  flatline:\n    enabled: 'no'\n")
    monkeypatch.setenv("CLETS_WATCH_PSEUDONYM_KEY", "worker-cli-test-key")
    monkeypatch.setenv("CLETS_WATCH_DB_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("CLETS_WATCH_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    with pytest.raises(
        UserError, match=r"configuration refused: .*rules.yaml line 3: rules.flatline.enabled"
    ):
        worker.run(parse("--rules", str(rules), "--metrics-port", "0"))
