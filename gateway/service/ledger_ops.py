"""Sending journaled operations to a points ledger and settling what the ledger did with them.

The rules, from ../shared/HR-SYSTEMS.md "Safe retries":
- a write that certainly never arrived (UpstreamUnavailable) did nothing: a debit is rejected
  (a new delivery of the order may try again), a refund or credit stays owed (`received`);
- a write that may have arrived is `unknown` until the ledger's status lookup settles it, or an
  idempotent ledger is sent the same reference again (at once, when its lookup does not find
  it yet: it applies a reference once); never a blind retry or a blind refund;
- a debit is sent only for a live request (Xoxoday shows "payment failed" on a failure answer,
  so a debit applied later would buy nothing); refunds and credits are owed and are sent until
  applied, by whoever gets to them first: the request, the worker, `journal resolve`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.base import (
    ConnectorError,
    InsufficientBalance,
    LedgerRefused,
    PointsLedger,
    Profile,
    Receipt,
    Reference,
    UpstreamAuthFailed,
    UpstreamUnavailable,
)
from connectors.breaker import probing
from gateway.journal import Journal, Operation
from gateway.journal.records import utcnow
from gateway.service.money import format_points, from_units

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LedgerPolicy:
    """How long to wait and when to try again; `[ledger]` in the configuration."""

    # A request waits this long for its debit to settle before answering outcome_unknown.
    wait_seconds: float = 5.0
    # A write the ledger's lookup does not find this long after it was sent was not applied.
    settle_seconds: float = 30.0
    # Whoever claims an operation holds it this long at most (a killed process lets go).
    lease_seconds: float = 60.0
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 600.0
    # An applied debit answered a failure and not delivered again this long is an orphan...
    orphan_grace_seconds: float = 3600.0
    # ...given back through the ledger ("refund") or only listed and counted ("report").
    orphan_policy: str = "refund"
    # Put before every new reference: keeps this installation's writes apart from what an
    # earlier release, or another system, wrote to the same ledger.
    reference_prefix: str = ""


class LedgerOperations:
    """One step on one claimed operation; every outcome is written back to the journal."""

    def __init__(
        self,
        ledger: PointsLedger,
        journal: Journal,
        policy: LedgerPolicy,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.ledger = ledger
        self.journal = journal
        self.policy = policy
        self._now = now

    def send(self, claimed: Operation, profile: Profile) -> Operation:
        """Send a claimed (`sent`) operation to the ledger and record what happened."""
        amount = from_units(claimed.amount)
        write = self.ledger.debit if claimed.kind == "debit" else self.ledger.credit
        try:
            receipt = write(profile, reference_of(claimed), amount)
        except LedgerRefused as exc:
            if claimed.kind == "debit":
                return self._finish(claimed, "rejected", str(exc), answer=_refusal(exc))
            return self._owed(claimed, f"refused by the ledger: {exc}")
        except (UpstreamUnavailable, UpstreamAuthFailed) as exc:  # certainly not applied
            if claimed.kind == "debit":
                answer = {"error_code": exc.error_code, "message": "the points ledger is down"}
                return self._finish(claimed, "rejected", f"not sent: {exc}", answer=answer)
            return self._owed(claimed, f"not sent: {exc}")
        except ConnectorError as exc:  # OutcomeUnknown, or an answer nobody can place
            return self._unknown(claimed, str(exc))
        except Exception as exc:  # a bug must not turn a sent write into a forgotten one
            self._unknown(claimed, f"{type(exc).__name__}: {exc}")
            raise
        detail = f"ledger id {receipt.ledger_id}" if receipt.ledger_id else None
        if receipt.replayed:
            # The ledger knows the reference: as our own write, or as another one (an earlier
            # release's order, another system's). Only a record that is ours counts.
            return self._settle_replay(claimed, receipt, profile, detail)
        return self._finish(claimed, "applied", detail)

    def _settle_replay(
        self, claimed: Operation, receipt: Receipt, profile: Profile, detail: str | None
    ) -> Operation:
        record: Receipt | None = receipt
        if self.ledger.can_lookup:
            try:
                with probing():  # a lookup may go through an open breaker: see breaker.py
                    record = self.ledger.lookup(reference_of(claimed))
            except ConnectorError as exc:
                return self._unknown(claimed, f"known to the ledger; status lookup failed: {exc}")
            if record is None:
                return self._unknown(claimed, "known to the ledger, but its lookup finds nothing")
        assert record is not None
        detail = f"the ledger had applied it already; {detail or ''}".rstrip("; ")
        return self._applied_if_ours(claimed, record, profile, detail)

    def _applied_if_ours(
        self, claimed: Operation, record: Receipt, profile: Profile, detail: str
    ) -> Operation:
        """Applied, if the ledger's record under our reference is the write we meant (amount,
        member, kind); else a conflict, never "applied"."""
        if differs := record_differs(claimed, record, self.ledger.member_of(profile)):
            return self._conflict(claimed, differs)
        return self._finish(claimed, "applied", detail)

    def resolve(self, claimed: Operation, profile: Profile, live: bool) -> Operation:
        """Settle a claimed `sent` or `unknown` operation: did the ledger apply it?

        `live`: a request for this very debit is waiting, so an idempotent ledger may be sent
        the same reference again (the requester learns the outcome either way)."""
        resend = self.ledger.idempotent and (live or claimed.kind != "debit")
        if self.ledger.can_lookup:
            try:
                with probing():  # a lookup may go through an open breaker: see breaker.py
                    found = self.ledger.lookup(reference_of(claimed))
            except ConnectorError as exc:
                return self._unknown(claimed, f"status lookup failed: {exc}")
            if found is not None:
                detail = "found applied by the status lookup"
                return self._applied_if_ours(claimed, found, profile, detail)
            sent_at = claimed.sent_at or claimed.created_at
            settled = sent_at + timedelta(seconds=self.policy.settle_seconds)
            if self._now() < settled and resend:
                # Not there yet, or never arrived: the ledger applies a reference once, so
                # sending it again settles it now instead of after settle_seconds.
                return self.send(claimed, profile)
            if self._now() < settled:
                return self._unknown(claimed, "not found by the status lookup yet", settled)
            if claimed.kind == "debit":
                return self._finish(claimed, "rejected", "not applied (status lookup)", _lost())
            return self._owed(claimed, "not applied (status lookup): to be sent again", now=True)
        if resend:
            return self.send(claimed, profile)
        return self._unknown(
            claimed,
            "the ledger has no status lookup: waiting for a new delivery or an operator "
            "(points-gateway journal resolve --mark)",
        )

    def reject_unsent_debit(self, claimed: Operation) -> Operation:
        """A debit recorded but never sent (its process died first): nothing happened."""
        return self._finish(claimed, "rejected", "never sent", _lost())

    # -- writing outcomes --------------------------------------------------------------------
    def _finish(
        self,
        claimed: Operation,
        state: str,
        detail: str | None,
        answer: dict[str, Any] | None = None,
        retry_at: datetime | None = None,
    ) -> Operation:
        if not self.journal.finish(claimed, state, detail, answer, retry_at):
            log.warning("operation %d: claim lost before it could be marked %s", claimed.id, state)
        else:
            log.info(
                "%s order=%s member=%s amount=%s: %s%s",
                claimed.kind,
                claimed.order_id,
                claimed.member,
                format_points(from_units(claimed.amount)),
                state,
                f" ({detail})" if detail else "",
            )
        return self.journal.operation(claimed.id) or claimed

    def _conflict(self, claimed: Operation, differs: str) -> Operation:
        """The ledger holds another write under this operation's reference: nothing we can
        settle alone. Kept unfinished, never tried again on its own, for an operator."""
        detail = f"conflict: the ledger's write under {reference_of(claimed)} is {differs}"
        log.error("operation %d (%s %s): %s", claimed.id, claimed.kind, claimed.order_id, detail)
        answer = _conflicting() if claimed.kind == "debit" else None
        return self._finish(claimed, "conflict", detail, answer=answer)

    def _unknown(self, claimed: Operation, detail: str, at: datetime | None = None) -> Operation:
        return self._finish(claimed, "unknown", detail, retry_at=at or self._backoff(claimed))

    def _owed(self, claimed: Operation, detail: str, now: bool = False) -> Operation:
        at = self._now() if now else self._backoff(claimed)
        return self._finish(claimed, "received", detail, retry_at=at)

    def _backoff(self, claimed: Operation) -> datetime:
        """Exponential with jitter, by the operation's age: the next try comes after about as
        long as it has waited already (retry_base_seconds at least, retry_max_seconds at most),
        so tries space out 1, 2, 4, 8... whoever made them. Not by its claims (`attempts`): a
        waiting request claims it every poll, and its dozens of polls in a few seconds would
        push the next try minutes away."""
        age = (self._now() - claimed.created_at).total_seconds()
        delay = min(self.policy.retry_max_seconds, max(self.policy.retry_base_seconds, age))
        return self._now() + timedelta(seconds=delay * random.uniform(0.5, 1.0))


def reference_of(op: Operation) -> Reference:
    """The reference `op` was (or will be) sent with, as the journal keeps it: an operation
    journaled by an earlier release keeps its old text, and a debit journaled without one was
    known by its order id. The order id comes from the journal, never from the text."""
    return Reference(op.reference or op.order_id, op.kind, op.order_id)


def record_differs(op: Operation, record: Receipt, member: str | None) -> str | None:
    """What in the ledger's record of `op`'s reference is not what `op` sent, as far as the
    record says (None: nothing differs). `member`: how the ledger knows the operation's member
    (None: not known here). Amounts are compared whatever their sign: ledgers that keep debits
    negative are common."""
    problems = []
    meant = "debit" if op.kind == "debit" else "credit"
    if record.kind is not None and record.kind.strip().lower() != meant:
        problems.append(f"a {record.kind}, not a {meant}")
    sent = from_units(op.amount)
    if record.amount is not None and abs(record.amount) != sent:
        problems.append(f"{format_points(abs(record.amount))} points, not {format_points(sent)}")
    if record.member is not None and member is not None and record.member != member:
        problems.append(f"for member {record.member!r}, not {member!r}")
    return ", ".join(problems) or None


def _conflicting() -> dict[str, str]:
    return {
        "error_code": "ledger_conflict",
        "message": "the points ledger holds a different write under this order's reference; "
        "an operator must settle it",
    }


def _refusal(exc: LedgerRefused) -> dict[str, Any]:
    answer: dict[str, Any] = {"error_code": exc.error_code, "message": str(exc)}
    if isinstance(exc, InsufficientBalance) and exc.available is not None:
        answer["available"] = format_points(exc.available)
    return answer


def found_not_applied(op: Operation) -> bool:
    """A debit rejected because the ledger never applied it (no refusal of the ledger's)."""
    return op.state == "rejected" and op.answer == _lost()


def _lost() -> dict[str, str]:
    return {"error_code": "upstream_unavailable", "message": "the points ledger did not apply it"}
