"""The journal's reads of one program's operations: the export, the console's search, a
member's history, the count. Each starts from scope.scoped, so each names the program."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func

from gateway.journal.connections import Bound
from gateway.journal.records import Operation, operation_from_row
from gateway.journal.scope import scoped
from gateway.journal.tables import deliveries, operations


class Reads(Bound):
    """Mixed into Journal."""

    def operations(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Operation]:
        """This program's operations, oldest first (the export)."""
        query = scoped(operations, self.program).order_by(operations.c.id)
        if since is not None:
            query = query.where(operations.c.created_at >= since)
        if until is not None:
            query = query.where(operations.c.created_at < until)
        # Streamed through a server-side cursor, which PostgreSQL keeps only in a transaction:
        # the writer's engine, not the autocommit reader's.
        engine = self.reader if self.is_sqlite else self.writer
        with engine.connect() as conn:
            for row in conn.execution_options(yield_per=500).execute(query):
                yield operation_from_row(row)

    def search(self, text: str, limit: int = 50) -> list[Operation]:
        """Operations whose order id, member, unique_id, ledger reference or request id is
        `text` (the request that recorded it or any delivery of it), newest first: each an
        indexed equality on a bound value, never part of the SQL."""
        c, d, program = operations.c, deliveries.c, self.program
        matches = (
            (c.order_id == text)
            | (c.member == text)
            | (c.unique_id == text)
            | (c.reference == text)
        )
        # A request id is asked apart: most old rows have none, so a planner that read the
        # statistics may think its index poor within one OR and walk the table instead.
        by_request = scoped(operations, program, c.id).where(c.request_id == text).limit(limit)
        delivered = scoped(deliveries, program, d.operation_id).where(d.request_id == text)
        with self.reader.connect() as conn:
            query = scoped(operations, program).where(matches).order_by(c.id.desc()).limit(limit)
            found = {row.id: operation_from_row(row) for row in conn.execute(query)}
            ids = {i for (i,) in conn.execute(by_request)}
            ids |= {i for (i,) in conn.execute(delivered.limit(limit))}
            if ids - found.keys():
                more = scoped(operations, program).where(c.id.in_(ids - found.keys()))
                for row in conn.execute(more):
                    found[row.id] = operation_from_row(row)
        return sorted(found.values(), key=lambda o: o.id, reverse=True)[:limit]

    def of_member(
        self, member: str, limit: int | None = 100, before: int | None = None
    ) -> list[Operation]:
        """A member's operations, newest first; `before`: the id a previous page ended at."""
        query = scoped(operations, self.program).where(operations.c.member == member)
        if before is not None:
            query = query.where(operations.c.id < before)
        query = query.order_by(operations.c.id.desc()).limit(limit)
        with self.reader.connect() as conn:
            return [operation_from_row(row) for row in conn.execute(query)]

    def count(self) -> int:
        """This program's operations."""
        with self.reader.connect() as conn:
            query = scoped(operations, self.program, func.count())
            return int(conn.execute(query).scalar_one())
