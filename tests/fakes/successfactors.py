"""SAP SuccessFactors OData v2 and its OAuth token endpoint on `responses`.

Faithful to ../shared/HR-SYSTEMS.md: the token endpoint verifies the signed SAML assertion
with the registered certificate; `User('id')` finds any status, a `$filter` query only active
users unless it filters on status; `$filter` eq is case-sensitive; answers need $format=json
(else Atom XML); SpotAward pages follow `d.__next`; errors use SuccessFactors' JSON shape.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections import deque
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from signxml import XMLVerifier

from tests.fakes.certs import self_signed

HOST = "https://api55.sapsf.eu"
BASE = f"{HOST}/odata/v2"
TOKEN_URL = f"{HOST}/oauth/token"
COMPANY, CLIENT_ID, API_USER = "ACMECORP", "points-gateway-client", "sfapi"
BASIC_USER, BASIC_PASSWORD = "sfapi", "sf-basic-password-s3cret"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"


@cache
def key_pair() -> tuple[bytes, bytes]:
    """A private key and its self-signed certificate, as registered for the OAuth client."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return self_signed(key, "points-gateway test client", days=30)


def user(user_id: str, first: str, last: str, email: str, status: str = "t", **extra: Any):
    return {
        "__metadata": {"uri": f"{BASE}/User('{user_id}')", "type": "SFOData.User"},
        "userId": user_id,
        "username": user_id.lower(),
        "firstName": first,
        "lastName": last,
        "email": email,
        "cellPhone": extra.pop("cellPhone", None),
        "title": "Sales Rep",
        "department": "Sales",
        "division": "Dundler Mifflin",
        "status": status,
        "hireDate": "/Date(1420070400000)/",
        **extra,
    }


USERS = [
    user("DB123", "Pam", "Beesly", "Pam@Example.com", cellPhone="9876543210"),
    user("22816281", "Dwight", "Schrute", "dwightschrute@dundlermifflin.com"),
    user("TTEO32S99ERCL", "Jim", "Halpert", "jim@example.com"),
    user("OLD1", "Ryan", "Howard", "ryan@example.com", status="f"),
]


def deferred(entity: str, key: str, nav: str) -> dict[str, Any]:
    return {"__deferred": {"uri": f"{BASE}/{entity}('{key}')/{nav}"}}


#: Employee Central persons, by personIdExternal, with their navigations expanded.
PERSONS = {
    "DB123": {
        "personIdExternal": "DB123",
        "personalInfoNav": {"results": [{"firstName": "Pamela", "lastName": "Halpert"}]},
        "emailNav": {
            "results": [
                {"emailAddress": "pam.at.home@example.org", "isPrimary": False},
                {"emailAddress": "pam@example.com", "isPrimary": True},
            ]
        },
        "phoneNav": {"results": [{"phoneNumber": "9876543210", "isPrimary": True}]},
        "employmentNav": {
            "results": [
                {"userId": "DB123", "jobInfoNav": {"results": [{"jobTitle": "Office Manager"}]}}
            ]
        },
    }
}
NAVS = ("personalInfoNav", "emailNav", "phoneNav", "employmentNav")


def award(code: str, user_id: str, amount: str, status: str = "APPROVED") -> dict[str, Any]:
    return {
        "externalCode": code,
        "userId": user_id,
        "awardAmount": amount,
        "currency": "PTS",
        "approvalStatus": status,
        "spotAwardProgram": "Kudos",
    }


AWARDS = [
    award("A1", "DB123", "1500.00"),
    award("A2", "DB123", "400.50"),
    award("A3", "DB123", "99.50"),
    award("A4", "DB123", "1000.00", status="PENDING"),
    award("A5", "TTEO32S99ERCL", "250.00"),
]


def error(status: int, code: str, text: str) -> tuple[int, dict[str, str], str]:
    body = {"error": {"code": code, "message": {"lang": "en-US", "value": text}}}
    return status, {"Content-Type": "application/json"}, json.dumps(body)


class FakeSuccessFactors:
    def __init__(self, mock: responses.RequestsMock, page_size: int = 2) -> None:
        self.page_size = page_size
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.api_calls = 0
        self.failures: deque[Any] = deque()
        self.users, self.awards, self.persons = list(USERS), list(AWARDS), dict(PERSONS)
        mock.add_callback(responses.POST, TOKEN_URL, callback=self._token)
        mock.add_callback(responses.GET, re.compile(re.escape(BASE) + r"/.*"), callback=self._api)

    def fail_next(self, *failures: Any) -> None:
        """Each: (status, headers, body) answered, or an exception raised, for one API call."""
        self.failures.extend(failures)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    # -- /oauth/token ------------------------------------------------------------------------
    def _token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(str(request.body)).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:saml2-bearer":
            return 400, {}, json.dumps({"errorMessage": "unsupported grant_type"})
        if form.get("company_id") != COMPANY or form.get("client_id") != CLIENT_ID:
            return 401, {}, json.dumps({"errorMessage": "Invalid client or company"})
        try:
            xml = base64.b64decode(form["assertion"])
            signed = XMLVerifier().verify(xml, x509_cert=key_pair()[1], id_attribute="ID")
            assertion = signed.signed_xml
            problem = _assertion_problem(assertion)
        except Exception as exc:  # any unverifiable assertion is refused, as SF does
            problem = f"invalid assertion: {exc}"
        if problem:
            return 401, {}, json.dumps({"errorMessage": problem})
        token = uuid.uuid4().hex
        self.tokens.add(token)
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": 86399}
        return 200, {}, json.dumps(answer)

    # -- /odata/v2 ---------------------------------------------------------------------------
    def _api(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.api_calls += 1
        if self.failures:
            failure = self.failures.popleft()
            if isinstance(failure, BaseException):
                raise failure
            return failure
        auth = request.headers.get("Authorization", "")
        basic = base64.b64encode(f"{BASIC_USER}@{COMPANY}:{BASIC_PASSWORD}".encode()).decode()
        if auth != f"Basic {basic}" and auth.removeprefix("Bearer ") not in self.tokens:
            return error(401, "LGN0022", "[LGN0022]The access token is either rejected or expired")
        url = urlsplit(request.url or "")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if query.get("$format") != "json":
            return 200, {"Content-Type": "application/atom+xml"}, "<feed/>"
        path = unquote(url.path).removeprefix("/odata/v2/")
        if match := re.fullmatch(r"User\('(.*)'\)", path):
            found = [u for u in self.users if u["userId"] == match[1].replace("''", "'")]
            if not found:
                return error(400, "COE_ENTITY_NOT_FOUND", "[COE0018]Entity not found")
            return 200, {}, json.dumps({"d": found[0]})
        if match := re.fullmatch(r"PerPerson\('(.*)'\)", path):
            return self._person(match[1].replace("''", "'"), query.get("$expand", ""))
        if path == "User":
            return self._users(query)
        if path == "SpotAward":
            return self._spot_awards(query)
        return error(404, "COE_RESOURCE_NOT_FOUND", f"[COE0002]Unknown entity {path}")

    def _users(self, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        rows = self.users
        text = query.get("$filter", "")
        statuses = {"t", "T"}  # a collection query sees only active users...
        if m := re.search(r" and status in ((?:'\w',?)+)$", text):
            statuses = set(re.findall(r"'(\w)'", m[1]))  # ...unless it filters on status
            text = text[: m.start()]
        rows = [u for u in rows if u["status"] in statuses]
        if m := re.fullmatch(r"tolower\(email\) eq '(.*)'", text):
            rows = [u for u in rows if (u["email"] or "").lower() == m[1].replace("''", "'")]
        elif m := re.fullmatch(r"(email|cellPhone|userId) eq '(.*)'", text):
            rows = [u for u in rows if u[m[1]] == m[2].replace("''", "'")]  # case-sensitive
        elif text:
            return error(400, "COE_PROPERTY_NOT_FOUND", f"[COE0021]Cannot filter on {text}")
        return 200, {}, json.dumps({"d": {"results": rows[: int(query.get("$top", 1000))]}})

    def _person(self, key: str, expand: str) -> tuple[int, dict[str, str], str]:
        if key not in self.persons:
            return error(404, "COE_ENTITY_NOT_FOUND", f"[COE0018]PerPerson {key} not found")
        wanted = expand.split(",")
        person = dict(self.persons[key])
        for nav in NAVS:  # what $expand does not name is deferred, as OData v2 answers it
            if nav not in wanted and not any(w.startswith(nav + "/") for w in wanted):
                person[nav] = deferred("PerPerson", key, nav)
        return 200, {}, json.dumps({"d": person})

    def _spot_awards(self, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        m = re.fullmatch(r"userId eq '(.*)'", query.get("$filter", ""))
        rows = [a for a in self.awards if m and a["userId"] == m[1]]
        size = min(int(query.get("customPageSize", 1000)), self.page_size)
        start = int(query.get("$skiptoken", 0))
        page: dict[str, Any] = {"results": rows[start : start + size]}
        if start + size < len(rows):
            rest = {**query, "$skiptoken": str(start + size)}
            page["__next"] = f"{BASE}/SpotAward?" + "&".join(f"{k}={v}" for k, v in rest.items())
        return 200, {}, json.dumps({"d": page})


def _assertion_problem(assertion: etree._Element) -> str:
    def text(path: str) -> str:
        node = assertion.find(path)
        return "" if node is None or node.text is None else node.text

    confirmation = assertion.find(
        f"{SAML}Subject/{SAML}SubjectConfirmation/{SAML}SubjectConfirmationData"
    )
    conditions = assertion.find(f"{SAML}Conditions")
    if text(f"{SAML}Issuer") != CLIENT_ID:
        return "Issuer is not the client id"
    if text(f"{SAML}Subject/{SAML}NameID") != API_USER:
        return "NameID is not the API user"
    if (
        text(f"{SAML}Conditions/{SAML}AudienceRestriction/{SAML}Audience")
        != "www.successfactors.com"
    ):
        return "wrong Audience"
    if confirmation is None or confirmation.get("Recipient") != TOKEN_URL:
        return "Recipient is not the token URL"
    now = dt.datetime.now(dt.UTC)
    until = dt.datetime.fromisoformat((conditions.get("NotOnOrAfter") or "").replace("Z", "+00:00"))
    begins = dt.datetime.fromisoformat((conditions.get("NotBefore") or "").replace("Z", "+00:00"))
    if not begins - dt.timedelta(minutes=5) <= now < until:
        return "assertion not valid now"
    return ""


def write_keys(folder: Path) -> tuple[Path, Path]:
    key_pem, cert_pem = key_pair()
    (folder / "sf-key.pem").write_bytes(key_pem)
    (folder / "sf-cert.pem").write_bytes(cert_pem)
    return folder / "sf-key.pem", folder / "sf-cert.pem"


def options(folder: Path, **overrides: Any) -> dict[str, Any]:
    from connectors.successfactors import SuccessFactorsOptions

    key, cert = write_keys(folder)
    raw = {
        "api_server": HOST,
        "company_id": COMPANY,
        "client_id": CLIENT_ID,
        "user_id": API_USER,
        "private_key": str(key),
        "certificate": str(cert),
        "http": {"budget_seconds": 2, "attempts": 3, "breaker_failures": 3},
        **overrides,
    }
    return SuccessFactorsOptions().load(raw)
