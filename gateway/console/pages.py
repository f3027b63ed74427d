"""The console's pages of one program: its overview, search, an operation (and marking it),
the unfinished, the audit; and /console/ itself, the programs the operator may see (or the
only one's overview). Each reads the page's program's Gateway (programs.page_gateway)."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from gateway.console import charts
from gateway.console.ledger_calls import reporting_name
from gateway.console.overview import PAGE, overview, unfinished_page
from gateway.console.programs import bind, page, page_gateway, programs, visible
from gateway.console.views import ActionForm, MarkForm, bp
from gateway.journal.operators import Audit
from gateway.journal.records import UNFINISHED
from gateway.service.ledger import LedgerPointsService
from gateway.service.orders import member_by_email, order_story

UNFINISHED_STATES = UNFINISHED  # the journal's own list: a new state shows here too


@bp.get("/")
@login_required
def home() -> Any:
    """The programs the operator may see; the overview of the only one, when so."""
    seen = visible(current_user.operator)
    if len(seen) == 1 and bind(seen[0]) is not None:
        return overview_page()
    return render_template("console/programs.html", names=seen, logout=ActionForm())


@page("/", moved=False)
def overview_page() -> str:
    gateway = page_gateway()
    found = overview(gateway)
    assert found.history is not None
    return render_template(
        "console/overview.html",
        o=found,
        charts=charts.overview(found.history, found.ledger, found.calls),
        shared=sharing(gateway, found.calls.connector) if found.calls else 0,
        unfinished_states=UNFINISHED_STATES,
        logout=ActionForm(),
    )


def sharing(gateway: Any, connector: str) -> int:
    """How many other programs' ledgers this host counts under the same connector name: the
    metrics' counts are theirs too (a connector's metrics carry no program)."""
    return sum(
        1
        for other in list(programs().by_name.values())
        if other is not gateway
        and isinstance(other.service, LedgerPointsService)
        and reporting_name(other.service.points_connector) == connector
    )


@page("/audit")
def audit() -> str:
    before = request.args.get("before", type=int)
    entries = Audit(page_gateway().journal).recent(50, before)
    more = entries[-1].id if len(entries) == 50 else None
    return render_template("console/audit.html", entries=entries, more=more, logout=ActionForm())


@page("/search")
def search() -> str:
    """By order id, member (employee id), unique_id, ledger reference, request id or email:
    exact matches."""
    text = request.args.get("q", "").strip()[:256]
    gateway = page_gateway()
    found = gateway.journal.search(text) if text else []
    if not found and "@" in text:  # an email, where the journal knows people by employee id
        member = member_by_email(gateway.service, text)
        found = gateway.journal.search(member) if member else []
    return render_template("console/search.html", q=text, found=found, logout=ActionForm())


@page("/operations/<int:operation_id>")
def operation(operation_id: int) -> Any:
    journal = page_gateway().journal
    found = journal.operation(operation_id)  # None for another program's: its journal's alone
    if found is None:
        return render_template("console/missing.html", logout=ActionForm()), 404
    return render_template(
        "console/operation.html",
        op=found,
        story=order_story(journal, found.order_id),
        deliveries=journal.deliveries_of(found.id),
        mark=MarkForm() if current_user.may_act and not found.finished else None,
        resolve=ActionForm() if may_resolve() and not found.finished else None,
        logout=ActionForm(),
    )


@page("/unfinished")
def unfinished() -> str:
    """Operations a points ledger has not settled, oldest first, by kind and state."""
    kind, state = request.args.get("kind", ""), request.args.get("state", "")
    after = request.args.get("after", type=int)
    found = unfinished_page(page_gateway().journal, kind, state, after)
    return render_template(
        "console/unfinished.html",
        found=found,
        more=found[-1].id if len(found) == PAGE else None,
        kind=kind,
        state=state,
        states=UNFINISHED_STATES,
        resolve=ActionForm() if may_resolve() else None,
        logout=ActionForm(),
    )


def may_resolve() -> bool:
    """Resolving drives a points ledger's operations: an operator's, with a ledger configured
    for the page's program."""
    return bool(current_user.may_act) and isinstance(page_gateway().service, LedgerPointsService)


@page("/operations/<int:operation_id>/mark", methods=("POST",))
def mark(operation_id: int) -> Any:
    """Mark an unfinished operation applied or rejected, with a reason: operators only."""
    if not current_user.may_act:
        abort(403)
    form = MarkForm()
    journal = page_gateway().journal
    found = journal.operation(operation_id)
    if found is None:
        abort(404)
    if not form.validate_on_submit():  # its CSRF token passed (_csrf): the reason is missing
        return redirect(url_for("console.operation", operation_id=operation_id, problem="reason"))
    if journal.mark(found, form.state.data, form.reason.data):
        action = f"mark {form.state.data}"
        Audit(journal).record(current_user.name, action, f"operation {found.id}", form.reason.data)
    return redirect(url_for("console.operation", operation_id=operation_id))
