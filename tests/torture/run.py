"""One torture run: serve under traffic, the operators' commands, console actions and backups
beside it, SIGKILLs of workers and of the whole server with restarts, then every invariant."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import requests

from gateway.journal import Journal
from tests.torture import checks
from tests.torture.book import Book
from tests.torture.operators import Operators
from tests.torture.rig import MEMBERS, POOR, Rig, Variant
from tests.torture.traffic import Traffic


@dataclass
class Figures:
    variant: str
    seconds: float = 0.0
    answered_ok: int = 0
    debits_ok: int = 0
    refunds_ok: int = 0
    other_answers: int = 0
    group_kills: int = 0
    worker_kills: int = 0
    commands: int = 0
    console_actions: int = 0
    backups: int = 0
    checkpoints: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)  # "redeem ok": 812, ...


def torture(
    variant: Variant, seconds: float, folder: Path, kills: int = 4, pg_url: str | None = None
) -> Figures:
    """Run for `seconds` with `kills` SIGKILLs spread over it (workers and whole servers in
    turn); answer what happened and every invariant broken."""
    figures = Figures(variant.name)
    book = Book()
    began = time.monotonic()
    with ExitStack() as stack:
        rig = Rig(folder, variant, stack, pg_url)
        rig.start()
        if rig.ledger:
            rig.ledger_faults(True)
        stop = threading.Event()
        traffic, operators = Traffic(rig, book), Operators(rig, book)
        stack.callback(stop.set)  # whatever fails below, the threads end
        traffic.start(stop)
        operators.start(stop)
        for n in range(kills):
            time.sleep(seconds / (kills + 1))
            if n % 2 == 0 and rig.kill_worker():
                figures.worker_kills += 1
                continue
            killed_at = time.monotonic()
            rig.kill_group()
            figures.group_kills += 1
            rig.start()
            _checkpoint(rig, book, killed_at, figures)
        time.sleep(seconds / (kills + 1))
        stop.set()
        traffic.join()
        operators.join()
        ledger, balances = _quiesce(rig, book)
        rig.kill_group()  # the last crash: what was answered "1" must survive even this
        figures.group_kills += 1
        _final(rig, book, operators, ledger, balances, figures)
    figures.seconds = time.monotonic() - began
    figures.answered_ok = book.ok_count()
    figures.debits_ok = sum(n for w, n in book.answers.items() if w in ("redeem ok", "replay ok"))
    figures.refunds_ok = book.answers["refund ok"]
    figures.other_answers = sum(book.answers.values()) - figures.answered_ok
    figures.commands = sum(n for w, n in operators.runs.items() if not w.startswith("console"))
    figures.console_actions = sum(n for w, n in operators.runs.items() if w.startswith("console"))
    figures.backups = len(operators.backups)
    figures.problems = book.violations + figures.problems
    figures.answers = dict(sorted(book.answers.items()))
    return figures


def _checkpoint(rig: Rig, book: Book, killed_at: float, figures: Figures) -> None:
    """Right after a restart: everything answered "1" before the kill survived it."""
    verdict = checks.holds(checks.journal_rows(rig.database_url), book.promised_before(killed_at))
    figures.checkpoints += 1
    figures.lost = max(figures.lost, len(verdict.lost))
    figures.problems += [f"after kill {figures.group_kills}: {p}" for p in verdict.problems()]


def _quiesce(rig: Rig, book: Book) -> tuple[dict | None, dict[str, Decimal]]:
    """Traffic stopped: the ledger heals and the worker settles what is unfinished; then each
    member's balance as the gateway answers it."""
    ledger = None
    if rig.ledger:
        rig.ledger_faults(False)
        journal = Journal(rig.database_url)
        deadline = time.monotonic() + 90
        while journal.unfinished() and time.monotonic() < deadline:
            time.sleep(0.5)
        left = journal.unfinished()
        journal.dispose()
        if left:
            book.violation(f"{len(left)} operations unsettled 90 s after the ledger healed")
        ledger = rig.ledger_state()
    balances = {}
    for member in [*MEMBERS, POOR]:
        body = {"unique_id": member, "auth_token": rig.tokens[member]}
        answer = requests.post(f"{rig.base}/v1/points/balance", json=body, timeout=60).json()
        if "points_info" not in answer:
            book.violation(f"balance of {member} after the run: {answer}")
            continue
        balances[member] = Decimal(answer["points_info"]["points_available"])
    return ledger, balances


def _final(
    rig: Rig,
    book: Book,
    operators: Operators,
    ledger: dict | None,
    balances: dict[str, Decimal],
    figures: Figures,
) -> None:
    rows = checks.journal_rows(rig.database_url)
    verdict = checks.holds(rows, book.promised(), settled=True)
    figures.lost = max(figures.lost, len(verdict.lost))
    figures.duplicated = len(verdict.duplicated)
    problems = verdict.problems()
    problems += checks.totals_agree(rig.database_url, rows)
    problems += checks.balances_agree(rows, balances, ledger)
    if ledger is not None:
        problems += checks.ledger_agrees(rows, ledger)
    if rig.variant.database == "sqlite":
        problems += checks.journal_sound(rig.folder / "journal.db")
    for backup in operators.backups:
        found = checks.backup_holds(backup)
        figures.lost = max(figures.lost, len(found.lost))
        problems += found.problems()
    figures.problems += problems


COLUMNS = [
    ("journal, points", "variant"),
    ("seconds", "seconds"),
    ('answered "1"', "answered_ok"),
    ("debits", "debits_ok"),
    ("refunds", "refunds_ok"),
    ("other answers", "other_answers"),
    ("server kills", "group_kills"),
    ("worker kills", "worker_kills"),
    ("commands", "commands"),
    ("console actions", "console_actions"),
    ("backups", "backups"),
    ("lost", "lost"),
    ("duplicated", "duplicated"),
    ("violations", "violations"),
]


def table(runs: list[Figures]) -> str:
    """The runs as a Markdown table."""
    lines = ["| " + " | ".join(title for title, _ in COLUMNS) + " |"]
    lines.append("|" + "---|" * len(COLUMNS))
    for f in runs:
        cells = []
        for _, name in COLUMNS:
            if name == "violations":
                value: object = len(f.problems)
            elif name == "seconds":
                value = f"{f.seconds:.0f}"
            else:
                value = getattr(f, name)
            cells.append(f"{value:,}" if isinstance(value, int) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
