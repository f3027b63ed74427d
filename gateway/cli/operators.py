"""`points-gateway operator add|list|remove`: the console's accounts, kept in the journal."""

from __future__ import annotations

import sys

import click

from gateway.cli.base import _settings, config_option, main, open_journal, operator_errors


@main.group(short_help="Add, list or remove the operator console's accounts.")
def operator() -> None:
    """The operator console's accounts (viewer: looks; operator: also resolves and marks)."""


@operator.command("add", short_help="Add an operator (asks for the password twice).")
@config_option
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator"]), required=True)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (for scripts) instead of asking for it.",
)
@operator_errors
def operator_add(config_path: str | None, name: str, role: str, password_stdin: bool) -> None:
    """Add an operator; asks for the password twice (12 characters at least)."""
    from gateway.journal.operators import OperatorRefused, Operators

    settings = _settings(config_path)  # a missing or broken configuration: said before asking
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_journal(settings) as journal:
        try:
            added = Operators(journal).add(name, role, password)
        except OperatorRefused as exc:
            click.echo(f"points-gateway: {exc.message}", err=True)
            sys.exit(2)
    click.echo(f"operator {added.name} added ({added.role})")


@operator.command("list")
@config_option
@operator_errors
def operator_list(config_path: str | None) -> None:
    """Print each operator and their role."""
    from gateway.journal.operators import Operators

    with open_journal(_settings(config_path)) as journal:
        for each in Operators(journal).all():
            click.echo(f"{each.name}\t{each.role}")


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
