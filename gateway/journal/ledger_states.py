"""The journal's side of operations a points ledger applies: received -> sent -> applied |
rejected | unknown, each step durable before the next.

Whoever works on an operation (a request, the worker, an operator's `journal resolve`) first
claims it: one UPDATE that succeeds for one process only, and sets `claimed_until`, which then
fences the finishing UPDATE, so a claim that expired and was taken over cannot finish twice.

Every statement is the journal's program's (scope.py): an operation of another program is not
found, claimed, finished or marked through this program's journal, and each program has its
own leases (two programs' workers never wait for each other).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy.exc import IntegrityError

from gateway.journal.connections import Bound
from gateway.journal.records import (
    UNFINISHED,
    Operation,
    OrderRecordedConcurrently,
    operation_from_row,
    operation_values,
    utcnow,
)
from gateway.journal.scope import add, change, scoped
from gateway.journal.statements import (
    INSERT_OPERATION,
    MOVE_TOTAL,
    TOTAL_MOVED_BY,
    inserted_id,
    open_account,
)
from gateway.journal.tables import UNFINISHED_ROWS, leases, operations

op = operations.c


class LedgerStates(Bound):
    """Mixed into Journal, whose engines and write transactions it uses."""

    def order(self, kind: str, order_id: str) -> Operation | None:  # provided by Journal
        raise NotImplementedError

    def open_order(
        self,
        kind: str,
        member: str,
        unique_id: str,
        order_id: str,
        amount: int,
        reference: str,
    ) -> tuple[Operation, bool]:
        """The debit or credit of `order_id`, recorded `received` now (True) or before (False)."""
        values = operation_values(
            self.program, kind, member, unique_id, order_id, amount, {}, "received", reference
        )
        if kind == "debit":  # unanswered until its request says what it answered
            values.update(answered="pending", answered_at=values["created_at"])
        try:
            with self._write() as conn:
                new_id = inserted_id(conn.execute(INSERT_OPERATION, values))
            return Operation(id=new_id, **{**values, "answer": {}}), True
        except IntegrityError:
            earlier = self.order(kind, order_id)
            if earlier is None:  # the other insert rolled back meanwhile
                raise OrderRecordedConcurrently(order_id) from None
            return earlier, False

    def operation(self, op_id: int) -> Operation | None:
        """The operation `op_id`, if it is this program's."""
        with self.reader.connect() as conn:
            row = conn.execute(scoped(operations, self.program).where(op.id == op_id)).first()
        return operation_from_row(row) if row else None

    def claim(
        self,
        op_id: int,
        from_states: Iterable[str],
        to_state: str | None = None,
        lease_seconds: float = 60.0,
    ) -> Operation | None:
        """Take the operation if it is in one of `from_states` and nobody holds it."""
        now = utcnow()
        values: dict[str, Any] = {
            "claimed_until": now + timedelta(seconds=lease_seconds),
            "attempts": func.coalesce(op.attempts, 0) + 1,
            "updated_at": now,
        }
        if to_state is not None:
            values["state"] = to_state
        if to_state == "sent":
            values["sent_at"] = now
        claim = (
            change(operations, self.program)
            .where(
                op.id == op_id,
                op.state.in_(list(from_states)),
                or_(op.claimed_until.is_(None), op.claimed_until < now),
            )
            .values(values)
        )
        with self._write() as conn:
            if conn.execute(claim).rowcount != 1:
                return None
            row = conn.execute(scoped(operations, self.program).where(op.id == op_id)).one()
        return operation_from_row(row)

    def finish(
        self,
        claimed: Operation,
        state: str,
        detail: str | None = None,
        answer: dict[str, Any] | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """Move a claimed operation to `state` and release it; False when the claim was lost."""
        fence = op.claimed_until == claimed.claimed_until
        return self._move(claimed, fence, state, detail, answer, retry_at)

    def mark(self, operation: Operation, state: str, reason: str) -> bool:
        """An operator's decision, whoever holds the operation: kept as its detail."""
        return self._move(operation, op.state.in_(UNFINISHED), state, f"marked: {reason}")

    def unfinished(self) -> list[Operation]:
        query = scoped(operations, self.program).where(UNFINISHED_ROWS).order_by(op.id)
        with self.reader.connect() as conn:
            return [operation_from_row(row) for row in conn.execute(query)]

    def due(self, limit: int = 100) -> list[Operation]:
        """Unfinished operations nobody holds whose time to be tried again has come (a
        conflict waits for an operator: trying again cannot settle it)."""
        now = utcnow()
        query = (
            scoped(operations, self.program)
            .where(
                UNFINISHED_ROWS,
                op.state != "conflict",
                or_(op.claimed_until.is_(None), op.claimed_until < now),
                or_(op.next_attempt_at.is_(None), op.next_attempt_at <= now),
            )
            .order_by(op.id)
            .limit(limit)
        )
        with self.reader.connect() as conn:
            return [operation_from_row(row) for row in conn.execute(query)]

    def hold_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew this program's lease `name` for `holder`; False while another holds
        it."""
        now, lease = utcnow(), leases.c
        until = now + timedelta(seconds=seconds)
        renew = (
            change(leases, self.program)
            .where(lease.name == name, or_(lease.holder == holder, lease.until < now))
            .values(holder=holder, until=until)
        )
        held = scoped(leases, self.program, lease.name).where(lease.name == name)
        try:
            with self._write() as conn:
                if conn.execute(renew).rowcount == 1:
                    return True
                if conn.execute(held).first():
                    return False
                taken = add(leases, self.program).values(name=name, holder=holder, until=until)
                conn.execute(taken)
                return True
        except IntegrityError:  # another process created it first
            return False

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease `name` up now, if `holder` has it."""
        with self._write() as conn:
            conn.execute(
                change(leases, self.program)
                .where(leases.c.name == name, leases.c.holder == holder)
                .values(until=utcnow() - timedelta(seconds=1))
            )

    def _move(
        self,
        operation: Operation,
        condition: Any,
        state: str,
        detail: str | None,
        answer: dict[str, Any] | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        now = utcnow()
        values: dict[str, Any] = {
            "state": state,
            "claimed_until": None,
            "updated_at": now,
            "detail": detail,
            "next_attempt_at": retry_at,
        }
        if answer is not None:
            values["answer"] = json.dumps(answer, sort_keys=True)
        move = (
            change(operations, self.program)
            .where(and_(op.id == operation.id, op.state != "applied", condition))
            .values(values)
        )
        with self._write() as conn:
            if conn.execute(move).rowcount != 1:
                return False  # moved meanwhile, or not this program's
            if state == "applied":  # the totals move with the state, in one transaction
                params = {"b_program": self.program, "b_member": operation.member, "b_now": now}
                conn.execute(open_account(conn.dialect.name), params)
                conn.execute(
                    MOVE_TOTAL[TOTAL_MOVED_BY[operation.kind]],
                    {**params, "b_amount": operation.amount},
                )
        return True
