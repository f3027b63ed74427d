"""What each delivery of a ledger debit was answered, and the orphans that can leave.

Xoxoday shows "payment failed" for any failure answer. A debit answered a failure (the ledger's
outcome was unknown, say) that the ledger had applied after all, and that Xoxoday never
delivers again, took the employee's points for an order Xoxoday counts as failed: an orphan.

A ledger debit starts `answered = "pending"` when it is recorded; every delivery then writes
what it was answered. One answered anything but "ok" whose last delivery is older than the
grace period is an orphan; it is marked once, and under the "refund" policy an owed refund of
what remains of it is recorded in the same transaction (the worker applies it). A later
delivery can be answered success only while no such refund was made: the mark and the "ok" are
each one conditional UPDATE of the same row, so exactly one of them wins.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import or_

from gateway.journal.connections import Bound
from gateway.journal.records import REQUEST_ID, Operation, as_utc, operation_from_row, utcnow
from gateway.journal.scope import add, change, scoped
from gateway.journal.tables import UNANSWERED_ROWS, deliveries, operations

op = operations.c


def _waiting(cutoff: datetime | None) -> list[Any]:
    """Applied debits whose last answer was a failure, not dealt with (older than `cutoff`)."""
    where = [op.kind == "debit", op.state == "applied", UNANSWERED_ROWS]
    return [*where, op.answered_at < cutoff] if cutoff is not None else where


class Deliveries(Bound):
    """Mixed into Journal, whose engines and transactions it uses; every statement is the
    journal's program's."""

    def locked_account(self, member: str) -> AbstractContextManager[Any]:  # provided by Journal
        raise NotImplementedError

    def answered(self, operation: Operation, answer: str) -> bool:
        """Record a delivery of a ledger debit and its answer ("ok" or an error_code).

        False for "ok" when the debit was refunded as an orphan meanwhile: the caller must not
        answer success then. A debit only reported as an orphan is one no longer."""
        now = utcnow()
        where = [op.id == operation.id]
        values: dict[str, Any] = {"answered": answer, "answered_at": now}
        if answer == "ok":
            where.append(or_(op.orphan.is_(None), op.orphan == "reported"))
            values["orphan"] = None
        answer_it = change(operations, self.program).where(*where).values(values)
        with self._write() as conn:
            if conn.execute(answer_it).rowcount != 1:
                return False
            delivery = {
                "operation_id": operation.id,
                "at": now,
                "answer": answer,
                "request_id": REQUEST_ID.get(),
            }
            conn.execute(add(deliveries, self.program).values(delivery))
        return True

    def deliveries_of(self, operation_id: int) -> list[tuple[datetime, str, str | None]]:
        """Each delivery of a ledger debit: when, what it was answered, its request id."""
        d = deliveries.c
        query = scoped(deliveries, self.program, d.at, d.answer, d.request_id)
        query = query.where(d.operation_id == operation_id)
        with self.reader.connect() as conn:
            return [
                (as_utc(at), answer, rid) for at, answer, rid in conn.execute(query.order_by(d.id))
            ]

    def orphan_candidates(self, cutoff: datetime, limit: int = 100) -> list[Operation]:
        query = scoped(operations, self.program).where(*_waiting(cutoff))
        query = query.order_by(op.answered_at).limit(limit)
        with self.reader.connect() as conn:
            return [operation_from_row(row) for row in conn.execute(query)]

    def orphans(self) -> list[Operation]:
        """Every orphan, dealt with or still in its grace period, oldest first."""
        # Two reads, each on its own partial index; one read ORing them scanned the table.
        dealt = scoped(operations, self.program).where(op.orphan.is_not(None))
        waiting = scoped(operations, self.program).where(*_waiting(None))
        with self.reader.connect() as conn:
            both = [*conn.execute(dealt), *conn.execute(waiting)]
        return sorted((operation_from_row(row) for row in both), key=lambda found: found.id)

    def settle_orphan(
        self,
        debit: Operation,
        cutoff: datetime,
        policy: str,
        refund_reference: Callable[[int], str],
        state: str = "received",
    ) -> Operation | None:
        """Mark `debit` an orphan, once, if it still is one; under the "refund" policy also
        record, in the same transaction, an owed refund of what remains of it. Answers that
        refund (None when reported, or when nothing remains or it was no orphan any more)."""
        if debit.program != self.program:
            return None  # another program's: its journal settles it (nor is an account opened)
        handling = "refunded" if policy == "refund" else "reported"
        since = debit.answered_at.isoformat(timespec="seconds") if debit.answered_at else "?"
        detail = (
            f"orphan, {handling}: applied, answered {debit.answered} at {since}, "
            f"and not delivered again before {cutoff.isoformat(timespec='seconds')}"
        )
        with self.locked_account(debit.member) as acct:
            mark = (
                change(operations, self.program)
                .where(op.id == debit.id, *_waiting(cutoff))
                .values(orphan=handling, detail=detail, updated_at=utcnow())
            )
            if acct.execute(mark).rowcount != 1:
                return None  # delivered again meanwhile, or marked by someone else
            if handling != "refunded":
                return None
            every = acct.refunds(debit.order_id)
            remaining = debit.amount - sum(r.amount for r in every if r.state != "rejected")
            if remaining <= 0:
                return None
            answer = {"order_id": debit.order_id, "orphan": True}
            return acct.record(
                "refund",
                debit.unique_id,
                debit.order_id,
                remaining,
                answer,
                state,
                refund_reference(len(every) + 1),
            )
