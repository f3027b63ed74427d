"""The points operations when a points ledger keeps the points (`[points]` is a PointsLedger).

The journal still records every operation first, durably, and decides idempotency and the
refund rules; the ledger decides balances and overdrafts. See ledger_ops.py for the rules on
sending and settling.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from connectors.base import IdentityField, PointsLedger, Profile, ProfileSource, Reference
from gateway.errors import (
    GatewayError,
    InsufficientPoints,
    LedgerAnswer,
    OrderRefunded,
    OutcomeNotKnown,
    UserNotFound,
)
from gateway.journal import Journal, Operation
from gateway.journal.records import utcnow
from gateway.service.ledger_ops import LedgerOperations, LedgerPolicy, found_not_applied
from gateway.service.money import MoneyPolicy, format_points, from_units, to_units
from gateway.service.points import PointsService
from gateway.service.results import BalanceResult, OrderResult, R

log = logging.getLogger(__name__)
POLL_SECONDS = 0.02  # how often a request looks again at a debit another one is sending


class LedgerPointsService(PointsService):
    recorded_state = "received"

    def __init__(
        self,
        profiles: ProfileSource,
        ledger: PointsLedger,
        journal: Journal,
        identity: IdentityField = "employee_id",
        money: MoneyPolicy | None = None,
        policy: LedgerPolicy | None = None,
        refund_replay_seconds: float = 0.0,
    ) -> None:
        super().__init__(profiles, None, journal, identity, money, refund_replay_seconds)
        self.ledger = ledger
        self.points_connector = ledger
        self.policy = policy or LedgerPolicy()
        self.ops = LedgerOperations(ledger, journal, self.policy)

    def balance_of(self, profile: Profile, asked: str | None = None) -> BalanceResult:
        balance = self.ledger.balance(profile)
        if balance is None:
            who = asked or profile.employee_id
            raise UserNotFound(f"the points ledger has no account for {who!r}")
        if balance.received is not None and balance.redeemed is not None:
            return BalanceResult(balance.received, balance.redeemed, balance.available)
        # The ledger gives only what is available: what was redeemed through us is journaled.
        totals = self.journal.totals(profile.employee_id)
        redeemed = from_units(totals.debited - totals.refunded)
        return BalanceResult(balance.available + redeemed, redeemed, balance.available)

    def redeem(self, unique_id: str, order_id: str, amount: Decimal) -> OrderResult:
        amount = self.money.amount(amount, "total_points_redeemed")
        profile = self.profile(unique_id)
        member, units = profile.employee_id, to_units(amount)
        reference = Reference.of("debit", order_id, prefix=self.policy.reference_prefix)
        op, created = self.journal.open_order(
            "debit", member, unique_id, order_id, units, reference
        )
        if not created:
            self._same_order(op, member, units)
        op, sent_here = self._settle_debit(op, profile)
        if op.state == "applied":
            # Recorded before it is answered, and refused if the debit was given back as an
            # orphan meanwhile: success is never answered for points not debited.
            if not self.journal.answered(op, "ok"):
                self.journal.answered(op, OrderRefunded.error_code)
                raise OrderRefunded(
                    f"order {order_id!r} was answered a failure and not delivered again, so "
                    "its points were given back; place it again under a new order id"
                )
            self._log("debit", order_id, member, amount, replayed=not sent_here)
            return OrderResult("debit", order_id, member, amount, not sent_here, op.id)
        failure: GatewayError = (
            _refusal(op)
            if op.state in ("rejected", "conflict")
            else OutcomeNotKnown(
                f"order {order_id!r}: the points ledger has not confirmed the debit yet; it "
                "is being resolved, send the order again to learn the outcome"
            )
        )
        self.journal.answered(op, failure.error_code)
        raise failure

    def settle_orphans(self) -> list[Operation]:
        """Deal with every debit that became an orphan (see gateway/journal/deliveries.py):
        each is marked once; under the "refund" policy an owed refund of it is recorded, which
        the worker then applies. Answers the refunds recorded."""
        cutoff = utcnow() - timedelta(seconds=self.policy.orphan_grace_seconds)
        refunds = []
        for debit in self.journal.orphan_candidates(cutoff):
            refund = self.journal.settle_orphan(
                debit,
                cutoff,
                self.policy.orphan_policy,
                functools.partial(
                    Reference.of, "refund", debit.order_id, prefix=self.policy.reference_prefix
                ),
            )
            log.warning(
                "orphan: debit order=%s member=%s amount=%s answered %s, not delivered again: %s",
                debit.order_id,
                debit.member,
                format_points(from_units(debit.amount)),
                debit.answered,
                "refund owed" if refund is not None else self.policy.orphan_policy,
            )
            if refund is not None:
                refunds.append(refund)
        return refunds

    def _accepted(self, result: R, profile: Profile) -> R:
        """A recorded refund or credit: try once to apply it, with the profile already found."""
        return replace(result, pending=self._apply_now(result.operation_id, profile))

    def profile_for(self, operation: Operation) -> Profile | None:
        """The member of a journaled operation, for the worker (None: not reachable now)."""
        return self.profiles.find("employee_id", operation.member)

    def _reference(self, kind: str, order_id: str, n: int) -> str | None:
        return Reference.of(kind, order_id, n, prefix=self.policy.reference_prefix)

    # -- the debit's way to a final state ----------------------------------------------------
    def _settle_debit(self, op: Operation, profile: Profile) -> tuple[Operation, bool]:
        """Send the debit, or join whoever is sending or resolving it, until it is applied or
        rejected or the wait is over. Answers it, and whether this call sent it.

        A rejected debit found on arrival is sent again (nothing was applied), and so is one
        this delivery's own lookup finds was never applied: the delivery is live, so the ledger's
        own answer (insufficient points, or success) is what it gets, not "did not apply it".
        One rejected while we waited on another delivery is answered as it was."""
        deadline = time.monotonic() + self.policy.wait_seconds
        waited = sent_here = False
        lease = self.policy.lease_seconds
        while True:
            if op.state in ("applied", "conflict") or (op.state == "rejected" and waited):
                return op, sent_here
            if op.state in ("received", "rejected"):
                claimed = self.journal.claim(op.id, ("received", "rejected"), "sent", lease)
                if claimed is not None:
                    sent_here = True
                    op = self.ops.send(claimed, profile)
                    if op.finished:
                        return op, sent_here
            else:  # sent or unknown: settle it, unless another process holds it
                claimed = self.journal.claim(op.id, ("sent", "unknown"), None, lease)
                if claimed is not None:
                    op = self.ops.resolve(claimed, profile, live=True)
                    if op.finished and not found_not_applied(op):
                        return op, sent_here
                    if op.finished:
                        continue  # rejected as never applied: send it now, as on arrival
                else:
                    waited = True
            if time.monotonic() >= deadline:
                return op, sent_here
            time.sleep(POLL_SECONDS if waited else 0.25)
            op = self.journal.operation(op.id) or op

    def _apply_now(self, op_id: int, profile: Profile) -> bool:
        """Try once to apply an accepted refund or credit; True while it is still owed.

        It is on disk already: nothing here may fail the request, or Xoxoday's retry of a
        partial refund would be taken for a second refund."""
        claimed = self.journal.claim(op_id, ("received",), "sent", self.policy.lease_seconds)
        if claimed is None:  # applied already, or someone else is sending it
            op = self.journal.operation(op_id)
            return op is None or op.state != "applied"
        op = self.ops.send(claimed, profile)
        return op.state != "applied"


def _refusal(op: Operation) -> GatewayError:
    answer = op.answer
    code = str(answer.get("error_code", "upstream_unavailable"))
    message = str(answer.get("message", "the points ledger did not apply the debit"))
    if code == "insufficient_points":
        asked = format_points(from_units(op.amount))
        if "available" not in answer:
            return InsufficientPoints(f"the points ledger cannot cover {asked} points")
        available = Decimal(str(answer["available"]))
        return InsufficientPoints(
            f"{format_points(available)} points available, {asked} asked", available=available
        )
    return LedgerAnswer(code, message)
