"""What every command shares: the `points-gateway` group, the --config option, the settings, the
journal, and one line with exit code 2 for an operator's mistake."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, TypeVar

import click

from connectors.base import ConnectorError
from gateway.config import ConfigError, Settings, load_settings
from gateway.journal import JOURNAL_DOWN, why_down
from gateway.journal.schema import SchemaBehind, SchemaNewer
from gateway.keys import require_strong_keys

if TYPE_CHECKING:
    from gateway.app import Gateway
    from gateway.journal import Journal

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML configuration file (default: $GATEWAY_CONFIG).",
)


#: Where a command's --program is kept (click's context), for _settings to read.
PROGRAM = "points_gateway.program"


def _remember_program(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    ctx.meta[PROGRAM] = value


program_option = click.option(
    "--program",
    default=None,
    expose_value=False,
    callback=_remember_program,
    help="The program to act on (a [programs.<name>]); default: the default program.",
)


def _settings(config_path: str | None, serving: bool = False) -> Settings:
    """The configuration (of the program a --program names); `serving`: refuse one that would
    serve a guessable key."""
    settings = load_settings(config_path, environ=os.environ)
    if serving:
        require_strong_keys(settings)
    context = click.get_current_context(silent=True)
    name = context.meta.get(PROGRAM) if context is not None else None
    if name is None and not context_has_program_option(context):
        return settings  # a deployment-wide command (serve, db, operator)
    programs = settings.every_program()
    chosen = programs.get(name or "default")
    if chosen is None:
        known = ", ".join(sorted(programs)) or "none"
        raise ConfigError(
            f"--program: {name!r} is not one of this configuration's programs ({known})"
            if name
            else f"this configuration has no default program: give --program ({known})"
        )
    return chosen


def context_has_program_option(context: click.Context | None) -> bool:
    return context is not None and any(p.name == "program" for p in context.command.params)


def operator_errors(fn: F) -> F:
    """A broken configuration or connector, or a journal this release cannot use, ends the
    command with one line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, ConnectorError, SchemaBehind, SchemaNewer) as exc:
            click.echo(f"points-gateway: error: {exc}", err=True)
            sys.exit(2)
        except JOURNAL_DOWN as exc:
            click.echo(f"points-gateway: error: journal unreachable: {why_down(exc)}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _version() -> str:
    try:
        return version("points-gateway")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="points-gateway")
def main() -> None:
    """Serve Xoxoday's StoreFront contract in front of your HR system and points ledger."""


@contextmanager
def saying_progress() -> Iterator[None]:
    """Meanwhile, what a long build of the directory is doing goes to stderr, a line each
    (`points-gateway: indexing FILE: ...`), so a command does not sit silent for seconds; a
    quick build says nothing (connectors/directory/progress.py)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("points-gateway: %(message)s"))
    handler.addFilter(lambda record: not getattr(record, "quick", False))
    logger = logging.getLogger("connectors.directory")
    was = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(was)


def built(settings: Settings) -> Gateway:
    """build_gateway, saying on stderr what it is doing when it indexes a source."""
    from gateway.app import build_gateway

    with saying_progress():
        return build_gateway(settings)


def journal_of(settings: Settings) -> Journal:
    """The configured journal, as it is (its schema not checked)."""
    from gateway.journal import Journal

    return Journal(settings.database_url, settings.database_schema).for_program(settings.program)


@contextmanager
def open_journal(settings: Settings) -> Iterator[Journal]:
    """The configured journal, its schema made, disposed of on leaving."""
    store = journal_of(settings)
    try:
        store.require_schema(settings.auto_migrate)
        yield store
    finally:
        store.dispose()


@main.group(short_help="Export the journal; settle what a points ledger left.")
def journal() -> None:
    """Read the journal of operations, and settle what a points ledger left unfinished."""
