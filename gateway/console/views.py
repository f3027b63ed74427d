"""What holds for every console page: the blueprint, its forms, never cached or framed, and
every POST refused (400, nothing run) without its form's CSRF token. The pages themselves:
pages.py (overview, search, an operation, the unfinished, the audit), finance.py (statements,
reconciliation, the export), settle.py (what acts on a points ledger), each one program's
(programs.py); logging in and out: sessions.py."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

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


def deployment() -> Any:
    """The app's first program's Gateway, for what is the deployment's and no program's: the
    operators, their sessions and login attempts (journal tables no program owns), and the
    console's settings. A page reads its own program's Gateway instead (programs.py)."""
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
