"""The users file fails closed: when a re-read finds it broken, missing or (in production) writable by others,
nobody is known until it is fixed: every login is refused, every session ends, /healthz says not ok, and the
error is logged. A user entry with an unknown key is refused, naming the key."""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clets_watch.web.users import UsersFileError, UserStore, hash_password, load_users
from tests.web.conftest import PASSWORDS, basic, login, make_app


@pytest.fixture
def own_users(users_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "own-users.toml"
    shutil.copyfile(users_file, path)
    path.chmod(0o600)
    return path


@pytest.fixture
def client_over(console_db: str, own_users: Path) -> Iterator[Callable[..., TestClient]]:
    apps = []

    def make(**options: object) -> TestClient:
        app = make_app(console_db, own_users, **options)
        apps.append(app)
        return TestClient(app, base_url="http://127.0.0.1")

    yield make
    for app in apps:
        app.state.engine.dispose()


def _remove_rita_with_a_typo(path: Path) -> None:
    text = path.read_text()
    start = text.index('[users."rita"]')
    end = text.index("[users.", start + 1)
    path.write_text(text[:start] + text[end:] + '[users."x]\n')  # an unterminated string


@pytest.mark.parametrize(
    ("break_it", "problem"),
    [(_remove_rita_with_a_typo, "not valid TOML"), (Path.unlink, "no users file")],
    ids=["broken-edit", "deleted"],
)
def test_a_broken_or_deleted_users_file_refuses_everyone_and_ends_sessions(
    client_over: Callable[..., TestClient],
    own_users: Path,
    caplog: pytest.LogCaptureFixture,
    break_it: Callable[[Path], object],
    problem: str,
) -> None:
    good = own_users.read_text()
    client = client_over()
    login(client, "sam")
    assert client.get("/api/me").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
    with caplog.at_level(logging.ERROR, logger="clets_watch.console"):
        break_it(own_users)
        assert client.get("/api/me").status_code == 401  # the session ended
        assert client.get("/api/me", auth=basic("rita")).status_code == 401
        assert client.get("/api/me", auth=basic("vic")).status_code == 401
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json() == {"status": "not ok"}
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and problem in errors[0] and "refusing every login" in errors[0]
    own_users.write_text(good)
    own_users.chmod(0o600)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/me", auth=basic("vic")).status_code == 200
    assert client.get("/api/me").status_code == 401  # the ended session stays ended


def test_a_users_file_made_group_writable_after_start_refuses_everyone(
    client_over: Callable[..., TestClient], own_users: Path
) -> None:
    client = client_over(users_file_owner_only=True)
    assert client.get("/api/me", auth=basic("vic")).status_code == 200
    own_users.chmod(0o620)  # chmod alone: the content did not change
    assert client.get("/api/me", auth=basic("vic")).status_code == 401
    assert client.get("/healthz").status_code == 503
    own_users.chmod(0o666)
    with own_users.open("a") as fh:  # what an attacker appends once the file is world-writable
        fh.write(
            '[users."mallory"]\nrole = "supervisor"\npassword_hash = "$argon2id$v=19$m=65536,t=3,p=4$x$y"\n'
        )
    assert client.get("/api/me", auth=basic("sam")).status_code == 401
    own_users.chmod(0o600)
    assert client.get("/api/me", auth=basic("sam")).status_code == 200


def test_an_owner_only_store_refuses_a_writable_file_at_start(own_users: Path) -> None:
    own_users.chmod(0o606)
    with pytest.raises(UsersFileError, match="writable by others"):
        UserStore(own_users, owner_only=True)
    assert len(UserStore(own_users)) == 3  # outside production the mode is not checked


def _symlink_it(path: Path) -> None:
    real = path.with_name("real-users.toml")
    path.rename(real)
    path.symlink_to(real)


def _give_it_away(path: Path) -> None:
    os.chown(path, 65534, -1)  # nobody (the tests run as root, who may chown)


@pytest.mark.parametrize(
    ("swappable", "message"),
    [
        (_symlink_it, "is a symlink"),
        (_give_it_away, "is owned by uid 65534, not by this user"),
        (
            lambda path: path.parent.chmod(0o777),
            "is writable by its group and others (mode 0777), who could swap",
        ),
        (lambda path: path.parent.chmod(0o730), "is writable by its group (mode 0730)"),
    ],
    ids=["symlink", "other-owner", "world-writable-folder", "group-writable-folder"],
)
def test_an_owner_only_store_refuses_a_file_another_account_could_swap(
    own_users: Path, swappable: Callable[[Path], object], message: str
) -> None:
    """N2: in production the users file must be the current user's own regular file, in a folder only
    they may write; else another account could rename (or re-point) their own file over it."""
    swappable(own_users)
    try:
        with pytest.raises(UsersFileError, match=re.escape(message)):
            UserStore(own_users, owner_only=True)
        assert len(UserStore(own_users)) == 3  # outside production none of this is checked
    finally:
        own_users.parent.chmod(0o700)


def test_a_users_file_swapped_in_a_world_writable_folder_after_start_refuses_everyone(
    client_over: Callable[..., TestClient], own_users: Path
) -> None:
    """N2 as reproduced: another user renames their own 0600 file, with a supervisor added, over the
    users file in a folder they may write; the console refuses everyone instead of taking it."""
    client = client_over(users_file_owner_only=True)
    assert client.get("/api/me", auth=basic("vic")).status_code == 200
    own_users.parent.chmod(0o777)
    try:
        forged = own_users.with_name("forged.toml")
        forged.write_text(
            own_users.read_text()
            + f'[users."mallory"]\nrole = "supervisor"\npassword_hash = "{hash_password(PASSWORDS["sam"])}"\n'
        )
        forged.chmod(0o600)
        _give_it_away(forged)
        forged.replace(own_users)
        assert client.get("/api/me", auth=("mallory", PASSWORDS["sam"])).status_code == 401
        assert client.get("/api/me", auth=basic("vic")).status_code == 401
        assert client.get("/healthz").status_code == 503
    finally:
        own_users.parent.chmod(0o700)


def test_a_hand_written_reserved_name_with_a_final_newline_fails_closed(
    client_over: Callable[..., TestClient], own_users: Path
) -> None:
    """N10: ``[users."clets-watch\\n"]`` passed the name check (``$`` matches before a final newline), logged
    in, and got a 500 from the sink on an action; now the file is invalid: everyone gets 401, never a 500."""
    client = client_over()
    assert client.get("/api/me", auth=basic("sam")).status_code == 200
    with own_users.open("a") as fh:
        fh.write(
            f'[users."clets-watch\\n"]\nrole = "responder"\npassword_hash = "{hash_password(PASSWORDS["sam"])}"\n'
        )
    for name in ("clets-watch\n", "sam"):
        assert client.get("/api/me", auth=(name, PASSWORDS["sam"])).status_code == 401
    assert client.get("/healthz").status_code == 503


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("disabled = true\n", "users.x: unknown key 'disabled': a user has only password_hash, role"),
        ('rloe = "viewer"\n', "users.x: unknown key 'rloe'"),
        ("expires = 2020-01-01\n", "users.x: unknown key 'expires'"),
        ('role = "supervisor"\n', "not valid TOML"),  # TOML itself refuses a key written twice
    ],
)
def test_a_user_entry_with_an_unknown_or_repeated_key_is_refused(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = tmp_path / "u.toml"
    path.write_text(
        '[users.x]\nrole = "viewer"\npassword_hash = "$argon2id$v=19$m=65536,t=3,p=4$x$y"\n' + entry
    )
    with pytest.raises(UsersFileError, match=message):
        load_users(path)
