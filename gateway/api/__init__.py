"""HTTP: parse, authenticate, call the service, answer JSON."""

from __future__ import annotations

from flask import Flask

from gateway.api import health, home, observe, openapi, points, programs, sso
from gateway.api.errors import register_error_handlers


def register(app: Flask) -> None:
    observe.register(app)  # first: every request has its id and its log line, refused or not
    programs.install(app)  # then: everything after it knows the request's program
    app.register_blueprint(points.bp)
    app.register_blueprint(sso.bp)
    # The same endpoints under each program's own prefix: /p/<program>/v1/points/balance, ...
    app.register_blueprint(points.bp, url_prefix=f"{programs.PREFIX}/v1", name="program_points")
    app.register_blueprint(sso.bp, url_prefix=f"{programs.PREFIX}/v1/sso", name="program_sso")
    app.register_blueprint(health.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
