"""Which program a request is for, found before anything else: `/p/<program>/...` names it;
otherwise the Host header, when a program lists it in `hosts`; otherwise the default program.
Every view below reads `current_gateway()`, never a global; a program's request slots (its
`max_concurrent_requests`) are taken here and given back when the request ends."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, current_app, g
from werkzeug.wrappers import Response

from gateway.api.errors import failure

#: The blueprints whose requests belong to a program (each registered twice: see register).
PROGRAM_BLUEPRINTS = frozenset({"points", "sso", "program_points", "program_sso"})
PREFIX = "/p/<program>"


def current_gateway() -> Any:
    """The Gateway of the request's program (the app's first one outside a program's
    request: health pages, the console)."""
    found = g.get("gateway")
    return found if found is not None else current_app.extensions["points_gateway"]


def install(app: Flask) -> None:
    @app.url_value_preprocessor
    def _program_from_path(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values and "program" in values:
            g.program_name = values.pop("program")


def find(req: Request, ctx: Any) -> Response | None:
    """Set the request's program (ctx.gateway), taking one of its request slots; or answer
    why not. Before the allowlist: that is the program's."""
    if req.blueprint not in PROGRAM_BLUEPRINTS:
        return None
    programs = current_app.extensions["points_gateway_programs"]
    name = ctx.pop("program_name", None)
    if name is not None:
        gateway = programs.named(name)
    else:
        gateway = programs.for_host(req.host) or programs.default
    if gateway is None:
        return failure("program_not_found", "no such program is served here", 404)
    ctx.program = gateway.settings.program  # for the request's log line and metrics
    if not programs.admit(gateway):
        ctx.problem = f"program {ctx.program}: every request slot is taken"
        message = "too many requests for this program at once; try again shortly"
        return failure("program_busy", message, 503)
    ctx.gateway = gateway
    return None


def release(ctx: Any) -> None:
    """Give the request's slot back to its program, when it took one."""
    gateway = ctx.pop("gateway", None)
    if gateway is not None:
        current_app.extensions["points_gateway_programs"].release(gateway)
