"""The index the overview's chart of unfinished operations reads by: ix_operations_updated_at,
migration 0007. From a 0.1.0 journal up to the revision before, then 0007 makes it (partial:
updated_at IS NOT NULL, NULL wherever no points ledger is), the chart's read of the operations
finished within its window can use it, and back down it goes with every row kept; on SQLite and
PostgreSQL (as tests/test_migrations.py tries the console's sessions)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from gateway.journal import Journal
from gateway.journal.records import utcnow
from gateway.journal.schema import _scripts
from tests.test_migrations import alembic, build_0_1_0, rows

REVISION = "0007"
INDEX = "ix_operations_updated_at"


def definition(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                query = "SELECT sql FROM sqlite_master WHERE name = :name"
            else:
                query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
            found = conn.execute(text(query), {"name": INDEX}).scalar()
            return str(found) if found else None
    finally:
        engine.dispose()


def test_the_changed_index_comes_with_its_own_migration_and_goes_back(old_journal_url: str):
    build_0_1_0(old_journal_url)
    before = _scripts().get_revision(REVISION).down_revision
    assert isinstance(before, str)
    alembic(old_journal_url, "upgrade", before)
    assert definition(old_journal_url) is None
    kept = rows(old_journal_url)
    alembic(old_journal_url, "upgrade", REVISION)
    made = definition(old_journal_url)
    assert made is not None and "updated_at IS NOT NULL" in made, made
    engine = create_engine(old_journal_url)
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("operations")}
    assert indexes[INDEX] == ["updated_at"]
    # A read like the chart's, of the operations finished since a moment, can go by it.
    read = (
        "SELECT count(*) FROM operations "
        "WHERE updated_at >= :since AND state IN ('applied', 'rejected')"
    )
    since = (utcnow() - timedelta(hours=48)).strftime("%Y-%m-%d %H:%M:%S")
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = str(conn.execute(text("EXPLAIN QUERY PLAN " + read), {"since": since}).all())
        else:  # a handful of rows: ask whether it can, not whether it would
            conn.execute(text("SET enable_seqscan = off"))
            plan = str(conn.execute(text("EXPLAIN " + read), {"since": since}).all())
    engine.dispose()
    assert INDEX in plan, plan
    alembic(old_journal_url, "downgrade", before)
    assert definition(old_journal_url) is None
    assert rows(old_journal_url) == kept


def test_a_new_journal_has_it(tmp_path: Path):
    journal = Journal(f"sqlite:///{tmp_path / 'journal.db'}")
    journal.create_schema()
    journal.dispose()
    assert "updated_at IS NOT NULL" in (definition(f"sqlite:///{tmp_path / 'journal.db'}") or "")
