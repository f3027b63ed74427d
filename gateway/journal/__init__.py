"""The durable journal of every accepted operation (SQLAlchemy Core)."""

from gateway.journal.records import (
    Operation,
    OrderExists,
    OrderRecordedConcurrently,
    Overdraft,
    Totals,
)
from gateway.journal.store import Journal, LockedAccount

__all__ = [
    "Journal",
    "LockedAccount",
    "Operation",
    "OrderExists",
    "OrderRecordedConcurrently",
    "Overdraft",
    "Totals",
]
