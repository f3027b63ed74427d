"""`journal backup DEST` (an online copy of a SQLite journal) and `journal migrate --to URL`
(a SQLite journal into an empty PostgreSQL one). See docs/operating.md, "Backups, restores
and moving to PostgreSQL"."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NoReturn

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.cli.base import _settings, config_option, journal, journal_of, operator_errors

DOCS = 'docs/operating.md, "Backups, restores and moving to PostgreSQL"'
# As [gateway] database_schema: a plain name, never anything SQL would read more into.
SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
PROGRESS_EVERY = 100_000  # rows of one table between two progress lines


def _refuse(message: str) -> NoReturn:
    click.echo(f"points-gateway: error: {message}", err=True)
    sys.exit(2)


@journal.command("backup", short_help="Copy the SQLite journal to DEST while it serves.")
@config_option
@click.argument("dest", type=click.Path(path_type=Path))
@operator_errors
def journal_backup(config_path: str | None, dest: Path) -> None:
    """Copy the SQLite journal to DEST while it serves: a consistent snapshot, checked with
    PRAGMA integrity_check, private (0600), moved into place whole."""
    from gateway.journal.copy import CopyRefused, backup

    store = journal_of(_settings(config_path))
    try:
        if not store.is_sqlite:
            _refuse(
                "the journal is in PostgreSQL: back it up with pg_dump --format=custom "
                f"(see {DOCS})"
            )
        made = backup(store, dest)
    except CopyRefused as exc:
        _refuse(str(exc))
    finally:
        store.dispose()
    click.echo(f"{made.path}: {made.operations} operations, {made.size} bytes, integrity ok")


@journal.command("migrate", short_help="Copy the SQLite journal into an empty PostgreSQL one.")
@config_option
@click.option("--to", "to", required=True, help="The empty PostgreSQL journal: postgresql://...")
@click.option("--schema", default=None, help="Its schema, as [gateway] database_schema.")
@operator_errors
def journal_migrate(config_path: str | None, to: str, schema: str | None) -> None:
    """Copy the SQLite journal into an empty PostgreSQL journal (its schema upgraded first),
    in one transaction, and verify row counts and every member's totals before committing.
    Stop `serve` first: orders it took meanwhile would not be in the copy."""
    from gateway.config import ConfigError, resolve_database_url
    from gateway.journal import Journal
    from gateway.journal.copy import CopyRefused, migrate

    if schema is not None and not SCHEMA.fullmatch(schema):
        _refuse(f"--schema {schema!r}: a lowercase name of letters, digits and _")
    try:
        target_url = resolve_database_url(to, Path.cwd())
        shown = make_url(target_url).render_as_string(hide_password=True)
    except (ConfigError, ArgumentError):
        _refuse("--to: not a postgresql:// URL")
    source = journal_of(_settings(config_path))
    target = Journal(target_url, schema)
    printed: dict[str, int] = {}

    def progress(table: str, copied: int) -> None:
        if copied - printed.get(table, 0) >= PROGRESS_EVERY:
            printed[table] = copied
            click.echo(f"{table}: {copied} rows copied", err=True)

    try:
        moved = migrate(source, target, progress=progress)
    except CopyRefused as exc:
        _refuse(str(exc))
    finally:
        source.dispose()
        target.dispose()
    where = f"{shown} (schema {schema})" if schema else shown
    counts = ", ".join(f"{n} {table}" for table, n in moved.rows.items())
    click.echo(f"migrated to {where}: {counts}")
    click.echo(
        f"verified: the same row counts in every table and the same totals for "
        f"{moved.members} members (accounts and applied operations)"
    )
    setting = f'database_url and database_schema = "{schema}"' if schema else "database_url"
    click.echo(f"next: set [gateway] {setting} to it, then start serve")
