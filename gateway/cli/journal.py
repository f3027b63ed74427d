"""The journal's commands: `journal export`, and for a points ledger `worker`, `journal pending`,
`journal resolve` and `journal orphans`."""

from __future__ import annotations

import csv
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click

from gateway.cli.base import (
    _settings,
    built,
    config_option,
    journal,
    main,
    open_journal,
    operator_errors,
    program_option,
)
from gateway.journal import Operation
from gateway.service.money import format_points, from_units
from gateway.spreadsheet import cell

STILL_UNFINISHED = 3  # `journal resolve`: some operations could not be settled yet


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


@journal.command("export", short_help="Write the journal as CSV to stdout.")
@config_option
@program_option
@click.option("--since", default=None, help="From this UTC date or datetime (inclusive).")
@click.option(
    "--until", default=None, help="Up to this UTC date (inclusive) or datetime (exclusive)."
)
@click.option(
    "--raw",
    is_flag=True,
    help="Write values exactly as journaled (by default a value that begins like a spreadsheet "
    "formula, = + - @, gets a leading apostrophe).",
)
@operator_errors
def journal_export(
    config_path: str | None, since: str | None, until: str | None, raw: bool
) -> None:
    """Write the journal as CSV to stdout, oldest first (amounts in points, times in UTC)."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    safe = (lambda value: value) if raw else cell
    with open_journal(_settings(config_path)) as store:
        writer.writerow(EXPORT_COLUMNS)
        for op in store.operations(_moment(since, end=False), _moment(until, end=True)):
            writer.writerow(
                safe(value)
                for value in [
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


@contextmanager
def _ledger_worker(config_path: str | None) -> Iterator[Any]:
    from gateway.service.ledger import LedgerPointsService
    from gateway.service.worker import Worker

    settings = _settings(config_path, serving=True)
    gateway = built(settings)
    try:
        if not isinstance(gateway.service, LedgerPointsService):
            # A healthy setup: cron running these on it must not alert.
            click.echo(
                f"nothing to do: points are kept in the journal ({settings.points.name!r} is "
                "not a points ledger), which applies every operation at once",
                err=True,
            )
            sys.exit(0)
        gateway.journal.require_schema(settings.auto_migrate)
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


@main.command(short_help="Apply owed refunds and credits, settle unknown debits.")
@config_option
@program_option
@click.option(
    "--once",
    is_flag=True,
    help="One pass over what is due, then exit: a line for each operation moved or left (with "
    "when it is due) and a summary line.",
)
@operator_errors
def worker(config_path: str | None, once: bool) -> None:
    """Apply owed refunds and credits and settle unknown debits, until stopped."""
    with _ledger_worker(config_path) as w:
        if once:
            _once(w)
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        w.run_forever(stop)


def _once(w: Any) -> None:
    """One pass, saying what it moved, what it left and when each is due, and a summary on
    stderr: cron shows an operator something whatever happened."""
    moved = w.run_once()
    for op in moved:
        click.echo(_line(op))
    now = datetime.now(UTC)
    waiting = w.waiting(moved)
    for left in waiting:
        op = left.op
        click.echo(
            f"{op.id:>6}  skipped: {op.kind} {op.order_id} ({op.state}), {left.why}; "
            f"due {_due(left.due, now)}"
        )
    dues = [d for d in [op.next_attempt_at for op in moved if not op.finished] if d] + [
        left.due for left in waiting if left.due is not None
    ]
    nearest = f"; next due {_due(min(dues), now)}" if dues else ""
    click.echo(f"worker: {len(moved)} moved, {len(waiting)} skipped{nearest}", err=True)


def _due(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never by itself"
    seconds = max(0, round((at - now).total_seconds()))
    if seconds == 0:
        return "now"
    minutes, rest = divmod(seconds, 60)
    wait = f"{minutes} min {rest} s" if minutes else f"{rest} s"
    return f"{at.isoformat(timespec='seconds')} (in {wait})"


@journal.command("pending", short_help="List what the points ledger has not settled.")
@config_option
@program_option
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


@journal.command("resolve", short_help="Settle what is unfinished now, or mark one by hand.")
@config_option
@program_option
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


@journal.command("orphans", short_help="List debits applied but answered a failure.")
@config_option
@program_option
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
