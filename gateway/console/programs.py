"""Which program a console page is for, and whether the logged-in operator may see it.

Every page of a program is served under /console/p/<program>/: the path names the program,
and nothing else does (not the Host header, a query parameter or the session). Before the view
runs, `_bind` finds that program's Gateway (its journal bound to it, its service, its settings)
and checks the operator's scope (`Operator.sees`, read from the journal on every request, so a
changed scope holds at once). A program not served here and one the operator may not see are
the same 404, so a scoped operator learns no other program's name. A view reads
`page_gateway()`, which raises on a page no program is bound to: it never falls back to the
app's first program. Links stay within the page's program: url_for fills it in for every
console endpoint that takes one (`_same_program`).

The default program's addresses from before programs (/console/search, ...) still answer, with
a redirect to /console/p/default/... (`page`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from gateway.console.views import ActionForm, bp
from gateway.journal.operators import Audit, Operator
from gateway.programs_config import DEFAULT

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
PREFIX = "/p/<program>"


def programs() -> Any:
    """The deployment's programs (gateway/programs.py)."""
    return current_app.extensions["points_gateway_programs"]


def page_gateway() -> Any:
    """The Gateway of the program this page is for: every read and action of the page goes
    through it (its .journal, .service, .settings)."""
    gateway = g.get("console_gateway")
    if gateway is None:
        raise RuntimeError("no program is bound to this console page")
    return gateway


def visible(operator: Operator) -> list[str]:
    """The programs served here that `operator` may see, the default one first."""
    return operator.visible(list(programs().by_name))


def bind(name: str) -> Any | None:
    """Make program `name` this request's, if it is served here and the logged-in operator
    may see it; its Gateway, else None."""
    gateway = programs().named(name)
    if gateway is None or not current_user.operator.sees(name):
        return None
    g.console_gateway = gateway
    g.program = name  # the request's log line and metrics name it (configured names only)
    return gateway


def audit_everywhere(operator: Operator, action: str, target: str | None = None) -> None:
    """Record `action` (a login, a logout: no program's own) in the audit of every program
    the operator may see: each program's audit says who could see it, and when."""
    for name in visible(operator):
        gateway = programs().by_name.get(name)
        if gateway is not None:
            Audit(gateway.journal).record(operator.name, action, target)


def page(rule: str, methods: tuple[str, ...] = ("GET",), moved: bool = True) -> Callable[[F], F]:
    """Serve `view` as one program's page, at /console/p/<program><rule>, to a logged-in
    operator who may see that program. A GET page also answers at its address from before
    programs, /console<rule> (unless not `moved`), with a redirect to the default program's."""

    def register(view: F) -> F:
        endpoint = view.__name__
        bp.add_url_rule(PREFIX + rule, endpoint, login_required(view), methods=list(methods))
        if moved and methods == ("GET",):
            bp.add_url_rule(rule, f"{endpoint}_moved", _moved(endpoint), methods=["GET"])
        return view

    return register


def _moved(endpoint: str) -> Callable[..., Response]:
    def to_default(**args: Any) -> Response:
        if programs().default is None:
            abort(404)
        # The path's values and "default" last: a ?program=... in the query cannot choose.
        values = {**request.args.to_dict(flat=False), **args, "program": DEFAULT}
        return redirect(url_for(f"console.{endpoint}", **values))

    to_default.__name__ = f"{endpoint}_moved"
    return to_default


@bp.url_value_preprocessor
def _asked(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    name = values.pop("program", None) if values else None
    if name is None:  # the app's own preprocessor (gateway/api/programs.py) took it first
        name = g.pop("program_name", None)
    g.console_asked = name


@bp.before_request
def _bind() -> Any:
    """A page under /console/p/<program>/: its program bound, or a 404 (or the login)."""
    name = g.pop("console_asked", None)
    if name is None:
        return None
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if bind(name) is None:
        log.warning("console: %s asked for program %r: not theirs", current_user.name, name)
        page = render_template("console/missing.html", what="program", logout=ActionForm())
        return page, 404
    return None


@bp.url_defaults
def _same_program(endpoint: str, values: dict[str, Any]) -> None:
    """A link from a program's page goes to the same program's pages."""
    if "program" in values or not current_app.url_map.is_endpoint_expecting(endpoint, "program"):
        return
    gateway = g.get("console_gateway")
    if gateway is not None:
        values["program"] = gateway.settings.program


@bp.context_processor
def _names() -> dict[str, Any]:
    """The page's program (None on the login, the programs list), and whether its operator
    sees several (a link to the list, then)."""
    gateway = g.get("console_gateway")
    several = current_user.is_authenticated and len(visible(current_user.operator)) > 1
    return {"program": gateway.settings.program if gateway else None, "several": several}
