"""`[xoxoday]` (its API: where, and with which credentials) and `[sso]` (how a launch looks)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors.base import Secret
from connectors.http import http_options_field

BASE_URLS = {
    "sandbox": "https://stagingstores.xoxoday.com",
    "production": "https://stores.xoxoday.com",
}


class XoxodaySection(Schema):
    environment = fields.String(load_default="sandbox", validate=validate.OneOf(list(BASE_URLS)))
    base_url = fields.Url(load_default=None, require_tld=False)  # overrides environment
    client_id = fields.String(required=True, validate=validate.Length(min=1))
    client_secret = Secret(required=True, validate=validate.Length(min=1))
    # The pair made once in Xoxoday's dashboard. Only a seed: once the journal holds a pair
    # (refreshed, or set by `points-gateway xoxoday tokens set`), that one is used.
    access_token = Secret(load_default=None)
    refresh_token = Secret(load_default=None)
    # Refresh this long before the access token expires (it lives 15 days).
    refresh_margin_seconds = fields.Integer(load_default=86400, validate=validate.Range(min=0))
    http = http_options_field()

    @validates_schema
    def _pair(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("access_token")) != bool(data.get("refresh_token")):
            raise ValidationError("give both tokens or neither", "refresh_token")


class EmailBlock(Schema):
    editable = fields.Boolean(load_default=True)
    hidden = fields.Boolean(load_default=False)
    support_alternate = fields.Boolean(load_default=True)


class PhoneBlock(Schema):
    phone_code = fields.String(load_default="+91")
    editable = fields.Boolean(load_default=False)
    hidden = fields.Boolean(load_default=False)


class SsoSection(Schema):
    # Server-to-server keys of the company's portal for POST /v1/sso/launch (X-API-Key).
    portal_api_keys = fields.List(Secret(validate=validate.Length(min=16)), load_default=list)
    # GET /v1/sso/redirect trusts this header, set by the company's authenticating proxy
    # ("" turns the endpoint off). Only ever expose it behind that proxy.
    trusted_user_header = fields.String(load_default="")
    trusted_user_field = fields.String(
        load_default="email", validate=validate.OneOf(["employee_id", "email"])
    )
    otp = fields.String(
        load_default="none",
        validate=validate.OneOf(["primary_email", "primary_phone", "alternate_email", "none"]),
    )
    email = fields.Nested(EmailBlock, load_default=lambda: EmailBlock().load({}))
    phone = fields.Nested(PhoneBlock, load_default=lambda: PhoneBlock().load({}))
