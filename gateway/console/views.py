"""The console's pages: the overview, search, an operation, the unfinished, statements, the
audit; and what holds for every page: never cached or framed, and every POST refused (400,
nothing run) without its form's CSRF token. Logging in and out: sessions.py."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from gateway.console import charts
from gateway.console.exports import finance_csv, operations_csv
from gateway.console.overview import PAGE, overview, unfinished_page
from gateway.journal.operators import Audit
from gateway.journal.records import UNFINISHED, utcnow
from gateway.service.ledger import LedgerPointsService
from gateway.service.orders import member_by_email, order_story, statement

bp = Blueprint(
    "console", __name__, url_prefix="/console", template_folder="templates", static_folder="static"
)
log = logging.getLogger(__name__)
#: Flask-WTF's CSRF check, run for the console's requests only (the API's JSON endpoints take
#: no forms): see _csrf below and register() in __init__.py.
csrf = CSRFProtect()
REFUSED = "The form expired or was not sent from this page: try again."


class LoginForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class ActionForm(FlaskForm):
    """A form with nothing but its CSRF token (log out)."""


class MarkForm(FlaskForm):
    """An operator's decision on an unfinished operation, with the reason it is kept with."""

    state = SelectField("Mark as", choices=["applied", "rejected"])
    reason = StringField("Reason", validators=[DataRequired(), Length(min=3, max=500)])


def current_gateway() -> Any:
    return current_app.extensions["points_gateway"]


@bp.after_request
def _private(response: Response) -> Response:
    # Operator pages: never cached, never framed.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    return response


@bp.before_request
def _csrf() -> None:
    """Every POST to the console (log in and out included) carries its form's CSRF token, and
    over HTTPS comes from a page of this host (its Referer): else CSRFError, a 400, before the
    view or anything it would change runs."""
    csrf.protect()


@bp.errorhandler(CSRFError)
def _refused(error: CSRFError) -> tuple[str, int]:
    log.warning("console: %s %s refused: %s", request.method, request.path, error.description)
    if request.endpoint == "console.login":
        return render_template("console/login.html", form=LoginForm(), problem=REFUSED), 400
    return render_template("console/refused.html", problem=REFUSED, logout=ActionForm()), 400


@bp.get("/")
@login_required
def home() -> str:
    found = overview(current_gateway())
    assert found.history is not None
    return render_template(
        "console/overview.html",
        o=found,
        charts=charts.overview(found.history, found.ledger, found.calls),
        unfinished_states=UNFINISHED_STATES,
        logout=ActionForm(),
    )


@bp.get("/audit")
@login_required
def audit() -> str:
    before = request.args.get("before", type=int)
    entries = Audit(current_gateway().journal).recent(50, before)
    more = entries[-1].id if len(entries) == 50 else None
    return render_template("console/audit.html", entries=entries, more=more, logout=ActionForm())


@bp.get("/search")
@login_required
def search() -> str:
    """By order id, member (employee id), unique_id, ledger reference, request id or email:
    exact matches."""
    text = request.args.get("q", "").strip()[:256]
    journal = current_gateway().journal
    found = journal.search(text) if text else []
    if not found and "@" in text:  # an email, where the journal knows people by employee id
        member = member_by_email(current_gateway().service, text)
        found = journal.search(member) if member else []
    return render_template("console/search.html", q=text, found=found, logout=ActionForm())


@bp.get("/operations/<int:operation_id>")
@login_required
def operation(operation_id: int) -> Any:
    journal = current_gateway().journal
    found = journal.operation(operation_id)
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


UNFINISHED_STATES = UNFINISHED  # the journal's own list: a new state shows here too


@bp.get("/unfinished")
@login_required
def unfinished() -> str:
    """Operations a points ledger has not settled, oldest first, by kind and state."""
    kind, state = request.args.get("kind", ""), request.args.get("state", "")
    after = request.args.get("after", type=int)
    found = unfinished_page(current_gateway().journal, kind, state, after)
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
    """Resolving drives a points ledger's operations: an operator's, with a ledger configured."""
    return bool(current_user.may_act) and isinstance(current_gateway().service, LedgerPointsService)


@bp.post("/operations/<int:operation_id>/mark")
@login_required
def mark(operation_id: int) -> Any:
    """Mark an unfinished operation applied or rejected, with a reason: operators only."""
    if not current_user.may_act:
        abort(403)
    form = MarkForm()
    journal = current_gateway().journal
    found = journal.operation(operation_id)
    if found is None:
        abort(404)
    if not form.validate_on_submit():  # its CSRF token passed (_csrf): the reason is missing
        return redirect(url_for("console.operation", operation_id=operation_id, problem="reason"))
    if journal.mark(found, form.state.data, form.reason.data):
        action = f"mark {form.state.data}"
        Audit(journal).record(current_user.name, action, f"operation {found.id}", form.reason.data)
    return redirect(url_for("console.operation", operation_id=operation_id))


@bp.get("/statement")
@login_required
def member_statement() -> str:
    """One employee's balance (granted, credited, debited, refunded) and their operations."""
    member = request.args.get("member", "").strip()[:128]
    before = request.args.get("before", type=int)
    found = statement(current_gateway().service, member) if member else None
    ops = current_gateway().journal.of_member(member, 100, before) if member else []
    more = ops[-1].id if len(ops) == 100 else None
    return render_template(
        "console/statement.html", member=member, s=found, ops=ops, more=more, logout=ActionForm()
    )


@bp.get("/statement.csv")
@login_required
def member_statement_csv() -> Response:
    member = request.args.get("member", "").strip()[:128]
    ops = current_gateway().journal.of_member(member, None)
    Audit(current_gateway().journal).record(current_user.name, "download statement", member)
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in member) or "member"
    return _download(operations_csv(reversed(ops)), f"statement-{name}.csv")


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


@bp.get("/reconciliation")
@login_required
def reconciliation() -> str:
    """Orphaned debits and what their policy does; the finance export's form."""
    gateway = current_gateway()
    return render_template(
        "console/reconciliation.html",
        orphans=gateway.journal.orphans(),
        policy=gateway.settings.ledger["orphan_policy"],
        grace=gateway.settings.ledger["orphan_grace_seconds"],
        today=utcnow().date(),
        logout=ActionForm(),
    )


@bp.get("/export.csv")
@login_required
def finance_export() -> Any:
    """Every applied operation from `since` to `until` (UTC dates, both included), with the
    totals by kind, for finance."""
    since, until = _day("since"), _day("until")
    if since is None or until is None or until < since:
        abort(400)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)
    gateway = current_gateway()
    text = finance_csv(gateway.journal.operations(start, end))
    Audit(gateway.journal).record(current_user.name, "finance export", f"{since} to {until}")
    return _download(text, f"points-{since}-{until}.csv")
