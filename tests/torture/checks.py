"""The invariants, checked against what the journal (and the ledger, and every backup) holds.

- every answer "1" is in the journal exactly once, with its amount;
- the journal's running totals are the sums of its operations;
- balances = grants - debits + refunds, never below zero;
- with a points ledger: journal = ledger, each reference applied once;
- the journal and every backup pass `PRAGMA integrity_check`, and a backup holds everything
  answered "1" before it began.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.journal import Journal
from gateway.journal.tables import accounts
from gateway.service.money import from_units
from tests.torture.book import Promised
from tests.torture.operators import Backup, integrity
from tests.torture.rig import MEMBERS, POOR, granted


@dataclass
class Row:
    kind: str
    state: str
    member: str
    order_id: str
    amount: Decimal
    reference: str | None = None


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return [*self.lost, *self.duplicated, *self.wrong]


def journal_rows(url: str) -> list[Row]:
    """Every operation, read by a process that opened the journal afresh."""
    journal = Journal(url)
    try:
        return [
            Row(op.kind, op.state, op.member, op.order_id, from_units(op.amount), op.reference)
            for op in journal.operations()
        ]
    finally:
        journal.dispose()


def backup_rows(backup: Backup) -> list[Row] | str:
    """A backup's operations (SQLite file), or a pg_dump's text."""
    if backup.path.suffix == ".sql":
        return backup.path.read_text()
    conn = sqlite3.connect(f"file:{backup.path}?mode=ro", uri=True)
    try:
        query = "SELECT kind, state, member, order_id, amount FROM operations"
        return [Row(k, s, m, o, from_units(a)) for k, s, m, o, a in conn.execute(query)]
    finally:
        conn.close()


def holds(rows: list[Row], promised: Promised, settled: bool = False) -> Verdict:
    """Each promised operation is there exactly once with its amount (`settled`: and applied)."""
    verdict = Verdict()
    debits: dict[str, list[Row]] = defaultdict(list)
    refunds: Counter[tuple[str, Decimal]] = Counter()
    for row in rows:
        if row.kind == "debit":
            debits[row.order_id].append(row)
        elif row.kind == "refund" and row.state != "rejected":
            refunds[(row.order_id, row.amount)] += 1
    for order_id, order in promised.debits.items():
        found = debits.get(order_id, [])
        if not found:
            verdict.lost.append(f"debit {order_id} ({order.amount}) answered 1, not journaled")
        elif len(found) > 1:
            verdict.duplicated.append(f"debit {order_id} journaled {len(found)} times")
        elif (found[0].amount, found[0].member) != (order.amount, order.member):
            verdict.wrong.append(f"debit {order_id}: {found[0]} for {order}")
        elif settled and found[0].state != "applied":
            verdict.wrong.append(f"debit {order_id} answered 1 but {found[0].state}")
    for key in promised.refunds:
        if refunds[key] == 0:
            verdict.lost.append(f"refund {key} answered 1, not journaled")
    verdict.duplicated += [
        f"refund {key} journaled {n} times" for key, n in refunds.items() if n > 1
    ]
    return verdict


def backup_holds(backup: Backup) -> Verdict:
    found = backup_rows(backup)
    if isinstance(found, str):  # pg_dump's COPY lines: each order id between tabs
        lost = [o for o in backup.promised.debits if f"\t{o}\t" not in found]
        return Verdict(lost=[f"{backup.path.name} lacks debit {o}" for o in lost])
    verdict = holds(found, backup.promised)
    verdict.lost = [f"{backup.path.name}: {text}" for text in verdict.lost]
    sound = integrity(backup.path)
    if sound != "ok":
        verdict.wrong.append(f"{backup.path.name}: integrity_check: {sound[:200]}")
    return verdict


def applied_totals(rows: list[Row]) -> dict[str, dict[str, Decimal]]:
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        if row.state == "applied":
            totals[row.member][row.kind] += row.amount
    return totals


def totals_agree(url: str, rows: list[Row]) -> list[str]:
    """The journal's running totals (what a balance reads) are the sums of its operations."""
    sums = applied_totals(rows)
    journal = Journal(url)
    try:
        with journal.reader.connect() as conn:
            kept = {r.member: r for r in conn.execute(select(accounts))}
    finally:
        journal.dispose()
    wrong = []
    for member in set(sums) | set(kept):
        row: Any = kept.get(member)
        held = [from_units(getattr(row, c, 0) or 0) for c in ("debited", "refunded", "credited")]
        summed = [sums[member][k] for k in ("debit", "refund", "credit")]
        if held != summed:
            wrong.append(f"account {member}: totals {held}, operations sum to {summed}")
    return wrong


def balances_agree(
    rows: list[Row], balances: dict[str, Decimal], ledger: dict[str, Any] | None
) -> list[str]:
    """balance = grant - debits + refunds + credits, as the gateway answers it (and, with a
    points ledger, as the ledger holds it), and never below zero."""
    sums = applied_totals(rows)
    wrong = []
    for member in [*MEMBERS, POOR]:
        s = sums[member]
        expected = granted(member) - s["debit"] + s["refund"] + s["credit"]
        if balances.get(member) != expected:
            wrong.append(f"balance of {member}: answered {balances.get(member)}, {expected} due")
        if ledger is not None and Decimal(ledger["accounts"][member]) != expected:
            wrong.append(f"ledger account {member}: {ledger['accounts'][member]}, {expected} due")
        if expected < 0:
            wrong.append(f"{member} spent into the negative: {expected}")
    return wrong


def ledger_agrees(rows: list[Row], ledger: dict[str, Any]) -> list[str]:
    """Each reference applied once, and the ledger's writes are the journal's applied ones."""
    wrong = [f"ledger applied {r} {n} times" for r, n in ledger["applied"].items() if n != 1]
    in_journal = {
        row.reference: ("credit" if row.kind == "refund" else row.kind, row.amount)
        for row in rows
        if row.state == "applied" and row.reference
    }
    in_ledger = {
        ref: (tx["kind"], Decimal(tx["amount"])) for ref, tx in ledger["transactions"].items()
    }
    for ref in in_journal.keys() ^ in_ledger.keys():
        wrong.append(f"{ref}: journal {in_journal.get(ref)}, ledger {in_ledger.get(ref)}")
    for ref in in_journal.keys() & in_ledger.keys():
        if in_journal[ref] != in_ledger[ref]:
            wrong.append(f"{ref}: journal {in_journal[ref]}, ledger {in_ledger[ref]}")
    return wrong


def journal_sound(path: Path) -> list[str]:
    verdict = integrity(path)
    return [] if verdict == "ok" else [f"journal integrity_check: {verdict[:300]}"]
