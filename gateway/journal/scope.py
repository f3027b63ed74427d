"""Programs in the journal: several storefronts or client companies in one database.

Every row of a program's data carries the program's name (a `program` column: operations,
accounts, deliveries, audit, leases, xoxoday_tokens), and every statement on those rows names
it. A journal is bound to one program (Journal.program, Journal.for_program): its methods take
no program argument, they use their own. The statements built once (statements.py) bind
`b_program`; every other statement on a program's rows starts from a builder here, so none can
leave the program out. tests/test_journal_programs.py runs every method of the journal for one
program and checks each statement the database was sent names it.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Delete, Insert, Select, Table, delete, insert, select, update
from sqlalchemy.sql.dml import Update

from gateway.journal.records import DEFAULT_PROGRAM
from gateway.journal.tables import accounts, audit, deliveries, leases, operations, xoxoday_tokens

__all__ = ["DEFAULT_PROGRAM", "SCOPED", "add", "change", "mine", "program_name", "remove", "scoped"]

#: The tables whose every row belongs to one program.
SCOPED: tuple[Table, ...] = (operations, accounts, deliveries, audit, leases, xoxoday_tokens)
#: A program's name as the journal keeps it: no comma and no "*" (an operator's scope lists
#: programs with them, see operators.py), nothing the configuration could not have named.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ProgramRefused(ValueError):
    """Not a program's name."""


def program_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ProgramRefused(f"{name!r} is no program's name (1-64 letters, digits, . _ -)")
    return name


def mine(table: Table, program: str) -> ColumnElement[bool]:
    """The condition that keeps `table`'s rows to `program`'s."""
    return table.c.program == program


def scoped(table: Table, program: str, *columns: Any) -> Select[Any]:
    """SELECT `columns` (every column of `table` if none) of `program`'s rows of `table`;
    narrow it further with .where()."""
    return select(*(columns or (table,))).select_from(table).where(mine(table, program))


def change(table: Table, program: str) -> Update:
    """UPDATE `program`'s rows of `table` (narrow it with .where(), then .values())."""
    return update(table).where(mine(table, program))


def remove(table: Table, program: str) -> Delete:
    """DELETE `program`'s rows of `table` (narrow it with .where())."""
    return delete(table).where(mine(table, program))


def add(table: Table, program: str) -> Insert:
    """INSERT a row of `program`'s into `table` (its other values with .values())."""
    return insert(table).values(program=program)
