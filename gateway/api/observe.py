"""Per request: a request id, one log line, and the request metrics; and GET /metrics."""

from __future__ import annotations

import functools
import itertools
import logging
import os
import re
import time
from typing import Any

from flask import Blueprint, Flask, Request, Response, current_app, g, request

from gateway.journal.records import REQUEST_ID as journaled_request

bp = Blueprint("observe", __name__)
log = logging.getLogger("gateway.request")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
IDS = ("unique_id", "order_id", "transactionid", "employee_id")


class RequestIds:
    """New request ids, 32 hex digits: 80 random bits per process, then a counter.

    As unique as uuid4 for telling requests apart in logs, without a getrandom() call and a
    UUID object per request. The prefix is drawn again in a forked child.
    """

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = os.urandom(10).hex()
        self._count = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFF:012x}"


request_ids = RequestIds()


@bp.get("/metrics")
def metrics() -> Response:
    from gateway import metrics as prometheus

    served = list(current_app.extensions["points_gateway_programs"].by_name)
    several = served if served != ["default"] else None  # one program: the labels of old
    body, headers = prometheus.exposition(current_app.extensions["points_gateway"].journal, several)
    return Response(body, headers=headers)


def note_ids(body: dict[str, object]) -> None:
    """Remember the body, whose ids (never its tokens or keys) go in the request's log line."""
    g.body = body


def _ids(ctx: Any) -> dict[str, str]:
    body = ctx.get("body") or {}
    return {k: str(body[k])[:128] for k in IDS if isinstance(body.get(k), str | int)}


# A metric's labelled child, looked up once per label set: labels() takes a lock each call.
# The label values are bounded: endpoints are the app's, programs the configured ones.
@functools.cache
def _requests(endpoint: str, outcome: str, program: str) -> Any:
    from gateway import metrics as prometheus

    return prometheus.REQUESTS.labels(endpoint, outcome, program)


@functools.cache
def _latency(endpoint: str, program: str) -> Any:
    from gateway import metrics as prometheus

    return prometheus.REQUEST_SECONDS.labels(endpoint, program)


def start(req: Request, ctx: Any) -> None:
    """The request's clock and id (given by the caller when well-formed), first of all."""
    ctx.started = time.perf_counter()
    given = req.environ.get("HTTP_X_REQUEST_ID")
    ctx.request_id = given if given and REQUEST_ID.fullmatch(given) else request_ids.new()
    ctx.request_id_token = journaled_request.set(ctx.request_id)


def forget(ctx: Any) -> None:
    token = ctx.pop("request_id_token", None)
    if token is not None:
        journaled_request.reset(token)


def register(app: Flask) -> None:
    """GET /metrics, and the request's line and metrics once it is answered; start and forget
    run in the app's one before_request and teardown (gateway/api/__init__.py)."""
    app.register_blueprint(bp)

    @app.after_request
    def _finish(response: Response) -> Response:
        # The request and g, taken from their proxies once: each proxy read costs a lookup.
        req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
        seconds = time.perf_counter() - ctx.get("started", time.perf_counter())
        # A program's prefixed endpoints count as the same endpoints, labelled by program.
        endpoint = (req.endpoint or "unmatched").removeprefix("program_")
        program = ctx.get("program") or "-"
        status = response.status_code
        outcome = ctx.get("error_code") or ("ok" if status < 400 else "error")
        response.headers["X-Request-ID"] = ctx.get("request_id", "")
        if endpoint != "observe.metrics":
            _requests(endpoint, outcome, program).inc()
            _latency(endpoint, program).observe(seconds)
        level = logging.WARNING if status >= 500 else logging.INFO
        if not log.isEnabledFor(level):  # build the line's fields only when it is written
            return response
        problem = ctx.get("problem")  # why a 5xx happened: one line, never a traceback
        method, path = req.method, req.path
        log.log(
            level,
            "%s %s %d %s%s",
            method,
            path,
            status,
            outcome,
            f": {problem}" if problem else "",
            extra={
                "fields": {
                    "request_id": ctx.get("request_id"),
                    "method": method,
                    "path": path,
                    "endpoint": endpoint,
                    "program": program,
                    "status": status,
                    "outcome": outcome,
                    "duration_ms": round(seconds * 1000, 2),
                    **({"detail": problem} if problem else {}),
                    **_ids(ctx),
                }
            },
        )
        return response
