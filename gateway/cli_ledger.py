"""The commands for a points ledger: `worker`, `journal pending`, `journal resolve`."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from gateway.cli import _settings, config_option, journal, main, open_journal, operator_errors
from gateway.journal import Operation
from gateway.service.money import format_points, from_units

STILL_UNFINISHED = 3  # `journal resolve`: some operations could not be settled yet


@contextmanager
def _ledger_worker(config_path: str | None) -> Iterator[Any]:
    from gateway.app import build_gateway
    from gateway.service.ledger import LedgerPointsService
    from gateway.service.worker import Worker

    settings = _settings(config_path, serving=True)
    gateway = build_gateway(settings)
    try:
        if not isinstance(gateway.service, LedgerPointsService):
            # A healthy setup: cron running these on it must not alert.
            click.echo(
                f"nothing to do: points are kept in the journal ({settings.points.name!r} is "
                "not a points ledger), which applies every operation at once",
                err=True,
            )
            sys.exit(0)
        gateway.journal.create_schema()
        ledger = settings.ledger
        yield Worker(gateway.service, ledger["worker_interval_seconds"], ledger["worker_threads"])
    finally:
        gateway.close()


def _line(op: Operation) -> str:
    when = op.next_attempt_at.isoformat(timespec="seconds") if op.next_attempt_at else "-"
    return (
        f"{op.id:>6}  {op.created_at.isoformat(timespec='seconds')}  {op.kind:<6}  "
        f"{op.state:<8}  {op.member:<16}  {op.order_id:<20}  "
        f"{format_points(from_units(op.amount)):>10}  tries={op.attempts}  next={when}  "
        f"{op.detail or ''}"
    ).rstrip()


@main.command()
@config_option
@click.option("--once", is_flag=True, help="One pass over what is due, then exit.")
@operator_errors
def worker(config_path: str | None, once: bool) -> None:
    """Apply owed refunds and credits and settle unknown debits, until stopped."""
    with _ledger_worker(config_path) as w:
        if once:
            for op in w.run_once():
                click.echo(_line(op))
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        w.run_forever(stop)


@journal.command("pending")
@config_option
@operator_errors
def journal_pending(config_path: str | None) -> None:
    """List operations the points ledger has not settled (received, sent, unknown)."""
    with _ledger_worker(config_path) as w:
        pending = w.journal.unfinished()
        for op in pending:
            click.echo(_line(op))
        owed = sum(op.amount for op in pending if op.kind != "debit")
        click.echo(
            f"{len(pending)} unfinished; refunds and credits owed: "
            f"{format_points(from_units(owed))} points",
            err=True,
        )


@journal.command("resolve")
@config_option
@click.option("--id", "op_id", type=int, default=None, help="Mark this operation by hand.")
@click.option(
    "--as", "state", type=click.Choice(["applied", "rejected"]), help="What the ledger did."
)
@click.option("--reason", default=None, help="Why (kept in the journal).")
@operator_errors
def journal_resolve(
    config_path: str | None, op_id: int | None, state: str | None, reason: str | None
) -> None:
    """Drive every unfinished operation as far as the ledger allows now, or mark one by hand
    (--id N --as applied|rejected --reason TEXT). Exit 3 while some remain unfinished."""
    with _ledger_worker(config_path) as w:
        if op_id is not None:
            if state is None or not reason:
                raise click.UsageError("--id needs --as applied|rejected and --reason")
            op = w.journal.operation(op_id)
            if op is None:
                raise click.BadParameter(f"no operation {op_id}", param_hint="--id")
            if not w.journal.mark(op, state, reason):
                click.echo(f"operation {op_id} is {op.state} already: left as it is", err=True)
                sys.exit(1)
            click.echo(_line(w.journal.operation(op_id) or op))
            return
        for op in w.run_once(everything=True):
            click.echo(_line(op))
        left = len(w.journal.unfinished())
        click.echo(f"{left} unfinished", err=True)
        if left:
            sys.exit(STILL_UNFINISHED)


@journal.command("orphans")
@config_option
@operator_errors
def journal_orphans(config_path: str | None) -> None:
    """List debits applied in the ledger but answered a failure and not delivered again:
    refunded or reported (by [ledger] orphan_policy), or still within orphan_grace_seconds."""
    with open_journal(_settings(config_path)) as store:
        found = store.orphans()
        for op in found:
            since = op.answered_at.isoformat(timespec="seconds") if op.answered_at else "-"
            click.echo(
                f"{_line(op)}  answered={op.answered} at={since} orphan={op.orphan or 'waiting'}"
            )
    click.echo(f"{len(found)} orphans", err=True)
