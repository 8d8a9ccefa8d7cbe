"""When a long command draws its progress bar: ``--progress``/``--no-progress`` decide; without either, only
for a person (stderr a terminal) who did not ask for program output (``--json``) or silence (``--quiet``)."""

from __future__ import annotations

import io

import pytest

from clets_watch.progress import Progress, progress_enabled


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("flag", "terminal", "quiet", "shown"),
    [
        (None, True, False, True),
        (None, True, True, False),
        (None, False, False, False),
        (True, False, True, True),
        (False, True, False, False),
    ],
)
def test_progress_enabled(flag: bool | None, terminal: bool, quiet: bool, shown: bool) -> None:
    out = _Terminal() if terminal else io.StringIO()
    assert progress_enabled(flag, out, quiet=quiet) is shown


def test_the_bar_is_one_line_redrawn_in_place() -> None:
    out = io.StringIO()
    bar = Progress(100, "seconds", out, enabled=True)
    bar.events = 1234
    bar.update(50, force=True)
    bar.finish(100)
    draws = out.getvalue().split("\r")[1:]
    assert "50.0%" in draws[0] and "1,234 events" in draws[0]
    assert "100.0%" in draws[-1] and out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1
