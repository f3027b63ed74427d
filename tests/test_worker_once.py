"""`points-gateway worker --once` from cron: it says what it moved, what it left alone and when
each is due, and a summary line, whatever happened (run as a process)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.journal import Journal
from gateway.journal.records import utcnow
from tests.conftest import EMPLOYEES, write_config, write_csv
from tests.sql_ledgers import company_database
from tests.test_cli import run


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Employees from a CSV, points in a SQLite company database (the sql_ledger)."""
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    ledger = company_database(f"sqlite:///{tmp_path / 'company.db'}")
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    csv_points = '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }'
    sql_points = (
        '[points]\nconnector = "sql_ledger"\n'
        f'options = {{ url = "{ledger}", transactions_table = "points_tx" }}'
    )
    path.write_text(path.read_text().replace(csv_points, sql_points))
    return path


@pytest.fixture
def journal(tmp_path: Path, config: Path):
    store = Journal(f"sqlite:///{tmp_path / 'journal.db'}")
    store.create_schema()
    yield store
    store.dispose()


def owed(journal: Journal, order: str, state: str, retry_in: float | None) -> int:
    """A credit of 5 points to DB123, left `state` with its next try `retry_in` seconds away."""
    op, _ = journal.open_order("credit", "DB123", "DB123", order, 5_0000, f"credit:{order}")
    if retry_in is not None or state != "received":
        claimed = journal.claim(op.id, ("received",))
        assert claimed is not None
        at = utcnow() + timedelta(seconds=retry_in) if retry_in is not None else None
        journal.finish(claimed, state, "not sent: the ledger was down", retry_at=at)
    return op.id


def test_worker_once_says_what_it_left_and_when_each_is_due(config, journal):
    due_now = owed(journal, "C1", "received", None)
    later = owed(journal, "C2", "received", 450)
    stuck = owed(journal, "C3", "conflict", None)
    out = run("worker", "--once", "--config", str(config))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3, out.stdout
    assert re.match(rf"\s*{due_now} .* credit .* applied ", lines[0]), lines[0]
    assert re.fullmatch(
        rf"\s*{later}  skipped: credit C2 \(received\), backing off; "
        r"due \S+ \(in 7 min [0-3]?\d s\)",
        lines[1],
    ), lines[1]
    assert re.fullmatch(
        rf"\s*{stuck}  skipped: credit C3 \(conflict\), a conflict, for an operator "
        rf"\(journal resolve --id {stuck} --as applied\|rejected --reason \.\.\.\); "
        r"due never by itself",
        lines[2],
    ), lines[2]
    (summary,) = out.stderr.splitlines()
    assert re.fullmatch(
        r"worker: 1 moved, 2 skipped; next due \S+ \(in 7 min [0-3]?\d s\)", summary
    )


def test_worker_once_with_nothing_unfinished_says_so(config, journal):
    out = run("worker", "--once", "--config", str(config))
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "worker: 0 moved, 0 skipped\n")
