"""Xoxoday's company API: the SSO token for a user's storefront visit, and the token refresh.

`POST {base}/chef/v1/oauth/sso/stores/company` (Bearer access token) answers
`{"data": {"ssoToken": ...}}`; the user then goes to `{base}/chef/v1/oauth/redirect/stores/<it>`.
`POST {base}/chef/v1/oauth/token/company` with the refresh grant answers a new pair.
See ../shared/CONTRACT.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from connectors.base import ConnectorError
from connectors.http import HttpClient, HttpPolicy, short_text
from gateway.errors import GatewayError
from gateway.journal.records import utcnow
from gateway.xoxoday.tokens import (
    TokenPair,
    Tokens,
    TokenStore,
    XoxodayAuthFailed,
    XoxodayUnavailable,
)

SSO_PATH = "/chef/v1/oauth/sso/stores/company"
TOKEN_PATH = "/chef/v1/oauth/token/company"
REDIRECT_PATH = "/chef/v1/oauth/redirect/stores/"


class XoxodayRefused(GatewayError):
    """Xoxoday answered 400 to the SSO call: its message says why."""

    error_code = "xoxoday_refused"


class XoxodayApi:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        store: TokenStore,
        seed: TokenPair | None = None,
        refresh_margin_seconds: float = 86400,
        http: dict[str, Any] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.client = HttpClient("xoxoday", HttpPolicy(**(http or {})), session)
        self.tokens = Tokens(store, self.refresh, refresh_margin_seconds, seed)

    def redirect_url(self, sso_token: str) -> str:
        return self.base_url + REDIRECT_PATH + quote(sso_token, safe="")

    def sso_token(self, user_input: str, tpd: dict[str, Any]) -> str:
        """The SSO token for one visit; a refused access token is refreshed once."""
        body = {"user_input": user_input, "tpd": tpd}
        token = self.tokens.access_token()
        for last_try in (False, True):
            response = self._post(SSO_PATH, body, {"Authorization": f"Bearer {token}"})
            if response.status_code != 401:
                break
            if last_try:
                raise XoxodayAuthFailed("Xoxoday refused a freshly refreshed access token")
            token = self.tokens.refresh(token)
        answer = _json(response)
        if response.status_code == 400:
            message = answer.get("message") or answer.get("error") or "bad request"
            raise XoxodayRefused(f"Xoxoday refused the SSO launch: {message}")
        data = answer.get("data")
        sso = data.get("ssoToken") if isinstance(data, dict) else None
        if response.status_code != 200 or not isinstance(sso, str) or not sso:
            raise XoxodayUnavailable(
                f"Xoxoday's SSO call answered HTTP {response.status_code}: "
                f"{short_text(response.text)}"
            )
        return sso

    def refresh(self, refresh_token: str) -> TokenPair:
        body = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        response = self._post(TOKEN_PATH, body, {})
        answer = _json(response)
        if response.status_code in (400, 401, 403):
            raise XoxodayAuthFailed(
                f"Xoxoday refused the token refresh (HTTP {response.status_code}): set a new "
                "pair with `points-gateway xoxoday tokens set`"
            )
        access, refresh = answer.get("access_token"), answer.get("refresh_token")
        if response.status_code != 200 or not access or not refresh:
            raise XoxodayUnavailable(
                f"Xoxoday's token refresh answered HTTP {response.status_code}"
            )
        return TokenPair(
            str(access),
            str(refresh),
            _expiry(answer.get("access_token_expiry"), answer.get("expires_in")),
            _expiry(answer.get("refresh_token_expiry"), None),
        )

    def close(self) -> None:
        self.client.close()

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> requests.Response:
        try:
            # No money moves: a lost answer may be asked for again.
            return self.client.request(
                "POST", self.base_url + path, idempotent=True, json=body, headers=headers
            )
        except ConnectorError as exc:
            raise XoxodayUnavailable(f"Xoxoday did not answer: {exc}") from None


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _expiry(epoch_ms: Any, seconds: Any) -> datetime | None:
    """Xoxoday's expiries are epoch milliseconds; `expires_in` is seconds from now."""
    try:
        if epoch_ms is not None:
            return datetime.fromtimestamp(int(epoch_ms) / 1000, tz=UTC)
        if seconds is not None:
            return utcnow() + timedelta(seconds=int(seconds))
    except (TypeError, ValueError, OverflowError):
        pass
    return None
