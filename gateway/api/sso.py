"""SSO launch endpoints: for the company's portal (server to server) and for a browser behind
the company's authenticating proxy."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from werkzeug.wrappers import Response as WerkzeugResponse

from gateway.api.body import load
from gateway.api.programs import current_gateway
from gateway.errors import GatewayError, Unauthorized

bp = Blueprint("sso", __name__, url_prefix="/v1/sso")


class SsoNotConfigured(GatewayError):
    error_code = "sso_not_configured"


class LaunchRequest(Schema):
    employee_id = fields.String(validate=validate.Length(min=1, max=256))
    email = fields.Email()

    @validates_schema
    def _one(self, data: dict[str, Any], **_: Any) -> None:
        if ("employee_id" in data) == ("email" in data):
            raise ValidationError("give employee_id or email, not both")


LAUNCH = LaunchRequest()


def _gateway() -> Any:
    gateway = current_gateway()
    if gateway.sso is None:
        raise SsoNotConfigured("SSO launch is not configured: add [xoxoday] to the config")
    return gateway


@bp.post("/launch")
def launch() -> dict[str, Any]:
    gw = _gateway()
    try:
        gw.portal_keys.verify(request.headers.get("X-API-Key", ""))
    except Unauthorized:
        raise Unauthorized("X-API-Key is missing or not a portal key") from None
    req = load(LAUNCH)
    by = "employee_id" if "employee_id" in req else "email"
    result = gw.sso.launch(by, req[by])
    return {
        "status": "1",
        "message": "Redirect the user to redirect_url",
        "data": {"redirect_url": result.redirect_url, "unique_id": result.unique_id},
    }


@bp.get("/redirect")
def redirect_to_store() -> WerkzeugResponse:
    gw = _gateway()
    header = gw.settings.sso["trusted_user_header"]
    if not header:
        raise SsoNotConfigured("GET /v1/sso/redirect is off: set [sso] trusted_user_header")
    user = request.headers.get(header, "").strip()
    if not user:
        raise Unauthorized(f"no {header} header: reach this through the company's sign-in proxy")
    result = gw.sso.launch(gw.settings.sso["trusted_user_field"], user)
    return redirect(result.redirect_url, 302)
