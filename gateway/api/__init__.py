"""HTTP: parse, authenticate, call the service, answer JSON."""

from __future__ import annotations

from flask import Flask

from gateway.api import health, home, observe, openapi, points, sso
from gateway.api.errors import register_error_handlers


def register(app: Flask) -> None:
    app.register_blueprint(points.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(sso.bp)
    app.register_blueprint(openapi.bp)
    observe.register(app)
    register_error_handlers(app)
