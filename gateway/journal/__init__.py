"""The durable journal of every accepted operation (SQLAlchemy Core)."""

from gateway.journal.store import (
    Journal,
    LockedAccount,
    Operation,
    OrderRecordedConcurrently,
    Totals,
)

__all__ = ["Journal", "LockedAccount", "Operation", "OrderRecordedConcurrently", "Totals"]
