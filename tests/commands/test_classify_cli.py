"""The classify / explain / eval commands, driven through a parser holding only this module."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from clets_watch.cli import UserError
from clets_watch.commands import classify as cmd
from processors.policy import load_policy
from tests.commands.events import event

EVENT = event(reason="hold for ICE")


def run(argv: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cmd.register(sub)
    args = parser.parse_args(argv)
    out = io.StringIO()
    assert monkeypatch is not None
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    monkeypatch.setattr(sys, "stdout", out)
    code = args.func(args)
    return code, out.getvalue()


def test_classify_one_line_per_input_line_in_order_with_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    second = EVENT | {"event_id": "e-2", "reason": "traffic stop"}
    bad_ori = EVENT | {"event_id": "e-3", "ori": "bad"}
    lines = [json.dumps(EVENT), "{not json", json.dumps(second), json.dumps(bad_ori), ""]
    code, out = run(["classify"], "\n".join(lines) + "\n", monkeypatch)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 5
    assert rows[0] == {
        "event_id": "e-1",
        "verdict": "prohibited",
        "purpose": "immigration_enforcement",
        "rules": ["POL-2.immigration-indicator", "POL-2b.prohibited-source"],
        "policy_version": "1",
        "policy_digest": load_policy().digest,
    }
    assert rows[1]["policy_digest"] == rows[0]["policy_digest"]  # error lines are stamped too
    assert rows[1]["verdict"] == "error" and rows[1]["reason"] == "malformed_json" and rows[1]["line"] == 2
    assert rows[2]["event_id"] == "e-2" and rows[2]["verdict"] == "allowed"
    assert rows[3] == rows[3] | {"event_id": "e-3", "verdict": "error", "reason": "invalid_ori"}
    assert rows[4]["verdict"] == "error"


def test_classify_unreadable_files_are_user_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read policy file"):
        run(["classify", "--policy", str(tmp_path / "nope.yaml")], "", monkeypatch)
    with pytest.raises(UserError, match="cannot read agency registry"):
        run(["classify", "--agencies", str(tmp_path / "nope.csv")], "", monkeypatch)


def test_classify_custom_policy_version_is_stamped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundled = Path(cmd.__file__).resolve().parents[2] / "processors" / "policy" / "policy_v1.yaml"
    text = bundled.read_text(encoding="utf-8").replace('version: "1"', 'version: "1.1-test"', 1)
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    _, out = run(["classify", "--policy", str(path)], json.dumps(EVENT) + "\n", monkeypatch)
    assert json.loads(out)["policy_version"] == "1.1-test"
    assert json.loads(out)["policy_digest"] != load_policy().digest  # the content changed, so does the digest


def test_explain_shows_the_statute_lookup_and_the_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    event = EVENT | {"reason": "12500(a) VC no lic, 26150 PC"}
    _, out = run(["explain", "-"], json.dumps(event), monkeypatch)
    assert "statute '12500(a) vc' -> VC 12500: misdemeanor" in out
    assert "PC 26150: licensing" in out and load_policy().digest in out


def test_explain_from_stdin_shows_every_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(["explain", "-"], json.dumps(EVENT), monkeypatch)
    assert code == 0
    assert "PROHIBITED" in out and "[FIRED] POL-2b.prohibited-source" in out
    assert "POL-2d.revoked-access" in out and "POL-4.personal-use" in out


def test_explain_looks_up_an_archive(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for i in range(3):
            fh.write(
                json.dumps(EVENT | {"event_id": f"e-{i}", "reason": "traffic stop" if i != 2 else "CCW app"})
                + "\n"
            )
    code, out = run(["explain", "e-2", "--input", str(path), "--json"], "", monkeypatch)
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    assert data["verdict"]["event_id"] == "e-2" and data["verdict"]["purpose"] == "non_criminal_justice"
    assert any(t["rule"] == "POL-3.ncj-under-cj-code" and t["fired"] for t in data["traces"])
    with pytest.raises(UserError, match="not in"):
        run(["explain", "nope", "--input", str(path)], "", monkeypatch)
    with pytest.raises(UserError, match="--input"):
        run(["explain", "e-1"], "", monkeypatch)


def test_eval_json_reports_scores_per_verdict_and_purpose(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(["eval", "--events", "1500", "--seed", "11", "--json", "--bench"], "", monkeypatch)
    assert code == 0
    data = json.loads(out)
    assert data["evaluated"] == 1500 and data["seed"] == 11
    for key in ("prohibited", "review", "allowed"):
        assert set(data["verdict"]["per_class"][key]) >= {"precision", "recall", "f1", "support"}
    assert set(data["purpose"]["per_class"]) >= {
        "immigration_enforcement",
        "criminal_justice",
        "non_criminal_justice",
        "unknown",
    }
    assert len(data["verdict"]["confusion"]["rows_expected_cols_predicted"]) == 3
    assert sum(map(sum, data["purpose"]["confusion"]["rows_expected_cols_predicted"])) == 1500
    assert data["verdict"]["per_class"]["prohibited"]["recall"] > 0.9
    assert data["bench"]["events_per_second"] > 0


def test_eval_text_output(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(["eval", "--events", "300", "--seed", "12"], "", monkeypatch)
    assert code == 0 and "precision" in out and "confusion" in out and "seed 12" in out


def test_eval_reads_an_archive_with_truth_sidecar(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    events = tmp_path / "run.jsonl"
    truth = tmp_path / "run.truth.jsonl"
    events.write_text(
        json.dumps(EVENT) + "\n" + json.dumps(EVENT | {"event_id": "e-2", "reason": "dui"}) + "\n"
    )
    truth.write_text(
        json.dumps({"event_id": "e-1", "purpose": "immigration_enforcement", "verdict": "prohibited"})
        + "\n"
        + json.dumps({"event_id": "e-2", "purpose": "criminal_justice", "verdict": "allowed"})
        + "\n"
    )
    code, out = run(["eval", "--input", str(events), "--truth", str(truth), "--json"], "", monkeypatch)
    assert code == 0
    data = json.loads(out)
    assert data["evaluated"] == 2 and data["verdict"]["accuracy"] == 1.0
