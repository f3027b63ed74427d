"""The durable journal of every accepted operation (SQLAlchemy Core)."""

import sqlite3

import psycopg
from sqlalchemy.exc import InterfaceError, OperationalError
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
#: dropped, locked, out of connections): an outage to answer 503, not a bug. The hot path runs
#: on DBAPI connections (hot.py), so the drivers' own classes are here beside SQLAlchemy's.
JOURNAL_DOWN: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def why_down(exc: BaseException) -> str:
    """The driver's one-line reason: never the statement, its parameters or a traceback."""
    reason = getattr(exc, "orig", None) or exc
    return " ".join(str(reason).split())[:200] or type(reason).__name__


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
