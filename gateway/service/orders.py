"""What an order's refunds gave back, and an order's whole story, for the refund rule and for
the console alike (one rule, not one per reader)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.base import ConnectorError, Profile
from gateway.errors import GatewayError
from gateway.journal import Journal, Operation
from gateway.service.money import from_units
from gateway.service.results import BalanceResult

if TYPE_CHECKING:
    from gateway.service.points import PointsService


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


@dataclass(frozen=True)
class Statement:
    """One member's figures and operations, as the console shows them."""

    member: str
    profile: Profile | None
    balance: BalanceResult | None  # what the balance endpoint answers for them
    debited: Decimal
    refunded: Decimal
    credited: Decimal
    problem: str | None  # why there is no balance (no such person, a system down)


def statement(service: PointsService, member: str) -> Statement:
    totals = service.journal.totals(member)
    profile, balance, problem = None, None, None
    try:
        profile = service.profiles.find("employee_id", member)
        if profile is None:
            problem = f"no employee {member!r} in the HR source"
        else:
            balance = service.balance_of(profile)
    except (ConnectorError, GatewayError) as exc:
        problem = f"{exc.error_code}: {exc}"
    return Statement(
        member,
        profile,
        balance,
        from_units(totals.debited),
        from_units(totals.refunded),
        from_units(totals.credited),
        problem,
    )


def member_by_email(service: PointsService, email: str) -> str | None:
    """The employee id the HR source gives an email (None: nobody, or it cannot say now), for
    finding a member's operations when the journal knows them by employee id."""
    try:
        profile = service.profiles.find("email", email)
    except ConnectorError:
        return None
    return profile.employee_id if profile is not None else None
