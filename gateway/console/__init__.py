"""The operator console at /console/: server-rendered pages for support and finance, on the same
service and journal layers as the API. Off unless `[console] enabled = true`. Each page is one
program's, at /console/p/<program>/..., open to the operators whose scope names it
(programs.py); /console/ lists the programs an operator may see.

Who gets in: operators from the journal (`points-gateway operator add`), by password through a
login form (attempts counted per address and account before the password is checked; a session
kept in the journal, see sessions.py; Flask-WTF's CSRF token on every POST), or, with
`[console] trusted_user_header`, by the name an authenticating proxy puts in that header. An
auth_token or api_key never opens it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import Flask
from flask_login import LoginManager

from gateway.console import charts, demo, finance, pages, programs, sessions, settle, views
from gateway.console.access import ConsoleUser
from gateway.service.money import format_points, from_units


def register(app: Flask, gateway: Any) -> None:
    console = gateway.settings.console
    if not console["enabled"]:
        return
    if gateway.settings.demo:
        demo.add_demo_operator(gateway.journal)
    # Flask's signed cookie holds the forms' CSRF token only (the session is in the journal:
    # sessions.py); it is signed with a key of its own, derived from secret_key.
    signing = gateway.settings.secret_keys[-1].encode()
    app.secret_key = hmac.new(signing, b"points-gateway console sessions", hashlib.sha256).digest()
    app.config.update(
        SESSION_COOKIE_NAME="points_gateway_console_csrf",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=console["secure_cookies"],
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/console",
        WTF_CSRF_TIME_LIMIT=console["session_minutes"] * 60,
        # Checked for the console's requests only, by the blueprint (views._csrf).
        WTF_CSRF_CHECK_DEFAULT=False,
        # Flask-Login's "remember me" is never offered; its cookie, were it set, is as strict.
        REMEMBER_COOKIE_PATH="/console",
        REMEMBER_COOKIE_SECURE=console["secure_cookies"],
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Strict",
    )
    views.csrf.init_app(app)
    logins = LoginManager()
    logins.login_view = "console.login"
    logins.login_message = None  # no flash: Flask's cookie keeps the CSRF token alone
    # Nobody is known by Flask's cookie, so there is nothing there to protect: who is logged in
    # comes from the journal's session on each request (or the trusted proxy's header).
    logins.session_protection = None
    logins.request_loader(lambda request: sessions.load(gateway, request))
    logins.init_app(app)
    # Amounts are kept in ten-thousandths of a point: pages show points.
    app.jinja_env.globals["points"] = lambda units: format_points(from_units(units))
    app.jinja_env.filters["points"] = format_points
    app.jinja_env.filters["seconds"] = charts.seconds
    app.jinja_env.filters["plural"] = charts.plural
    app.register_blueprint(views.bp)


# Imported for the pages they add to the blueprint.
__all__ = ["ConsoleUser", "finance", "pages", "programs", "register", "settle"]
