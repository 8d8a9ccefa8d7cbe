"""``access --at`` and ``demo --start`` take a time with a UTC offset (``options.parse_time_with_offset``) and
refuse anything else with a one-line error, before touching Kafka or publishing anything."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from clets_watch.cli import main
from clets_watch.commands.options import parse_time_with_offset
from clets_watch.errors import UserError

ACCESS = ["access", "suspend", "CA0190000", "--by", "sup", "--reason", "why", "--no-publish", "--at"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*ACCESS, "yesterday"], "clets-watch access: --at 'yesterday' is not an RFC 3339 time"),
        ([*ACCESS, "2019-03-05T10:00"], "clets-watch access: --at '2019-03-05T10:00' needs a UTC offset"),
        (["demo", "--start", "soon"], "clets-watch demo: --start 'soon' is not an ISO 8601 time"),
        (
            ["demo", "--start", "2019-06-12T05:00:00"],
            "clets-watch demo: --start '2019-06-12T05:00:00' needs a UTC offset, e.g. 2019-06-12T05:00:00-07:00",
        ),
    ],
)
def test_a_time_without_an_offset_is_a_one_line_error(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'a.db'}"] if argv[0] == "access" else []
    assert main([*argv[:1], *db, *argv[1:]]) == 2
    assert capsys.readouterr().err == message + "\n"


def test_a_time_with_an_offset_is_kept() -> None:
    when = parse_time_with_offset("2019-03-05T10:00:00-08:00", "--at")
    assert when == dt.datetime(2019, 3, 5, 18, 0, tzinfo=dt.UTC)
    with pytest.raises(UserError, match=r"^--at '2019-03-05' needs a UTC offset$"):
        parse_time_with_offset("2019-03-05", "--at")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-03-05", dt.datetime(2019, 3, 5, 8, 0, tzinfo=dt.UTC)),  # a date: 00:00 Pacific (PST)
        (" 2019-07-05 ", dt.datetime(2019, 7, 5, 7, 0, tzinfo=dt.UTC)),  # PDT
        ("2019-03-05T10:00:00Z", dt.datetime(2019, 3, 5, 10, 0, tzinfo=dt.UTC)),
        ("2019-03-05T10:00", "--since '2019-03-05T10:00' needs a UTC offset, e.g. 2019-03-05T10:00Z or"),
        ("2019-13-05", "--since '2019-13-05' is not a date (YYYY-MM-DD) or an RFC 3339 time"),
        ("last week", "--since 'last week' is not a date (YYYY-MM-DD) or an RFC 3339 time"),
    ],
)
def test_replay_and_report_times_are_a_date_or_a_time_with_an_offset(
    text: str, expected: dt.datetime | str
) -> None:
    from clets_watch.commands.replay import parse_time

    if isinstance(expected, str):
        with pytest.raises(UserError) as refused:
            parse_time(text, flag="--since")
        assert str(refused.value).startswith(expected)
    else:
        assert parse_time(text, flag="--since") == expected
