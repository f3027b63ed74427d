"""The journal's versioned schema (gateway/journal/migrations): a journal made by 0.1.0, from
its DDL kept in tests/fixtures, filled and upgraded with `db upgrade`, keeps every operation,
total, token and lease, on SQLite and PostgreSQL; serve refuses a PostgreSQL journal behind
its release; the journal may live in a schema of its own."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, column, create_engine, inspect, select, text
from sqlalchemy import table as table_clause
from sqlalchemy.sql.expression import TableClause

from gateway.journal import Journal
from gateway.journal.schema import SchemaBehind, head
from gateway.journal.tables import accounts, leases, operations, xoxoday_tokens
from gateway.sealed import Sealer
from gateway.xoxoday.tokens import TokenPair, TokenStore
from tests.conftest import PG_SKIP, PG_URL, reset_postgres, write_config
from tests.servers import clean_env

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KEY = "migration-test-secret-key-0123456789abcdef"
AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
#: Columns migrations after 0.1.0 added: its journal has none of them.
LATER = {"request_id", "program"}


def as_0_1_0(table: Table) -> TableClause:
    """`table` as 0.1.0 had it: its columns but those added since (and no key to read back)."""
    return table_clause(
        table.name, *(column(c.name, c.type) for c in table.c if c.name not in LATER)
    )


def build_0_1_0(url: str) -> None:
    """The journal as 0.1.0 made it, from its DDL, filled as it would be after some use."""
    engine = create_engine(url)
    ddl = (FIXTURES / f"journal-0.1.0.{engine.dialect.name}.sql").read_text()
    with engine.begin() as conn:
        for statement in ddl.split(";"):
            body = "\n".join(ln for ln in statement.splitlines() if not ln.startswith("--"))
            if body.strip():
                conn.exec_driver_sql(body)
        conn.execute(
            as_0_1_0(accounts).insert(),
            [
                {
                    "member": "E1",
                    "debited": 3_485_000,
                    "refunded": 2_000_000,
                    "credited": 0,
                    "updated_at": AT,
                },
                {
                    "member": "E2",
                    "debited": 0,
                    "refunded": 0,
                    "credited": 150_000,
                    "updated_at": AT,
                },
            ],
        )
        base = {"member": "E1", "unique_id": "E1", "fingerprint": "f" * 64, "created_at": AT}
        base |= {c.name: None for c in operations.columns if c.nullable and c.name not in LATER}
        conn.execute(
            as_0_1_0(operations).insert(),
            [
                {
                    **base,
                    "kind": "debit",
                    "state": "applied",
                    "order_id": "A1",
                    "amount": 3_485_000,
                    "answer": '{"status": "1"}',
                    "reference": "debit:A1",
                    "answered": "ok",
                    "answered_at": AT,
                },
                {
                    **base,
                    "kind": "refund",
                    "state": "applied",
                    "order_id": "A1",
                    "amount": 2_000_000,
                    "answer": "{}",
                    "reference": "refund:1:A1",
                },
                {
                    **base,
                    "kind": "debit",
                    "state": "unknown",
                    "order_id": "A2",
                    "amount": 10_000,
                    "answer": "{}",
                    "reference": "debit:A2",
                    "attempts": 2,
                    "detail": "timeout",
                },
                {
                    **base,
                    "member": "E2",
                    "unique_id": "E2",
                    "kind": "credit",
                    "state": "applied",
                    "order_id": "C9",
                    "amount": 150_000,
                    "answer": "{}",
                },
            ],
        )
        lease = {"name": "ledger-worker", "holder": "host-a:41", "until": AT}
        conn.execute(as_0_1_0(leases).insert(), lease)
    engine.dispose()
    journal = Journal(url)  # the token sealed as 0.1.0 sealed it, through its own store
    with journal._write() as conn:
        conn.execute(
            as_0_1_0(xoxoday_tokens).insert(),
            {
                "name": "default",
                "access_token": Sealer([KEY]).seal("xo-access"),
                "refresh_token": Sealer([KEY]).seal("xo-refresh"),
                "updated_at": AT,
                "refresh_expires_at": AT + timedelta(days=30),
            },
        )
    journal.dispose()


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {
            table.name: [
                tuple(r)
                for r in conn.execute(
                    select(*(c for c in table.c if c.name not in LATER)).order_by(
                        *(c for c in table.primary_key if c.name not in LATER)
                    )
                )
            ]
            for table in (accounts, operations, leases, xoxoday_tokens)
        }
    engine.dispose()
    return found


def config_for(tmp_path: Path, url: str, employees_csv: Path, **gateway: Any) -> Path:
    return write_config(tmp_path, url, secret_key=KEY, **gateway)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )


def test_a_0_1_0_journal_upgrades_and_keeps_everything(old_journal_url, tmp_path, employees_csv):
    build_0_1_0(old_journal_url)
    before = rows(old_journal_url)
    path = config_for(tmp_path, old_journal_url, employees_csv)
    current = cli("db", "current", "--config", str(path))
    assert current.returncode == 1 and "none" in current.stdout
    upgraded = cli("db", "upgrade", "--config", str(path))
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"none -> {head()}" in upgraded.stdout
    assert rows(old_journal_url) == before
    journal = Journal(old_journal_url)
    try:
        assert journal.revision() == head()
        totals = journal.totals("E1")
        assert (totals.debited, totals.refunded) == (3_485_000, 2_000_000)
        assert journal.order("debit", "A2").detail == "timeout"
        pair = TokenStore(journal, Sealer([KEY])).get()
        assert pair == TokenPair("xo-access", "xo-refresh", None, AT + timedelta(days=30))
    finally:
        journal.dispose()
    again = cli("db", "upgrade", "--config", str(path))
    assert again.returncode == 0 and f"already at {head()}" in again.stdout


def test_a_journal_of_the_first_release_gets_the_columns_added_since(tmp_path):
    """0.1.0's first releases made operations without the ledger's columns and without the
    deliveries table; 0.1.0 added them on start, the baseline migration adds them now."""
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE operations (id INTEGER PRIMARY KEY, created_at DATETIME NOT NULL, "
            "kind VARCHAR(16) NOT NULL, state VARCHAR(16) NOT NULL, member VARCHAR(128) NOT "
            "NULL, unique_id VARCHAR(256) NOT NULL, order_id VARCHAR(128) NOT NULL, amount "
            "BIGINT NOT NULL, fingerprint VARCHAR(64) NOT NULL, answer TEXT NOT NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO operations VALUES (1, '2026-01-01 00:00:00', 'debit', 'applied', 'E1', "
            "'E1', 'O1', 10000, 'x', '{}')"
        )
    journal = Journal(url)
    journal.create_schema()
    columns = {c["name"] for c in inspect(engine).get_columns("operations")}
    assert {"reference", "answered", "orphan", "detail"} <= columns
    assert inspect(engine).has_table("deliveries") and journal.revision() == head()
    assert journal.order("debit", "O1").amount == 10000
    journal.dispose()
    engine.dispose()


@pytest.mark.postgres
def test_serve_refuses_a_postgresql_journal_behind_its_release(tmp_path, employees_csv):
    if not PG_URL:
        pytest.skip(PG_SKIP)
    reset_postgres(PG_URL)
    path = config_for(tmp_path, PG_URL, employees_csv)
    refused = cli("serve", "--config", str(path), "--bind", "127.0.0.1:1")
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "run `points-gateway db upgrade`" in lines[0], refused.stderr
    with pytest.raises(SchemaBehind):
        Journal(PG_URL).require_schema(migrate=False)
    check = cli("check", "--config", str(path))
    assert check.returncode == 1 and "journal  behind:" in check.stdout
    # auto_migrate: serve (here its app factory) upgrades on start instead.
    auto = config_for(tmp_path, PG_URL, employees_csv, auto_migrate=True)
    from gateway.app import create_app

    create_app(auto)
    assert Journal(PG_URL).revision() == head()


@pytest.mark.postgres
def test_hosts_upgrading_at_once_migrate_once():
    if not PG_URL:
        pytest.skip(PG_SKIP)
    reset_postgres(PG_URL)
    failures: list[BaseException] = []

    def host() -> None:
        journal = Journal(PG_URL)
        try:
            journal.create_schema()
        except BaseException as exc:
            failures.append(exc)
        finally:
            journal.dispose()

    threads = [threading.Thread(target=host) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and Journal(PG_URL).revision() == head()


@pytest.mark.postgres
def test_the_journal_can_live_in_a_schema_of_its_own(tmp_path, employees_csv):
    if not PG_URL:
        pytest.skip(PG_SKIP)
    reset_postgres(PG_URL)
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS acme CASCADE"))
    try:
        path = config_for(tmp_path, PG_URL, employees_csv, database_schema="acme")
        assert cli("db", "upgrade", "--config", str(path)).returncode == 0
        tables = set(inspect(engine).get_table_names(schema="acme"))
        assert {"operations", "accounts", "alembic_version"} <= tables
        assert "operations" not in inspect(engine).get_table_names(schema="public")
        from gateway.app import create_app

        app = create_app(path)
        client = app.test_client()
        from gateway.app import token_authority
        from gateway.config import load_settings

        token = token_authority(load_settings(path)).issue("DB123")
        body = {"unique_id": "DB123", "auth_token": token, "order_id": "S1"}
        answer = client.post("/v1/points/redeem", json={**body, "total_points_redeemed": 5})
        assert answer.get_json()["status"] == "1", answer.get_json()
        with engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM acme.operations")).scalar_one()
        assert count == 1
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS acme CASCADE"))
        engine.dispose()


def test_a_schema_is_refused_for_sqlite_and_must_be_a_plain_name(tmp_path, employees_csv):
    from gateway.config import ConfigError, load_settings

    sqlite_url = f"sqlite:///{tmp_path / 'j.db'}"
    with pytest.raises(ConfigError, match="only a PostgreSQL journal has schemas"):
        load_settings(config_for(tmp_path, sqlite_url, employees_csv, database_schema="acme"))
    hostile = config_for(
        tmp_path, "postgresql://u@h/db", employees_csv, database_schema="acme; DROP TABLE x"
    )
    with pytest.raises(ConfigError, match="database_schema"):
        load_settings(hostile)


def test_the_migrations_make_exactly_the_tables_the_code_declares(database_url):
    """tables.py and the migrations cannot drift apart: after upgrading, Alembic's comparison
    of the database with the declared tables finds nothing (other tests' tables aside)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gateway.journal.tables import metadata

    journal = Journal(database_url)
    journal.create_schema()
    try:
        with journal.writer.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        journal.dispose()
    ours = [d for d in diff if not (d[0] == "remove_table" and d[1].name not in metadata.tables)]
    assert ours == []


def test_the_unfinished_index_takes_in_the_conflict_state(database_url):
    """A partial index serves only queries whose WHERE says the same as its own (Alembic's
    comparison does not look at predicates): after upgrading, the index of unfinished
    operations is the one tables.py declares, "conflict" included."""
    from gateway.journal.tables import UNFINISHED_SQL

    journal = Journal(database_url)
    journal.create_schema()
    try:
        with journal.writer.connect() as conn:
            if conn.dialect.name == "sqlite":
                found = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = 'ix_operations_unfinished'")
                ).scalar_one()
            else:
                found = conn.execute(
                    text(
                        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_operations_unfinished'"
                    )
                ).scalar_one()
    finally:
        journal.dispose()
    assert "'conflict'" in found and "'unknown'" in found, found
    assert "conflict" in UNFINISHED_SQL


#: The migration that adds the console's sessions.
SESSIONS_REVISION = "0006"


def alembic(url: str, direction: str, revision: str) -> None:
    """`alembic upgrade|downgrade revision` on the journal, as `db upgrade` runs it."""
    from alembic import command

    from gateway.journal import schema

    journal = Journal(url)
    try:
        with journal._write() as conn:
            getattr(command, direction)(schema._config(conn), revision)
    finally:
        journal.dispose()


def test_console_sessions_come_with_their_own_migration_and_go_back(old_journal_url):
    """From a 0.1.0 journal: up to the revision before, then the sessions' table (hashed ids,
    the operator indexed), usable once at head; and down again, every other row kept."""
    from datetime import timedelta as minutes_of

    from gateway.journal.operators import ConsoleSessions, Operators
    from gateway.journal.schema import _scripts

    build_0_1_0(old_journal_url)
    before = _scripts().get_revision(SESSIONS_REVISION).down_revision
    assert isinstance(before, str)
    alembic(old_journal_url, "upgrade", before)
    engine = create_engine(old_journal_url)
    assert not inspect(engine).has_table("console_sessions")
    kept = rows(old_journal_url)
    alembic(old_journal_url, "upgrade", SESSIONS_REVISION)
    inspect(engine).clear_cache()
    columns = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("console_sessions")}
    assert columns == {"id_hash": False, "operator": False, "created_at": False, "last_seen": False}
    assert inspect(engine).get_pk_constraint("console_sessions")["constrained_columns"] == [
        "id_hash"
    ]
    indexes = {
        i["name"]: i["column_names"] for i in inspect(engine).get_indexes("console_sessions")
    }
    assert indexes == {"ix_console_sessions_operator": ["operator"]}
    journal = Journal(old_journal_url)
    try:
        journal.create_schema()
        assert journal.revision() == head()
        Operators(journal).add("alice", "operator", "a-long-enough-password")
        sessions = ConsoleSessions(journal, minutes_of(minutes=30), minutes_of(minutes=15))
        token = sessions.start("alice")
        found = sessions.find(token)
        assert found is not None and found.name == "alice"
    finally:
        journal.dispose()
    alembic(old_journal_url, "downgrade", before)
    inspect(engine).clear_cache()
    assert not inspect(engine).has_table("console_sessions")
    assert rows(old_journal_url) == kept
    engine.dispose()
