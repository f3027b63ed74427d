"""The journal's tables (SQLAlchemy Core): the single source of truth for what the gateway did."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

# Amount columns hold whole ten-thousandths of a point (see gateway.service.money): exact in
# SQLite and PostgreSQL alike, where a NUMERIC column in SQLite would be a float.

#: One row per member: running totals, and the row a debit locks so no two debits overspend.
accounts = Table(
    "accounts",
    metadata,
    Column("member", String(128), primary_key=True),
    Column("debited", BigInteger, nullable=False, server_default=text("0")),
    Column("refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("credited", BigInteger, nullable=False, server_default=text("0")),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Every accepted operation, written in the same transaction as the totals it changes.
operations = Table(
    "operations",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),  # debit | refund | credit
    Column("state", String(16), nullable=False),  # applied
    Column("member", String(128), nullable=False),
    Column("unique_id", String(256), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("answer", Text, nullable=False),
    Index("ix_operations_member", "member"),
    Index("ix_operations_created_at", "created_at"),
    Index("ix_operations_order_id", "order_id"),
    # An order is debited (or credited) once, whichever worker or host sees it first.
    Index(
        "ux_operations_order_once",
        "kind",
        "order_id",
        unique=True,
        sqlite_where=text("kind IN ('debit', 'credit')"),
        postgresql_where=text("kind IN ('debit', 'credit')"),
    ),
)
