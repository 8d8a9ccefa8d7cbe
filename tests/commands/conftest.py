"""Fixtures the command tests share: a fresh home per test that holds the console users ``--by`` must name, an
empty database of either backend, and settings read afresh from the test's ``CLETS_WATCH_*`` variables."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend: a SQLite file of this test, or a fresh PostgreSQL database of the
    test stack (integration)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'clets-watch.db'}"
    return str(request.getfixturevalue("postgres_url"))


SettingsEnv = Callable[..., None]


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[SettingsEnv]:
    """``settings_env(PSEUDONYM_KEY="k", HOME=...)`` sets ``CLETS_WATCH_*`` variables for this test; settings are
    read afresh with them, and again after the test."""

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"CLETS_WATCH_{name}", value)
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()
