"""A journal a newer release has written (its alembic_version names a revision this release does
not know) is left exactly as it is, and every way in says so in one line naming both revisions.

Found from outside: `serve`, `db upgrade` and `journal export` printed Alembic's 90-line
traceback ("Can't locate revision identified by ..."), and `check` called the journal
"unreachable".
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from gateway.journal import Journal, schema
from gateway.journal.schema import SchemaBehind, SchemaNewer, head
from tests.conftest import PG_SKIP, PG_URL, reset_postgres, write_config
from tests.disks import cli_at_once

FUTURE = "0099_from_a_newer_release"


def future_journal(url: str) -> None:
    """A journal at this release's schema, with an operation in it, then stamped as a newer
    release would leave it."""
    journal = Journal(url)
    try:
        journal.create_schema()
        journal.debit("E1", "E1", "ORDER-1", 10_000, 50_000, {"status": "1"})
        with journal._write() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE})
    finally:
        journal.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def newer_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'journal.db'}"
    else:
        if not PG_URL:
            pytest.skip(PG_SKIP)
        reset_postgres(PG_URL)
        url = PG_URL
    future_journal(url)
    yield url
    if request.param == "postgres":
        reset_postgres(PG_URL or "")


def snapshot(url: str) -> Any:
    """What a change would show: a SQLite file's size, inode and modification time (only SQLite
    opens the journal's file: its bytes are read through SQLite, as a dump), or every
    PostgreSQL table's columns and rows."""
    if make_url(url).get_backend_name() == "sqlite":
        path = Path(make_url(url).database or "")
        st = os.stat(path)
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            dump = list(db.iterdump())
        finally:
            db.close()
        return (st.st_size, st.st_ino, st.st_mtime_ns, dump)
    engine = create_engine(url)
    try:
        found: dict[str, Any] = {}
        with engine.connect() as conn:
            for table in sorted(inspect(conn).get_table_names()):
                columns = [c["name"] for c in inspect(conn).get_columns(table)]
                rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
                found[table] = (columns, sorted(map(repr, rows)))
        return found
    finally:
        engine.dispose()


def assert_the_one_line(stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("points-gateway: error: "), line
    assert f"revision {FUTURE}" in line and "newer release" in line, line
    assert f"up to {head()}" in line, line
    assert "Traceback" not in stderr and "alembic" not in stderr.lower(), stderr


REFUSING = ["serve", "check", "db upgrade", "journal export"]


def test_every_command_refuses_a_newer_journal_in_one_line_and_leaves_it(
    newer_url, tmp_path, employees_csv
):
    config = write_config(tmp_path, newer_url)
    before = snapshot(newer_url)
    commands = [[*c.split(), "--config", str(config)] for c in [*REFUSING, "db current"]]
    *refused, current = cli_at_once(*commands)
    for command, out in zip(REFUSING, refused, strict=True):
        assert out.returncode == 2, (command, out.stdout + out.stderr)
        assert_the_one_line(out.stderr)
    # `db current` says what the journal is: its revision, and that a newer release wrote it.
    assert current.returncode == 1, current.stderr
    assert f"journal  {FUTURE} (written by a newer release)" in current.stdout
    assert f"release  {head()}" in current.stdout
    assert "db upgrade" not in current.stderr and "Traceback" not in current.stderr
    assert snapshot(newer_url) == before


@pytest.mark.parametrize("auto_migrate", [False, True])
def test_create_app_refuses_a_newer_journal(newer_url, tmp_path, employees_csv, auto_migrate):
    from gateway.app import create_app

    config = write_config(tmp_path, newer_url, auto_migrate=auto_migrate)
    before = snapshot(newer_url)
    with pytest.raises(SchemaNewer) as refused:
        create_app(config)
    assert_the_one_line(f"points-gateway: error: {refused.value}")
    assert snapshot(newer_url) == before


def test_a_journal_behind_is_behind_not_newer(tmp_path):
    """Every revision of this release's own history is known: an older journal is behind,
    never newer."""
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    journal = Journal(url)
    try:
        journal.create_schema()
        with journal._write() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
        with journal.reader.connect() as conn, pytest.raises(SchemaBehind, match="0003"):
            schema.require(conn)
    finally:
        journal.dispose()
