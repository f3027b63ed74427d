"""`points-gateway xoxoday handover`: exactly what to give Xoxoday's onboarding team, read from
the configuration, so no URL, key or dialect is copied by hand."""

from __future__ import annotations

from urllib.parse import urlsplit

import click

from gateway.cli.base import _settings, config_option, operator_errors, program_option
from gateway.cli.xoxoday import xoxoday
from gateway.network import PRESETS

#: Each endpoint Xoxoday calls: its path, and what its body carries in each dialect.
ENDPOINTS = {
    "balance": ("/v1/points/balance", "unique_id, auth_token"),
    "profile": ("/v1/profile", "api_key, employee_id (legacy) | unique_id, auth_token (current)"),
    "redeem": ("/v1/points/redeem", "unique_id, auth_token, order_id, total_points_redeemed"),
    "refund": ("/v1/points/refund", "unique_id, auth_token, transactionid | order_id, amount"),
}


@xoxoday.command(short_help="Print what to give Xoxoday: the URLs, the keys, the dialects.")
@config_option
@program_option
@click.option(
    "--base-url",
    required=True,
    help="Where Xoxoday reaches this gateway, as they will call it (https://points.example.com).",
)
@operator_errors
def handover(config_path: str | None, base_url: str) -> None:
    """Print, for Xoxoday's onboarding of a client-hosted points program, each endpoint's URL and
    dialect, the GetProfile api_key, how auth_tokens reach them (the SSO launch), and the
    addresses this gateway lets in. It prints a secret (the api_key): hand it over privately."""
    settings = _settings(config_path, serving=True)  # never hand over a placeholder key
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
        raise click.BadParameter("give an https:// URL with no query", param_hint="--base-url")
    # A program other than the default is reached under its own prefix (or on its hosts).
    prefix = "" if settings.program == "default" else f"/p/{settings.program}"
    base = base_url.rstrip("/") + prefix
    click.echo("For Xoxoday's onboarding (StoreFront, client-hosted points):\n")
    for name, (path, body) in ENDPOINTS.items():
        dialect = settings.dialect_for(name)
        click.echo(f"  {name:<8} POST {base}{path}")
        click.echo(f"           dialect {dialect}; JSON body: {body}")
    click.echo("")
    if settings.profile_api_keys:
        click.echo(f"  GetProfile api_key: {settings.profile_api_keys[0]}")
        if len(settings.profile_api_keys) > 1:
            more = len(settings.profile_api_keys) - 1
            click.echo(f"  ({more} more configured for rotation: give one at a time)")
    else:
        click.echo("  GetProfile api_key: none configured (the legacy profile call is refused)")
    click.echo(f"  unique_id is each employee's {settings.identity}")
    click.echo("")
    if settings.xoxoday is not None:
        xo = settings.xoxoday
        launch = f"{base}/v1/sso/launch"
        click.echo(
            f"  auth_tokens: issued at each SSO launch (your portal calls POST {launch}; "
            f"Xoxoday {xo['environment']}, API client {xo['client_id']})"
        )
    else:
        click.echo(
            "  auth_tokens: no [xoxoday] section, so no SSO launch here: your portal passes each "
            "user's token (points-gateway token) in Xoxoday's SSO call"
        )
    allowed = settings.network["allowlist"]
    if allowed:
        click.echo(f"  allowlist: {', '.join(allowed)}")
        for preset in (p for p in allowed if p in PRESETS):
            click.echo(f"    {preset}: {', '.join(PRESETS[preset])}")
    else:
        click.echo(
            "  allowlist: empty, anyone may call (set [network] allowlist = "
            '["xoxoday-production"] to let in only Xoxoday\'s addresses)'
        )
    if not any(p.startswith("xoxoday-") for p in allowed):
        production = ", ".join(PRESETS["xoxoday-production"])
        click.echo(f"  Xoxoday's production servers call from {production}")
