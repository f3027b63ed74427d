"""Migration 0008 (programs), on SQLite and PostgreSQL: from 0.1.0's journal and from the
previous head holding every kind of row, every row lands in the default program and the
default program's journal reads exactly what was there (rows, totals, orders); keys and indexes
take the program in; the partial indexes still serve the reads; and back down again, refused
while another program's rows are there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import column, create_engine, inspect, select, text
from sqlalchemy import table as table_clause

from gateway.journal import Journal, OrderExists, Totals
from gateway.journal.operators import Audit, Operators
from gateway.journal.schema import head
from gateway.journal.scope import SCOPED
from gateway.journal.tables import audit, deliveries, metadata, operators
from gateway.sealed import Sealer
from gateway.xoxoday.tokens import TokenPair, TokenStore
from tests.test_migrations import AT, KEY, alembic, build_0_1_0

BEFORE = "0007"
#: The columns 0008 adds.
ADDED = {"program", "programs"}


def before_programs(name: str) -> Any:
    """Table `name` as it was at 0007: without the columns 0008 adds (and no key to read)."""
    t = metadata.tables[name]
    return table_clause(name, *(column(c.name, c.type) for c in t.c if c.name not in ADDED))


def every_row(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows but for the columns 0008 adds, in a stable order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: sorted(
                    (
                        tuple(str(v) for v in row)
                        for row in conn.execute(select(before_programs(t.name)))
                    ),
                )
                for t in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def programs_of(url: str) -> dict[str, set[str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = {
                t.name: set(conn.execute(select(t.c.program).distinct()).scalars()) for t in SCOPED
            }
            found["operators"] = set(conn.execute(select(operators.c.programs)).scalars())
            return found
    finally:
        engine.dispose()


def at_0007_with_every_kind_of_row(url: str) -> None:
    """0.1.0's journal, upgraded to 0007, and there given the rows of what came after 0.1.0:
    a delivery (with its request id), an operator, the audit, a console session, a failed
    login."""
    build_0_1_0(url)
    alembic(url, "upgrade", BEFORE)
    engine = create_engine(url)
    with engine.begin() as conn:
        debit = conn.execute(
            text("SELECT id FROM operations WHERE kind = 'debit' AND order_id = 'A1'")
        ).scalar_one()
        delivered = {"operation_id": debit, "at": AT, "answer": "ok", "request_id": "req-1"}
        conn.execute(before_programs(deliveries.name).insert(), delivered)
        made = {"name": "alice", "role": "operator", "password_hash": "x", "created_at": AT}
        conn.execute(before_programs(operators.name).insert(), made)
        did = {"at": AT, "operator": "alice", "action": "resolve", "target": "A2", "reason": "r"}
        conn.execute(before_programs(audit.name).insert(), did)
        session = {"id_hash": "f" * 64, "operator": "alice", "created_at": AT, "last_seen": AT}
        conn.execute(before_programs("console_sessions").insert(), session)
        failed = {"key": "address:10.0.0.9", "failures": 2, "first_at": AT}
        conn.execute(before_programs("login_failures").insert(), failed)
    engine.dispose()


def test_every_row_of_the_previous_head_lands_in_the_default_program(old_journal_url):
    url = old_journal_url
    at_0007_with_every_kind_of_row(url)
    before = every_row(url)
    assert all(before.values()), {name: len(rows) for name, rows in before.items()}
    journal = Journal(url)
    try:
        journal.create_schema()
        assert journal.revision() == head()
        assert every_row(url) == before
        assert programs_of(url) == {**{t.name: {"default"} for t in SCOPED}, "operators": {"*"}}
        # The default program reads what was there, as it was; another program nothing.
        assert journal.totals("E1") == Totals(debited=3_485_000, refunded=2_000_000)
        assert journal.totals("E2") == Totals(credited=150_000)
        assert journal.count() == 4 and journal.order("debit", "A2").detail == "timeout"
        assert [o.amount for o in journal.refunds_of("A1")] == [2_000_000]
        found = journal.search("req-1")
        assert [o.order_id for o in found] == ["A1"]
        assert len(journal.deliveries_of(found[0].id)) == 1
        assert [(o.order_id, o.state) for o in journal.unfinished()] == [("A2", "unknown")]
        assert [e.target for e in Audit(journal).recent()] == ["A2"]
        assert Operators(journal).get("alice").programs == "*"
        pair = TokenStore(journal, Sealer([KEY])).get()
        assert pair == TokenPair("xo-access", "xo-refresh", None, AT + timedelta(days=30))
        with pytest.raises(OrderExists):
            journal.debit("E1", "E1", "A1", 1, 10**9, {})
        acme = journal.for_program("acme")
        assert acme.count() == 0 and acme.totals("E1") == Totals()
        assert TokenStore(acme, Sealer([KEY])).get() is None and Audit(acme).recent() == []
        acme.debit("E1", "E1", "A1", 1, 10**9, {})  # its own order A1
        assert acme.hold_lease("ledger-worker", "host-b", 60)  # its own lease
        assert journal.hold_lease("ledger-worker", "host-c", 60)  # 0.1.0's, expired since
        assert not acme.hold_lease("ledger-worker", "host-c", 60)
    finally:
        journal.dispose()


def test_keys_and_indexes_take_the_program_in(database_url):
    journal = Journal(database_url)
    journal.create_schema()
    journal.dispose()
    engine = create_engine(database_url)
    try:
        found = inspect(engine)
        for table, key in (("accounts", "member"), ("leases", "name"), ("xoxoday_tokens", "name")):
            assert found.get_pk_constraint(table)["constrained_columns"] == ["program", key]
        indexes = {i["name"]: i for i in found.get_indexes("operations")}
        once = indexes["ux_operations_order_once"]
        assert once["column_names"] == ["program", "kind", "order_id"] and once["unique"]
        for name in ("member", "order_id", "unique_id", "reference", "request_id"):
            assert indexes[f"ix_operations_{name}"]["column_names"] == [name, "program"]
        assert indexes["ix_operations_unfinished"]["column_names"] == ["state"]
        delivered = {i["name"]: i["column_names"] for i in found.get_indexes("deliveries")}
        assert delivered["ix_deliveries_request_id"] == ["request_id", "program"]
    finally:
        engine.dispose()


def test_a_program_s_reads_still_go_by_their_indexes(tmp_path):
    """SQLite's own plan of the journal's reads, as they run (with the program): the partial
    index of the unfinished, a member's and an order's index; never a scan of the table."""
    from sqlalchemy import event

    journal = Journal(f"sqlite:///{tmp_path / 'journal.db'}").for_program("acme")
    journal.create_schema()
    seen: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("SELECT") and "FROM operations" in statement:
            seen.append((statement, params))

    event.listen(journal.reader, "before_cursor_execute", keep)
    try:
        journal.unfinished()
        journal.due()
        journal.order("debit", "O-1")
        journal.of_member("M")
        journal.refunds_of("O-1")
        journal.search("O-1")
    finally:
        event.remove(journal.reader, "before_cursor_execute", keep)
    plans = []
    with journal.reader.connect() as conn:
        for statement, params in seen:
            steps = [
                str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            ]
            assert not any(s.startswith("SCAN operations") for s in steps), (statement, steps)
            plans.append(" ".join(steps))
    journal.dispose()
    assert "ix_operations_unfinished" in plans[0] and "ix_operations_unfinished" in plans[1]
    assert "ix_operations_order_id" in plans[2] and "ix_operations_member" in plans[3]


def test_downgrading_keeps_the_default_program_and_refuses_another_s(old_journal_url):
    url = old_journal_url
    at_0007_with_every_kind_of_row(url)
    before = every_row(url)
    alembic(url, "upgrade", "head")
    alembic(url, "downgrade", BEFORE)
    engine = create_engine(url)
    assert all(
        "program" not in {c["name"] for c in inspect(engine).get_columns(t.name)} for t in SCOPED
    )
    assert inspect(engine).get_pk_constraint("accounts")["constrained_columns"] == ["member"]
    engine.dispose()
    assert every_row(url) == before
    journal = Journal(url)
    try:
        journal.create_schema()
        journal.for_program("acme").debit("E1", "E1", "A1", 1, 10**9, {})
        with pytest.raises(RuntimeError, match="other than 'default'"):
            alembic(url, "downgrade", BEFORE)
        assert journal.revision() == head()
        assert journal.for_program("acme").count() == 1 and journal.count() == 4
    finally:
        journal.dispose()
