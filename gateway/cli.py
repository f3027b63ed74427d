"""The `points-gateway` command: serve, token, check, journal export."""

from __future__ import annotations

import csv
import functools
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy.engine import make_url

from connectors.base import ConnectorError
from gateway.config import ConfigError, Settings, load_settings
from gateway.journal import JOURNAL_DOWN, why_down
from gateway.keys import FRESH_KEY, new_key, require_strong_keys, weak_keys
from gateway.service.money import format_points, from_units

if TYPE_CHECKING:
    from gateway.journal import Journal

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML configuration file (default: $GATEWAY_CONFIG).",
)


def _settings(config_path: str | None, serving: bool = False) -> Settings:
    """The configuration; `serving`: refuse one that would serve a guessable key."""
    settings = load_settings(config_path, environ=os.environ)
    if serving:
        require_strong_keys(settings)
    return settings


def operator_errors(fn: F) -> F:
    """A broken configuration or connector ends the command with one line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, ConnectorError) as exc:
            click.echo(f"points-gateway: error: {exc}", err=True)
            sys.exit(2)
        except JOURNAL_DOWN as exc:
            click.echo(f"points-gateway: error: journal unreachable: {why_down(exc)}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Serve Xoxoday's StoreFront contract in front of your HR system and points ledger."""


def _metrics_directory() -> None:
    """Workers share their metrics through files (prometheus_client's multiprocess mode): set
    the folder before any worker imports prometheus_client, and start it empty."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="points-gateway-metrics-")
        return
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


@main.command()
@config_option
@click.option("--bind", default=None, help="HOST:PORT to listen on (default: [server] bind).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes.")
@click.option(
    "--threads", type=click.IntRange(1, 256), default=None, help="Threads per worker process."
)
@operator_errors
def serve(
    config_path: str | None, bind: str | None, workers: int | None, threads: int | None
) -> None:
    """Run the gateway under gunicorn."""
    from gateway.app import build_gateway
    from gateway.server import GatewayServer

    settings = _settings(config_path, serving=True)
    # Fail here, once, with one line, rather than in every worker with a traceback.
    gateway = build_gateway(settings)
    try:
        gateway.journal.create_schema()
    finally:
        gateway.close()
    click.echo(f"points-gateway: serving {settings.source}", err=True)
    _metrics_directory()
    GatewayServer(
        settings,
        bind=bind or settings.bind,
        workers=workers or settings.workers,
        threads=threads or settings.threads,
        timeout=settings.timeout,
        **({"certfile": settings.tls[0], "keyfile": settings.tls[1]} if settings.tls else {}),
    ).run()


@main.command()
@config_option
@click.argument("unique_id")
@click.option("--any", "anyone", is_flag=True, help="Issue it even if no active user has the id.")
@operator_errors
def token(config_path: str | None, unique_id: str, anyone: bool) -> None:
    """Print a valid auth_token for UNIQUE_ID (an active user's, unless --any)."""
    from gateway.app import build_gateway, token_authority
    from gateway.errors import UserNotFound

    settings = _settings(config_path, serving=True)
    if not anyone:
        gateway = build_gateway(settings)
        try:
            gateway.service.profile(unique_id)
        except UserNotFound as exc:
            click.echo(f"points-gateway: {exc.message} (--any issues a token anyway)", err=True)
            sys.exit(1)
        finally:
            gateway.close()
    click.echo(token_authority(settings).issue(unique_id))


@main.command()
def secret() -> None:
    """Print a fresh random key, for secret_key or an api key."""
    click.echo(new_key())


@main.command()
@config_option
@operator_errors
def check(config_path: str | None) -> None:
    """Validate the configuration and reach the journal and every connector."""
    from gateway.app import build_gateway

    settings = _settings(config_path)
    click.echo(f"config   ok  {settings.source}")
    gateway = build_gateway(settings)
    try:
        gateway.journal.create_schema()
        report = gateway.service.readiness()
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
    weak = [] if settings.demo else list(weak_keys(settings))
    for problem in weak:
        click.echo(f"keys     refused: {problem} ({FRESH_KEY})")
    if settings.demo:
        click.echo(f"keys     demo: {settings.source} says it is a demo; its keys are public")
    if weak:
        sys.exit(2)
    if any(v != "ok" for v in report.values()):
        sys.exit(1)


@main.command()
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


@contextmanager
def open_journal(settings: Settings) -> Iterator[Journal]:
    """The configured journal, its schema made, disposed of on leaving."""
    from gateway.journal import Journal

    store = Journal(settings.database_url)
    try:
        store.create_schema()
        yield store
    finally:
        store.dispose()


@main.group()
def journal() -> None:
    """Read the journal of operations, and settle what a points ledger left unfinished."""


def _moment(value: str | None, end: bool) -> datetime | None:
    """A date or ISO datetime as UTC; a bare --until date includes that whole day."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        flag = "--until" if end else "--since"
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD) or ISO datetime", param_hint=flag
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


EXPORT_COLUMNS = [
    "id",
    "created_at",
    "kind",
    "state",
    "member",
    "unique_id",
    "order_id",
    "amount",
    "fingerprint",
    "answer",
    "reference",  # with a points ledger: what the ledger knows the write by
    "detail",  # the last word on it (the ledger's own id, an operator's reason)
]


@journal.command("export")
@config_option
@click.option("--since", default=None, help="From this UTC date or datetime (inclusive).")
@click.option(
    "--until", default=None, help="Up to this UTC date (inclusive) or datetime (exclusive)."
)
@operator_errors
def journal_export(config_path: str | None, since: str | None, until: str | None) -> None:
    """Write the journal as CSV to stdout, oldest first (amounts in points, times in UTC)."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    with open_journal(_settings(config_path)) as store:
        writer.writerow(EXPORT_COLUMNS)
        for op in store.operations(_moment(since, end=False), _moment(until, end=True)):
            writer.writerow(
                [
                    op.id,
                    op.created_at.isoformat(),
                    op.kind,
                    op.state,
                    op.member,
                    op.unique_id,
                    op.order_id,
                    format_points(from_units(op.amount)),
                    op.fingerprint,
                    json.dumps(op.answer, sort_keys=True),
                    op.reference or "",
                    op.detail or "",
                ]
            )


# The ledger and Xoxoday commands register themselves on `main` and `journal`.
from gateway import cli_ledger, cli_xoxoday  # noqa: E402, F401
