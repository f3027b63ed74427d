"""The durable journal of every accepted operation (SQLAlchemy Core)."""

import sqlite3

import psycopg
from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gateway.journal.records import (
    Operation,
    OrderExists,
    OrderRecordedConcurrently,
    Overdraft,
    Totals,
)
from gateway.journal.store import Journal, LockedAccount

#: What the journal's database raises when it cannot be reached or used right now (refused,
#: dropped, locked, out of connections, a file SQLite cannot read as a database): an outage to
#: answer 503, not a bug. The hot path runs on DBAPI connections (hot.py), so the drivers' own
#: classes are here beside SQLAlchemy's. (DatabaseError is what a damaged or foreign SQLite
#: file raises; the errors a request handles itself, such as a repeated order's
#: IntegrityError, are caught long before.)
JOURNAL_DOWN: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    DatabaseError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    sqlite3.DatabaseError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


#: SQLite reasons whose own words ("disk I/O error") do not say what is wrong: growing the
#: shared-memory file failed, which a process opening the journal on a full disk meets first.
SQLITE_HINTS = {"SQLITE_IOERR_SHMSIZE": "no room for the journal's -shm file: is its disk full?"}


def why_down(exc: BaseException) -> str:
    """The driver's one-line reason: never the statement, its parameters or a traceback."""
    reason = getattr(exc, "orig", None) or exc
    text = " ".join(str(reason).split())[:200] or type(reason).__name__
    hint = SQLITE_HINTS.get(getattr(reason, "sqlite_errorname", ""))
    return f"{text} ({hint})" if hint else text


__all__ = [
    "JOURNAL_DOWN",
    "Journal",
    "LockedAccount",
    "Operation",
    "OrderExists",
    "OrderRecordedConcurrently",
    "Overdraft",
    "Totals",
    "why_down",
]
