"""The operators' side, beside the serving gateway and on the same journal: every command that
opens it, the console's actions and exports, and online backups, over and over.

Each read that starts after an answer "1" must show that operation: a process that opens the
journal afresh sees everything acknowledged (no split view), and a backup holds everything
acknowledged before it began.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import requests

from tests.torture.book import Book, Promised
from tests.torture.rig import OPERATOR, OPERATOR_PASSWORD, Rig

#: Each command that opens the journal, and the exit codes that mean it worked.
COMMANDS: list[tuple[tuple[str, ...], set[int]]] = [
    (("journal", "export"), {0}),
    (("journal", "pending"), {0}),
    (("worker", "--once"), {0}),
    (("journal", "export", "--since", "2000-01-01"), {0}),
    (("journal", "orphans"), {0}),
    (("db", "current"), {0}),
    (("journal", "resolve"), {0, 3}),  # 3: some operations could not be settled yet
    (("db", "upgrade"), {0}),
    (("check",), {0}),
    (("token", "M001"), {0}),
    (("operator", "list"), {0}),
    (("operator", "add", "viewer{n}", "--role", "viewer", "--password-stdin"), {0}),
]


@dataclass
class Backup:
    path: Path
    promised: Promised  # everything answered "1" before it began


class Operators:
    def __init__(self, rig: Rig, book: Book) -> None:
        self.rig = rig
        self.book = book
        self.runs: Counter[str] = Counter()
        self.backups: list[Backup] = []
        self._threads: list[threading.Thread] = []
        (rig.folder / "backups").mkdir()

    def start(self, stop: threading.Event) -> None:
        for loop in (self._commands, self._console):
            thread = threading.Thread(target=self._guarded, args=(loop, stop), daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=240)

    def _guarded(self, loop: object, stop: threading.Event) -> None:
        try:
            loop(stop)  # type: ignore[operator]
        except Exception as exc:  # a bug in the harness must show, not hang the run
            self.book.violation(f"operators: {type(exc).__name__}: {exc}")

    # -- the command line --------------------------------------------------------------------
    def _commands(self, stop: threading.Event) -> None:
        n = 0
        while not stop.is_set():
            args, codes = COMMANDS[n % len(COMMANDS)]
            args = tuple(a.format(n=n) for a in args)
            if n % 3 == 2:
                self.backup()
            started = time.monotonic()
            stdin = "viewer-password-long-enough\n" if "--password-stdin" in args else None
            out = self.rig.cli(*args, stdin=stdin)
            self.runs[" ".join(a for a in args[:2] if not a.startswith("-"))] += 1
            if out.returncode not in codes or "Traceback" in out.stderr:
                self.book.violation(f"{' '.join(args)}: exit {out.returncode}: {out.stderr[-300:]}")
            elif args[:2] == ("journal", "export") and len(args) == 2:
                self._sees_everything("journal export", out.stdout, started)
            self._wal_is_there(args, started)
            n += 1

    def _wal_is_there(self, args: tuple[str, ...], started: float) -> None:
        """A serving gateway keeps SQLite connections open, so its journal's WAL exists for as
        long as it serves: a command that deleted it took itself for the last user."""
        if self.rig.variant.database != "sqlite" or self.rig.up_since > started:
            return  # the server was down meanwhile: a command may well have been the last
        wal = self.rig.folder / "journal.db-wal"
        if not wal.exists() and self.rig.up_since < started:
            self.book.violation(f"{' '.join(args)}: the WAL was gone under the running server")

    def _sees_everything(self, who: str, text: str, started: float) -> None:
        """Every operation answered "1" before `started` is in the export, with its amount."""
        promised = self.book.promised_before(started)
        rows = list(csv.DictReader(io.StringIO(text)))
        debits = {r["order_id"]: Decimal(r["amount"]) for r in rows if r["kind"] == "debit"}
        refunds = {(r["order_id"], Decimal(r["amount"])) for r in rows if r["kind"] == "refund"}
        missing = [o for o, order in promised.debits.items() if debits.get(o) != order.amount]
        missing += [f"refund {r}" for r in promised.refunds - refunds]
        if missing:
            self.book.violation(f"{who} missed {len(missing)} acknowledged: {missing[:3]}")

    def backup(self) -> None:
        """An online backup while the gateway serves: the gateway's own command, or for
        PostgreSQL pg_dump; on SQLite every other one by the sqlite3 shell's .backup."""
        n = len(self.backups) + 1
        started = time.monotonic()
        promised = self.book.promised_before(started)
        if self.rig.variant.database == "postgres":
            if shutil.which("pg_dump") is None:
                return
            dest = self.rig.folder / "backups" / f"dump-{n}.sql"
            out = subprocess.run(
                ["pg_dump", "--data-only", "--table=operations", "-f", str(dest),
                 self.rig.database_url],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            self.runs["pg_dump"] += 1
        elif n % 2 == 0 and shutil.which("sqlite3"):
            dest = self.rig.folder / "backups" / f"shell-{n}.db"
            journal = str(self.rig.folder / "journal.db")
            out = subprocess.run(
                ["sqlite3", journal, f".backup '{dest}'"], capture_output=True, text=True,
                timeout=120,
            )  # fmt: skip
            self.runs["sqlite3 .backup"] += 1
        else:
            dest = self.rig.folder / "backups" / f"journal-{n}.db"
            out = self.rig.cli("journal", "backup", str(dest))
            self.runs["journal backup"] += 1
        if out.returncode != 0:
            self.book.violation(f"backup {dest.name}: exit {out.returncode}: {out.stderr[-300:]}")
            return
        self.backups.append(Backup(dest, promised))

    # -- the console -------------------------------------------------------------------------
    def _console(self, stop: threading.Event) -> None:
        session = requests.Session()
        base = f"{self.rig.base}/console"
        # The default program's pages: its old addresses redirect a GET but not a form's POST.
        pages = f"{base}/p/default"
        n = 0
        while not stop.is_set():
            try:
                if n % 6 == 0 or not self._logged_in(session, base):
                    self._log_in(session, base)
                started = time.monotonic()
                today = time.strftime("%Y-%m-%d", time.gmtime())
                export = session.get(f"{pages}/export.csv", params={"since": "2000-01-01",
                                     "until": today}, timeout=60)  # fmt: skip
                self.runs["console export"] += 1
                if export.status_code == 200:
                    self._sees_finance(export.text, started)
                page = session.get(f"{pages}/unfinished", timeout=60)
                self.runs["console unfinished"] += 1
                if self.rig.variant.ledger and page.status_code == 200:
                    token = _csrf(page.text)
                    session.post(f"{pages}/unfinished/resolve", data={"csrf_token": token,
                                 "every": "1"}, timeout=120)  # fmt: skip
                    self.runs["console resolve"] += 1
                self._mark_a_finished_operation(session, pages)
            except requests.RequestException:
                time.sleep(0.2)  # the server is down for a moment: it is being killed
            n += 1
            time.sleep(0.05)

    def _logged_in(self, session: requests.Session, base: str) -> bool:
        return session.get(f"{base}/", timeout=60, allow_redirects=False).status_code == 200

    def _log_in(self, session: requests.Session, base: str) -> None:
        session.cookies.clear()
        token = _csrf(session.get(f"{base}/login", timeout=60).text)
        body = {"name": OPERATOR, "password": OPERATOR_PASSWORD, "csrf_token": token}
        session.post(f"{base}/login", data=body, timeout=60)
        self.runs["console login"] += 1

    def _sees_finance(self, text: str, started: float) -> None:
        promised = self.book.promised_before(started)
        orders = {row.get("order_id") for row in csv.DictReader(io.StringIO(text))}
        missing = [o for o in promised.debits if o not in orders]
        if missing:
            self.book.violation(f"console export missed {len(missing)} orders: {missing[:3]}")

    def _mark_a_finished_operation(self, session: requests.Session, pages: str) -> None:
        """An operator's mark on a debit already applied changes nothing (checked at the end:
        the journal still holds every operation as it was answered). Only that debit: marking
        an unfinished refund by hand is an operator's word on what the ledger did, which a
        harness cannot know."""
        acked = self.book.acked_orders()
        if not acked:
            return
        found = session.get(f"{pages}/search", params={"q": acked[-1].order_id}, timeout=60)
        debits = [
            op_id
            for row in re.findall(r"<tr>(.*?)</tr>", found.text, re.S)
            for op_id in re.findall(r'href="/console/p/default/operations/(\d+)"', row)
            if "<td>debit</td>" in row
        ]
        if not debits:
            return
        page = session.get(f"{pages}/operations/{debits[0]}", timeout=60)
        body = {"csrf_token": _csrf(page.text), "state": "rejected", "reason": "torture test"}
        session.post(f"{pages}/operations/{debits[0]}/mark", data=body, timeout=60)
        self.runs["console mark"] += 1


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    return found.group(1) if found else ""


def integrity(path: Path) -> str:
    """SQLite's own verdict on a journal or backup file ("ok" when sound)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return " ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()
