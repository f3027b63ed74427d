"""`points-gateway operator add --programs`, `operator list` and `operator scope`: which
programs' console pages an operator may see, checked against the configuration's programs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.config import load_settings
from tests.conftest import EMPLOYEES, write_config, write_csv
from tests.test_console import log_in
from tests.test_operators import PASSWORD, cli
from tests.test_programs import program_table


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    """The default program, india and uk, with the console on."""
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    path = write_config(tmp_path, database_url)
    text = path.read_text() + "[console]\nenabled = true\nsecure_cookies = false\n"
    path.write_text(text + program_table(tmp_path, "india") + program_table(tmp_path, "uk"))
    return path


def add(config: Path, name: str, *more: str) -> subprocess.CompletedProcess[str]:
    return cli(config, "add", name, "--role", "viewer", "--password-stdin", *more, stdin=PASSWORD)


def test_operators_are_added_with_a_scope_listed_with_it_and_rescoped(config: Path):
    assert add(config, "ivy", "--programs", " uk , india").returncode == 0
    every = add(config, "root")
    assert every.returncode == 0 and "programs: *" in every.stdout
    assert cli(config, "list").stdout.splitlines() == ["ivy\tviewer\tindia,uk", "root\tviewer\t*"]
    changed = cli(config, "scope", "ivy", "--programs", "default")
    assert changed.returncode == 0 and changed.stdout == "operator ivy: programs default\n"
    assert cli(config, "scope", "root", "--programs", "*").returncode == 0
    assert cli(config, "list").stdout.splitlines() == ["ivy\tviewer\tdefault", "root\tviewer\t*"]


def test_a_program_the_configuration_does_not_have_is_one_line_and_exit_2(config: Path):
    for args in (
        ("add", "ivy", "--role", "viewer", "--programs", "india,nope"),
        ("scope", "root", "--programs", "nope"),
    ):
        out = cli(config, *args, stdin=f"{PASSWORD}\n{PASSWORD}\n")
        assert out.returncode == 2, out.stderr
        assert out.stderr == (
            "points-gateway: error: --programs: 'nope' is not one of this configuration's "
            "programs (default, india, uk)\n"
        )
        assert "Password" not in out.stdout + out.stderr  # said before asking for one
    for scope in ("", "*,india", "india uk", "../default"):
        out = add(config, "ivy", "--programs", scope)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert out.stderr.startswith("points-gateway: error: --programs: ")
    assert cli(config, "list").stdout == ""


def test_scoping_nobody_is_exit_1(config: Path):
    out = cli(config, "scope", "nobody", "--programs", "india")
    assert out.returncode == 1 and "no operator named 'nobody'" in out.stderr


def test_a_scope_changed_by_the_command_holds_in_an_open_console_session(config: Path):
    app = create_app(load_settings(config))
    try:
        assert add(config, "ivy", "--programs", "india,uk").returncode == 0
        client = app.test_client()
        assert log_in(client, "ivy", PASSWORD) == 302
        assert client.get("/console/p/uk/").status_code == 200
        assert cli(config, "scope", "ivy", "--programs", "india").returncode == 0
        assert client.get("/console/p/uk/").status_code == 404
        assert client.get("/console/p/india/").status_code == 200
    finally:
        app.extensions["points_gateway"].close()
