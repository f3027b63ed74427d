"""`points-gateway operator add|list|scope|remove`: the console's accounts, kept in the journal.

An operator belongs to no program: each has a scope, the programs whose console pages they may
see (`--programs india,uk`, or `*` for every program, those added later included)."""

from __future__ import annotations

import sys

import click

from gateway.cli.base import _settings, config_option, main, open_journal, operator_errors
from gateway.config import ConfigError, Settings

PROGRAMS_HELP = (
    "The programs they may see: names, comma-separated, or * for every program (those added "
    "later too)."
)


@main.group(short_help="Add, list, scope or remove the operator console's accounts.")
def operator() -> None:
    """The operator console's accounts (viewer: looks; operator: also resolves and marks), each
    scoped to some programs or to every one."""


def _scope(settings: Settings, programs: str) -> str:
    """`--programs` as the journal keeps it, each name one of the configuration's programs
    (ConfigError, one line, otherwise)."""
    from gateway.journal.operators import EVERY_PROGRAM, OperatorRefused, scope_of

    try:
        scope = scope_of(programs)
    except OperatorRefused as exc:
        raise ConfigError(f"--programs: {exc.message}") from None
    known = settings.every_program()
    for name in [] if scope == EVERY_PROGRAM else scope.split(","):
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise ConfigError(
                f"--programs: {name!r} is not one of this configuration's programs ({listed})"
            )
    return scope


@operator.command("add", short_help="Add an operator (asks for the password twice).")
@config_option
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator"]), required=True)
@click.option("--programs", "programs", default="*", show_default=True, help=PROGRAMS_HELP)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (for scripts) instead of asking for it.",
)
@operator_errors
def operator_add(
    config_path: str | None, name: str, role: str, programs: str, password_stdin: bool
) -> None:
    """Add an operator; asks for the password twice (12 characters at least)."""
    from gateway.journal.operators import OperatorRefused, Operators

    settings = _settings(config_path)  # a missing or broken configuration: said before asking
    scope = _scope(settings, programs)  # and so is a program it does not have
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_journal(settings) as journal:
        try:
            added = Operators(journal).add(name, role, password, scope)
        except OperatorRefused as exc:
            click.echo(f"points-gateway: {exc.message}", err=True)
            sys.exit(2)
    click.echo(f"operator {added.name} added ({added.role}), programs: {added.programs}")


@operator.command("list")
@config_option
@operator_errors
def operator_list(config_path: str | None) -> None:
    """Print each operator: role, programs (* for all)."""
    from gateway.journal.operators import Operators

    with open_journal(_settings(config_path)) as journal:
        for each in Operators(journal).all():
            click.echo(f"{each.name}\t{each.role}\t{each.programs}")


@operator.command("scope", short_help="Change the programs an operator may see.")
@config_option
@click.argument("name")
@click.option("--programs", "programs", required=True, help=PROGRAMS_HELP)
@operator_errors
def operator_scope(config_path: str | None, name: str, programs: str) -> None:
    """Change the programs an operator may see; their open sessions follow at their next page."""
    from gateway.journal.operators import Operators

    settings = _settings(config_path)
    scope = _scope(settings, programs)
    with open_journal(settings) as journal:
        changed = Operators(journal).set_programs(name, scope)
    if changed is None:
        click.echo(f"points-gateway: no operator named {name!r}", err=True)
        sys.exit(1)
    click.echo(f"operator {changed.name}: programs {changed.programs}")


@operator.command("remove", short_help="Remove an operator and end their sessions.")
@config_option
@click.argument("name")
@operator_errors
def operator_remove(config_path: str | None, name: str) -> None:
    """Remove an operator; their console sessions end at once, on every host."""
    from gateway.journal.operators import Operators

    with open_journal(_settings(config_path)) as journal:
        ended = Operators(journal).remove(name)
    if ended is None:
        click.echo(f"points-gateway: no operator named {name!r}", err=True)
        sys.exit(1)
    sessions = "1 console session" if ended == 1 else f"{ended} console sessions"
    click.echo(f"operator {name} removed; {sessions} ended")
