"""Per request: a request id, one log line, and the request metrics; and GET /metrics."""

from __future__ import annotations

import functools
import itertools
import logging
import os
import re
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request

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


def _ids() -> dict[str, str]:
    body = g.get("body") or {}
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


def register(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        given = request.environ.get("HTTP_X_REQUEST_ID")
        g.request_id = given if given and REQUEST_ID.fullmatch(given) else request_ids.new()
        g.request_id_token = journaled_request.set(g.request_id)

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            journaled_request.reset(token)

    @app.after_request
    def _finish(response: Response) -> Response:
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        # A program's prefixed endpoints count as the same endpoints, labelled by program.
        endpoint = (request.endpoint or "unmatched").removeprefix("program_")
        program = g.get("program") or "-"
        outcome = g.get("error_code") or ("ok" if response.status_code < 400 else "error")
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if endpoint != "observe.metrics":
            _requests(endpoint, outcome, program).inc()
            _latency(endpoint, program).observe(seconds)
        level = logging.WARNING if response.status_code >= 500 else logging.INFO
        if not log.isEnabledFor(level):  # build the line's fields only when it is written
            return response
        problem = g.get("problem")  # why a 5xx happened: one line, never a traceback
        log.log(
            level,
            "%s %s %d %s%s",
            request.method,
            request.path,
            response.status_code,
            outcome,
            f": {problem}" if problem else "",
            extra={
                "fields": {
                    "request_id": g.get("request_id"),
                    "method": request.method,
                    "path": request.path,
                    "endpoint": endpoint,
                    "program": program,
                    "status": response.status_code,
                    "outcome": outcome,
                    "duration_ms": round(seconds * 1000, 2),
                    **({"detail": problem} if problem else {}),
                    **_ids(),
                }
            },
        )
        return response
