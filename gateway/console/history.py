"""The overview's charts, read from the journal: operations by the hour they were received (kind
and the state they are in now), how many were unfinished at the end of each hour, and how long
a points ledger took to apply writes. Every read is bounded by an index, however long the
journal: created_at over the window (ix_operations_created_at), the unfinished (their partial
index), and those finished within the window (ix_operations_updated_at).

Hours are whole UTC hours, grouped by the database (SQLite and PostgreSQL each their own way,
neither depending on the session's time zone), so a busy window comes back as a few hundred
groups, never as its rows.

Every read is one program's: `program`, or the journal's own (Journal.program) when none is
given; each starts from gateway.journal.scope.scoped, so each names it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    case,
    cast,
    extract,
    func,
    literal_column,
    select,
)

from gateway.journal import Journal
from gateway.journal.records import FINISHED, UNFINISHED
from gateway.journal.scope import scoped
from gateway.journal.tables import UNFINISHED_ROWS, operations

HOURS = 48
KINDS = ("debit", "refund", "credit")
#: What a chart shows of a state: unfinished states but conflict are one ("unfinished").
OUTCOMES = ("applied", "rejected", "unfinished", "conflict")

op = operations.c


def outcome(state: str) -> str:
    if state == "conflict" or state in FINISHED:
        return state
    return "unfinished" if state in UNFINISHED else state


@dataclass
class WriteTimes:
    """Writes a points ledger applied at their first attempt, in one hour: how many, and the
    seconds from the journal recording each sent to recording it applied."""

    count: int = 0
    total: float = 0.0
    longest: float = 0.0

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0


@dataclass
class History:
    hours: list[datetime]  # each hour's start (UTC), oldest first; the last one is under way
    now: datetime
    #: kind -> one {outcome: count} per hour, by the hour each operation was received
    received: dict[str, list[dict[str, int]]] = field(default_factory=dict)
    #: operations unfinished at the end of each hour (the last: now)
    unfinished: list[int] = field(default_factory=list)
    #: per hour, the ledger's writes applied at their first attempt
    writes: list[WriteTimes] = field(default_factory=list)

    @property
    def since(self) -> datetime:
        return self.hours[0]

    def total(self, kind: str) -> int:
        return sum(sum(hour.values()) for hour in self.received.get(kind, []))

    def rows(self) -> list[tuple[datetime, str, dict[str, int]]]:
        """Each hour and kind with operations: the charts' numbers as a table."""
        return [
            (hour, kind, counts[i])
            for i, hour in enumerate(self.hours)
            for kind, counts in self.received.items()
            if counts[i]
        ]

    def levels(self) -> list[tuple[datetime, int]]:
        """The unfinished at the end of each hour, and now for the last."""
        ends = [hour + timedelta(hours=1) for hour in self.hours[:-1]] + [self.now]
        return list(zip(ends, self.unfinished, strict=True))

    def timed(self) -> list[tuple[datetime, WriteTimes]]:
        return [(hour, w) for hour, w in zip(self.hours, self.writes, strict=True) if w.count]


def hour_of(column: Any, dialect: str, name: str = "hour") -> ColumnElement[Any]:
    """The UTC hour a timestamp falls in, as the database can tell it cheaply: SQLite keeps
    UTC text ('YYYY-MM-DD HH:MM:SS.ffffff'), whose first 13 characters name the hour;
    PostgreSQL the hour since the epoch (the epoch of a timestamptz is absolute: no session
    time zone comes into it). `hour_number` reads either. Constants are literal SQL, so a
    GROUP BY repeats exactly the expression its SELECT has."""
    if dialect == "sqlite":
        return func.substr(column, literal_column("1"), literal_column("13")).label(name)
    seconds = cast(func.floor(extract("epoch", column)), BigInteger)
    return (seconds // literal_column("3600", BigInteger)).label(name)


def hour_number(value: int | str) -> int:
    """An hour from hour_of as hours since the epoch."""
    if isinstance(value, str):  # 'YYYY-MM-DD HH' (a 'T' between them would do too)
        at = datetime.fromisoformat(f"{value[:10]} {value[11:13]}:00").replace(tzinfo=UTC)
        return _epoch_hour(at)
    return int(value)


def seconds_between(start: Any, end: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * literal_column("86400.0")
    return extract("epoch", end - start)


def history(
    journal: Journal, now: datetime, hours: int = HOURS, program: str | None = None
) -> History:
    """The charts of `program` (the journal's own when None)."""
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    found = History([this_hour - timedelta(hours=hours - 1 - i) for i in range(hours)], now)
    first = _epoch_hour(found.since)
    mine = journal.program if program is None else journal.for_program(program).program
    with journal.reader.connect() as conn:
        dialect = conn.dialect.name
        _received(conn, dialect, found, first, mine)
        _unfinished(conn, dialect, found, first, mine)
    return found


def _epoch_hour(at: datetime) -> int:
    return int(at.timestamp()) // 3600


def _index(hour: int, first: int, hours: int) -> int:
    """The chart's hour of an epoch hour; one after the last (a clock ahead of ours) is the
    last."""
    return min(max(hour - first, 0), hours - 1)


def _received(conn: Connection, dialect: str, found: History, first: int, program: str) -> None:
    """Operations received in the window by hour, kind and state; and for the applied, the
    time the ledger took for those applied at their first attempt (orphans aside: marking one
    changes its updated_at long after it was applied)."""
    once = (op.state == "applied") & (op.attempts == 1) & op.sent_at.is_not(None)
    once &= op.orphan.is_(None)
    took = case((once, seconds_between(op.sent_at, op.updated_at, dialect)))
    # Each row's hour and time worked out once, in a subquery, then grouped.
    window = (
        scoped(operations, program, hour_of(op.created_at, dialect), op.kind, op.state)
        .add_columns(took.label("took"))
        .where(op.created_at >= found.since)
        .subquery()
    )
    c = window.c
    rows = conn.execute(
        select(
            c.hour,
            c.kind,
            c.state,
            func.count(),
            func.count(c.took),
            func.coalesce(func.sum(c.took), 0.0),
            func.coalesce(func.max(c.took), 0.0),
        ).group_by(c.hour, c.kind, c.state)
    )
    size = len(found.hours)
    received: dict[str, list[dict[str, int]]] = {
        kind: [defaultdict(int) for _ in range(size)] for kind in KINDS
    }
    found.writes = [WriteTimes() for _ in range(size)]
    for at, kind, state, count, timed, total, longest in rows:
        i = _index(hour_number(at), first, size)
        counts = received.setdefault(kind, [defaultdict(int) for _ in range(size)])
        counts[i][outcome(state)] += count
        if timed:
            w = found.writes[i]
            w.count += timed
            w.total += float(total)
            w.longest = max(w.longest, float(longest))
    found.received = {kind: [dict(h) for h in hours] for kind, hours in received.items()}


def _unfinished(conn: Connection, dialect: str, found: History, first: int, program: str) -> None:
    """How many operations were unfinished at the end of each hour: each counts from when it
    was received until the journal last changed it, if it is finished now (its updated_at);
    until now, if it is not. Read from the unfinished (their partial index) and from those
    finished since the window began (ix_operations_updated_at)."""
    size = len(found.hours)
    # An operation received in hour c and unfinished now counts at the end of every hour >= c.
    starts = [0] * size
    now_unfinished = 0
    created = hour_of(op.created_at, dialect)
    for at, count in conn.execute(
        scoped(operations, program, created, func.count()).where(UNFINISHED_ROWS).group_by(created)
    ):
        now_unfinished += count
        starts[_index(hour_number(at), first, size)] += count
    # One received in hour c and finished in hour f counts at the end of hours c .. f-1.
    ends = [0] * (size + 1)
    finished = hour_of(op.updated_at, dialect, "finished")
    ended = conn.execute(
        scoped(operations, program, created, finished, func.count())
        .where(op.updated_at >= found.since, op.state.in_(sorted(FINISHED)))
        .group_by(created, finished)
    )
    for c, f, count in ended:
        c, f = hour_number(c), hour_number(f)
        if f <= max(c, first):  # finished before the end of the first hour it could count in
            continue
        starts[_index(c, first, size)] += count
        ends[min(f - first, size)] += count
    level, series = 0, []
    for i in range(size):
        level += starts[i] - ends[i]
        series.append(level)
    series[-1] = now_unfinished  # the hour under way has not ended: now
    found.unfinished = series
