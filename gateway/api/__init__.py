"""HTTP: parse, authenticate, call the service, answer JSON."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request
from werkzeug.wrappers import Response

from gateway import network
from gateway.api import health, home, observe, openapi, points, programs, sso
from gateway.api.errors import register_error_handlers


def _each_request() -> Response | None:
    """In this order: the request's id and clock (every request has them, refused or not),
    its program, then that program's allowlist. One hook, the request and g read from their
    proxies once: three hooks cost a request ~10% of a balance (docs/BENCHMARKS.md)."""
    req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
    observe.start(req, ctx)
    refused = programs.find(req, ctx)
    if refused is None:
        network.check_allowlist(req, ctx)
    return refused


def _after_each_request(_exc: BaseException | None) -> None:
    ctx: Any = g._get_current_object()
    observe.forget(ctx)
    programs.release(ctx)


def register(app: Flask) -> None:
    observe.register(app)
    programs.install(app)
    app.before_request(_each_request)
    app.teardown_request(_after_each_request)
    app.register_blueprint(points.bp)
    app.register_blueprint(sso.bp)
    # The same endpoints under each program's own prefix: /p/<program>/v1/points/balance, ...
    app.register_blueprint(points.bp, url_prefix=f"{programs.PREFIX}/v1", name="program_points")
    app.register_blueprint(sso.bp, url_prefix=f"{programs.PREFIX}/v1/sso", name="program_sso")
    app.register_blueprint(health.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
