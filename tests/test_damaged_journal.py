"""A journal file SQLite cannot read (not a database, or damaged) is an outage of the journal:
one line and exit 2 from every command, 503 `journal_unavailable` from the endpoints, never a
traceback or a 500."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import assert_failure, write_config
from tests.test_cli import run


@pytest.fixture
def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an SQLite database, whatever its name says\n" * 200)
    return path


@pytest.mark.parametrize("command", ["journal export", "check", "db current", "serve"])
def test_a_journal_that_is_no_database_is_one_line(tmp_path, employees_csv, garbage, command):
    config = write_config(tmp_path, f"sqlite:///{garbage}")
    out = run(*command.split(), "--config", str(config))
    assert out.returncode in (1, 2), out.stdout + out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    if command != "check":  # check reports each part on its own line, and exits 1
        assert out.returncode == 2 and out.stderr.strip().count("\n") == 0, out.stderr
    assert "not a database" in out.stderr + out.stdout


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_endpoints_answer_503_when_the_journal_is_unreadable(app, api, garbage):
    journal = app.extensions["points_gateway"].journal
    journal.dispose()
    journal.url = f"sqlite:///{garbage}"
    body = {"unique_id": "U1000", "order_id": "D-1", "total_points_redeemed": 5}
    assert_failure(api.post("/v1/points/redeem", body), 503, "journal_unavailable")
    assert_failure(
        api.post("/v1/points/balance", {"unique_id": "U1000"}), 503, "journal_unavailable"
    )
