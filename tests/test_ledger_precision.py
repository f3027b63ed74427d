"""A ledger says the decimal places it keeps (`decimals`); the gateway refuses to start when
`[gateway] max_decimals` would accept amounts it cannot hold: one line, exit 2. The ledger is
an installed distribution's (a package and its .dist-info on the path), the command a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EMPLOYEES, write_config, write_csv

HUNDREDTHS = '''
from decimal import Decimal
from marshmallow import Schema
from connectors.base import Balance, PointsLedger, Receipt


class HundredthsLedger(PointsLedger):
    """A ledger that keeps hundredths of a point."""

    options_schema = Schema
    decimals = 2

    def balance(self, profile):
        return Balance(Decimal("10.25"))

    def debit(self, profile, reference, amount):
        return Receipt(reference, amount)

    credit = debit
'''


@pytest.fixture
def site(tmp_path: Path) -> Path:
    where = tmp_path / "site"
    (where / "hundredths").mkdir(parents=True)
    (where / "hundredths" / "__init__.py").write_text(HUNDREDTHS)
    info = where / "hundredths-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hundredths\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[points_gateway.connectors]\nhundredths = hundredths:HundredthsLedger\n"
    )
    return where


def check(site: Path, tmp_path: Path, max_decimals: int) -> subprocess.CompletedProcess[str]:
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'journal.db'}", max_decimals=max_decimals
    )
    csv_points = '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }'
    config.write_text(config.read_text().replace(csv_points, '[points]\nconnector = "hundredths"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(site)},
        timeout=60,
    )


def test_more_places_than_the_ledger_keeps_is_one_line_and_exit_2(site, tmp_path):
    out = check(site, tmp_path, max_decimals=3)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr == (
        "points-gateway: error: gateway.max_decimals: 3, but the points ledger 'hundredths' "
        "keeps 2 decimal places: an amount such as 0.001 would be accepted and then refused "
        "or rounded by it; set max_decimals = 2\n"
    )


def test_as_many_places_as_the_ledger_keeps_starts(site, tmp_path):
    out = check(site, tmp_path, max_decimals=2)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "points   ok  hundredths" in out.stdout
