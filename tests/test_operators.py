"""`points-gateway operator add|list|remove`: the console's accounts in the journal, with a
strong hash and never the password itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import write_config
from tests.servers import clean_env

PASSWORD = "a-long-enough-password-42"


def cli(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "operator", *args, "--config", str(config)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )


def test_operators_are_added_listed_and_removed(tmp_path, employees_csv, database_url):
    config = write_config(tmp_path, database_url)
    added = cli(config, "add", "alice", "--role", "operator", "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0 and "alice added (operator)" in added.stdout
    cli(config, "add", "victor", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    listed = cli(config, "list").stdout.splitlines()
    assert listed == ["alice\toperator\t*", "victor\tviewer\t*"]  # * : every program
    again = cli(config, "add", "alice", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert cli(config, "remove", "alice").returncode == 0
    gone = cli(config, "remove", "alice")
    assert gone.returncode == 1 and "no operator named 'alice'" in gone.stderr
    engine = create_engine(database_url)
    with engine.connect() as conn:
        (stored,) = conn.execute(text("SELECT password_hash FROM operators")).one()
    engine.dispose()
    assert stored.startswith("scrypt:") and PASSWORD not in stored


def test_weak_passwords_odd_names_and_unknown_roles_are_refused(
    tmp_path, employees_csv, database_url
):
    config = write_config(tmp_path, database_url)
    short = cli(config, "add", "bob", "--role", "viewer", "--password-stdin", stdin="short")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    odd = cli(config, "add", "bob smith", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    assert odd.returncode == 2 and "a name is" in odd.stderr
    role = cli(config, "add", "bob", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    assert role.returncode == 2 and "admin" in role.stderr
    assert cli(config, "list").stdout == ""


def test_operator_remove_ends_the_operator_s_console_sessions_at_once(
    tmp_path, employees_csv, database_url
):
    from gateway.app import create_app
    from tests.test_console import console_config, log_in

    config = console_config(tmp_path, database_url)
    app = create_app(config)
    for name in ("alice", "victor"):
        added = cli(config, "add", name, "--role", "viewer", "--password-stdin", stdin=PASSWORD)
        assert added.returncode == 0, added.stderr
    alice, victor = app.test_client(), app.test_client()
    assert log_in(alice, "alice", PASSWORD) == 302 and log_in(victor, "victor", PASSWORD) == 302
    removed = cli(config, "remove", "alice")
    assert removed.returncode == 0 and "1 console session ended" in removed.stdout, removed.stdout
    engine = create_engine(database_url)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT operator FROM console_sessions")).scalars().all()
    engine.dispose()
    assert left == ["victor"]
    assert alice.get("/console/").status_code == 302
    assert victor.get("/console/").status_code == 200
    app.extensions["points_gateway"].close()


def test_operator_add_checks_the_configuration_before_asking_for_a_password(tmp_path):
    """Found by a newcomer: the command asked for the password twice, and only then said there
    was no configuration. It says so first, without a prompt (stdin stays unread)."""
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "operator", "add", "alice", "--role", "operator"],
        input="typed-password-one\ntyped-password-one\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Password" not in out.stdout + out.stderr
    assert out.stderr.startswith("points-gateway: error: no configuration")
    missing = tmp_path / "nope.toml"
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "operator", "add", "alice", "--role", "operator",
         "--config", str(missing)],
        input="x\nx\n", capture_output=True, text=True, timeout=60, env=clean_env(),
    )  # fmt: skip
    assert out.returncode == 2 and "Password" not in out.stdout + out.stderr
