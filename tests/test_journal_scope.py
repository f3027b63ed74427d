"""Every statement the journal sends about a program's rows names the program.

Every public method of the journal, a locked account, the token store, the audit, the console's
reads and the metrics runs for one program while each statement the database receives is
recorded: on SQLite, as SQLite runs it (its trace callback sees the hot path's raw statements
too, with their values); on PostgreSQL, as SQLAlchemy sends it (the hot path's raw statements
are checked as compiled). Each touching a program's table (scope.SCOPED) must filter on the
program, or write it, with the program's name as a value. A new method of the journal fails
here until this workload calls it; a statement that forgets the program fails here too (the
watch is shown to catch one first)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event, select, update

from gateway.console.history import history
from gateway.console.overview import operations_since, overview, unfinished_page
from gateway.journal import Journal, OrderExists, Overdraft
from gateway.journal.engines import RawStatement
from gateway.journal.operators import Audit
from gateway.journal.records import REQUEST_ID, utcnow
from gateway.journal.scope import SCOPED, change, scoped
from gateway.journal.store import LockedAccount
from gateway.journal.tables import leases, operations
from gateway.metrics import JournalCollector
from gateway.sealed import Sealer
from gateway.xoxoday.tokens import TokenPair, TokenStore

PROGRAM = "scope-watched"
#: A statement about one of the program's tables.
TOUCHES = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?(" + "|".join(t.name for t in SCOPED) + r")\b", re.I
)
#: What filters on the program, or writes it.
NAMES_IT = re.compile(r"\bprogram\b\s*(?:=|IN\b)|INSERT INTO \"?\w+\"? \([^)]*\bprogram\b", re.I)
#: Journal methods that read or write no program's rows.
NO_ROWS = {"for_program", "create_schema", "require_schema", "revision", "ping", "dispose"}


class Watch:
    """The statements the journal's engines send while watching, with their values."""

    def __init__(self, journal: Journal) -> None:
        self.statements: list[tuple[str, str]] = []
        self.on = False
        for engine in (journal.writer, journal.reader):  # before either connects
            if journal.is_sqlite:
                event.listen(engine, "connect", self._trace)
            else:
                event.listen(engine, "before_cursor_execute", self._seen)

    def _trace(self, dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(lambda sql: self._seen(None, None, sql, ()))

    def _seen(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.on:
            self.statements.append((statement, repr(params)))

    def unscoped(self) -> list[str]:
        return [
            sql
            for sql, values in self.statements
            if TOUCHES.search(sql) and not (NAMES_IT.search(sql) and f"'{PROGRAM}'" in sql + values)
        ]


class Calls:
    """The journal, recording which of its methods were called."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.called: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.journal, name)
        if callable(found):
            self.called.add(name)
        return found


@pytest.fixture
def watched(journal: Journal) -> Iterator[tuple[Journal, Watch]]:
    """A journal of its own (no connection yet) on the fixture's database, bound to PROGRAM."""
    fresh = Journal(journal.url, journal.namespace).for_program(PROGRAM)
    watch = Watch(fresh)
    yield fresh, watch
    fresh.dispose()


def workload(j: Calls) -> None:
    """Every method of the journal and of what reads a program's rows through it, once."""
    bound = j.journal
    j.debit("M", "m", "W-1", 10, 1000, {})
    with pytest.raises(OrderExists):
        j.debit("M", "m", "W-1", 10, 1000, {})
    with pytest.raises(Overdraft):
        j.debit("M", "m", "W-2", 10**9, 1000, {})
    j.totals("M")
    with j.locked_account("M") as acct:
        acct.order("debit", "W-1")
        acct.refunds("W-1")
        acct.record("refund", "m", "W-1", 5, {})
        acct.record("credit", "m", "C-1", 7, {})
        acct.execute(scoped(operations, PROGRAM).where(operations.c.member == "M"))
    j.order("debit", "W-1")
    j.refunds_of("W-1")
    op, _ = j.open_order("debit", "L", "l", "L-1", 100, "debit:L-1")
    j.open_order("debit", "L", "l", "L-1", 100, "debit:L-1")  # the earlier one, read back
    claimed = j.claim(op.id, ("received",), "sent")
    assert claimed is not None and j.finish(claimed, "applied", answer={})
    token = REQUEST_ID.set("req-watched")
    try:
        assert j.answered(claimed, "outcome_unknown")
    finally:
        REQUEST_ID.reset(token)
    j.deliveries_of(op.id)
    with bound._write() as conn:
        back = change(operations, PROGRAM).where(operations.c.id == op.id)
        conn.execute(back.values(answered_at=utcnow() - timedelta(hours=1)))
    cutoff = utcnow() - timedelta(minutes=1)
    j.orphan_candidates(cutoff)
    j.orphans()
    orphan = j.operation(op.id)
    assert j.settle_orphan(orphan, cutoff, "refund", lambda i: f"refund:{i}:L-1") is not None
    credit, _ = j.open_order("credit", "L", "l", "L-2", 5, "credit:L-2")
    assert j.mark(credit, "rejected", "watched")
    j.unfinished()
    j.due()
    list(j.operations(utcnow() - timedelta(days=1), utcnow() + timedelta(days=1)))
    for text in ("L-1", "L", "req-watched"):
        j.search(text)
    j.of_member("L", 10, 10**9)
    j.count()
    assert j.hold_lease("watched", "h", 60)
    j.release_lease("watched", "h")
    store = TokenStore(bound, Sealer(["scope-test-secret-key-0123456789abcdef"]))
    store.seed(TokenPair("a", "r"))
    store.put(TokenPair("a2", "r2"))
    assert store.replace("a2", TokenPair("a3", "r3")) and store.get() is not None
    Audit(bound).record("alice", "mark", "L-2", "watched")
    Audit(bound).recent(10, 10**9)
    list(JournalCollector(bound).collect())
    list(JournalCollector(bound, [PROGRAM]).collect())
    service = SimpleNamespace(readiness=dict, profiles=None, points_connector=None)
    overview(SimpleNamespace(journal=bound, service=service, profile_cache=None))
    history(bound, utcnow())
    operations_since(bound, utcnow() - timedelta(days=1), "", "", 10, op.id)
    unfinished_page(bound, "", "", None)


def test_every_statement_on_a_program_s_rows_names_the_program(watched):
    journal, watch = watched
    # The watch catches a statement that forgets the program, before it is trusted.
    watch.on = True
    with journal.reader.connect() as conn:
        conn.execute(select(operations.c.id).where(operations.c.member == "M"))
    with journal._write() as conn:
        conn.execute(update(leases).where(leases.c.name == "x").values(holder="y"))
    forgot = watch.unscoped()
    assert len(forgot) == 2 and "operations" in forgot[0] and "leases" in forgot[1], forgot
    watch.statements.clear()

    calls = Calls(journal)
    workload(calls)
    watch.on = False
    touching = [sql for sql, _ in watch.statements if TOUCHES.search(sql)]
    assert len(touching) >= 60, touching  # the workload ran, and was watched
    assert watch.unscoped() == []
    public = {name for name in dir(Journal) if not name.startswith("_")}
    methods = {name for name in public if callable(getattr(Journal, name))}
    assert methods - NO_ROWS - calls.called == set(), "a journal method the workload misses"
    account = {name for name in dir(LockedAccount) if not name.startswith("_")}
    assert account == {"order", "execute", "refunds", "record"}


def test_the_hot_path_s_own_statements_name_the_program(journal):
    """The raw statements of the hot path, which PostgreSQL's events do not see, as compiled."""
    hot = journal.for_program(PROGRAM)._hot()
    raw = {name: value for name, value in vars(hot).items() if isinstance(value, RawStatement)}
    assert len(raw) >= 5 - journal.is_sqlite
    for name, statement in raw.items():
        assert TOUCHES.search(statement.sql) and re.search(r"\bprogram\b", statement.sql), name
        args = statement.args(every_value())
        assert PROGRAM in (args.values() if isinstance(args, dict) else args), name


def every_value() -> dict[str, Any]:
    """A value for each parameter a hot statement may take."""
    values: dict[str, Any] = {c.name: None for c in operations.c}
    now = utcnow()
    values.update(created_at=now, program=PROGRAM, amount=1, attempts=0)
    values.update(b_program=PROGRAM, b_member="M", b_amount=1, b_granted=1, b_now=now)
    return values
