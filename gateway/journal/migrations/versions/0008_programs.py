"""Programs: several storefronts or client companies in one journal. Every row of a program's
data carries its program (operations, accounts, deliveries, audit, leases, xoxoday_tokens);
every row there was is the default program's. An account, a lease and a token pair are keyed
by program too (the same member in two programs is two accounts), and an order is debited or
credited once per program (ux_operations_order_once on program, kind, order_id). The indexes of
lookups by a value (a member, an order id, a request id ...) take the program in after the
value; an operator gets the programs they may see ("*": every program, as every operator so
far).

SQLite changes a primary key by copying the table (batch mode): accounts, leases and
xoxoday_tokens are copied, the rest altered in place. Downgrading refuses a journal holding any
other program's rows: there would be no telling them apart again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

DEFAULT = "default"
#: Tables keyed by a name of their own, then by program and that name.
KEYED = {"accounts": "member", "leases": "name", "xoxoday_tokens": "name"}
#: Tables whose rows gain a program, their keys unchanged.
ROWS = ("operations", "deliveries", "audit")
ORDER_ONCE = "kind IN ('debit', 'credit')"
#: Indexes whose columns change: (table, name, before, after, options). Each lookup by a value
#: takes the program in after the value; an order is once per program.
INDEXES: list[tuple[str, str, list[str], list[str], dict[str, Any]]] = [
    *(
        ("operations", f"ix_operations_{name}", [name], [name, "program"], {})
        for name in ("member", "order_id", "unique_id", "reference", "request_id")
    ),
    ("deliveries", "ix_deliveries_request_id", ["request_id"], ["request_id", "program"], {}),
    (
        "operations",
        "ux_operations_order_once",
        ["kind", "order_id"],
        ["program", "kind", "order_id"],
        {
            "unique": True,
            "sqlite_where": sa.text(ORDER_ONCE),
            "postgresql_where": sa.text(ORDER_ONCE),
        },
    ),
]


def program() -> sa.Column[str]:
    return sa.Column("program", sa.String(64), nullable=False, server_default=DEFAULT)


def _key(table: str, columns: list[str]) -> None:
    """`table`'s primary key made of `columns`: altered on PostgreSQL, keeping the key's name;
    on SQLite the table is copied, from its columns as they are but keyed by none of them (so
    the copy's key is the new one alone)."""
    bind = op.get_bind()
    name = sa.inspect(bind).get_pk_constraint(table).get("name") or f"{table}_pkey"
    if bind.dialect.name != "sqlite":
        op.drop_constraint(name, table, type_="primary")
        op.create_primary_key(name, table, columns)
        return
    unkeyed = []
    for column in sa.Table(table, sa.MetaData(), autoload_with=bind).columns:
        copied = column._copy()
        copied.primary_key = False
        unkeyed.append(copied)
    existing = sa.Table(table, sa.MetaData(), *unkeyed)
    with op.batch_alter_table(table, recreate="always", copy_from=existing) as batch:
        batch.create_primary_key(name, columns)


def upgrade() -> None:
    for table in ROWS:
        op.add_column(table, program())
    for table, key in KEYED.items():
        op.add_column(table, program())
        _key(table, ["program", key])
    op.add_column("operators", sa.Column("programs", sa.Text, nullable=False, server_default="*"))
    for table, name, _, after, options in INDEXES:
        op.drop_index(name, table)
        op.create_index(name, table, after, **options)
    op.create_index("ix_audit_program", "audit", ["program", "id"])


def downgrade() -> None:
    bind = op.get_bind()
    for table in (*ROWS, *KEYED):
        others = bind.execute(
            sa.text(f"SELECT count(*) FROM {table} WHERE program <> :default"),
            {"default": DEFAULT},
        ).scalar_one()
        if others:
            raise RuntimeError(
                f"{table} holds {others} rows of programs other than {DEFAULT!r}: a journal "
                "before programs could not tell them apart; nothing was changed"
            )
    op.drop_index("ix_audit_program", "audit")
    for table, name, before, _, options in INDEXES:
        op.drop_index(name, table)
        op.create_index(name, table, before, **options)
    op.drop_column("operators", "programs")
    for table, key in KEYED.items():
        _key(table, [key])
        with op.batch_alter_table(table) as batch:
            batch.drop_column("program")
    for table in ROWS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("program")
