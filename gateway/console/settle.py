"""The console's pages that act on a points ledger's operations or read the ledger: "resolve
now" on one operation or a selection (previewed before it runs), the comparison of journal and
ledger, and the lists behind the overview's numbers."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import abort, render_template, request
from flask_login import current_user

from gateway.console.overview import PAGE, operations_since, unfinished_page
from gateway.console.pages import UNFINISHED_STATES, may_resolve
from gateway.console.programs import page, page_gateway
from gateway.console.views import ActionForm
from gateway.journal.operators import Audit
from gateway.journal.records import utcnow
from gateway.service.compare import MOST_LINES, compare
from gateway.service.ledger import LedgerPointsService
from gateway.service.worker import Worker

log = logging.getLogger(__name__)
MOST_AT_ONCE = 200  # operations one "resolve now" drives: each may be a call to the ledger


def _selected() -> list[int]:
    """The operations a form names: ticked ids, or every one the unfinished filter shows."""
    if request.form.get("every"):
        kind, state = request.form.get("kind", ""), request.form.get("state", "")
        after = request.form.get("after", type=int)
        shown = unfinished_page(page_gateway().journal, kind, state, after)
        return [op.id for op in shown][:MOST_AT_ONCE]
    ids = []
    for text in request.form.getlist("ids")[:MOST_AT_ONCE]:
        if text.isdecimal() and len(text) < 19:
            ids.append(int(text))
    return list(dict.fromkeys(ids))


def _operator_form() -> None:
    if not may_resolve():
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)


@page("/unfinished/preview", methods=("POST",))
def resolve_preview() -> Any:
    """Which operations "resolve now" would drive, and how many, before it runs."""
    _operator_form()
    journal = page_gateway().journal
    found = [op for op in map(journal.operation, _selected()) if op and not op.finished]
    return render_template(
        "console/resolve.html", found=found, confirm=ActionForm(), logout=ActionForm()
    )


@page("/unfinished/resolve", methods=("POST",))
def resolve_now() -> Any:
    """Drive the selected operations now, each as far as the ledger allows (the worker's rules:
    claimed first, so a request or the background worker never sends one twice)."""
    _operator_form()
    gateway = page_gateway()
    # The program's service, on its journal: another program's ids are not found, not moved.
    moved = Worker(gateway.service, threads=1).resolve_now(_selected())
    ids = [before.id for before, _ in moved]
    shown = ", ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")
    Audit(gateway.journal).record(
        current_user.name, "resolve now", f"operations {shown}" if ids else "no operation"
    )
    log.info("console: %s resolved %d operation(s) now", current_user.name, len(moved))
    return render_template("console/resolved.html", moved=moved, logout=ActionForm())


@page("/compare")
def ledger_comparison() -> Any:
    """Journal and points ledger side by side for members, orders or references (one a line)."""
    service = page_gateway().service
    if not isinstance(service, LedgerPointsService):
        return render_template("console/compare.html", ledger=False, logout=ActionForm())
    text = request.args.get("lines", "")[: MOST_LINES * 130]
    found = compare(service, text.splitlines()) if text.strip() else None
    return render_template(
        "console/compare.html",
        ledger=True,
        text=text,
        found=found,
        most=MOST_LINES,
        logout=ActionForm(),
    )


@page("/operations")
def operation_list() -> Any:
    """Operations of the last `hours` by kind and state, newest first: what an overview number
    counts. Pages by keyset (`before`: the id the previous page ended at)."""
    kind, state = request.args.get("kind", ""), request.args.get("state", "")
    hours = min(max(request.args.get("hours", 24, type=int) or 24, 1), 24 * 90)
    before = request.args.get("before", type=int)
    since = utcnow() - timedelta(hours=hours)
    found = operations_since(page_gateway().journal, since, kind, state, PAGE, before)
    return render_template(
        "console/operations.html",
        found=found,
        kind=kind,
        state=state,
        hours=hours,
        since=since,
        more=found[-1].id if len(found) == PAGE else None,
        states=UNFINISHED_STATES,
        logout=ActionForm(),
    )
