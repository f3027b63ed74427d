"""The journal's statements, built once: building and compiling one costs more than SQLite
running it. Parameters are named b_* so they never collide with column names in an UPDATE.

Each is scoped to one program: b_program (an INSERT's row carries its `program` value).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import BigInteger, CursorResult, Insert, Select, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway.journal.tables import accounts, operations

#: The program's account of the member b_member.
THE_ACCOUNT = (
    accounts.c.program == bindparam("b_program"),
    accounts.c.member == bindparam("b_member"),
)
TOTALS = select(accounts.c.debited, accounts.c.refunded, accounts.c.credited).where(*THE_ACCOUNT)
LOCK_ACCOUNT = TOTALS.with_for_update()
ORDER = select(operations).where(
    operations.c.program == bindparam("b_program"),
    operations.c.kind == bindparam("b_kind"),
    operations.c.order_id == bindparam("b_order"),
)
REFUNDS = (
    select(operations)
    .where(
        operations.c.program == bindparam("b_program"),
        operations.c.kind == "refund",
        operations.c.order_id == bindparam("b_order"),
    )
    .order_by(operations.c.id)
)
INSERT_OPERATION = insert(operations)
# The same insert with every value but the id named, answering the new id (SQLite >= 3.35 and
# PostgreSQL both RETURN), for the raw path in hot.py.
INSERT_OPERATION_RETURNING_ID = (
    insert(operations)
    .values({c.name: bindparam(c.name, type_=c.type) for c in operations.c if c.name != "id"})
    .returning(operations.c.id)
)
MOVE_TOTAL = {
    column: update(accounts)
    .where(*THE_ACCOUNT)
    .values({column: accounts.c[column] + bindparam("b_amount"), "updated_at": bindparam("b_now")})
    for column in ("debited", "refunded", "credited")
}
TOTAL_MOVED_BY = {"debit": "debited", "refund": "refunded", "credit": "credited"}
# Debit only while it leaves the account at or above zero: one statement, so the check and the
# write cannot be split by another transaction (PostgreSQL re-checks it on the newest row).
DEBIT_WITHIN_BALANCE = (
    update(accounts)
    .where(
        *THE_ACCOUNT,
        bindparam("b_granted", type_=BigInteger)
        + accounts.c.credited
        + accounts.c.refunded
        - accounts.c.debited
        >= bindparam("b_amount", type_=BigInteger),
    )
    .values(debited=accounts.c.debited + bindparam("b_amount"), updated_at=bindparam("b_now"))
)


@cache
def open_account(dialect_name: str) -> Insert:
    """Create a member's account row unless it exists (b_program, b_member, b_now)."""
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    return (
        dialect_insert(accounts)
        .values(
            program=bindparam("b_program"),
            member=bindparam("b_member"),
            debited=0,
            refunded=0,
            credited=0,
            updated_at=bindparam("b_now", type_=accounts.c.updated_at.type),
        )
        .on_conflict_do_nothing(index_elements=["program", "member"])
    )


def debit_at_once() -> Select[Any]:
    """PostgreSQL: the debit in one statement, so one round trip in autocommit: take the amount
    from the account while it covers it and, from what that moved, insert the operation. It
    answers the new id, or NULL when nothing moved (the account cannot cover it, or has no row
    yet): the caller then takes the two-statement way, which says which. A repeated order
    fails the whole statement on the unique index, as the two-statement way does. The
    operation's program is the debited account's (b_program), as the statement says it."""
    moved = DEBIT_WITHIN_BALANCE.returning(accounts.c.program).cte("moved")
    names = [c.name for c in operations.c if c.name != "id"]
    values = [
        moved.c.program if c.name == "program" else bindparam(c.name, type_=c.type)
        for c in operations.c
        if c.name != "id"
    ]
    recorded = (
        insert(operations)
        .from_select(names, select(*values).select_from(moved))
        .returning(operations.c.id)
        .cte("recorded")
    )
    return select(recorded.c.id)


def inserted_id(result: CursorResult[Any]) -> int:
    """The id a single-row INSERT gave its row."""
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row always has it
    return int(key[0])
