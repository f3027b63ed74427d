"""The journal: durable, serialised operations on one member's account.

SQLite (WAL, synchronous=FULL) by default: every write transaction starts with BEGIN IMMEDIATE,
so writers from all gunicorn workers queue on SQLite's lock. On PostgreSQL, a write locks the
member's `accounts` row (SELECT ... FOR UPDATE), so several hosts can share one journal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from gateway.journal.tables import accounts, metadata, operations

log = logging.getLogger(__name__)


class OrderRecordedConcurrently(Exception):
    """Another transaction recorded the same order first; run the whole operation again."""


@dataclass(frozen=True)
class Totals:
    """A member's running totals, in ten-thousandths of a point."""

    debited: int = 0
    refunded: int = 0
    credited: int = 0


@dataclass(frozen=True)
class Operation:
    id: int
    created_at: datetime
    kind: str
    state: str
    member: str
    unique_id: str
    order_id: str
    amount: int
    fingerprint: str
    answer: dict[str, Any]


def fingerprint(kind: str, member: str, order_id: str, amount: int) -> str:
    """What makes two deliveries of an order the same request."""
    canonical = json.dumps([kind, member, order_id, amount], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we wrote was UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _operation(row: Any) -> Operation:
    m = row._mapping
    return Operation(
        id=m["id"],
        created_at=_as_utc(m["created_at"]),
        kind=m["kind"],
        state=m["state"],
        member=m["member"],
        unique_id=m["unique_id"],
        order_id=m["order_id"],
        amount=m["amount"],
        fingerprint=m["fingerprint"],
        answer=json.loads(m["answer"]),
    )


class LockedAccount:
    """One member's account inside a write transaction that holds its lock."""

    def __init__(self, conn: Connection, member: str, totals: Totals) -> None:
        self._conn = conn
        self.member = member
        self.totals = totals

    def order(self, kind: str, order_id: str) -> Operation | None:
        """The debit or credit recorded for `order_id`, whoever it belongs to."""
        row = self._conn.execute(
            select(operations).where(operations.c.kind == kind, operations.c.order_id == order_id)
        ).first()
        return _operation(row) if row else None

    def refunds(self, order_id: str) -> list[Operation]:
        rows = self._conn.execute(
            select(operations)
            .where(operations.c.kind == "refund", operations.c.order_id == order_id)
            .order_by(operations.c.id)
        )
        return [_operation(r) for r in rows]

    def record(
        self, kind: str, unique_id: str, order_id: str, amount: int, answer: dict[str, Any]
    ) -> Operation:
        """Write the operation and move the totals it changes, in this transaction."""
        now = utcnow()
        values = {
            "created_at": now,
            "kind": kind,
            "state": "applied",
            "member": self.member,
            "unique_id": unique_id,
            "order_id": order_id,
            "amount": amount,
            "fingerprint": fingerprint(kind, self.member, order_id, amount),
            "answer": json.dumps(answer, sort_keys=True),
        }
        try:
            new_id = self._conn.execute(insert(operations).values(**values)).inserted_primary_key[0]
        except IntegrityError as exc:
            raise OrderRecordedConcurrently(order_id) from exc
        column = {"debit": "debited", "refund": "refunded", "credit": "credited"}[kind]
        self._conn.execute(
            update(accounts)
            .where(accounts.c.member == self.member)
            .values({column: accounts.c[column] + amount, "updated_at": now})
        )
        return Operation(id=new_id, **{**values, "answer": answer})


class Journal:
    """The journal database. Engines open lazily, so a forked worker makes its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self._lock = threading.Lock()
        self._writer: Engine | None = None
        self._reader: Engine | None = None

    # -- engines -----------------------------------------------------------------------------
    def _engine(self, immediate: bool) -> Engine:
        if not self.is_sqlite:
            return create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        database = make_url(self.url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we say BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # a commit is on disk before we answer
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @property
    def writer(self) -> Engine:
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = self._engine(immediate=True)
        return self._writer

    @property
    def reader(self) -> Engine:
        if not self.is_sqlite:
            return self.writer
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    self._reader = self._engine(immediate=False)
        return self._reader

    def create_schema(self) -> None:
        # Several workers or hosts may start at once: a lost race to CREATE is not an error.
        for attempt in range(3):
            try:
                with self.writer.begin() as conn:
                    metadata.create_all(conn, checkfirst=True)
                return
            except (IntegrityError, ProgrammingError, OperationalError):
                if attempt == 2:
                    raise

    def ping(self) -> None:
        with self.reader.connect() as conn:
            conn.execute(select(1))

    def dispose(self) -> None:
        for engine in (self._writer, self._reader):
            if engine is not None:
                engine.dispose()
        self._writer = self._reader = None

    # -- reading -----------------------------------------------------------------------------
    def totals(self, member: str) -> Totals:
        with self.reader.connect() as conn:
            row = conn.execute(
                select(accounts.c.debited, accounts.c.refunded, accounts.c.credited).where(
                    accounts.c.member == member
                )
            ).first()
        return Totals(*row) if row else Totals()

    def operations(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[Operation]:
        query = select(operations).order_by(operations.c.id)
        if since is not None:
            query = query.where(operations.c.created_at >= since)
        if until is not None:
            query = query.where(operations.c.created_at < until)
        with self.reader.connect() as conn:
            for row in conn.execution_options(yield_per=500).execute(query):
                yield _operation(row)

    def count(self) -> int:
        with self.reader.connect() as conn:
            return conn.execute(select(func.count()).select_from(operations)).scalar_one()

    # -- writing -----------------------------------------------------------------------------
    @contextmanager
    def locked_account(self, member: str) -> Iterator[LockedAccount]:
        """A write transaction holding `member`'s lock; commits on leaving, rolls back on error."""
        locking = select(accounts.c.debited, accounts.c.refunded, accounts.c.credited).where(
            accounts.c.member == member
        )
        with self.writer.begin() as conn:
            row = conn.execute(locking.with_for_update()).first()
            if row is None:
                self._insert_account(conn, member)
                row = conn.execute(locking.with_for_update()).one()
            yield LockedAccount(conn, member, Totals(*row))

    def _insert_account(self, conn: Connection, member: str) -> None:
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        conn.execute(
            dialect_insert(accounts)
            .values(member=member, debited=0, refunded=0, credited=0, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["member"])
        )
