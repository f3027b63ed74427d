"""The journal against the points ledger: for a list of members or references, what each says
of every write, and where they differ (the console's reconciliation).

The ledger is asked with its status lookup, one reference at a time, and only read: a
difference is shown to an operator, never mended here (resolving and marking do that, through
the same rules as everything else).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.base import ConnectorError, PointsLedger, Profile
from gateway.journal import Operation
from gateway.service.ledger_ops import record_differs, reference_of
from gateway.service.money import format_points

if TYPE_CHECKING:
    from gateway.service.ledger import LedgerPointsService

#: How many operations one comparison reads per member or reference, and how many lines it takes.
PER_LINE = 50
MOST_LINES = 50


@dataclass(frozen=True)
class Compared:
    op: Operation
    ledger: str  # what the ledger says of the write
    agree: bool | None  # None: one of the two cannot tell yet
    why: str


@dataclass(frozen=True)
class MemberBalance:
    member: str
    available: Decimal | None  # what the ledger holds for them, None: no account or no answer
    problem: str | None


@dataclass(frozen=True)
class Comparison:
    lines: list[str]
    balances: list[MemberBalance]
    writes: list[Compared]
    unmatched: list[str]  # lines that are no member, order or reference in the journal
    can_lookup: bool


def compare(service: LedgerPointsService, lines: list[str]) -> Comparison:
    journal, ledger = service.journal, service.ledger
    lines = list(dict.fromkeys(line.strip()[:256] for line in lines if line.strip()))
    lines = lines[:MOST_LINES]
    balances, writes, unmatched = [], [], []
    seen: set[int] = set()
    for line in lines:
        found = journal.search(line, PER_LINE)
        if not found:
            unmatched.append(line)
            continue
        if any(op.member == line for op in found):
            balances.append(_balance(service, line))
        for op in found:
            if op.id not in seen:
                seen.add(op.id)
                writes.append(_compare(ledger, op))
    return Comparison(lines, balances, writes, unmatched, ledger.can_lookup)


def _balance(service: LedgerPointsService, member: str) -> MemberBalance:
    try:
        # The ledger may key on more than the employee id: the HR source's profile, if found.
        profile = service.profiles.find("employee_id", member) or Profile(
            employee_id=member, email="", first_name="", last_name=""
        )
        balance = service.ledger.balance(profile)
    except ConnectorError as exc:
        return MemberBalance(member, None, f"{exc.error_code}: {exc}")
    if balance is None:
        return MemberBalance(member, None, "the ledger has no account for them")
    return MemberBalance(member, balance.available, None)


def _compare(ledger: PointsLedger, op: Operation) -> Compared:
    if not ledger.can_lookup:
        return Compared(op, "-", None, "the ledger has no status lookup to ask")
    try:
        receipt = ledger.lookup(reference_of(op))
    except ConnectorError as exc:
        return Compared(op, f"no answer ({exc.error_code})", None, str(exc))
    if receipt is None:
        said = "not applied"
        if op.state == "applied":
            return Compared(
                op, said, False, "the journal says applied, the ledger has no such write"
            )
        if op.state == "rejected":
            return Compared(op, said, True, "neither applied it")
        return Compared(op, said, None, f"unfinished ({op.state}): resolving it settles this")
    points = "" if receipt.amount is None else f" {format_points(abs(receipt.amount))}"
    said = f"applied{points}" + (f" (ledger id {receipt.ledger_id})" if receipt.ledger_id else "")
    # The member is left out: how the ledger knows them needs their profile.
    differs = record_differs(op, receipt, None)
    if op.state == "applied":
        if differs is None:
            return Compared(op, said, True, "both applied it, for the same points")
        return Compared(op, said, False, f"the ledger's write is {differs}")
    if op.state == "rejected":
        return Compared(op, said, False, "the ledger applied what the journal says was not applied")
    if op.state == "conflict":
        return Compared(op, said, False, op.detail or "the ledger holds another write")
    return Compared(op, said, None, f"unfinished ({op.state}): resolving it settles this")
