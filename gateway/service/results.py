"""What the points operations answer: plain values, for the API layer to put in the contract's
shapes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar


@dataclass(frozen=True)
class BalanceResult:
    received: Decimal
    redeemed: Decimal
    available: Decimal


@dataclass(frozen=True)
class OrderResult:
    """A debit or credit that is recorded: now, or (replayed=True) by an earlier delivery."""

    kind: str
    order_id: str
    member: str
    amount: Decimal
    replayed: bool
    operation_id: int = 0
    pending: bool = False  # accepted, not yet applied by the points ledger


@dataclass(frozen=True)
class RefundResult:
    order_id: str
    amount: Decimal
    refunded_total: Decimal
    replayed: bool
    operation_id: int = 0
    pending: bool = False


#: a recorded operation's result, either kind
R = TypeVar("R", OrderResult, RefundResult)
