"""A PostgreSQL journal backed up with pg_dump and restored with pg_restore into a new database,
served; and `journal migrate` of a SQLite journal holding every kind of row into an empty
PostgreSQL journal, served after: balances the same, old orders answered as replays. And the
migrations refused: a target not empty, a source still changing, what is no migration."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url

from gateway.app import create_app
from gateway.config import load_settings
from gateway.journal import Journal
from gateway.journal.copy import TABLES, CopyRefused, migrate
from gateway.journal.operators import Audit, ConsoleSessions, Operators
from gateway.journal.records import as_utc, utcnow
from gateway.journal.tables import metadata, operations
from gateway.sealed import Sealer
from gateway.xoxoday.tokens import TokenPair, TokenStore
from tests.backups import (
    available,
    cli,
    drop_schema,
    fill,
    folder,
    invoke,
    journal_opened,
    libpq,
    one_line_error,
    post,
    redeem,
    require_postgres,
    run,
)
from tests.conftest import SECRET, fresh_postgres
from tests.servers import clean_env, serving

GRANTED = {"DB123": 2000, "U1000": 1000}  # their points in tests/conftest.py's EMPLOYEES
MIGRATED_SCHEMA = "backup_migrated"
DUMPED_SCHEMA = "backup_dumped"


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A new, empty PostgreSQL database beside the test database, dropped afterwards."""
    url = make_url(require_postgres())
    name = f"{url.database}_restored"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- PostgreSQL: pg_dump and pg_restore ------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.slow
def test_pg_dump_and_pg_restore_bring_a_journal_back(tmp_path, scratch_database):
    tools = {name: shutil.which(name) or f"/usr/bin/{name}" for name in ("pg_dump", "pg_restore")}
    missing = [name for name, path in tools.items() if not os.access(path, os.X_OK)]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed: the restore test runs them")
    url = require_postgres()
    drop_schema(url, DUMPED_SCHEMA)
    try:
        config = folder(tmp_path, "live", url, database_schema=DUMPED_SCHEMA, auto_migrate=True)
        app = create_app(load_settings(config))
        client = app.test_client()
        answers = {f"P{i}": redeem(client, "DB123", f"P{i}", "25") for i in range(4)}
        app.extensions["points_gateway"].close()
        dump = tmp_path / "journal.dump"
        dumped = run(tools["pg_dump"], "--format=custom", f"--schema={DUMPED_SCHEMA}", "--file",
                     str(dump), libpq(url))  # fmt: skip
        assert dumped.returncode == 0, dumped.stderr
    finally:
        drop_schema(url, DUMPED_SCHEMA)
    loaded = run(tools["pg_restore"], "--no-owner", "--exit-on-error", "--dbname",
                 libpq(scratch_database), str(dump))  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    restored = folder(tmp_path, "restored", scratch_database, database_schema=DUMPED_SCHEMA)
    with serving(restored) as server:
        for order, answer in answers.items():
            assert redeem(server.base, "DB123", order, "25") == answer
        assert available(server.base, "DB123") == "1900"
        # The id sequence came back too: a new order takes a new id.
        assert redeem(server.base, "DB123", "P-new", "5")["status"] == "1"
        assert available(server.base, "DB123") == "1895"


# -- SQLite to PostgreSQL: journal migrate -------------------------------------------------
def every_kind_of_row(config: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """A SQLite journal holding every table's rows: debits, refunds and credits answered by the
    service, and in each state a points ledger leaves them, deliveries, an orphan, an operator,
    a failed login, the audit, a lease and a sealed token pair. The answers given, and the
    balances it serves then."""
    app = create_app(load_settings(config))
    client = app.test_client()
    answers = {
        "M1": redeem(client, "DB123", "M1", "100"),
        "M2": redeem(client, "U1000", "M2", "50.5"),
        "C1": post(
            client, "redeem", {"unique_id": "U1000", "order_id": "C1", "total_points_added": 30}
        ),
        "R1": post(
            client, "refund", {"unique_id": "DB123", "transactionid": "M1", "redemption_amount": 20}
        ),
    }
    journal: Journal = app.extensions["points_gateway"].journal
    with journal.locked_account("U1000") as acct:
        for kind, state, order in [
            ("debit", "received", "L1"),
            ("debit", "sent", "L2"),
            ("debit", "unknown", "L3"),
            ("debit", "rejected", "L4"),
            ("refund", "received", "M2"),
            ("credit", "sent", "L6"),
        ]:
            acct.record(kind, "U1000", order, 10_000, {}, state=state, reference=f"{kind}:{order}")
        orphan = acct.record("debit", "U1000", "L7", 20_000, {}, reference="debit:L7")
    journal.answered(orphan, "outcome_unknown")
    journal.answered(orphan, "outcome_unknown")
    with journal._write() as conn:  # its last answer an hour ago: an orphan now
        an_hour_ago = utcnow() - timedelta(hours=1)
        last = update(operations).where(operations.c.id == orphan.id)
        conn.execute(last.values(answered_at=an_hour_ago))
    answered = journal.operation(orphan.id)
    assert answered is not None
    refund = journal.settle_orphan(answered, utcnow(), "refund", lambda i: f"refund:{i}")
    assert refund is not None and refund.state == "received"
    Operators(journal).add("alice", "operator", "correct horse battery")
    Operators(journal).failed(["account:mallory", "address:10.0.0.9"], timedelta(minutes=15))
    Audit(journal).record("alice", "resolve", "L3", "the ledger has no such debit")
    ConsoleSessions(journal, timedelta(minutes=30), timedelta(minutes=15)).start("alice")
    assert journal.hold_lease("ledger-worker", "host-a:41", 60)
    pair = TokenPair("xo-access", "xo-refresh", None, datetime(2027, 1, 9, 8, tzinfo=UTC))
    TokenStore(journal, Sealer([SECRET])).put(pair)
    balances = {member: available(client, member) for member in GRANTED}
    assert balances == {"DB123": "1920", "U1000": "977.5"}  # 1000 + 30 - 50.5 - 2 (L7)
    app.extensions["points_gateway"].close()
    return answers, balances


def every_row(url: str, namespace: str | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows in id order, times as UTC."""
    journal = Journal(url, namespace)
    with journal.writer.connect() as conn:
        found = {
            t.name: [
                tuple(as_utc(v) if isinstance(v, datetime) else v for v in row)
                for row in conn.execute(select(t).order_by(*t.primary_key.columns))
            ]
            for t in metadata.sorted_tables
        }
    journal.dispose()
    return found


@pytest.mark.postgres
@pytest.mark.slow
def test_migrate_moves_every_table_and_the_postgresql_journal_serves_it(tmp_path):
    url = require_postgres()
    source = folder(tmp_path, "sqlite")
    answers, balances = every_kind_of_row(source)
    before = every_row(f"sqlite:///{source.parent / 'journal.db'}")
    assert all(before.values()), {name: len(rows) for name, rows in before.items()}
    drop_schema(url, MIGRATED_SCHEMA)
    try:
        # A session time zone far from UTC: a time copied without its zone would move.
        moved = cli("journal", "migrate", "--config", str(source), "--to", url,
                    "--schema", MIGRATED_SCHEMA, env=clean_env(PGTZ="Asia/Kolkata"))  # fmt: skip
        assert moved.returncode == 0, moved.stderr
        assert moved.stderr == ""
        lines = moved.stdout.splitlines()
        assert lines[0] == (
            f"migrated to {url.replace('postgresql:', 'postgresql+psycopg:', 1)} "
            f"(schema {MIGRATED_SCHEMA}): 2 accounts, 1 audit, 1 console_sessions, 2 deliveries, 1 leases, "
            f"2 login_failures, 12 operations, 1 operators, 1 xoxoday_tokens"
        ), lines
        assert "the same totals for 2 members" in lines[1]
        assert f'database_schema = "{MIGRATED_SCHEMA}"' in lines[2]
        assert every_row(url, MIGRATED_SCHEMA) == before

        served = folder(tmp_path, "pg", url, database_schema=MIGRATED_SCHEMA)
        with serving(served) as server:
            for order in ("M1", "M2"):
                member, points = ("DB123", "100") if order == "M1" else ("U1000", "50.5")
                assert redeem(server.base, member, order, points) == answers[order]
            assert {member: available(server.base, member) for member in GRANTED} == balances
            # The ids go on after the copied ones.
            assert redeem(server.base, "DB123", "M3", "1")["status"] == "1"
            assert available(server.base, "DB123") == "1919"
        journal = Journal(url, MIGRATED_SCHEMA)
        try:
            pair = TokenStore(journal, Sealer([SECRET])).get()
            assert pair is not None and pair.refresh_token == "xo-refresh"
            assert Operators(journal).verify("alice", "correct horse battery") is not None
        finally:
            journal.dispose()
    finally:
        drop_schema(url, MIGRATED_SCHEMA)


@pytest.mark.postgres
def test_migrate_refuses_a_target_that_holds_operations(tmp_path):
    url = fresh_postgres(require_postgres())
    target = Journal(url)
    target.debit("DB123", "DB123", "T1", 10_000, 10**12, {})
    source = folder(tmp_path, "sqlite")
    journal = Journal(f"sqlite:///{source.parent / 'journal.db'}")
    journal.create_schema()
    fill(journal, 2)
    journal.dispose()
    refused = invoke("journal", "migrate", "--config", str(source), "--to", url)
    assert refused.exit_code == 2
    line = one_line_error(refused.stderr)
    assert "not empty (accounts: 1, operations: 1)" in line, line
    assert target.count() == 1 and target.order("debit", "F0") is None
    target.dispose()


@pytest.mark.postgres
def test_migrate_refuses_a_source_that_changes_during_the_copy(tmp_path):
    url = fresh_postgres(require_postgres())
    source_url = f"sqlite:///{tmp_path / 'journal.db'}"
    source, gateway = Journal(source_url), Journal(source_url)  # gateway: one still serving
    source.create_schema()
    fill(source, 6)

    def a_gateway_still_serving(table: str, copied: int) -> None:
        if table == "operations" and copied == 2:
            fill(gateway, 1, prefix="G")  # one more order

    target = Journal(url)
    try:
        with journal_opened() as opened, pytest.raises(CopyRefused, match="changed during"):
            migrate(source, target, batch=2, progress=a_gateway_still_serving)
        assert target.count() == 0
        assert opened == []
    finally:
        for journal in (source, gateway, target):
            journal.dispose()


def test_the_verification_sees_totals_that_differ_where_counts_agree(tmp_path):
    """What `migrate` checks before it commits, on two journals one point apart."""
    from gateway.journal.copy import _verify

    journals = [Journal(f"sqlite:///{tmp_path / name}") for name in ("a.db", "b.db")]
    for journal, amount in zip(journals, (10_000, 20_000), strict=True):
        journal.create_schema()
        journal.debit("DB123", "DB123", "V1", amount, 10**12, {})
    try:
        with journals[0].reader.connect() as read, journals[1].reader.connect() as write:
            copied = {t.name: 1 if t.name in ("accounts", "operations") else 0 for t in TABLES}
            with pytest.raises(CopyRefused, match="totals from accounts differ"):
                _verify(read, write, copied)
            with pytest.raises(CopyRefused, match="row counts differ"):
                _verify(read, write, {**copied, "operations": 2})
    finally:
        for journal in journals:
            journal.dispose()


def test_the_verification_compares_each_program_s_totals(tmp_path):
    """Two programs' accounts of one member, swapped between them: the counts agree, and so do
    the member's totals over both programs; each program's do not."""
    from gateway.journal.copy import _verify

    journals = [Journal(f"sqlite:///{tmp_path / name}") for name in ("a.db", "b.db")]
    for journal, amounts in zip(journals, ((10_000, 20_000), (20_000, 10_000)), strict=True):
        journal.create_schema()
        for program, amount in zip(("acme", "globex"), amounts, strict=True):
            journal.for_program(program).debit("DB123", "DB123", "V1", amount, 10**12, {})
    try:
        counts = {t.name: 2 if t.name in ("accounts", "operations") else 0 for t in TABLES}
        with (
            journals[0].reader.connect() as read,
            journals[1].reader.connect() as write,
            pytest.raises(CopyRefused, match="totals from accounts differ"),
        ):
            _verify(read, write, counts)
        with journals[0].reader.connect() as read, journals[0].writer.connect() as same:
            assert _verify(read, same, counts) == (2, 2)  # two accounts, of two programs
    finally:
        for journal in journals:
            journal.dispose()


@pytest.mark.postgres
def test_migrate_carries_every_program(tmp_path):
    """`journal migrate` copies by the tables' columns: each program's rows arrive as its own,
    and each program's journal on PostgreSQL reads what it read on SQLite."""
    url = fresh_postgres(require_postgres())
    source_url = f"sqlite:///{tmp_path / 'journal.db'}"
    source = Journal(source_url)
    source.create_schema()
    sealer = Sealer([SECRET])
    for program, count in (("default", 2), ("acme", 3), ("globex", 1)):
        bound = source.for_program(program)
        fill(bound, count)  # the same order ids in each
        assert bound.hold_lease("ledger-worker", f"host-{program}", 60)
        TokenStore(bound, sealer).put(TokenPair(f"{program}-access", "refresh"))
        Audit(bound).record("alice", "resolve", "F0", program)
    Operators(source).add("bob", "viewer", "a-long-enough-password", "acme")
    target = Journal(url)
    try:
        moved = migrate(source, target)
        assert moved.programs == 3 and moved.members == 3
        assert every_row(url) == every_row(source_url)
        for program, count in (("default", 2), ("acme", 3), ("globex", 1)):
            there, here = target.for_program(program), source.for_program(program)
            assert there.count() == count and there.totals("DB123") == here.totals("DB123")
            assert TokenStore(there, sealer).get() == TokenPair(f"{program}-access", "refresh")
            assert [e.reason for e in Audit(there).recent()] == [program]
            assert not there.hold_lease("ledger-worker", "host-other", 60)
        assert Operators(target).get("bob").programs == "acme"
    finally:
        source.dispose()
        target.dispose()


def test_migrate_refuses_what_is_no_migration(tmp_path):
    sqlite_config = folder(tmp_path, "sqlite")
    journal = Journal(f"sqlite:///{sqlite_config.parent / 'journal.db'}")
    journal.create_schema()
    fill(journal, 1)
    journal.dispose()
    no_journal = folder(tmp_path, "none")
    no_database = folder(tmp_path, "text")
    (no_database.parent / "journal.db").write_text("not a database\n" * 500)
    pg_config = folder(tmp_path, "pg", "postgresql://postgres@127.0.0.1:1/none")
    nowhere = ["--to", "postgresql://postgres:pw-never-shown@127.0.0.1:1/none"]
    for args, says in [
        (["--config", str(sqlite_config), "--to", f"sqlite:///{tmp_path / 'x.db'}"], "--to must"),
        (["--config", str(sqlite_config), "--to", "not a url"], "--to: not a postgresql"),
        (["--config", str(sqlite_config), *nowhere, "--schema", "a;b"], "--schema 'a;b'"),
        (["--config", str(pg_config), *nowhere], "PostgreSQL already"),
        (["--config", str(no_journal), *nowhere], "no SQLite journal at"),
        (["--config", str(no_database), *nowhere], "SQLite journal: file is not a database"),
        (["--config", str(sqlite_config), *nowhere], "nothing was written to PostgreSQL"),
    ]:
        refused = invoke("journal", "migrate", *args)
        assert refused.exit_code == 2, (args, refused.output)
        line = one_line_error(refused.stderr)
        assert says in line and "pw-never-shown" not in line, (args, line)
    assert not (tmp_path / "x.db").exists() and not (no_journal.parent / "journal.db").exists()
