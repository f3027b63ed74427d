"""A plugin whose entry point names a class that is not there (a typo): `connectors` says so in
one line and lists the others, `check` of a configuration naming it is one line and exit 2.

The plugin is a real installed distribution as importlib.metadata finds one (a package and its
.dist-info folder on the path, as pip leaves them), and the commands run as processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EMPLOYEES, write_config, write_csv

TYPO = "loyalty_vault.connector:LoyaltyVaultLedgr"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding the distribution loyalty-vault 1.0, its entry point mistyped."""
    where = tmp_path / "site"
    package = where / "loyalty_vault"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "connector.py").write_text("class LoyaltyVaultLedger:\n    pass\n")
    info = where / "loyalty_vault-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: loyalty-vault\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[points_gateway.connectors]\nloyalty_vault = {TYPO}\n")
    return where


def run(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_connectors_names_the_broken_one_and_lists_the_others(site: Path) -> None:
    out = run(site, "connectors")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    (line,) = out.stderr.splitlines()
    assert "loyalty-vault 1.0" in line and f"loyalty_vault = {TYPO}" in line, line
    assert "AttributeError" in line and "'LoyaltyVaultLedgr'" in line, line
    assert line.endswith("(did you mean 'LoyaltyVaultLedger'?); left out"), line
    listed = [row.split()[0] for row in out.stdout.splitlines() if row and row[0] != " "]
    assert {"csv", "rest_ledger", "sql_ledger"} <= set(listed), out.stdout


def test_check_of_a_configuration_naming_it_is_one_line_and_exit_2(
    site: Path, tmp_path: Path
) -> None:
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    text = config.read_text()
    csv_points = '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }'
    config.write_text(text.replace(csv_points, '[points]\nconnector = "loyalty_vault"'))
    out = run(site, "check", "--config", str(config))
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    (line,) = out.stderr.splitlines()
    assert line.startswith("points-gateway: error: points.connector: connector 'loyalty_vault'")
    assert "loyalty-vault 1.0" in line and TYPO in line and "AttributeError" in line, line
