"""Xoxoday's SSO and token endpoints on `responses`, as ../shared/CONTRACT.md describes them."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import requests
import responses

BASE = "https://stagingstores.xoxoday.com"
CLIENT_ID, CLIENT_SECRET = "acme-client-id", "xoxoday-client-s3cret-value"
ACCESS, REFRESH = "access-token-0001", "refresh-token-0001"
SECRETS = (CLIENT_SECRET, ACCESS, REFRESH)


class FakeXoxoday:
    """One live access token at a time; a refresh makes the next pair (and counts itself)."""

    def __init__(self, mock: responses.RequestsMock, refresh_delay: float = 0.0) -> None:
        self.access, self.refresh = ACCESS, REFRESH
        self.generation = 1
        self.refreshes = 0
        self.sso_calls: list[dict[str, Any]] = []
        self.refresh_delay = refresh_delay
        self.lock = threading.Lock()
        mock.add_callback(
            responses.POST, f"{BASE}/chef/v1/oauth/sso/stores/company", callback=self._sso
        )
        mock.add_callback(
            responses.POST, f"{BASE}/chef/v1/oauth/token/company", callback=self._token
        )

    def expire_access_token(self) -> None:
        with self.lock:
            self.access = f"revoked-{self.access}"

    def _sso(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if request.headers.get("Authorization") != f"Bearer {self.access}":
            return 401, {}, json.dumps({"error": "unauthorized", "message": "invalid token"})
        body = json.loads(request.body or b"{}")
        tpd = body.get("tpd") or {}
        if not body.get("user_input") or not tpd.get("auth_token") or not tpd.get("unique_id"):
            return 400, {}, json.dumps({"error": "bad_request", "message": "tpd is incomplete"})
        self.sso_calls.append(body)
        return 200, {}, json.dumps({"data": {"ssoToken": f"sso.{len(self.sso_calls)}"}})

    def _token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        time.sleep(self.refresh_delay)
        with self.lock:
            if (
                body.get("grant_type") != "refresh_token"
                or body.get("refresh_token") != self.refresh
                or (body.get("client_id"), body.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET)
            ):
                return 401, {}, json.dumps({"error": "invalid_grant"})
            self.refreshes += 1
            self.generation += 1
            self.access = f"access-token-{self.generation:04d}"
            self.refresh = f"refresh-token-{self.generation:04d}"
            now_ms = int(time.time() * 1000)
            return (
                200,
                {},
                json.dumps(
                    {
                        "access_token": self.access,
                        "token_type": "bearer",
                        "expires_in": 1296000,
                        "refresh_token": self.refresh,
                        "access_token_expiry": now_ms + 1296000 * 1000,
                        "refresh_token_expiry": now_ms + 30 * 86400 * 1000,
                    }
                ),
            )


PORTAL_KEY = "portal-key-0123456789abcdef-ghijklmnop"


def config_toml(**sso: Any) -> str:
    lines = [
        "[xoxoday]",
        'environment = "sandbox"',
        f'client_id = "{CLIENT_ID}"',
        f'client_secret = "{CLIENT_SECRET}"',
        f'access_token = "{ACCESS}"',
        f'refresh_token = "{REFRESH}"',
        "[sso]",
        f'portal_api_keys = ["{PORTAL_KEY}"]',
        'otp = "primary_email"',
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in sso.items()]
    return "\n".join(lines) + "\n"
