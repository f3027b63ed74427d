"""How a configured REST connector proves who it is: basic, a bearer token, an API key header,
or an OAuth2 access token got with the client-credentials or the refresh-token grant.

An OAuth2 token is fetched once, kept until shortly before it expires, and shared by every
thread of the process: when it expires or is refused, one thread fetches the next while the
others wait for it (RFC 6749 sections 4.4 and 6). Credentials are Secret options, so they are
redacted from every log line, and a refused token request says so without echoing them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors.base import Secret, UpstreamAuthFailed, UpstreamError
from connectors.http import HttpClient, json_of, short_text

KINDS = ["none", "basic", "bearer", "api_key", "oauth2_client_credentials", "oauth2_refresh_token"]
#: Renewed this long before the token says it expires, so no call goes out with a dying one.
EARLY_SECONDS = 60.0


class AuthOptions(Schema):
    """The `auth` table of a configured REST connector."""

    type = fields.String(load_default="none", validate=validate.OneOf(KINDS))
    # Secret too: some systems take an API key as the Basic username (BambooHR).
    username = Secret(load_default=None)
    password = Secret(load_default=None)
    token = Secret(load_default=None)
    api_key = Secret(load_default=None)
    api_key_header = fields.String(load_default="X-API-Key")
    # Text put before the key in its header ("Zoho-oauthtoken ", "Basic "): some systems want it.
    api_key_prefix = fields.String(load_default="")
    token_url = fields.Url(load_default=None, schemes={"https", "http"}, require_tld=False)
    client_id = fields.String(load_default=None)
    client_secret = Secret(load_default=None)
    refresh_token = Secret(load_default=None)
    scope = fields.String(load_default=None)
    # A system whose token endpoint wants a grant type of its own (Keka's "kekaapi").
    grant_type = fields.String(load_default=None)
    # Further form fields the token request carries, secret (Keka's api_key) or not.
    token_params = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    token_secrets = fields.Dict(keys=fields.String(), values=Secret(), load_default=dict)
    # Where an OAuth2 access token goes: "Authorization: Bearer <token>" unless a system wants
    # its own header or prefix (Zoho: "Zoho-oauthtoken "; greytHR: ACCESS-TOKEN, no prefix).
    token_header = fields.String(load_default="Authorization")
    token_prefix = fields.String(load_default="Bearer ")
    # "body": client_id and client_secret in the form; "basic": as HTTP Basic (RFC 6749 2.3.1).
    client_auth = fields.String(load_default="body", validate=validate.OneOf(["body", "basic"]))

    @validates_schema
    def _complete(self, data: dict[str, Any], **_: Any) -> None:
        needs = {
            "basic": ["username", "password"],
            "bearer": ["token"],
            "api_key": ["api_key"],
            "oauth2_client_credentials": ["token_url", "client_id", "client_secret"],
            "oauth2_refresh_token": ["token_url", "client_id", "refresh_token"],
        }.get(data["type"], [])
        missing = [name for name in needs if not data.get(name)]
        if missing:
            raise ValidationError(f"auth type {data['type']!r} needs {', '.join(missing)}")


class Authenticator:
    """Adds credentials to each request; with OAuth2, gets and renews the access token."""

    def __init__(
        self, options: dict[str, Any], client: HttpClient, now: Callable[[], float] = time.time
    ) -> None:
        self.options = options
        self.kind: str = options["type"]
        self.client = client
        self._now = now
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._generation = 0  # bumped by each new token: who saw a refusal of which token
        if self.kind == "basic":
            client.session.auth = (options["username"], options["password"])

    @property
    def oauth2(self) -> bool:
        return self.kind.startswith("oauth2")

    def headers(self) -> tuple[dict[str, str], int]:
        """The headers a call carries now, and the generation of the token among them."""
        if self.kind == "bearer":
            return {"Authorization": f"Bearer {self.options['token']}"}, 0
        if self.kind == "api_key":
            value = self.options["api_key_prefix"] + self.options["api_key"]
            return {self.options["api_key_header"]: value}, 0
        if not self.oauth2:
            return {}, 0
        with self._lock:
            if self._token is None or self._now() >= self._expires_at:
                self._fetch()
            header = {self.options["token_header"]: self.options["token_prefix"] + self._token}
            return header, self._generation

    def refused(self, generation: int) -> None:
        """A call with the token of `generation` was answered 401: the next call gets a new
        token, fetched once however many threads saw the refusal."""
        if not self.oauth2:
            return
        with self._lock:
            if generation == self._generation:
                self._token = None

    def _fetch(self) -> None:
        o = self.options
        form: dict[str, str] = {**o["token_params"], **o["token_secrets"]}
        if self.kind == "oauth2_refresh_token":
            form.update(
                grant_type=o["grant_type"] or "refresh_token", refresh_token=o["refresh_token"]
            )
        else:
            form["grant_type"] = o["grant_type"] or "client_credentials"
        if o["scope"]:
            form["scope"] = o["scope"]
        auth = None
        if o["client_auth"] == "basic":
            auth = (o["client_id"], o["client_secret"] or "")
        else:
            form["client_id"] = o["client_id"]
            if o["client_secret"]:
                form["client_secret"] = o["client_secret"]
        response = self.client.request(
            "POST", o["token_url"], idempotent=True, data=form, auth=auth, refused=_refusal
        )
        answer = json_of(response)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise UpstreamError(
                f"{self.client.name}: the token endpoint answered HTTP {response.status_code} "
                "without an access_token"
            )
        lifetime = _seconds(answer.get("expires_in"), 3600.0)
        self._token = token
        self._expires_at = self._now() + max(lifetime - EARLY_SECONDS, lifetime / 2)
        self._generation += 1
        if isinstance(answer.get("refresh_token"), str) and self.kind == "oauth2_refresh_token":
            # A rotating refresh token (RFC 6749 10.4): the old one may no longer work.
            self.options = {**self.options, "refresh_token": answer["refresh_token"]}


def _refusal(response: requests.Response) -> bool:
    """A token endpoint's refusal of the credentials themselves (RFC 6749 5.2)."""
    if response.status_code in (401, 403):
        return True
    if response.status_code == 400:
        answer = json_of(response)
        code = answer.get("error") if isinstance(answer, dict) else None
        return code in ("invalid_client", "invalid_grant", "unauthorized_client")
    return False


def _seconds(value: Any, default: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if seconds > 0 else default


def auth_failed(name: str, response: requests.Response) -> UpstreamAuthFailed:
    said = short_text(response.text, 120)
    return UpstreamAuthFailed(f"{name}: credentials refused (HTTP {response.status_code}): {said}")
