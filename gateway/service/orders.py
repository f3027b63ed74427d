"""What an order's refunds gave back, and an order's whole story, for the refund rule and for
the console alike (one rule, not one per reader)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from gateway.journal import Journal, Operation
from gateway.service.money import from_units


def refunded_units(refunds: Sequence[Operation]) -> int:
    """What an order's refunds count for: every refund but a rejected one (a refund a points
    ledger has not settled yet counts, so two refunds cannot both take the last points)."""
    return sum(r.amount for r in refunds if r.state != "rejected")


@dataclass(frozen=True)
class OrderStory:
    order_id: str
    debit: Operation | None
    credit: Operation | None
    refunds: list[Operation]
    refunded: Decimal
    remaining: Decimal | None  # what may still be refunded (None: no applied debit)


def order_story(journal: Journal, order_id: str) -> OrderStory:
    debit = journal.order("debit", order_id)
    refunds = journal.refunds_of(order_id)
    refunded = refunded_units(refunds)
    remaining = None
    if debit is not None and debit.state == "applied":
        remaining = from_units(max(debit.amount - refunded, 0))
    return OrderStory(
        order_id,
        debit,
        journal.order("credit", order_id),
        refunds,
        from_units(refunded),
        remaining,
    )
