"""Console users: the TOML users file, Argon2 hashes, roles, and `clets-watch serve --add-user`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from clets_watch.web.users import (
    UsersFileError,
    UserStore,
    add_user,
    load_users,
    verify_password,
)


def test_add_user_hashes_and_roles_nest(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    _, replaced = add_user(path, "ana.b", "responder", "correct horse battery")
    assert not replaced
    text = path.read_text()
    assert "correct horse" not in text and "$argon2id$" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_users(path)["ana.b"]
    assert verify_password(loaded, "correct horse battery") and not verify_password(loaded, "wrong password!")
    assert loaded.can("viewer") and loaded.can("responder") and not loaded.can("supervisor")
    _, replaced = add_user(path, "ana.b", "supervisor", "another long password")
    assert replaced and load_users(path)["ana.b"].role == "supervisor"


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("bad name", "viewer", "long enough pw", "not allowed"),
        ("ok", "admin", "long enough pw", "unknown role 'admin'"),
        ("ok", "viewer", "short", "too short"),
        ("bob\n", "viewer", "long enough pw", "not allowed"),  # N10: `$` matched before a final newline
        ("clets-watch\n", "viewer", "long enough pw", "not allowed"),
    ],
)
def test_add_user_refuses_bad_input(
    tmp_path: Path, name: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(UsersFileError, match=message):
        add_user(tmp_path / "u.toml", name, role, password)
    assert not (tmp_path / "u.toml").exists()  # nothing written


def test_save_users_writes_through_a_fresh_exclusive_temporary_file(tmp_path: Path) -> None:
    """N2: the temporary file has a random name and is created with O_EXCL|O_NOFOLLOW, so a file or
    symlink planted at the old predictable name (users.toml.tmp) is neither written through nor renamed."""
    path = tmp_path / "users.toml"
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (tmp_path / "users.toml.tmp").symlink_to(victim)
    add_user(path, "ana.b", "viewer", "correct horse battery")
    add_user(path, "cy.d", "viewer", "another long password")
    assert victim.read_text() == "untouched" and sorted(load_users(path)) == ["ana.b", "cy.d"]
    assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.toml", "users.toml.tmp", "victim"]


def test_malformed_users_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "u.toml"
    with pytest.raises(UsersFileError, match="no users file"):
        load_users(path)
    path.write_text("[users.x\n")
    with pytest.raises(UsersFileError, match="not valid TOML"):
        load_users(path)
    path.write_text('[users.x]\nrole = "viewer"\npassword_hash = "plain"\n')
    with pytest.raises(UsersFileError, match="users.x: password_hash must be an Argon2 hash"):
        load_users(path)
    for name in ("bob\\n", "clets-watch\\n"):  # N10: a hand-written name with a final newline
        path.write_text(f'[users."{name}"]\nrole = "viewer"\npassword_hash = "$argon2id$v=19$x"\n')
        with pytest.raises(UsersFileError, match="is not allowed"):
            load_users(path)


def test_store_sees_added_users(tmp_path: Path) -> None:
    path = tmp_path / "u.toml"
    add_user(path, "a", "viewer", "first password")
    store = UserStore(path)
    assert store.get("b") is None
    add_user(path, "b", "supervisor", "second password")
    b = store.get("b")
    assert b is not None and b.role == "supervisor"


def _cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    # the installed console script (under `python -m clets_watch.cli` a UserError is a different class)
    return subprocess.run(
        [str(Path(sys.executable).with_name("clets-watch")), "serve", *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_cli_add_user_from_env_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    home = {"CLETS_WATCH_HOME": str(tmp_path / "home")}
    r = _cli(
        "--users",
        str(path),
        "--add-user",
        "rita",
        "--role",
        "responder",
        env={**home, "CLETS_WATCH_NEW_PASSWORD": "from the environment"},
    )
    assert r.returncode == 0 and "added user rita (responder)" in r.stdout
    r = _cli(
        "--users", str(path), "--add-user", "vic", "--role", "viewer", env=home, stdin="from standard input\n"
    )
    assert r.returncode == 0, r.stderr
    users = load_users(path)
    assert verify_password(users["rita"], "from the environment") and verify_password(
        users["vic"], "from standard input"
    )
    r = _cli("--users", str(path), "--add-user", "x", env=home)
    assert r.returncode == 2 and "--role" in r.stderr
    r = _cli("--users", str(tmp_path / "none.toml"), "--db", f"sqlite:///{tmp_path}/none.db", env=home)
    assert r.returncode == 2 and "no users file" in r.stderr and "Traceback" not in r.stderr
    r = _cli("--users", str(path), "--db", f"sqlite:///{tmp_path}/none.db", env=home)
    assert r.returncode == 2 and "no database at" in r.stderr
