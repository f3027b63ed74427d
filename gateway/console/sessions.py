"""Logging in and out of the console, and the session in between.

A session lives in the journal (ConsoleSessions in gateway/journal/operators.py), so every
worker and host sees it and logging out ends it everywhere. The browser's cookie holds only
its random id: set once, at login, never sent again, expiring with the session's lifetime. The
journal ends it `session_minutes` after login however busy, and `idle_minutes` after its last
request. Flask's own signed cookie holds nothing but the forms' CSRF token (Flask-WTF); it is
emptied at login and log out, so no token from before either passes after it.

Flask-Login asks `load` who is there on each request: the session's operator, else (with
`trusted_user_header`) the one the authenticating proxy names. Flask-Login's own login in
Flask's cookie is never used: a copy of that cookie opens nothing.

A session is the deployment's, as its operator is, not a program's: the pages it opens are
those of the programs in the operator's scope, read again on every request (programs.py).
Logging in and out is written to the audit of each program the operator may see.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Request, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response

from gateway.console.access import ConsoleUser, Lockout, user_from_header
from gateway.console.demo import is_demo_password
from gateway.console.programs import audit_everywhere
from gateway.console.views import LoginForm, bp, deployment
from gateway.journal.operators import ConsoleSessions, Operators

log = logging.getLogger(__name__)
COOKIE = "points_gateway_console"


def sessions(gateway: Any) -> ConsoleSessions:
    console = gateway.settings.console
    lifetime = timedelta(minutes=console["session_minutes"])
    return ConsoleSessions(gateway.journal, lifetime, timedelta(minutes=console["idle_minutes"]))


def load(gateway: Any, request: Request) -> ConsoleUser | None:
    """Flask-Login's request loader: the operator whose live session the cookie names, else the
    one a trusted proxy names. A cookie naming no live session is cleared (_forget)."""
    session_id = request.cookies.get(COOKIE)
    if session_id:
        found = sessions(gateway).find(session_id)
        if found is not None:
            return ConsoleUser(found)
        g.console_session_ended = True
    if gateway.settings.console["trusted_user_header"]:
        return user_from_header(gateway, request)
    return None


def _cookie(response: Response, session_id: str, lifetime: timedelta) -> None:
    g.console_session_ended = False  # an ended one's cookie is replaced, not cleared after
    secure = deployment().settings.console["secure_cookies"]
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=lifetime,  # and Expires: the browser drops it when the journal ends it
        path="/console",
        secure=secure,
        httponly=True,
        samesite="Strict",
    )


def _clear_cookie(response: Response) -> None:
    secure = deployment().settings.console["secure_cookies"]
    response.delete_cookie(COOKIE, path="/console", secure=secure, httponly=True, samesite="Strict")


@bp.after_request
def _forget(response: Response) -> Response:
    if g.get("console_session_ended"):
        _clear_cookie(response)
    return response


def _login_page(form: LoginForm, problem: str | None, status: int) -> tuple[str, int]:
    return render_template("console/login.html", form=form, problem=problem), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """The login form. A POST got here with its CSRF token (views._csrf); the attempt is counted
    before the password is checked, so attempts at once cannot pass the lockout together."""
    if current_user.is_authenticated:
        return redirect(url_for("console.home"))
    form = LoginForm()
    if request.method == "GET":
        return _login_page(form, None, 200)
    if not form.validate_on_submit():
        return _login_page(form, "Give your name and your password.", 400)
    gateway = deployment()
    name, address = form.name.data, request.remote_addr
    lockout = Lockout(gateway)
    if not lockout.attempt(name, address):
        log.warning("console: login refused, locked out: %r from %s", name, address)
        return _login_page(form, "Too many failed attempts: wait a few minutes.", 429)
    if not gateway.settings.demo and is_demo_password(form.password.data):
        log.warning("console: the demo's public password refused for %r from %s", name, address)
        return _login_page(form, "That is the demo's public password: not outside a demo.", 403)
    found = Operators(gateway.journal).verify(name, form.password.data)
    if found is None:
        log.warning("console: failed login for %r from %s", name, address)
        return _login_page(form, "Wrong name or password.", 401)
    lockout.succeeded(name, address)
    place = sessions(gateway)
    session.clear()  # a new CSRF token from here on: the login page's no longer passes
    response = redirect(url_for("console.home"))
    _cookie(response, place.start(found.name), place.lifetime)  # a new id, never a given one
    audit_everywhere(found, "login", address)
    return response


@bp.post("/logout")
@login_required
def logout() -> Response:
    """End this session: deleted from the journal, so its cookie, wherever copied, opens
    nothing any more (views._csrf checked the form's token)."""
    gateway = deployment()
    audit_everywhere(current_user.operator, "logout")
    session_id = request.cookies.get(COOKIE)
    if session_id:
        sessions(gateway).end(session_id)
    logout_user()
    session.clear()
    response = redirect(url_for("console.login"))
    _clear_cookie(response)
    return response
