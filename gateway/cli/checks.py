"""Setting up: `token`, `secret`, `check` and `connectors`."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy.engine import make_url

from gateway.cli.base import _settings, built, config_option, main, operator_errors, program_option
from gateway.journal import why_down
from gateway.journal.schema import SchemaBehind, SchemaNewer
from gateway.keys import FRESH_KEY, new_key, weak_keys


@main.command(short_help="Print a valid auth_token for UNIQUE_ID.")
@config_option
@program_option
@click.argument("unique_id")
@click.option("--any", "anyone", is_flag=True, help="Issue it even if no active user has the id.")
@operator_errors
def token(config_path: str | None, unique_id: str, anyone: bool) -> None:
    """Print a valid auth_token for UNIQUE_ID (an active user's, unless --any)."""
    from gateway.app import token_authority
    from gateway.errors import UserNotFound

    settings = _settings(config_path, serving=True)
    if not anyone:
        gateway = built(settings)
        try:
            gateway.service.profile(unique_id)
        except UserNotFound as exc:
            click.echo(f"points-gateway: {exc.message} (--any issues a token anyway)", err=True)
            sys.exit(1)
        finally:
            gateway.close()
    click.echo(token_authority(settings).issue(unique_id))


@main.command(short_help="Print a fresh random key, for secret_key or an api key.")
def secret() -> None:
    """Print a fresh random key, for secret_key or an api key."""
    click.echo(new_key())


@main.command(short_help="Validate the config, reach the journal and connectors.")
@config_option
@program_option
@click.option(
    "--person",
    default=None,
    help="Also look this person up (by the configured identity) and name the profile fields "
    "that came back empty.",
)
@operator_errors
def check(config_path: str | None, person: str | None) -> None:
    """Validate the configuration and reach the journal and every connector.

    Exit codes: 0 all is healthy; 1 something cannot be reached, or the --person is not found
    or is inactive; 2 the configuration is broken or a key is refused."""
    settings = _settings(config_path)
    click.echo(f"config   ok  {settings.source}")
    gateway = built(settings)
    found_ok, found_line = True, ""
    try:
        gateway.journal.require_schema(settings.auto_migrate)
        report = gateway.service.readiness()
        if person is not None:
            found_ok, found_line = _look_up(gateway.service, settings.identity, person)
    except SchemaNewer:
        raise  # not a check's finding: nothing of this release may run on it (one line, exit 2)
    except SchemaBehind as exc:
        report = {"journal": f"behind: {exc}"}
    except Exception as exc:  # the journal's own error, shown as a reason, not a traceback
        report = {"journal": f"unreachable: {why_down(exc)}"}
    finally:
        gateway.close()
    where = {
        "journal": make_url(settings.database_url).render_as_string(hide_password=True),
        "profile": settings.profile.name,
        "points": settings.points.name,
    }
    for name, outcome in report.items():
        click.echo(f"{name:<8} {outcome}  {where.get(name, '')}")
    if found_line:
        click.echo(found_line)
    weak = [] if settings.demo else list(weak_keys(settings))
    for problem in weak:
        click.echo(f"keys     refused: {problem} ({FRESH_KEY})")
    if settings.demo:
        click.echo(f"keys     demo: {settings.source} says it is a demo; its keys are public")
    if weak:
        sys.exit(2)
    if any(v != "ok" for v in report.values()) or not found_ok:
        sys.exit(1)


def _look_up(service: Any, identity: str, person: str) -> tuple[bool, str]:
    """One lookup through the profile connector, then the person's balance as the balance
    endpoint would answer it (from the points ledger, or the grants and the journal): whether
    someone active came back with a balance (an inactive one cannot use the storefront: a wrong
    active rule must not pass), and the lines that say who, which fields were empty (a mapping
    that names a field the system does not fill) and their points."""
    from connectors.base import PROFILE_FIELDS, ConnectorError
    from gateway.errors import GatewayError
    from gateway.service.money import format_points

    try:
        found = service.profiles.find(identity, person)
    except ConnectorError as exc:
        return False, f"lookup   {exc.error_code}: {exc}"
    if found is None:
        return False, f"lookup   nobody has {identity} {person!r}"
    empty = [name for name in PROFILE_FIELDS if not getattr(found, name)]
    state = "active" if found.active else "inactive"
    filled = f"empty: {', '.join(empty)}" if empty else "every profile field filled"
    line = f"lookup   found {found.employee_id} ({state}); {filled}"
    try:
        points = service.balance_of(found, person)
    except (ConnectorError, GatewayError) as exc:
        return False, f"{line}\nbalance  {exc.error_code}: {exc}"
    said = (
        f"{format_points(points.available)} available ({format_points(points.received)} "
        f"received, {format_points(points.redeemed)} redeemed)"
    )
    return found.active, f"{line}\nbalance  {said}"


@main.command(short_help="List the installed connectors and their options.")
def connectors() -> None:
    """List the installed connectors, what each can serve, and its options."""
    from connectors.registry import available, describe_options, roles

    for name, cls in sorted(available().items()):
        where = "remote" if cls.remote else "local"
        click.echo(
            f"{name}  ({cls.__module__}.{cls.__qualname__}; {', '.join(roles(cls))}; {where})"
        )
        for line in describe_options(cls.options_schema()):
            click.echo(f"    {line}")
    from connectors.hr.presets import about, identities_of, presets

    click.echo("\nrest_directory presets (options = { preset = NAME, ... }):")
    for name in sorted(presets()):
        finds = ", ".join(identities_of(name))
        click.echo(f"  {name:<16} {about(name).get('title', name)}; finds by {finds}")
