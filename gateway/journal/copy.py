"""Copies of the journal: an online backup of a SQLite journal, and a SQLite journal moved into
an empty PostgreSQL one.

Only SQLite opens the journal's files (see engines.private_database_file): the backup reads
the journal through a connection of its own engine, and opens nothing but the new file it
writes. The move reads through SQLAlchemy and writes through SQLAlchemy, in one transaction.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Table, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from gateway.journal import why_down
from gateway.journal.records import as_utc
from gateway.journal.store import Journal
from gateway.journal.tables import accounts, metadata, operations

#: Every table of the journal; alembic_version is not among them: the target's own upgrade
#: writes it.
TABLES = metadata.sorted_tables
#: How many rows one INSERT carries, and one fetch from the source brings.
BATCH = 5000


class CopyRefused(Exception):
    """An operator's mistake or a copy that failed, in one line; nothing was left half-made."""


@dataclass(frozen=True)
class BackupMade:
    path: Path
    operations: int
    size: int


def backup(journal: Journal, dest: Path) -> BackupMade:
    """Copy the SQLite journal to `dest` while it may be serving: a consistent snapshot,
    checked, private (0600), and in place at once or not at all."""
    source = _existing(journal)
    dest = dest.absolute()
    if dest.is_dir():
        raise CopyRefused(f"{dest} is a folder: name the backup's file")
    if not dest.parent.is_dir():
        raise CopyRefused(f"{dest.parent} does not exist")
    journal_files = {source.name + s for s in ("", "-wal", "-shm", "-journal", ".writelock")}
    if (dest.exists() and os.path.samefile(dest, source)) or (
        dest.parent.resolve() == source.parent.resolve() and dest.name in journal_files
    ):
        raise CopyRefused(f"{dest} is the journal itself: name another file")
    partial = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.partial")
    try:
        # A new file, made private before SQLite writes the first page into it.
        os.close(os.open(partial, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        count = _copy_pages(journal, partial)
        _fsync(partial)
        os.replace(partial, dest)
        _fsync(dest.parent)
    except (OSError, sqlite3.Error) as exc:
        why = " ".join(str(exc).split()) or type(exc).__name__
        raise CopyRefused(f"backup to {dest} failed ({why}); nothing was written there") from None
    finally:
        for leftover in (partial, partial.with_name(partial.name + "-journal")):
            leftover.unlink(missing_ok=True)
    return BackupMade(dest, count, dest.stat().st_size)


def _existing(journal: Journal) -> Path:
    """The SQLite journal's file, which must be there: its engine would make an empty one."""
    path = Path(make_url(journal.url).database or "")
    if not path.is_file():
        raise CopyRefused(f"no SQLite journal at {path}")
    return path


def _copy_pages(journal: Journal, partial: Path) -> int:
    """SQLite's online backup into `partial`, checked; the operations it holds."""
    try:
        proxied = journal.reader.raw_connection()  # its connect event's PRAGMAs unwrapped
    except (DBAPIError, sqlite3.Error) as exc:  # said as every command says it
        raise CopyRefused(f"journal unreachable: {why_down(exc)}") from None
    try:
        source: Any = proxied.driver_connection
        try:
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a database?
        except sqlite3.Error as exc:
            raise CopyRefused(f"journal unreachable: {why_down(exc)}") from None
        target = sqlite3.connect(partial, isolation_level=None)
        try:
            # Every page in one step, so one read transaction: a consistent snapshot while
            # `serve` goes on committing to the WAL. In several steps, each commit of another
            # process's would restart the copy, and a busy gateway might never let it finish.
            source.backup(target, pages=-1)
            # One self-contained file: no -wal beside it to be forgotten when it is moved.
            target.execute("PRAGMA journal_mode=DELETE")
            found = [row[0] for row in target.execute("PRAGMA integrity_check")]
            if found != ["ok"]:
                raise sqlite3.DatabaseError(f"the copy failed its integrity check: {found[0]}")
            has = target.execute("SELECT 1 FROM sqlite_master WHERE name = 'operations'")
            if has.fetchone() is None:
                return 0
            return int(target.execute("SELECT count(*) FROM operations").fetchone()[0])
        finally:
            target.close()
    finally:
        proxied.close()


def _fsync(path: Path) -> None:
    """The new file, or the folder of its name, on disk before we say it is there."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- SQLite to PostgreSQL ------------------------------------------------------------------
@dataclass(frozen=True)
class Moved:
    rows: dict[str, int]  # per table
    members: int  # accounts whose totals were compared (a member of two programs: two)
    programs: int = 1  # programs whose accounts were compared


Progress = Callable[[str, int], None]  # a table's name, its rows copied so far


def migrate(
    source: Journal, target: Journal, batch: int = BATCH, progress: Progress | None = None
) -> Moved:
    """Copy every table of the SQLite `source` into the empty PostgreSQL `target`, in one
    transaction there, verified before it commits."""
    if not source.is_sqlite:
        raise CopyRefused("the configured journal is PostgreSQL already: nothing to migrate")
    if make_url(target.url).get_backend_name() != "postgresql":
        raise CopyRefused("--to must be a postgresql:// URL")
    _existing(source)
    try:
        source.create_schema()  # this release's columns, as `serve` would make them
        target.create_schema()
        return _move(source, target, batch, progress)
    except DBAPIError as exc:
        side = "the SQLite journal" if isinstance(exc.orig, sqlite3.Error) else "PostgreSQL"
        raise CopyRefused(f"{side}: {why_down(exc)}; nothing was written to PostgreSQL") from None


def _move(source: Journal, target: Journal, batch: int, progress: Progress | None) -> Moved:
    with (
        source.reader.connect() as watch,
        source.reader.connect() as read,
        target.writer.begin() as write,
    ):
        # Nobody writes to the target meanwhile (a host serving it already, a second migrate).
        names = ", ".join(t.name for t in TABLES)
        write.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
        held = {name: n for name, n in _counts(write).items() if n}
        if held:
            listed = ", ".join(f"{name}: {n}" for name, n in held.items())
            raise CopyRefused(
                f"the target journal is not empty ({listed}): migrate only into an empty one"
            )
        # Changes when anyone else commits to the source: a gateway still serving it.
        before = int(watch.exec_driver_sql("PRAGMA data_version").scalar_one())
        copied = {t.name: _copy_table(read, write, t, batch, progress) for t in TABLES}
        _reset_ids(write)
        try:
            members, programs = _verify(read, write, copied)
        except CopyRefused:
            _unchanged(watch, before)  # the likelier reason, said first
            raise
        _unchanged(watch, before)  # the last word before the commit
    return Moved(copied, members, programs)


def _unchanged(watch: Connection, before: int) -> None:
    if int(watch.exec_driver_sql("PRAGMA data_version").scalar_one()) != before:
        raise CopyRefused(
            "the SQLite journal changed during the copy (is `serve` still running on it?): "
            "nothing was written; stop the gateway and migrate again"
        )


def _copy_table(
    read: Connection, write: Connection, table: Table, batch: int, progress: Progress | None
) -> int:
    # SQLite hands back naive datetimes, all UTC; PostgreSQL would read a naive one in the
    # session's time zone.
    stamps = [c.name for c in table.columns if isinstance(c.type, DateTime)]
    query = select(table).order_by(*table.primary_key.columns)
    result = read.execute(query, execution_options={"yield_per": batch})
    copied = 0
    for rows in result.partitions():
        values = [dict(row._mapping) for row in rows]
        for value in values:
            for name in stamps:
                if value[name] is not None:
                    value[name] = as_utc(value[name])
        write.execute(table.insert(), values)
        copied += len(values)
        if progress is not None:
            progress(table.name, copied)
    return copied


def _reset_ids(write: Connection) -> None:
    """Each id sequence past the ids copied: the next operation must not take an old one's."""
    for table in TABLES:
        for column in table.primary_key.columns:
            if column.autoincrement is True:
                write.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence(:table, :column), "
                        f"COALESCE((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"
                    ),
                    {"table": table.name, "column": column.name},
                )


def _verify(read: Connection, write: Connection, copied: dict[str, int]) -> tuple[int, int]:
    """The same rows in every table, and in each program every member's totals the same, as
    the accounts keep them and as the applied operations add up; the members (accounts) and
    programs compared."""
    found, wanted = _counts(write), _counts(read)
    if found != wanted or copied != wanted:
        raise CopyRefused(f"the copy's row counts differ ({found} != {wanted}): nothing written")
    for name, totals in (("accounts", _account_totals), ("operations", _applied_sums)):
        if totals(read) != totals(write):
            raise CopyRefused(f"the copy's totals from {name} differ: nothing was written")
    programs = {program for program, _ in _account_totals(read)}
    return wanted[accounts.name], max(len(programs), 1)


def _counts(conn: Connection) -> dict[str, int]:
    return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in TABLES}


def _account_totals(conn: Connection) -> dict[tuple[str, str], tuple[int, int, int]]:
    """Every program's accounts (the copy holds every program: no one program's scope)."""
    a = accounts.c
    query = select(a.program, a.member, a.debited, a.refunded, a.credited)
    return {(program, member): (d, r, c) for program, member, d, r, c in conn.execute(query)}


def _applied_sums(conn: Connection) -> dict[tuple[str, str, str], int]:
    o = operations.c
    query = (
        select(o.program, o.member, o.kind, func.sum(o.amount))
        .where(o.state == "applied")
        .group_by(o.program, o.member, o.kind)
    )
    return {(p, member, kind): int(total) for p, member, kind, total in conn.execute(query)}
