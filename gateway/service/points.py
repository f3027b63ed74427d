"""The points operations: balance, profile, redeem, credit, refund. Pure Python, no Flask.

Every rule that decides money lives here; each write happens inside the journal's lock on the
member's account, so the check and the write cannot be separated by another request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from connectors.base import (
    Connector,
    ConnectorError,
    GrantsSource,
    IdentityField,
    Profile,
    ProfileSource,
)
from gateway.errors import (
    InsufficientPoints,
    OrderConflict,
    OrderNotFound,
    RefundExceedsOrder,
    UserNotFound,
)
from gateway.journal import (
    Journal,
    LockedAccount,
    Operation,
    OrderExists,
    OrderRecordedConcurrently,
    Overdraft,
    Totals,
    why_down,
)
from gateway.journal.records import fingerprint, utcnow
from gateway.service.money import MoneyPolicy, format_points, from_units, to_units
from gateway.service.orders import refunded_units
from gateway.service.results import BalanceResult, OrderResult, R, RefundResult

log = logging.getLogger(__name__)


class PointsService:
    """Points granted by a source (a CSV, SpotAward); redemptions and refunds in the journal."""

    #: the state a refund or credit is recorded in: the journal applies it at once
    recorded_state = "applied"

    def __init__(
        self,
        profiles: ProfileSource,
        grants: GrantsSource | None,
        journal: Journal,
        identity: IdentityField = "employee_id",
        money: MoneyPolicy | None = None,
        refund_replay_seconds: float = 0.0,
    ) -> None:
        self.profiles = profiles
        self.grants = grants
        # A refund identical (order, amount, comments) to one accepted this recently is a
        # retry, answered as a replay; 0: only a refund over the order's cap is (see refund()).
        self.refund_replay_seconds = refund_replay_seconds
        self.points_connector: Connector | None = grants
        self.journal = journal
        self.identity = identity
        self.money = money or MoneyPolicy()

    # -- reading -----------------------------------------------------------------------------
    def profile(self, unique_id: str) -> Profile:
        """The employee a request's unique_id names, by the configured identity field."""
        profile = self.profiles.find(self.identity, unique_id)
        if profile is None or not profile.active:
            raise UserNotFound(f"no active user {unique_id!r}")
        return profile

    def any_profile(self, unique_id: str) -> Profile:
        """Active or not: a refund also reaches people who have left since, because Xoxoday
        refunds orders it cannot fulfil."""
        profile = self.profiles.find(self.identity, unique_id)
        if profile is None:
            raise UserNotFound(f"no user {unique_id!r}")
        return profile

    def balance(self, unique_id: str) -> BalanceResult:
        return self.balance_of(self.profile(unique_id), unique_id)

    def balance_of(self, profile: Profile, asked: str | None = None) -> BalanceResult:
        """What the balance endpoint answers for `profile` (`asked`: the id it was asked by)."""
        return self._balance(self._granted(profile), self.journal.totals(profile.employee_id))

    # -- writing -----------------------------------------------------------------------------
    def redeem(self, unique_id: str, order_id: str, amount: Decimal) -> OrderResult:
        """Debit `amount` for `order_id` once; a repeat delivery answers the first result."""
        amount = self.money.amount(amount, "total_points_redeemed")
        profile = self.profile(unique_id)
        member = profile.employee_id
        granted = to_units(self._granted(profile))
        units = to_units(amount)
        answer = _order_answer(order_id, amount)

        # The journal checks the balance and debits in one statement; see Journal.debit.
        def debit() -> OrderResult:
            try:
                self.journal.debit(member, unique_id, order_id, units, granted, answer)
                return OrderResult("debit", order_id, member, amount, replayed=False)
            except OrderExists as exc:
                return self._replay(exc.earlier, member, units)
            except Overdraft as exc:
                available = from_units(exc.available)
                raise InsufficientPoints(
                    f"{format_points(available)} points available, {format_points(amount)} asked",
                    available=available,
                ) from None

        result = self._once_more_on_race(debit)
        self._log("debit", order_id, member, amount, result.replayed)
        return result

    def credit(self, unique_id: str, order_id: str, amount: Decimal) -> OrderResult:
        """Add `amount` to the member's received points once per `order_id`."""
        amount = self.money.amount(amount, "total_points_added")
        profile = self.profile(unique_id)
        member = profile.employee_id
        units = to_units(amount)

        def credit(acct: LockedAccount) -> OrderResult:
            earlier = acct.order("credit", order_id)
            if earlier is not None:
                return self._replay(earlier, member, units)
            recorded = acct.record(
                "credit",
                unique_id,
                order_id,
                units,
                _order_answer(order_id, amount),
                self.recorded_state,
                self._reference("credit", order_id, 0),
            )
            return OrderResult("credit", order_id, member, amount, False, recorded.id)

        return self._accepted(self._in_lock(member, credit, order_id, amount), profile)

    def refund(
        self, unique_id: str, order_id: str, amount: Decimal, comments: str = ""
    ) -> RefundResult:
        """Give back part or all of a journaled redemption of this member, never more."""
        amount = self.money.amount(amount, "redemption_amount")
        profile = self.any_profile(unique_id)
        member = profile.employee_id
        units = to_units(amount)
        same_request = fingerprint("refund", member, order_id, units, comments)

        def refund(acct: LockedAccount) -> RefundResult:
            order = acct.order("debit", order_id)
            if order is None:
                raise OrderNotFound(f"no redemption with order id {order_id!r}")
            if order.member != member:
                raise OrderConflict(f"order {order_id!r} was redeemed by another user")
            if order.state != "applied":
                raise OrderNotFound(f"order {order_id!r} was not redeemed ({order.state})")
            every = acct.refunds(order_id)
            earlier = [r for r in every if r.state != "rejected"]
            refunded = refunded_units(every)
            since = utcnow() - timedelta(seconds=self.refund_replay_seconds)
            retried = [r for r in earlier if r.fingerprint == same_request and r.created_at > since]
            if refunded + units > order.amount or retried:
                same = retried or [r for r in earlier if r.amount == units]
                if same:
                    # The same refund delivered again after it was accepted: answer it again.
                    return RefundResult(
                        order_id,
                        amount,
                        from_units(refunded),
                        replayed=True,
                        operation_id=same[-1].id,
                        pending=same[-1].state != "applied",
                    )
                raise RefundExceedsOrder(
                    f"order {order_id!r} redeemed {format_points(from_units(order.amount))}, "
                    f"{format_points(from_units(refunded))} already refunded",
                    remaining=from_units(order.amount - refunded),
                )
            answer = {"order_id": order_id, "points": format_points(amount)}
            recorded = acct.record(
                "refund",
                unique_id,
                order_id,
                units,
                answer,
                self.recorded_state,
                self._reference("refund", order_id, len(every) + 1),
                comments,
            )
            refunded_total = from_units(refunded + units)
            return RefundResult(order_id, amount, refunded_total, False, recorded.id)

        return self._accepted(self._in_lock(member, refund, order_id, amount), profile)

    # -- health ------------------------------------------------------------------------------
    def readiness(self) -> dict[str, str]:
        """'ok' or the problem, for the journal and each connector."""
        report: dict[str, str] = {}
        checks: list[tuple[str, Callable[[], None]]] = [
            ("journal", self.journal.ping),
            ("profile", self.profiles.check),
        ]
        if self.points_connector is not None:
            checks.append(("points", self.points_connector.check))
        for name, check in checks:
            try:
                check()
                report[name] = "ok"
            except ConnectorError as exc:
                report[name] = f"{exc.error_code}: {exc}"
            except Exception as exc:  # readiness reports any failure, it never raises
                # Anyone may ask /readyz: the journal's driver text (host, port, database) is
                # for the log, not for the answer.
                log.warning("readiness: %s: %s", name, why_down(exc))
                report[name] = "unreachable" if name == "journal" else type(exc).__name__
        return report

    # -- helpers -----------------------------------------------------------------------------
    def _reference(self, kind: str, order_id: str, n: int) -> str | None:
        """What the points ledger knows an operation by; the journal alone needs none."""
        return None

    def _accepted(self, result: R, profile: Profile) -> R:
        """A recorded refund or credit, once the journal holds it; the journal applied it."""
        return result

    def _granted(self, profile: Profile) -> Decimal:
        granted = self.grants.granted(profile) if self.grants is not None else None
        return granted if granted is not None else Decimal(0)

    @staticmethod
    def _balance(granted: Decimal, totals: Totals) -> BalanceResult:
        received = granted + from_units(totals.credited)
        redeemed = from_units(totals.debited - totals.refunded)
        return BalanceResult(received, redeemed, received - redeemed)

    def _in_lock(
        self,
        member: str,
        operation: Callable[[LockedAccount], R],
        order_id: str,
        amount: Decimal,
    ) -> R:
        """Run `operation` holding the member's lock, and log what it did."""

        def locked() -> R:
            with self.journal.locked_account(member) as acct:
                return operation(acct)

        result = self._once_more_on_race(locked)
        self._log(operation.__name__, order_id, member, amount, result.replayed)
        return result

    @staticmethod
    def _once_more_on_race(attempt: Callable[[], R]) -> R:
        """Two members sending the same new order id at once: one insert loses the race, and
        run again it sees the order and answers replay or conflict."""
        try:
            return attempt()
        except OrderRecordedConcurrently:
            return attempt()

    @staticmethod
    def _log(kind: str, order_id: str, member: str, amount: Decimal, replayed: bool) -> None:
        log.info(
            "%s order=%s member=%s amount=%s replayed=%s",
            kind,
            order_id,
            member,
            format_points(amount),
            replayed,
        )

    @staticmethod
    def _same_order(earlier: Operation, member: str, units: int) -> None:
        """A new delivery of `earlier` must name its member and amount, or it conflicts."""
        if earlier.fingerprint != fingerprint(earlier.kind, member, earlier.order_id, units):
            raise OrderConflict(
                f"order {earlier.order_id!r} was already recorded for another user or amount"
            )

    @classmethod
    def _replay(cls, earlier: Operation, member: str, units: int) -> OrderResult:
        cls._same_order(earlier, member, units)
        return OrderResult(
            earlier.kind,
            earlier.order_id,
            member,
            from_units(earlier.amount),
            replayed=True,
            operation_id=earlier.id,
            pending=earlier.state != "applied",
        )


def _order_answer(order_id: str, amount: Decimal) -> dict[str, str]:
    return {"order_id": order_id, "points": format_points(amount)}
