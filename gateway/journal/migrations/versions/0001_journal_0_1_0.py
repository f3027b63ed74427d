"""The journal as release 0.1.0 left it: the baseline every later migration starts from.

A journal made before migrations were versioned (0.1.0 created and extended its tables on
start) has no alembic_version yet: this migration completes it, creating only what is
missing, so both a new database and an old journal arrive at the same schema.

The tables are written out here, as they were, not imported from tables.py: tables.py moves
on with later migrations, and this one must keep making what 0.1.0 had.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from alembic import op
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
    inspect,
    text,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

schema = MetaData()
ID = BigInteger().with_variant(Integer, "sqlite")
Table(
    "accounts",
    schema,
    Column("member", String(128), primary_key=True),
    Column("debited", BigInteger, nullable=False, server_default=text("0")),
    Column("refunded", BigInteger, nullable=False, server_default=text("0")),
    Column("credited", BigInteger, nullable=False, server_default=text("0")),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
operations = Table(
    "operations",
    schema,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("member", String(128), nullable=False),
    Column("unique_id", String(256), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("answer", Text, nullable=False),
    Column("reference", String(200), nullable=True),
    Column("attempts", Integer, nullable=True),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("detail", Text, nullable=True),
    Column("answered", String(32), nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("orphan", String(16), nullable=True),
    Index("ix_operations_member", "member"),
    Index("ix_operations_created_at", "created_at"),
    Index("ix_operations_order_id", "order_id"),
    Index(
        "ux_operations_order_once",
        "kind",
        "order_id",
        unique=True,
        sqlite_where=text("kind IN ('debit', 'credit')"),
        postgresql_where=text("kind IN ('debit', 'credit')"),
    ),
    Index(
        "ix_operations_unfinished",
        "state",
        sqlite_where=text("state IN ('received', 'sent', 'unknown')"),
        postgresql_where=text("state IN ('received', 'sent', 'unknown')"),
    ),
    Index(
        "ix_operations_unanswered",
        "answered_at",
        sqlite_where=text("answered <> 'ok' AND orphan IS NULL"),
        postgresql_where=text("answered <> 'ok' AND orphan IS NULL"),
    ),
    Index(
        "ix_operations_orphan",
        "orphan",
        sqlite_where=text("orphan IS NOT NULL"),
        postgresql_where=text("orphan IS NOT NULL"),
    ),
)
Table(
    "deliveries",
    schema,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("operation_id", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("answer", String(32), nullable=False),
    Index("ix_deliveries_operation", "operation_id"),
)
Table(
    "leases",
    schema,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
)
Table(
    "xoxoday_tokens",
    schema,
    Column("name", String(32), primary_key=True),
    Column("access_token", Text, nullable=False),
    Column("refresh_token", Text, nullable=False),
    Column("access_expires_at", DateTime(timezone=True), nullable=True),
    Column("refresh_expires_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
#: What 0.1.0's releases added to operations after the first one, on start.
ADDED_COLUMNS = [c.name for c in operations.columns if c.nullable]


def upgrade() -> None:
    bind = op.get_bind()
    # New tables and their indexes; the tables an earlier release made are left as they are.
    schema.create_all(bind, checkfirst=True)
    have = {column["name"] for column in inspect(bind).get_columns("operations")}
    for name in ADDED_COLUMNS:
        if name not in have:
            op.add_column("operations", operations.c[name]._copy())
    indexes = {index["name"] for index in inspect(bind).get_indexes("operations")}
    for index in operations.indexes:
        if index.name not in indexes:
            index.create(bind)


def downgrade() -> None:
    schema.drop_all(op.get_bind())
