"""Every failure becomes JSON here, in one place: status "0", message, a stable error_code.

A domain error's code decides the HTTP status; a crash answers JSON 500, never HTML.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from connectors.base import ConnectorError
from gateway.errors import GatewayError
from gateway.journal import JOURNAL_DOWN, why_down

log = logging.getLogger(__name__)

HTTP_STATUS: dict[str, int] = {
    "invalid_json": 400,
    "invalid_request": 400,
    "invalid_amount": 400,
    "payload_too_large": 413,
    "request_timeout": 408,
    "unauthorized": 401,
    "ip_not_allowed": 403,
    "user_not_found": 404,
    "order_not_found": 404,
    "program_not_found": 404,
    "order_conflict": 409,
    "refund_exceeds_order": 409,
    "order_refunded": 409,
    "insufficient_points": 422,
    "ledger_refused": 422,
    "ledger_conflict": 409,
    "outcome_unknown": 503,
    "upstream_error": 502,
    "upstream_auth_failed": 502,
    "upstream_unavailable": 503,
    "journal_unavailable": 503,
    "program_busy": 503,
    "connector_misconfigured": 503,
    "sso_not_configured": 503,
    "xoxoday_refused": 502,
    "xoxoday_auth_failed": 502,
    "xoxoday_unavailable": 503,
    "internal_error": 500,
}

HTTP_ERROR_CODES: dict[int, str] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

#: Endpoints whose answers carry `status` as a number, by dialect, as the samples do.
NUMERIC_STATUS = {"legacy": {"profile"}, "current": {"profile", "balance"}}


def _numeric_status() -> bool:
    blueprint, _, name = (request.endpoint or "").partition(".")
    gateway = current_app.extensions.get("points_gateway")
    if blueprint != "points" or gateway is None:
        return False
    return name in NUMERIC_STATUS[gateway.settings.dialect_for(name)]


def failure(error_code: str, message: str, http_status: int, **extra: Any) -> Response:
    g.error_code = error_code  # for the request's log line and metrics
    status: str | int = 0 if _numeric_status() else "0"
    body = {"status": status, "message": message, "error_code": error_code, **extra}
    response = jsonify(body)
    response.status_code = http_status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(GatewayError)
    def _gateway_error(exc: GatewayError) -> Response:
        return failure(exc.error_code, exc.message, HTTP_STATUS.get(exc.error_code, 400))

    @app.errorhandler(ConnectorError)
    def _connector_error(exc: ConnectorError) -> Response:
        g.problem = str(exc)  # in the request's one log line
        message = "the points or HR system behind the gateway did not answer; try again later"
        return failure(exc.error_code, message, HTTP_STATUS.get(exc.error_code, 502))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        error_code = HTTP_ERROR_CODES.get(code, f"http_{code}")
        response = failure(error_code, exc.description or exc.name, code)
        if code == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    def _journal_down(exc: Exception) -> Response:
        # In the request's one log line, never a traceback: the reason names no statement and
        # no parameter.
        g.problem = f"journal: {why_down(exc)}"
        message = "the gateway's journal cannot be reached; nothing was changed, try again later"
        return failure("journal_unavailable", message, 503)

    for kind in JOURNAL_DOWN:
        app.register_error_handler(kind, _journal_down)

    @app.errorhandler(Exception)
    def _crash(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return failure("internal_error", "internal error", 500)
