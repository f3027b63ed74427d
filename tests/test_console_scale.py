"""The console's page queries stay indexed with many operations: 100,000 generated ones, every
query a console page runs captured as it runs, and the database's own plan of each read
(SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN after ANALYZE): no scan of the table."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from gateway.console.overview import operations_since, overview, unfinished_page
from gateway.journal import Journal
from gateway.journal.operators import Audit
from gateway.journal.records import utcnow
from gateway.journal.tables import operations
from gateway.service.orders import order_story

COUNT = 100_000


def fill(journal: Journal) -> None:
    start = utcnow() - timedelta(days=90)
    rows = []
    for i in range(COUNT):
        state = "unknown" if i % 5000 == 0 else "applied"
        created = start + timedelta(seconds=i * 70)
        rows.append(
            {
                "created_at": created,
                "kind": ("debit", "refund", "credit")[i % 3],
                "state": state,
                "member": f"E{i % 20000}",
                "unique_id": f"E{i % 20000}",
                "order_id": f"O{i}",
                "amount": 10_000,
                "fingerprint": "f",
                "answer": "{}",
                "reference": f"debit:O{i}",
                # Sent to a points ledger at once, settled a moment later (the charts' reads).
                "attempts": 1,
                "sent_at": created,
                "updated_at": created + timedelta(seconds=1 + i % 7),
                "orphan": "reported" if i % 9999 == 0 else None,
            }
        )
    with journal._write() as conn:
        conn.execute(insert(operations), rows)
        conn.execute(text("ANALYZE"))


class Captured:
    """The SELECTs run on the journal's reader while a page's work runs."""

    def __init__(self, journal: Journal) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.engine = journal.reader
        event.listen(self.engine, "before_cursor_execute", self.seen)

    def seen(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "operations" in statement:
            self.statements.append((statement, params))

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self.seen)


@pytest.mark.slow
def test_every_console_page_query_uses_an_index(app):
    gateway = app.extensions["points_gateway"]
    journal = gateway.journal
    fill(journal)
    captured = Captured(journal)
    try:
        journal.search("O777")
        journal.search("debit:O778")
        journal.of_member("E42", 100)
        journal.unfinished()
        unfinished_page(journal, "debit", "unknown", 5000)
        journal.orphans()
        order_story(journal, "O999")
        journal.operation(123)
        list(journal.operations(utcnow() - timedelta(days=1), utcnow()))
        overview(gateway)
        operations_since(journal, utcnow() - timedelta(days=1), "debit", "applied", 100, None)
        operations_since(journal, utcnow() - timedelta(days=1), "", "", 100, 99_000)
        Audit(journal).recent()
    finally:
        captured.close()
    assert len(captured.statements) >= 10
    # The overview's charts among them: the window by created_at, and what finished in it.
    assert any("updated_at >=" in statement for statement, _ in captured.statements)
    with journal.reader.connect() as conn:
        for statement, params in captured.statements:
            if journal.is_sqlite:
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
                steps = [str(r[-1]) for r in rows]
                # A scan of a (partial) index is a read of what it holds; of the table, not.
                assert "SCAN operations" not in steps, (statement, steps)
            else:
                rows = conn.exec_driver_sql("EXPLAIN " + statement, params)
                plan = " | ".join(str(r[0]) for r in rows)
                assert "Seq Scan on operations" not in plan, (statement, plan)
