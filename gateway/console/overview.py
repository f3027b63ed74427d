"""What the overview shows, read from the journal with indexed queries (no money rule here:
these are counts of what the service layer recorded).

Each function reads one program's rows: `program`, or the journal's own (Journal.program) when
none is given; every query starts from gateway.journal.scope.scoped, so each names it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_

from gateway.console.history import History, history
from gateway.console.ledger_calls import LedgerCalls, ledger_calls
from gateway.journal import Journal, Operation
from gateway.journal.records import as_utc, operation_from_row, utcnow
from gateway.journal.scope import scoped
from gateway.journal.tables import UNFINISHED_ROWS, leases, operations, xoxoday_tokens
from gateway.service.ledger import LedgerPointsService

PAGE = 100

op = operations.c


@dataclass
class Overview:
    since: datetime
    last_day: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, state) -> count
    unfinished: int = 0
    oldest_unfinished: datetime | None = None
    orphans: dict[str, int] = field(default_factory=dict)  # handling -> count
    health: dict[str, str] = field(default_factory=dict)
    breakers: dict[str, str] = field(default_factory=dict)  # this worker's, by role
    cache: dict[str, Any] | None = None
    tokens: list[tuple[str, datetime | None, datetime | None]] = field(default_factory=list)
    leases: list[tuple[str, str, datetime]] = field(default_factory=list)
    history: History | None = None  # the charts' hours (history.py)
    ledger: bool = False  # the points live in a points ledger
    calls: LedgerCalls | None = None  # the ledger's calls, this host's count (ledger_calls.py)


def _bound(journal: Journal, program: str | None) -> Journal:
    """The journal of `program` (the journal's own when None), on the same engines."""
    return journal if program is None else journal.for_program(program)


def overview(gateway: Any, program: str | None = None) -> Overview:
    """The overview of `program` (the gateway's journal's program when None)."""
    now = utcnow()
    found = Overview(since=now - timedelta(hours=24))
    journal = _bound(gateway.journal, program)
    mine = journal.program
    with journal.reader.connect() as conn:
        counted = conn.execute(
            scoped(operations, mine, op.kind, op.state, func.count())
            .where(op.created_at >= found.since)
            .group_by(op.kind, op.state)
        )
        found.last_day = {(kind, state): count for kind, state, count in counted}
        count, oldest = conn.execute(
            scoped(operations, mine, func.count(), func.min(op.created_at)).where(UNFINISHED_ROWS)
        ).one()
        found.unfinished, found.oldest_unfinished = count, oldest and as_utc(oldest)
        orphans = conn.execute(
            scoped(operations, mine, op.orphan, func.count())
            .where(op.orphan.is_not(None))
            .group_by(op.orphan)
        )
        found.orphans = {handling: n for handling, n in orphans}
        t = xoxoday_tokens.c
        found.tokens = [
            (name, access and as_utc(access), refresh and as_utc(refresh))
            for name, access, refresh in conn.execute(
                scoped(xoxoday_tokens, mine, t.name, t.access_expires_at, t.refresh_expires_at)
            )
        ]
        found.leases = [
            (name, holder, as_utc(until))
            for name, holder, until in conn.execute(
                scoped(leases, mine, leases.c.name, leases.c.holder, leases.c.until)
            )
        ]
    found.history = history(journal, now)
    found.health = gateway.service.readiness()
    found.ledger = isinstance(gateway.service, LedgerPointsService)
    if found.ledger:  # after the readiness check: its call to the ledger is counted too
        found.calls = ledger_calls(gateway.service.points_connector)
    found.breakers = breakers(gateway.service)
    if gateway.profile_cache is not None:
        found.cache = gateway.profile_cache.stats()
    return found


def breakers(service: Any) -> dict[str, str]:
    """Each remote connector's circuit breaker in this worker: closed, open or half-open."""
    found = {}
    for role, connector in (("profile", service.profiles), ("points", service.points_connector)):
        inner = getattr(connector, "source", connector)  # under the profile cache
        breaker = getattr(getattr(inner, "client", None), "breaker", None)
        if breaker is not None:
            found[role] = breaker.state
    return found


def operations_since(
    journal: Journal,
    since: datetime,
    kind: str,
    state: str,
    limit: int,
    before: int | None,
    program: str | None = None,
) -> list[Operation]:
    """What an overview count counts: operations from `since`, of a kind and state if given,
    newest first, a page of `limit` after the operation `before` (the previous page's last).

    Ordered by time, then id, so the time index both bounds and orders the read (ordered by id
    alone, a database may walk the whole table backwards looking for a rare kind and state).
    `program`: whose (the journal's own when None)."""
    mine = _bound(journal, program).program
    query = _of(scoped(operations, mine).where(op.created_at >= since), kind, state)
    with journal.reader.connect() as conn:
        if before is not None:
            at = conn.execute(
                scoped(operations, mine, op.created_at).where(op.id == before)
            ).scalar()
            if at is not None:
                query = query.where(
                    or_(op.created_at < at, and_(op.created_at == at, op.id < before))
                )
        rows = conn.execute(query.order_by(op.created_at.desc(), op.id.desc()).limit(limit))
        return [operation_from_row(row) for row in rows]


def unfinished_page(
    journal: Journal,
    kind: str,
    state: str,
    after: int | None,
    limit: int = PAGE,
    program: str | None = None,
) -> list[Operation]:
    """Unfinished operations, oldest first, a page of `limit` after the id `after`: read from
    the partial index that holds only unfinished operations, however long the journal.
    `program`: whose (the journal's own when None)."""
    mine = _bound(journal, program).program
    query = _of(scoped(operations, mine).where(UNFINISHED_ROWS), kind, state)
    if after is not None:
        query = query.where(op.id > after)
    with journal.reader.connect() as conn:
        rows = conn.execute(query.order_by(op.id).limit(limit))
        return [operation_from_row(row) for row in rows]


def _of(query: Select[Any], kind: str, state: str) -> Select[Any]:
    """`query` narrowed to a kind and a state, where the list's filter names them."""
    if kind:
        query = query.where(op.kind == kind)
    if state:
        query = query.where(op.state == state)
    return query
