"""The journal: durable, serialised operations on members' accounts, one program's at a time.

SQLite by default (see engines.py: one writer at a time). On PostgreSQL a debit is one
conditional UPDATE of the member's `accounts` row, and refunds and credits lock that row
(SELECT ... FOR UPDATE), so several hosts can share one journal without overspending.

A Journal is bound to one program (a storefront, a client company): everything it reads and
writes is that program's (see scope.py). `for_program` binds another program to the same
engines, pools, host write lock and hot path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from gateway.journal import schema
from gateway.journal.connections import Bound, Connections
from gateway.journal.deliveries import Deliveries
from gateway.journal.ledger_states import LedgerStates
from gateway.journal.reads import Reads
from gateway.journal.records import (
    DEFAULT_PROGRAM,
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

log = logging.getLogger(__name__)


class LockedAccount:
    """One member's account in one program, inside a write transaction that holds its lock."""

    def __init__(self, conn: Connection, program: str, member: str, totals: Totals) -> None:
        self._conn = conn
        self.program = program
        self.member = member
        self.totals = totals

    def order(self, kind: str, order_id: str) -> Operation | None:
        """The debit or credit recorded for `order_id` in this program, whoever it belongs to."""
        params = {"b_program": self.program, "b_kind": kind, "b_order": order_id}
        row = self._conn.execute(ORDER, params).first()
        return operation_from_row(row) if row else None

    def execute(self, statement: Any) -> Any:
        """Run `statement` in this transaction, under this account's lock."""
        return self._conn.execute(statement)

    def refunds(self, order_id: str) -> list[Operation]:
        params = {"b_program": self.program, "b_order": order_id}
        return [operation_from_row(r) for r in self._conn.execute(REFUNDS, params)]

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
            self.program,
            kind,
            self.member,
            unique_id,
            order_id,
            amount,
            answer,
            state,
            reference,
            comments,
        )
        now = values["created_at"]
        try:
            new_id = inserted_id(self._conn.execute(INSERT_OPERATION, values))
        except IntegrityError as exc:
            raise OrderRecordedConcurrently(order_id) from exc
        if state == "applied":
            moved = {"b_program": self.program, "b_member": self.member}
            self._conn.execute(
                MOVE_TOTAL[TOTAL_MOVED_BY[kind]], {**moved, "b_amount": amount, "b_now": now}
            )
        return Operation(id=new_id, **{**values, "answer": answer})


class Journal(Reads, LedgerStates, Deliveries, Bound):
    """The journal database, bound to the program `program`."""

    def __init__(
        self, url: str, namespace: str | None = None, program: str = DEFAULT_PROGRAM
    ) -> None:
        """`namespace`: the PostgreSQL schema of the journal's tables (default: the search
        path's first, normally `public`); `program`: whose rows it reads and writes."""
        Bound.__init__(self, Connections(url, namespace), program)

    def for_program(self, name: str) -> Journal:
        """The journal bound to program `name`, on the same engines, pools, host write lock
        and hot path: cheap, and no connection of its own (disposing either disposes both)."""
        if name == self.program:
            return self
        bound = Journal.__new__(Journal)
        Bound.__init__(bound, self._db, name)
        return bound

    # -- the database ------------------------------------------------------------------------
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
        """Close the engines every program's journal on this database shares."""
        self._db.dispose()

    # -- the hot path ------------------------------------------------------------------------
    def totals(self, member: str) -> Totals:
        return self._hot().totals(self.program, member)

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

        Raises OrderExists when `order_id` was debited before in this program, Overdraft when
        the account cannot cover it.
        """
        try:
            hot = self._hot()
            return hot.debit(self.program, member, unique_id, order_id, amount, granted, answer)
        except self.writer.dialect.loaded_dbapi.IntegrityError:
            # The order was there already: its transaction is rolled back; read what it was.
            earlier = self.order("debit", order_id)
            if earlier is None:  # the other delivery rolled back meanwhile: nothing to replay
                raise OrderRecordedConcurrently(order_id) from None
            raise OrderExists(earlier) from None

    @contextmanager
    def locked_account(self, member: str) -> Iterator[LockedAccount]:
        """A write transaction holding `member`'s lock; commits on leaving, rolls back on error."""
        params = {"b_program": self.program, "b_member": member}
        with self._write() as conn:
            row = conn.execute(LOCK_ACCOUNT, params).first()
            if row is None:
                conn.execute(open_account(conn.dialect.name), {**params, "b_now": utcnow()})
                row = conn.execute(LOCK_ACCOUNT, params).one()
            yield LockedAccount(conn, self.program, member, Totals(*row))

    def refunds_of(self, order_id: str) -> list[Operation]:
        params = {"b_program": self.program, "b_order": order_id}
        with self.reader.connect() as conn:
            return [operation_from_row(r) for r in conn.execute(REFUNDS, params)]

    def order(self, kind: str, order_id: str) -> Operation | None:
        """The debit or credit of `order_id` in this program."""
        params = {"b_program": self.program, "b_kind": kind, "b_order": order_id}
        with self.reader.connect() as conn:
            row = conn.execute(ORDER, params).first()
        return operation_from_row(row) if row else None
