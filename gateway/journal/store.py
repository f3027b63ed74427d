"""The journal: durable, serialised operations on members' accounts.

SQLite by default (see engines.py: one writer at a time). On PostgreSQL a debit is one
conditional UPDATE of the member's `accounts` row, and refunds and credits lock that row
(SELECT ... FOR UPDATE), so several hosts can share one journal without overspending.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from gateway.journal import schema
from gateway.journal.deliveries import Deliveries
from gateway.journal.engines import (
    HostWriteLock,
    postgres_engine,
    postgres_reader,
    sqlite_engine,
)
from gateway.journal.hot import HotPath
from gateway.journal.ledger_states import LedgerStates
from gateway.journal.records import (
    Operation,
    OrderExists,
    OrderRecordedConcurrently,
    Totals,
    operation_from_row,
    operation_values,
    utcnow,
)
from gateway.journal.statements import (
    INSERT_OPERATION,
    LOCK_ACCOUNT,
    MOVE_TOTAL,
    ORDER,
    REFUNDS,
    TOTAL_MOVED_BY,
    inserted_id,
    open_account,
)
from gateway.journal.tables import deliveries, operations

log = logging.getLogger(__name__)


class LockedAccount:
    """One member's account inside a write transaction that holds its lock."""

    def __init__(self, conn: Connection, member: str, totals: Totals) -> None:
        self._conn = conn
        self.member = member
        self.totals = totals

    def order(self, kind: str, order_id: str) -> Operation | None:
        """The debit or credit recorded for `order_id`, whoever it belongs to."""
        row = self._conn.execute(ORDER, {"b_kind": kind, "b_order": order_id}).first()
        return operation_from_row(row) if row else None

    def execute(self, statement: Any) -> Any:
        """Run `statement` in this transaction, under this account's lock."""
        return self._conn.execute(statement)

    def refunds(self, order_id: str) -> list[Operation]:
        return [operation_from_row(r) for r in self._conn.execute(REFUNDS, {"b_order": order_id})]

    def record(
        self,
        kind: str,
        unique_id: str,
        order_id: str,
        amount: int,
        answer: dict[str, Any],
        state: str = "applied",
        reference: str | None = None,
        comments: str | None = None,
    ) -> Operation:
        """Write the operation, and when it is applied move the totals it changes, in this
        transaction (one a ledger will apply is `received`: its totals move when it is)."""
        values = operation_values(
            kind, self.member, unique_id, order_id, amount, answer, state, reference, comments
        )
        now = values["created_at"]
        try:
            new_id = inserted_id(self._conn.execute(INSERT_OPERATION, values))
        except IntegrityError as exc:
            raise OrderRecordedConcurrently(order_id) from exc
        if state == "applied":
            self._conn.execute(
                MOVE_TOTAL[TOTAL_MOVED_BY[kind]],
                {"b_member": self.member, "b_amount": amount, "b_now": now},
            )
        return Operation(id=new_id, **{**values, "answer": answer})


class Journal(LedgerStates, Deliveries):
    """The journal database. Engines open lazily, so a forked worker makes its own."""

    def __init__(self, url: str, namespace: str | None = None) -> None:
        """`namespace`: the PostgreSQL schema of the journal's tables (default: the search
        path's first, normally `public`)."""
        self.url = url
        self.namespace = namespace or None
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self._lock = threading.Lock()
        self._writer: Engine | None = None
        self._reader: Engine | None = None
        self._hot_path: HotPath | None = None
        database = make_url(url).database if self.is_sqlite else None
        self._host_lock = (
            HostWriteLock(Path(database + ".writelock"))
            if database and database != ":memory:"
            else None
        )

    # -- engines -----------------------------------------------------------------------------
    @property
    def writer(self) -> Engine:
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = (
                        sqlite_engine(self.url, writer=True)
                        if self.is_sqlite
                        else postgres_engine(self.url, self.namespace)
                    )
        return self._writer

    @property
    def reader(self) -> Engine:
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    self._reader = (
                        sqlite_engine(self.url, writer=False)
                        if self.is_sqlite
                        else postgres_reader(self.url, self.namespace)
                    )
        return self._reader

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction: commits on leaving, rolls back on an exception."""
        engine = self.writer  # first: it creates the database's folder, where the lock file goes
        if self._host_lock is None:
            with engine.begin() as conn:
                yield conn
            return
        with self._host_lock.held(), engine.begin() as conn:
            yield conn

    def create_schema(self) -> None:
        """This release's schema, upgraded to (gateway/journal/schema.py)."""
        with self._write() as conn:
            schema.upgrade(conn, self.namespace)

    def require_schema(self, migrate: bool) -> None:
        """Ready to serve: an embedded SQLite journal, or any with `migrate`, is upgraded; a
        PostgreSQL journal several hosts share must already be (SchemaBehind otherwise)."""
        if migrate or self.is_sqlite:
            self.create_schema()
            return
        with self.reader.connect() as conn:
            schema.require(conn)

    def revision(self) -> str | None:
        with self.reader.connect() as conn:
            return schema.current(conn)

    def ping(self) -> None:
        with self.reader.connect() as conn:
            conn.execute(select(1))

    def dispose(self) -> None:
        for engine in (self._writer, self._reader):
            if engine is not None:
                engine.dispose()
        self._writer = self._reader = None
        self._hot_path = None
        if self._host_lock is not None:
            self._host_lock.close()

    # -- reading -----------------------------------------------------------------------------
    def totals(self, member: str) -> Totals:
        return self._hot().totals(member)

    def order(self, kind: str, order_id: str) -> Operation | None:
        with self.reader.connect() as conn:
            row = conn.execute(ORDER, {"b_kind": kind, "b_order": order_id}).first()
        return operation_from_row(row) if row else None

    def operations(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Operation]:
        query = select(operations).order_by(operations.c.id)
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
        c, d = operations.c, deliveries.c
        matches = (
            (c.order_id == text)
            | (c.member == text)
            | (c.unique_id == text)
            | (c.reference == text)
        )
        # A request id is asked apart: most old rows have none, so a planner that read the
        # statistics may think its index poor within one OR and walk the table instead.
        by_request = select(c.id).where(c.request_id == text).limit(limit)
        delivered = select(d.operation_id).where(d.request_id == text).limit(limit)
        with self.reader.connect() as conn:
            query = select(operations).where(matches).order_by(c.id.desc()).limit(limit)
            found = {row.id: operation_from_row(row) for row in conn.execute(query)}
            ids = {i for (i,) in conn.execute(by_request)} | {i for (i,) in conn.execute(delivered)}
            if ids - found.keys():
                for row in conn.execute(select(operations).where(c.id.in_(ids - found.keys()))):
                    found[row.id] = operation_from_row(row)
        return sorted(found.values(), key=lambda o: o.id, reverse=True)[:limit]

    def of_member(
        self, member: str, limit: int | None = 100, before: int | None = None
    ) -> list[Operation]:
        """A member's operations, newest first; `before`: the id a previous page ended at."""
        query = select(operations).where(operations.c.member == member)
        if before is not None:
            query = query.where(operations.c.id < before)
        query = query.order_by(operations.c.id.desc()).limit(limit)
        with self.reader.connect() as conn:
            return [operation_from_row(row) for row in conn.execute(query)]

    def refunds_of(self, order_id: str) -> list[Operation]:
        with self.reader.connect() as conn:
            return [operation_from_row(r) for r in conn.execute(REFUNDS, {"b_order": order_id})]

    def count(self) -> int:
        with self.reader.connect() as conn:
            return conn.execute(select(func.count()).select_from(operations)).scalar_one()

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def locked_account(self, member: str) -> Iterator[LockedAccount]:
        """A write transaction holding `member`'s lock; commits on leaving, rolls back on error."""
        params = {"b_member": member}
        with self._write() as conn:
            row = conn.execute(LOCK_ACCOUNT, params).first()
            if row is None:
                conn.execute(
                    open_account(conn.dialect.name), {"b_member": member, "b_now": utcnow()}
                )
                row = conn.execute(LOCK_ACCOUNT, params).one()
            yield LockedAccount(conn, member, Totals(*row))

    def debit(
        self,
        member: str,
        unique_id: str,
        order_id: str,
        amount: int,
        granted: int,
        answer: dict[str, Any],
    ) -> Operation:
        """Record a debit of `amount` if `granted` + credits + refunds - debits covers it.

        Raises OrderExists when `order_id` was debited before, Overdraft when the account
        cannot cover it.
        """
        try:
            return self._hot().debit(member, unique_id, order_id, amount, granted, answer)
        except self.writer.dialect.loaded_dbapi.IntegrityError:
            # The order was there already: its transaction is rolled back; read what it was.
            earlier = self.order("debit", order_id)
            if earlier is None:  # the other delivery rolled back meanwhile: nothing to replay
                raise OrderRecordedConcurrently(order_id) from None
            raise OrderExists(earlier) from None

    def _hot(self) -> HotPath:
        if self._hot_path is None:
            writer, reader = self.writer, self.reader  # before the lock: each takes it too
            with self._lock:
                if self._hot_path is None:
                    self._hot_path = HotPath(writer, reader, self._host_lock)
        return self._hot_path
