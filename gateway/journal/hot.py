"""The two hottest journal operations, on pooled DBAPI connections.

A debit holds the journal's write lock, so its length caps the redemptions per second the whole
host can make; measured here, SQLAlchemy's per-execution machinery more than doubled it (see
docs/BENCHMARKS.md). The SQL and the pool are still SQLAlchemy's: only execution is direct.
One HotPath serves every program on the database: each call names its program (b_program).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine

from gateway.journal.engines import HostWriteLock, RawStatement, ThreadReaders
from gateway.journal.records import Operation, Overdraft, Totals, operation_values
from gateway.journal.statements import (
    DEBIT_WITHIN_BALANCE,
    INSERT_OPERATION_RETURNING_ID,
    LOCK_ACCOUNT,
    TOTALS,
    debit_at_once,
    open_account,
)


class HotPath:
    def __init__(self, writer: Engine, reader: Engine, host_lock: HostWriteLock | None) -> None:
        self.writer = writer
        self.reader = reader
        self.host_lock = host_lock
        self.is_sqlite = writer.dialect.name == "sqlite"
        self.thread_readers = ThreadReaders(reader) if self.is_sqlite else None
        dialect = writer.dialect
        self.totals_query = RawStatement(TOTALS, reader.dialect)
        self.insert_operation = RawStatement(INSERT_OPERATION_RETURNING_ID, dialect)
        self.debit_within_balance = RawStatement(DEBIT_WITHIN_BALANCE, dialect)
        self.lock_account = RawStatement(LOCK_ACCOUNT, dialect)
        self.open_account = RawStatement(open_account(dialect.name), dialect)
        self.debit_at_once = None if self.is_sqlite else RawStatement(debit_at_once(), dialect)

    def totals(self, program: str, member: str) -> Totals:
        params = {"b_program": program, "b_member": member}
        if self.thread_readers is not None:
            row = self.totals_query.fetchone(self.thread_readers.cursor(), params)
        else:
            row = self._autocommit_once_more(
                lambda cursor: self.totals_query.fetchone(cursor, params)
            )
        return Totals(*row) if row else Totals()

    def _autocommit_once_more(self, read: Callable[[Any], Any]) -> Any:
        """One statement on a pooled (unpinged) autocommit connection; one that had died is
        dropped and the statement tried once more on a new one."""
        for last_try in (False, True):
            conn = self.reader.raw_connection()
            try:
                cursor = conn.cursor()
                answer = read(cursor)
                cursor.close()
                return answer
            except self.reader.dialect.loaded_dbapi.OperationalError:
                conn.invalidate()
                if last_try:
                    raise
            finally:
                conn.close()  # back to the pool (an invalidated one is discarded)
        raise AssertionError("unreachable")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor in a write transaction: committed on leaving, rolled back on an exception."""
        conn = self.writer.raw_connection()
        try:
            with self.host_lock.held() if self.host_lock else nullcontext():
                cursor = conn.cursor()
                if self.is_sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield cursor
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
                cursor.close()
        finally:
            conn.close()  # back to the pool

    def debit(
        self,
        program: str,
        member: str,
        unique_id: str,
        order_id: str,
        amount: int,
        granted: int,
        answer: dict[str, Any],
    ) -> Operation:
        """Insert the debit, then take it from the account only if the account covers it.

        A repeated order id raises the driver's IntegrityError from the insert; Journal.debit
        turns that into a replay. Overdraft rolls the insert back.
        """
        values = operation_values(program, "debit", member, unique_id, order_id, amount, answer)
        move = {
            "b_program": program,
            "b_member": member,
            "b_granted": granted,
            "b_amount": amount,
            "b_now": values["created_at"],
        }
        if self.debit_at_once is not None:
            # One round trip for the usual debit. Tried once more on a new connection if its
            # own died: the order's unique index makes a second try a replay, never a second
            # debit, whatever became of the first.
            statement, params = self.debit_at_once, {**values, **move}
            row = self._autocommit_once_more(
                lambda cursor: statement.execute(cursor, params).fetchone()
            )
            if row is not None and row[0] is not None:
                return Operation(id=row[0], **{**values, "answer": answer})
        with self.transaction() as cur:
            new_id = self.insert_operation.execute(cur, values).fetchone()[0]
            taken = self.debit_within_balance.execute(cur, move).rowcount == 1
            if not taken:
                # Nothing moved: the account cannot cover it, or it had no row when the UPDATE
                # looked (on PostgreSQL, another delivery's first debit may have opened it and
                # committed since). Open it if need be, hold its lock, and try once more.
                locked = {"b_program": program, "b_member": member}
                if self.lock_account.execute(cur, locked).fetchone() is None:
                    self.open_account.execute(cur, {**locked, "b_now": move["b_now"]})
                    self.lock_account.execute(cur, locked).fetchone()
                taken = self.debit_within_balance.execute(cur, move).rowcount == 1
                if not taken:
                    row = self.lock_account.fetchone(cur, locked)
                    debited, refunded, credited = row or (0, 0, 0)
                    raise Overdraft(granted + credited + refunded - debited)
        return Operation(id=new_id, **{**values, "answer": answer})
