"""What the journal holds and answers: totals, operations, and the outcomes of a write."""

from __future__ import annotations

import hashlib
import json
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: The request the work in hand is done for (its X-Request-ID), set by the API for each
#: request: journaled with each operation and delivery, so support can find them by the id in
#: Xoxoday's logs or ours. None for the worker's and the CLI's own work.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
#: The program of a deployment with one, and of every row written before programs were.
DEFAULT_PROGRAM = "default"


class OrderRecordedConcurrently(Exception):
    """Another transaction recorded the same order first; run the whole operation again."""


class OrderExists(Exception):
    """The order was recorded before (by this member or another): `earlier` says how."""

    def __init__(self, earlier: Operation) -> None:
        super().__init__(earlier.order_id)
        self.earlier = earlier


class Overdraft(Exception):
    """The debit would take the account below zero; `available` is in ten-thousandths."""

    def __init__(self, available: int) -> None:
        super().__init__(available)
        self.available = available


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
    reference: str | None = None
    attempts: int = 0
    claimed_until: datetime | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    updated_at: datetime | None = None
    detail: str | None = None
    answered: str | None = None  # a ledger debit's last answer: "ok" or its error_code
    answered_at: datetime | None = None
    orphan: str | None = None  # "refunded" | "reported": answered a failure, never delivered again
    request_id: str | None = None  # the request that recorded it
    program: str = DEFAULT_PROGRAM  # the program (storefront, company) it belongs to

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


#: received: durable, not sent (a refund or credit waiting, or a debit about to go);
#: sent: with the ledger now; unknown: may have been applied; conflict: the ledger holds another
#: write under its reference, for an operator to settle; applied and rejected are final.
FINISHED = frozenset({"applied", "rejected"})
UNFINISHED = ("received", "sent", "unknown", "conflict")


def fingerprint(
    kind: str, member: str, order_id: str, amount: int, comments: str | None = None
) -> str:
    """What makes two deliveries of an order the same request (a refund's comments too: the
    contract gives a refund no id of its own)."""
    parts: list[object] = [kind, member, order_id, amount]
    if comments is not None:
        parts.append(comments)
    canonical = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we wrote was UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def operation_from_row(row: Any) -> Operation:
    m = row._mapping
    return Operation(
        id=m["id"],
        created_at=as_utc(m["created_at"]),
        kind=m["kind"],
        state=m["state"],
        member=m["member"],
        unique_id=m["unique_id"],
        order_id=m["order_id"],
        amount=m["amount"],
        fingerprint=m["fingerprint"],
        answer=json.loads(m["answer"]),
        reference=m["reference"],
        attempts=m["attempts"] or 0,
        claimed_until=maybe_utc(m["claimed_until"]),
        next_attempt_at=maybe_utc(m["next_attempt_at"]),
        sent_at=maybe_utc(m["sent_at"]),
        updated_at=maybe_utc(m["updated_at"]),
        detail=m["detail"],
        answered=m["answered"],
        answered_at=maybe_utc(m["answered_at"]),
        orphan=m["orphan"],
        request_id=m["request_id"],
        program=m["program"],
    )


def maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def operation_values(
    program: str,
    kind: str,
    member: str,
    unique_id: str,
    order_id: str,
    amount: int,
    answer: dict[str, Any],
    state: str = "applied",
    reference: str | None = None,
    comments: str | None = None,
) -> dict[str, Any]:
    now = utcnow()
    return {
        "program": program,
        "created_at": now,
        "kind": kind,
        "state": state,
        "member": member,
        "unique_id": unique_id,
        "order_id": order_id,
        "amount": amount,
        "fingerprint": fingerprint(kind, member, order_id, amount, comments),
        "answer": json.dumps(answer, sort_keys=True),
        "reference": reference,
        "attempts": 0,
        "claimed_until": None,
        "next_attempt_at": None,
        "sent_at": None,
        "updated_at": now if reference is not None else None,
        "detail": None,
        "answered": None,
        "answered_at": None,
        "request_id": REQUEST_ID.get(),
        "orphan": None,
    }
