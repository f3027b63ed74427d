"""The console's pages for finance, of one program: a member's statement (and its CSV), the
reconciliation of orphaned debits, and the export of a date range. Each reads the page's
program's Gateway (programs.page_gateway): a member or a date range of another program's
finds nothing of theirs here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import abort, render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response

from gateway.console.exports import finance_csv, operations_csv
from gateway.console.programs import page, page_gateway
from gateway.console.views import ActionForm
from gateway.journal.operators import Audit
from gateway.journal.records import utcnow
from gateway.service.orders import statement


@page("/statement")
def member_statement() -> str:
    """One employee's balance (granted, credited, debited, refunded) and their operations."""
    member = request.args.get("member", "").strip()[:128]
    before = request.args.get("before", type=int)
    gateway = page_gateway()
    found = statement(gateway.service, member) if member else None
    ops = gateway.journal.of_member(member, 100, before) if member else []
    more = ops[-1].id if len(ops) == 100 else None
    return render_template(
        "console/statement.html", member=member, s=found, ops=ops, more=more, logout=ActionForm()
    )


@page("/statement.csv")
def member_statement_csv() -> Response:
    member = request.args.get("member", "").strip()[:128]
    gateway = page_gateway()
    ops = gateway.journal.of_member(member, None)
    Audit(gateway.journal).record(current_user.name, "download statement", member)
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in member) or "member"
    program = gateway.settings.program
    return _download(operations_csv(reversed(ops)), f"statement-{program}-{name}.csv")


def _download(text: str, filename: str) -> Response:
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@page("/reconciliation")
def reconciliation() -> str:
    """Orphaned debits and what their policy does; the finance export's form."""
    gateway = page_gateway()
    return render_template(
        "console/reconciliation.html",
        orphans=gateway.journal.orphans(),
        policy=gateway.settings.ledger["orphan_policy"],
        grace=gateway.settings.ledger["orphan_grace_seconds"],
        today=utcnow().date(),
        logout=ActionForm(),
    )


@page("/export.csv")
def finance_export() -> Any:
    """Every applied operation from `since` to `until` (UTC dates, both included), with the
    totals by kind, for finance."""
    since, until = _day("since"), _day("until")
    if since is None or until is None or until < since:
        abort(400)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    gateway = page_gateway()
    text = finance_csv(gateway.journal.operations(start, end))
    Audit(gateway.journal).record(current_user.name, "finance export", f"{since} to {until}")
    program = gateway.settings.program
    return _download(text, f"points-{program}-{since}-{until}.csv")
