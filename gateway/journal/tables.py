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


def program_column() -> Column[str]:
    """The program (a storefront, a client company) a row belongs to. Rows written before
    programs were are the default program's (the server default, and migration 0008)."""
    return Column("program", String(64), nullable=False, server_default="default")


#: What an unfinished operation is, written out: a partial index serves a query only when the
#: query's WHERE says the same as the index's, values included (SQLite cannot see through a
#: bound parameter), so reads of the unfinished use this very clause.
UNFINISHED_SQL = "state IN ('received', 'sent', 'unknown', 'conflict')"
#: The same for debits answered a failure and not dealt with yet (orphan candidates).
UNANSWERED_SQL = "answered <> 'ok' AND orphan IS NULL"

# Amount columns hold whole ten-thousandths of a point (see gateway.service.money): exact in
# SQLite and PostgreSQL alike, where a NUMERIC column in SQLite would be a float.

#: One row per member of a program: running totals, and the row a debit locks so no two debits
#: overspend. The same member id in two programs is two accounts.
accounts = Table(
    "accounts",
    metadata,
    Column("program", String(64), primary_key=True, server_default="default"),
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
    # applied; with a points ledger: received -> sent -> applied | rejected | unknown
    Column("state", String(16), nullable=False),
    Column("member", String(128), nullable=False),
    Column("unique_id", String(256), nullable=False),
    Column("order_id", String(128), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("answer", Text, nullable=False),
    # With a points ledger: what the ledger knows the operation by, how often it was tried,
    # who is working on it until when, when to try again, and the last word on it.
    Column("reference", String(200), nullable=True),
    Column("attempts", Integer, nullable=True),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("detail", Text, nullable=True),
    # A debit's last delivery: what it was answered ("ok" or the error_code) and when; and, once
    # an applied debit was answered a failure and never delivered again, what became of it
    # (orphan: "refunded" or "reported"). See gateway/journal/deliveries.py.
    Column("answered", String(32), nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("orphan", String(16), nullable=True),
    # The X-Request-ID of the request that recorded it (None: the worker's or an operator's).
    Column("request_id", String(128), nullable=True),
    program_column(),
    # Each lookup by a value names the program too: both are in its index, the value first, so
    # a lookup of the value alone (an operator's query) still goes by it, and one of the value's
    # rare rows in a program is not found by reading every program's.
    Index("ix_operations_member", "member", "program"),
    Index("ix_operations_created_at", "created_at"),
    Index("ix_operations_order_id", "order_id", "program"),
    # The console finds an operation by what Xoxoday sent or what the ledger knows it by.
    Index("ix_operations_unique_id", "unique_id", "program"),
    Index("ix_operations_reference", "reference", "program"),
    Index("ix_operations_request_id", "request_id", "program"),
    # An order is debited (or credited) once in its program, whichever worker or host sees it
    # first; another program's order of the same id is another order.
    Index(
        "ux_operations_order_once",
        "program",
        "kind",
        "order_id",
        unique=True,
        sqlite_where=text("kind IN ('debit', 'credit')"),
        postgresql_where=text("kind IN ('debit', 'credit')"),
    ),
    # The worker's question, "what is not finished?", must not scan every operation.
    Index(
        "ix_operations_unfinished",
        "state",
        sqlite_where=text(UNFINISHED_SQL),
        postgresql_where=text(UNFINISHED_SQL),
    ),
)

#: Orphan candidates: applied debits whose last answer was a failure, not yet dealt with.
UNANSWERED = Index(
    "ix_operations_unanswered",
    operations.c.answered_at,
    sqlite_where=text(UNANSWERED_SQL),
    postgresql_where=text(UNANSWERED_SQL),
)

#: Orphans already dealt with, counted by /metrics at every scrape: not a scan of every operation.
ORPHANS = Index(
    "ix_operations_orphan",
    operations.c.orphan,
    sqlite_where=text("orphan IS NOT NULL"),
    postgresql_where=text("orphan IS NOT NULL"),
)

#: When an operation last changed, where a points ledger settles it (updated_at is NULL for
#: the rest): the console's chart of unfinished operations over time finds the ones finished
#: within its window by it, however long the journal (gateway/console/history.py).
CHANGED = Index(
    "ix_operations_updated_at",
    operations.c.updated_at,
    sqlite_where=text("updated_at IS NOT NULL"),
    postgresql_where=text("updated_at IS NOT NULL"),
)

#: Every delivery of an order that reached a points ledger's debit, and what it was answered:
#: the history behind operations.answered, for support ("what did Xoxoday hear, and when?").
deliveries = Table(
    "deliveries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("operation_id", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("answer", String(32), nullable=False),  # "ok" or the error_code answered
    Column("request_id", String(128), nullable=True),  # the delivery's X-Request-ID
    program_column(),
    Index("ix_deliveries_operation", "operation_id"),
    Index("ix_deliveries_request_id", "request_id", "program"),
)

#: Named leases, per program: the background worker of one process (on one host) at a time
#: for each program; two programs' workers never wait for each other.
leases = Table(
    "leases",
    metadata,
    Column("program", String(64), primary_key=True, server_default="default"),
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("until", DateTime(timezone=True), nullable=False),
)

#: Xoxoday's API token pair (one row per program and name): every worker and host uses, and
#: refreshes, the same pair, since each refresh makes a new one and Xoxoday keeps at most ten
#: alive. Each program (a storefront of its own) has its own pair.
xoxoday_tokens = Table(
    "xoxoday_tokens",
    metadata,
    Column("program", String(64), primary_key=True, server_default="default"),
    Column("name", String(32), primary_key=True),
    Column("access_token", Text, nullable=False),
    Column("refresh_token", Text, nullable=False),
    Column("access_expires_at", DateTime(timezone=True), nullable=True),
    Column("refresh_expires_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: The console's operators: a name, a role (viewer | operator), a password hash (scrypt), and
#: the programs they may see: "*" for every program, or their names, comma-separated (see
#: gateway/journal/operators.py). Operators, their logins and sessions belong to no program.
operators = Table(
    "operators",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("programs", Text, nullable=False, server_default="*"),
)

#: Failed console logins, per account and per address, for the lockout (every host sees them).
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(200), primary_key=True),  # "account:<name>" or "address:<ip>"
    Column("failures", Integer, nullable=False),
    Column("first_at", DateTime(timezone=True), nullable=False),
)

#: Every action an operator took in the console, and who, when and why, in which program.
audit = Table(
    "audit",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("operator", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(200), nullable=True),
    Column("reason", Text, nullable=True),
    program_column(),
    Index("ix_audit_at", "at"),
    Index("ix_audit_program", "program", "id"),  # a program's audit, newest first
)

#: Console sessions: the cookie holds a random id, this table only its SHA-256, so a copy of
#: the journal opens no session. Every worker and host sees them; logging out or removing the
#: operator deletes them (gateway/journal/operators.py).
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("operator", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),  # ends session_minutes on
    Column("last_seen", DateTime(timezone=True), nullable=False),  # ends idle_minutes on
    Index("ix_console_sessions_operator", "operator"),
)

#: The unfinished operations, as the partial index ix_operations_unfinished has them.
UNFINISHED_ROWS = text(f"operations.{UNFINISHED_SQL}")
#: Orphan candidates, as the partial index ix_operations_unanswered has them.
UNANSWERED_ROWS = text("operations.answered <> 'ok' AND operations.orphan IS NULL")
