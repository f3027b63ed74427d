"""What Xoxoday was told: every order and refund sent, and when each was first answered "1".

An answer with status "1" is a promise: the journal must hold that operation, once, with its
amount, from the moment the answer left. Everything the checks compare against comes from here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class Order:
    order_id: str
    member: str
    amount: Decimal
    acked_at: float | None = None  # time.monotonic() of its first "1"
    #: refund amount -> when first answered "1" (None: sent, never answered "1" yet)
    refunds: dict[Decimal, float | None] = field(default_factory=dict)

    def unreserved(self) -> Decimal:
        """What no refund sent so far may have taken (answered or not)."""
        return self.amount - sum(self.refunds, Decimal(0))


@dataclass(frozen=True)
class Promised:
    """What was answered "1" before a moment."""

    debits: dict[str, Order]
    refunds: set[tuple[str, Decimal]]

    @property
    def count(self) -> int:
        return len(self.debits) + len(self.refunds)


class Book:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.orders: dict[str, Order] = {}
        self.answers: Counter[str] = Counter()  # "redeem ok", "refund outcome_unknown", ...
        self.violations: list[str] = []

    def sent(self, order: Order) -> None:
        with self.lock:
            self.orders.setdefault(order.order_id, order)

    def refund_sent(self, order: Order, amount: Decimal) -> None:
        with self.lock:
            order.refunds.setdefault(amount, None)

    def answered(self, what: str, outcome: str) -> None:
        with self.lock:
            self.answers[f"{what} {outcome}"] += 1

    def acked(self, order: Order, refund: Decimal | None = None) -> None:
        now = time.monotonic()
        with self.lock:
            if refund is None:
                if order.acked_at is None:
                    order.acked_at = now
            elif order.refunds.get(refund) is None:
                order.refunds[refund] = now

    def violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(text)

    def promised_before(self, moment: float) -> Promised:
        with self.lock:
            debits = {
                o.order_id: o
                for o in self.orders.values()
                if o.acked_at is not None and o.acked_at < moment
            }
            refunds = {
                (o.order_id, amount)
                for o in self.orders.values()
                for amount, at in o.refunds.items()
                if at is not None and at < moment
            }
        return Promised(debits, refunds)

    def promised(self) -> Promised:
        return self.promised_before(float("inf"))

    def acked_orders(self) -> list[Order]:
        with self.lock:
            return [o for o in self.orders.values() if o.acked_at is not None]

    def unacked_orders(self) -> list[Order]:
        with self.lock:
            return [o for o in self.orders.values() if o.acked_at is None]

    def ok_count(self) -> int:
        with self.lock:
            return sum(n for what, n in self.answers.items() if what.endswith(" ok"))
