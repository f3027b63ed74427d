"""An in-memory points ledger: the test double for ledger-backed services.

`fault(kind, reference)` decides each write's fate, like httpx's MockTransport handler:
return None to apply it, or one of
- "down": not sent (UpstreamUnavailable), nothing applied;
- "lost": sent, nothing applied, the caller cannot tell (OutcomeUnknown);
- "late": applied, then the answer is lost (OutcomeUnknown).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from marshmallow import Schema

from connectors.base import (
    Balance,
    InsufficientBalance,
    MemberUnknown,
    OutcomeUnknown,
    PointsLedger,
    Profile,
    Receipt,
    UpstreamUnavailable,
)

Fault = Callable[[str, str], str | None]


class MemoryLedger(PointsLedger):
    options_schema = Schema
    idempotent = True

    def __init__(self, accounts: dict[str, Decimal] | None = None, fault: Fault | None = None):
        self.accounts = dict(accounts or {})
        self.applied: dict[str, tuple[str, str, Decimal]] = {}  # reference -> kind, member, amount
        self.fault = fault or (lambda kind, reference: None)
        self.down = False
        self.lock = threading.Lock()

    def balance(self, profile: Profile) -> Balance | None:
        self._reachable()
        with self.lock:
            points = self.accounts.get(profile.employee_id)
        return None if points is None else Balance(available=points)

    def debit(self, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        return self._write("debit", profile, reference, amount)

    def credit(self, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        return self._write("credit", profile, reference, amount)

    def lookup(self, reference: str) -> Receipt | None:
        self._reachable()
        with self.lock:
            found = self.applied.get(reference)
        return None if found is None else self._record(reference, found)

    def check(self) -> None:
        self._reachable()

    def total(self, kind: str) -> Decimal:
        return sum((a for k, _, a in self.applied.values() if k == kind), Decimal(0))

    @staticmethod
    def _record(reference: str, applied: tuple[str, str, Decimal]) -> Receipt:
        kind, member, amount = applied
        return Receipt(reference, amount, member=member, kind=kind)

    def _reachable(self) -> None:
        if self.down:
            raise UpstreamUnavailable("memory ledger: down")

    def _write(self, kind: str, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        self._reachable()
        fate = self.fault(kind, reference)
        if fate == "down":
            raise UpstreamUnavailable(f"memory ledger: {kind} {reference} not sent")
        if fate == "lost":
            raise OutcomeUnknown(f"memory ledger: {kind} {reference} lost on the way")
        member = profile.employee_id
        with self.lock:
            if reference in self.applied:
                return replace(self._record(reference, self.applied[reference]), replayed=True)
            if member not in self.accounts:
                raise MemberUnknown(f"memory ledger: no account {member!r}")
            points = self.accounts[member] + (amount if kind == "credit" else -amount)
            if points < 0:
                raise InsufficientBalance("memory ledger: not enough points", self.accounts[member])
            self.accounts[member] = points
            self.applied[reference] = (kind, member, amount)
        if fate == "late":
            raise OutcomeUnknown(f"memory ledger: {kind} {reference} applied, answer lost")
        return Receipt(reference, amount)
