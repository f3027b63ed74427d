"""`points-gateway db current` and `db upgrade`: the journal's versioned schema."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from gateway.cli.base import _settings, config_option, journal_of, main, operator_errors

if TYPE_CHECKING:
    from gateway.journal import Journal


@contextmanager
def _journal(config_path: str | None) -> Iterator[Journal]:
    """The configured journal as it is: these commands are what prepares its schema."""
    journal = journal_of(_settings(config_path))
    try:
        yield journal
    finally:
        journal.dispose()


@main.group(short_help="Show or upgrade the journal's schema.")
def db() -> None:
    """The journal's schema: which revision it is at, and upgrading it to this release's."""


@db.command("current", short_help="Print the journal's revision and this release's.")
@config_option
@operator_errors
def db_current(config_path: str | None) -> None:
    """Print the journal's revision and this release's; exit 1 when they differ."""
    from gateway.journal.schema import head, is_newer

    with _journal(config_path) as journal:
        found = journal.revision()
    wanted = head()
    newer = " (written by a newer release)" if is_newer(found) else ""
    click.echo(f"journal  {found or 'none (an empty database, or one made by 0.1.0)'}{newer}")
    click.echo(f"release  {wanted}")
    if newer:
        click.echo("this release cannot use it: run the newer release", err=True)
        sys.exit(1)
    if found != wanted:
        click.echo("run `points-gateway db upgrade` to bring the journal to this release", err=True)
        sys.exit(1)


@db.command("upgrade", short_help="Upgrade the journal's schema to this release's.")
@config_option
@operator_errors
def db_upgrade(config_path: str | None) -> None:
    """Upgrade the journal's schema to this release's (once, from one host: it takes a lock)."""
    with _journal(config_path) as journal:
        before = journal.revision()
        journal.create_schema()
        after = journal.revision()
    if before == after:
        click.echo(f"journal already at {after}")
    else:
        click.echo(f"journal upgraded: {before or 'none'} -> {after}")
