"""Fixtures the command tests share: a fresh home per test that holds the console users ``--by`` must name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clets_watch.actor import PASSWORD_ENV
from clets_watch.settings import get_settings
from clets_watch.web.users import add_user

#: the console users of the CLI tests (``alerts``/``incidents`` ack and resolve act as one of them)
CLI_USERS = {"j.doe": "responder", "k.roe": "supervisor", "v.iew": "viewer", "on.call": "responder"}
#: their password (one for all), given to the commands through CLETS_WATCH_ACTOR_PASSWORD
CLI_PASSWORD = "long shared passphrase 42"


@pytest.fixture(scope="session")
def cli_users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-users") / "console-users.toml"
    for name, role in CLI_USERS.items():
        add_user(path, name, role, CLI_PASSWORD)
    return path


@pytest.fixture
def cli_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli_users_file: Path) -> Path:
    """A fresh home per test (no database URL from the environment) holding the console users, and their
    password in the environment (the CLI checks it)."""
    for name in ("CLETS_WATCH_DB_URL", "CLETS_WATCH_CONSOLE_USERS_FILE", "CLETS_WATCH_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(PASSWORD_ENV, CLI_PASSWORD)
    home = tmp_path / "home"
    monkeypatch.setenv("CLETS_WATCH_HOME", str(home))
    home.mkdir()
    shutil.copyfile(cli_users_file, home / "console-users.toml")
    get_settings.cache_clear()
    return home
