"""No remote connector follows a redirect to another origin (scheme, host, port).

requests follows redirects by default and strips only `Authorization` when the host changes:
an `X-API-Key`, a key in a form or JSON body (307/308 resend it) and every other header went
to wherever a `Location` pointed, and that host's answer became the profile or the balance.
Each connector is run here against its system's fake answering a 302 or 307 to another host
that would answer a convincing profile, balance or token: that host is never called, no
credential is sent to it, and the error names the connector and the refusal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from connectors.base import OutcomeUnknown, Profile, Reference, UpstreamError
from connectors.darwinbox import DarwinboxConnector
from connectors.hr.rest_directory import RestDirectoryConnector
from connectors.http import HttpClient, HttpPolicy
from connectors.registry import validate_options
from connectors.rest_ledger import RestLedgerConnector, RestLedgerOptions
from connectors.successfactors import SuccessFactorsConnector
from gateway.xoxoday.client import SSO_PATH, TOKEN_PATH, XoxodayApi
from gateway.xoxoday.tokens import TokenPair, XoxodayUnavailable
from tests.fakes import darwinbox as fake_darwinbox
from tests.fakes import rest_ledger as fake_ledger
from tests.fakes import successfactors as fake_sf
from tests.fakes import xoxoday as fake_xoxoday

ELSEWHERE = "https://elsewhere.example.net"
HR = "https://hr.example.com/api"
API_KEY = "hr-api-key-5up3r-s3cret"
CLIENT_SECRET = "hr-client-secret-0a1b2c"
PAM = Profile("DB123", "pam@example.com", "Pam", "Beesly")
REFUSED = "refused a redirect to another origin"


class Elsewhere:
    """The host a redirect points to: it would answer anything, and records who called."""

    def __init__(self, mock: responses.RequestsMock, answer: dict[str, Any]) -> None:
        self.calls: list[requests.PreparedRequest] = []
        self.answer = answer
        for method in (responses.GET, responses.POST):
            mock.add_callback(method, re.compile(re.escape(ELSEWHERE) + ".*"), self._answer)

    def _answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.calls.append(request)
        return 200, {"Content-Type": "application/json"}, json.dumps(self.answer)


def moved(mock: responses.RequestsMock, method: str, url: str, status: int, to: str) -> None:
    mock.add(method, url, status=status, headers={"Location": to})


def sent_anywhere(mock: responses.RequestsMock, secret: str) -> list[str]:
    """The URLs of the calls that carried `secret` in a header or the body."""
    found = []
    for call in mock.calls:
        body = call.request.body or b""
        text = body.decode() if isinstance(body, bytes) else str(body)
        if secret in str(dict(call.request.headers)) + text:
            found.append(str(call.request.url))
    return found


def hr_options(tmp_path: Path, **more: Any) -> dict[str, Any]:
    return {
        "base_url": HR,
        "auth": {"type": "api_key", "api_key": API_KEY},
        "lookup": {"employee_id": {"path": "/people/{value}"}},
        "fields": {"employee_id": "id", "email": "email", "first_name": "first"},
        "index_path": str(tmp_path / "hr.index"),
        "http": {"attempts": 2, "budget_seconds": 2},
        **more,
    }


def hr(options: dict[str, Any]) -> RestDirectoryConnector:
    return RestDirectoryConnector(**validate_options(RestDirectoryConnector, options))


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_rest_directory_does_not_take_a_profile_from_another_host(mock, tmp_path, status):
    elsewhere = Elsewhere(mock, {"id": "E1", "email": "mallory@elsewhere.example.net"})
    moved(mock, "GET", f"{HR}/people/E1", status, f"{ELSEWHERE}/people/E1")
    with pytest.raises(UpstreamError, match=f"rest_directory: {REFUSED}") as refused:
        hr(hr_options(tmp_path)).find("employee_id", "E1")
    assert elsewhere.calls == []
    assert sent_anywhere(mock, API_KEY) == [f"{HR}/people/E1"]
    assert API_KEY not in str(refused.value)


def test_rest_directory_s_oauth2_token_call_does_not_follow_a_redirect(mock, tmp_path):
    elsewhere = Elsewhere(mock, {"access_token": "t0k3n", "expires_in": 3600})
    token_url = "https://login.example.com/oauth2/token"
    moved(mock, "POST", token_url, 307, f"{ELSEWHERE}/oauth2/token")
    auth = {
        "type": "oauth2_client_credentials",
        "token_url": token_url,
        "client_id": "hr-client",
        "client_secret": CLIENT_SECRET,
    }
    with pytest.raises(UpstreamError, match=f"rest_directory: {REFUSED}"):
        hr(hr_options(tmp_path, auth=auth)).find("employee_id", "E1")
    assert elsewhere.calls == []  # a 307 would have resent the form, client_secret and all
    assert sent_anywhere(mock, CLIENT_SECRET) == [token_url]


def ledger(**changes: Any) -> RestLedgerConnector:
    options = {**fake_ledger.OPTIONS, "auth": "api_key", "api_key": API_KEY, **changes}
    return RestLedgerConnector(**RestLedgerOptions().load(options))


def test_rest_ledger_does_not_take_a_balance_from_another_host(mock):
    elsewhere = Elsewhere(mock, {"data": {"balance": "1000000"}})
    url = f"{fake_ledger.BASE}/members/DB123/points"
    moved(mock, "GET", url, 302, f"{ELSEWHERE}/members/DB123/points")
    with pytest.raises(UpstreamError, match=f"rest ledger: {REFUSED}"):
        ledger().balance(PAM)
    assert elsewhere.calls == [] and sent_anywhere(mock, API_KEY) == [url]


def test_rest_ledger_does_not_send_a_debit_elsewhere_and_cannot_say_how_it_went(mock):
    """A 303 after a POST can mean "done, see there": the debit's outcome is unknown."""
    elsewhere = Elsewhere(mock, {"transaction": {"id": "tx-1"}})
    url = f"{fake_ledger.BASE}/members/DB123/debits"
    for status in (303, 307):
        moved(mock, "POST", url, status, f"{ELSEWHERE}/members/DB123/debits")
        with pytest.raises(OutcomeUnknown, match=f"rest ledger: {REFUSED}"):
            ledger().debit(PAM, Reference.of("debit", "order-1"), Decimal("5"))
    assert elsewhere.calls == [] and sent_anywhere(mock, API_KEY) == [url, url]


@pytest.fixture
def sf_mock() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_successfactors_does_not_take_a_user_from_another_host(sf_mock, tmp_path):
    elsewhere = Elsewhere(sf_mock, {"d": fake_sf.user("DB123", "Mallory", "M", "m@evil.test")})
    url = f"{fake_sf.BASE}/User('DB123')"
    moved(sf_mock, "GET", url, 302, f"{ELSEWHERE}/odata/v2/User('DB123')")
    options = fake_sf.options(
        tmp_path, auth="basic", username=fake_sf.BASIC_USER, password=fake_sf.BASIC_PASSWORD
    )
    with pytest.raises(UpstreamError, match=f"successfactors: {REFUSED}"):
        SuccessFactorsConnector(**options).find("employee_id", "DB123")
    assert elsewhere.calls == []


def test_successfactors_token_exchange_does_not_follow_a_redirect(sf_mock, tmp_path):
    elsewhere = Elsewhere(sf_mock, {"access_token": "t0k3n", "expires_in": 86400})
    moved(sf_mock, "POST", fake_sf.TOKEN_URL, 307, f"{ELSEWHERE}/oauth/token")
    with pytest.raises(UpstreamError, match=f"successfactors: {REFUSED}"):
        SuccessFactorsConnector(**fake_sf.options(tmp_path)).find("employee_id", "DB123")
    assert elsewhere.calls == []  # the signed assertion stays with SAP


def test_darwinbox_does_not_send_its_keys_elsewhere(mock):
    elsewhere = Elsewhere(mock, {"status": 1, "employee_data": [{"employee_id": "DB123"}]})
    url = f"{fake_darwinbox.TENANT}/masterapi/employee"
    moved(mock, "POST", url, 307, f"{ELSEWHERE}/masterapi/employee")
    options = fake_darwinbox.options()
    with pytest.raises(UpstreamError, match=f"darwinbox: {REFUSED}"):
        DarwinboxConnector(**options).find("employee_id", "DB123")
    assert elsewhere.calls == []
    assert sent_anywhere(mock, options["api_key"]) == [url]


class OnePair:
    """A token store holding one pair that does not expire: the SSO call goes out at once."""

    def get(self) -> TokenPair:
        return TokenPair(fake_xoxoday.ACCESS, fake_xoxoday.REFRESH, None, None)


def xoxoday() -> XoxodayApi:
    return XoxodayApi(
        fake_xoxoday.BASE,
        fake_xoxoday.CLIENT_ID,
        fake_xoxoday.CLIENT_SECRET,
        OnePair(),  # type: ignore[arg-type]
        http={"attempts": 2, "budget_seconds": 2},
    )


@pytest.mark.parametrize(
    "path, call",
    [
        (SSO_PATH, lambda api: api.sso_token("pam@example.com", {"unique_id": "DB123"})),
        (TOKEN_PATH, lambda api: api.refresh(fake_xoxoday.REFRESH)),
    ],
    ids=["sso", "token refresh"],
)
def test_xoxoday_calls_do_not_follow_a_redirect(
    mock, path: str, call: Callable[[XoxodayApi], Any]
) -> None:
    elsewhere = Elsewhere(
        mock, {"data": {"ssoToken": "sso.evil"}, "access_token": "a", "refresh_token": "r"}
    )
    moved(mock, "POST", fake_xoxoday.BASE + path, 307, ELSEWHERE + path)
    with pytest.raises(XoxodayUnavailable, match=f"xoxoday: {REFUSED}"):
        call(xoxoday())
    assert elsewhere.calls == []
    for secret in fake_xoxoday.SECRETS:
        assert ELSEWHERE not in " ".join(sent_anywhere(mock, secret))


# -- the policy itself, in the shared client -----------------------------------------------


@pytest.fixture
def client() -> HttpClient:
    return HttpClient("hr", HttpPolicy(budget_seconds=2, attempts=2))


def test_a_redirect_within_the_origin_is_followed_with_its_headers(mock, client):
    moved(mock, "GET", f"{HR}/v1/people/E1", 301, "/api/v2/people/E1")  # relative, as RFC 9110
    moved(mock, "GET", f"{HR}/v2/people/E1", 302, "https://HR.example.com:443/api/v3/people/E1")
    # (responses matches the URL as written: the default port is only the origin's business)
    mock.add("GET", "https://hr.example.com:443/api/v3/people/E1", json={"id": "E1"})
    answer = client.request("GET", f"{HR}/v1/people/E1", idempotent=True, headers={"X-Key": "k"})
    assert answer.json() == {"id": "E1"}
    assert [c.request.headers.get("X-Key") for c in mock.calls] == ["k", "k", "k"]


@pytest.mark.parametrize(
    "to, why",
    [
        # a downgrade on the same host
        ("http://hr.example.com/api/people/E1", ", from https to http (http://hr.example.com)"),
        ("https://hr.example.com:8443/api/people/E1", " (https://hr.example.com:8443)"),
        (
            "https://hr.example.com.elsewhere.example.net/api/people/E1",
            " (https://hr.example.com.elsewhere.example.net)",
        ),
        ("//elsewhere.example.net/api/people/E1", " (https://elsewhere.example.net)"),
    ],
)
def test_a_redirect_to_another_origin_is_refused(mock, client, to, why):
    moved(mock, "GET", f"{HR}/people/E1", 302, to)
    with pytest.raises(UpstreamError, match=re.escape(f"hr: {REFUSED}{why}")):
        client.request("GET", f"{HR}/people/E1", idempotent=True)
    assert len(mock.calls) == 1


def test_the_refusal_names_the_origin_never_the_path_query_or_userinfo(mock, client):
    moved(mock, "GET", f"{HR}/people/E1", 302, f"https://u:pw-9@x.example.net/p?key={API_KEY}")
    with pytest.raises(UpstreamError) as refused:
        client.request("GET", f"{HR}/people/E1", idempotent=True)
    assert str(refused.value).endswith("(https://x.example.net)")
    assert API_KEY not in str(refused.value) and "pw-9" not in str(refused.value)


def test_a_redirect_loop_within_the_origin_ends(mock, client):
    moved(mock, "GET", f"{HR}/a", 302, f"{HR}/b")
    moved(mock, "GET", f"{HR}/b", 302, f"{HR}/a")
    with pytest.raises(UpstreamError, match="hr: more than 5 redirects"):
        client.request("GET", f"{HR}/a", idempotent=True)
    assert len(mock.calls) == 6
