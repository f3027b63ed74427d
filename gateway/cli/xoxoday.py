"""`points-gateway xoxoday tokens set|show`: the API token pair the SSO launch uses."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from gateway.cli.base import (
    _settings,
    config_option,
    journal_of,
    main,
    operator_errors,
    program_option,
)

if TYPE_CHECKING:
    from gateway.xoxoday.tokens import TokenStore


@main.group(short_help="Manage what the SSO launch needs of Xoxoday's API.")
def xoxoday() -> None:
    """Xoxoday's API, which the SSO launch calls."""


@xoxoday.group(short_help="Set or show the Xoxoday API token pair.")
def tokens() -> None:
    """The access/refresh token pair, kept in the journal database."""


def _store(config_path: str | None) -> TokenStore:
    from gateway.sealed import Sealer
    from gateway.xoxoday.tokens import TokenStore

    settings = _settings(config_path, serving=True)  # it seals with secret_key
    journal = journal_of(settings)
    journal.require_schema(settings.auto_migrate)
    return TokenStore(journal, Sealer(settings.secret_keys))


@tokens.command("set", short_help="Store a token pair made in Xoxoday's dashboard.")
@config_option
@program_option
@click.option("--access-token", prompt=True, hide_input=True, help="Asked for when not given.")
@click.option("--refresh-token", prompt=True, hide_input=True, help="Asked for when not given.")
@click.option(
    "--access-expires-at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    help="UTC; unknown: the token is used until Xoxoday refuses it, then refreshed.",
)
@operator_errors
def set_tokens(
    config_path: str | None,
    access_token: str,
    refresh_token: str,
    access_expires_at: datetime | None,
) -> None:
    """Store a pair made in Xoxoday's dashboard (replaces the stored one, for every host)."""
    from gateway.xoxoday.tokens import TokenPair

    store = _store(config_path)
    expires = access_expires_at.replace(tzinfo=UTC) if access_expires_at else None
    store.put(TokenPair(access_token.strip(), refresh_token.strip(), expires))
    store.journal.dispose()
    click.echo("stored the Xoxoday token pair in the journal database")


@tokens.command("show", short_help="Print when the stored token pair expires.")
@config_option
@program_option
@operator_errors
def show_tokens(config_path: str | None) -> None:
    """When the stored pair expires (never the tokens themselves)."""
    store = _store(config_path)
    pair = store.get()
    store.journal.dispose()
    if pair is None:
        click.echo("no Xoxoday token pair stored (the config's pair is used as a seed)", err=True)
        sys.exit(1)

    def when(moment: datetime | None) -> str:
        return moment.isoformat(timespec="seconds") if moment else "unknown"

    click.echo(f"access token:  …{pair.access_token[-4:]}, expires {when(pair.access_expires_at)}")
    click.echo(
        f"refresh token: …{pair.refresh_token[-4:]}, expires {when(pair.refresh_expires_at)}"
    )
