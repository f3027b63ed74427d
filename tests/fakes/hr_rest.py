"""Fakes of HR systems' REST APIs for the rest_directory presets, each following its vendor's
public documentation (cited on each class), mounted on `responses` like an httpx MockTransport
handler: `api.mount(mock)`.

What they share: an OAuth2 token endpoint that issues numbered tokens and can expire them all
(`expire_tokens()`: the next calls answer 401 until a new token is fetched; `token_calls`
counts fetches), throttling (`throttle(n)`: the next n calls answer 429 with Retry-After),
an outage (`down = True`: 503), and a people list of any size.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import responses

Answer = tuple[int, dict[str, str], str]


@dataclass
class Person:
    number: str
    email: str
    first: str
    last: str
    mobile: str = ""
    title: str = "Engineer"
    department: str = "Platform"
    active: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def people(count: int) -> list[Person]:
    return [
        Person(f"E{i:04d}", f"person.{i}@example.com", f"First{i}", f"Last{i}", f"+9197000{i:05d}")
        for i in range(count)
    ]


class HrApi:
    base = ""
    token_url = ""

    def __init__(self, staff: list[Person], client_id: str, client_secret: str) -> None:
        self.people = staff
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.Lock()
        self.tokens: set[str] = set()
        self.token_calls = 0
        self.throttled = 0
        self.down = False
        self.calls: list[str] = []  # every API call's path and query, for the tests

    # -- controls --------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def throttle(self, calls: int) -> None:
        self.throttled = calls

    # -- the HTTP surface ------------------------------------------------------------------
    def mount(self, mock: responses.RequestsMock) -> None:
        def api(request: Any) -> Answer:
            return self._guarded(request)

        def token(request: Any) -> Answer:
            body = request.body or ""
            text = body.decode() if isinstance(body, bytes) else body
            return self._token(parse_qs(text), request.headers)

        mock.add_callback("POST", self.token_url, callback=token)
        for method in ("GET", "POST"):
            mock.add_callback(method, re.compile(re.escape(self.base) + r"(/.*)?$"), callback=api)

    def _guarded(self, request: Any) -> Answer:
        if self.down:
            return 503, {}, '{"error": "maintenance"}'
        with self.lock:
            if self.throttled > 0:
                self.throttled -= 1
                return 429, {"Retry-After": "0"}, '{"error": "throttled"}'
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return 401, {}, '{"error": "invalid_token"}'
        parts = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path[len(urlsplit(self.base).path) :]
        self.calls.append(f"{request.method} {path}?{parts.query}")
        body = json.loads(request.body) if request.body else None
        return self.handle(request.method, path, query, body)

    def _token(self, form: dict[str, list[str]], headers: Any) -> Answer:
        sent = {k: v[0] for k, v in form.items()}
        if not self.credentials_ok(sent):
            return 400, {}, '{"error": "invalid_client"}'
        with self.lock:
            self.token_calls += 1
            token = f"token-{self.token_calls}"
            self.tokens.add(token)
        return (
            200,
            {},
            json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3599}),
        )

    def credentials_ok(self, sent: dict[str, str]) -> bool:
        return (
            sent.get("client_id") == self.client_id
            and sent.get("client_secret") == self.client_secret
        )

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        raise NotImplementedError


class GraphApi(HrApi):
    """Microsoft Graph v1.0 `/users`, as documented at
    https://learn.microsoft.com/graph/api/user-list (the `$filter` forms `prop eq 'value'`,
    a quote inside written twice, https://learn.microsoft.com/graph/query-parameters;
    `$select`; `$top` up to 999; `@odata.nextLink` holding the next page's whole URL,
    https://learn.microsoft.com/graph/paging), https://learn.microsoft.com/graph/api/resources/user
    (employeeId, mail, mobilePhone, accountEnabled), and the client-credentials token of
    https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
    (scope https://graph.microsoft.com/.default). mobilePhone is filtered only as an advanced
    query, with `ConsistencyLevel: eventual` and `$count=true`, as the fake insists."""

    base = "https://graph.microsoft.com/v1.0"
    tenant = "contoso.onmicrosoft.com"
    token_url = f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    FILTER = re.compile(r"^(\w+) eq '((?:[^']|'')*)'$")

    def credentials_ok(self, sent: dict[str, str]) -> bool:
        return (
            super().credentials_ok(sent)
            and sent.get("grant_type") == "client_credentials"
            and sent.get("scope") == "https://graph.microsoft.com/.default"
        )

    def user(self, p: Person) -> dict[str, Any]:
        return {
            "id": f"00000000-0000-0000-0000-{p.number[1:]:0>12}",
            "employeeId": p.number,
            "mail": p.email,
            "userPrincipalName": p.email,
            "givenName": p.first,
            "surname": p.last,
            "mobilePhone": p.mobile or None,
            "jobTitle": p.title,
            "department": p.department,
            "companyName": "Contoso",
            "accountEnabled": p.active,
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/users":
            return 404, {}, '{"error": {"code": "Request_ResourceNotFound"}}'
        found = [self.user(p) for p in self.people]
        if "$filter" in query:
            match = self.FILTER.match(query["$filter"])
            if match is None:
                return 400, {}, '{"error": {"code": "Request_UnsupportedQuery"}}'
            prop, value = match.group(1), match.group(2).replace("''", "'")
            if prop not in ("employeeId", "mail", "mobilePhone", "userPrincipalName"):
                return 400, {}, '{"error": {"code": "Request_UnsupportedQuery"}}'
            if prop == "mobilePhone" and query.get("$count") != "true":
                return 400, {}, '{"error": {"code": "Request_UnsupportedQuery"}}'
            # Graph compares strings without regard to case.
            found = [u for u in found if str(u.get(prop) or "").lower() == value.lower()]
        top = min(int(query.get("$top", "100")), 999)
        skip = int(query.get("$skiptoken", "0"))
        page = found[skip : skip + top]
        answer: dict[str, Any] = {"@odata.context": f"{self.base}/$metadata#users", "value": page}
        if skip + top < len(found):
            answer["@odata.nextLink"] = (
                f"{self.base}/users?{urlencode({**query, '$skiptoken': str(skip + top)})}"
            )
        return 200, {}, json.dumps(answer)


class KekaApi(HrApi):
    """Keka's HRIS API, as documented at https://apidocs.keka.com/ ("Overview": pageNumber and
    pageSize, default 100 and at most 200; each page gives pageNumber, pageSize, totalPages,
    totalRecords and nextPage, null on the last page; 429 past the rate limit) and its
    "Get all employees" (`GET https://{company}.keka.com/api/v1/hris/employees`, records under
    `data`). Its token endpoint takes grant_type=kekaapi, scope=kekaapi, client_id,
    client_secret and api_key as a form."""

    company = "acme"
    base = f"https://{company}.keka.com/api/v1"
    token_url = "https://login.keka.com/connect/token"

    def __init__(
        self, staff: list[Person], client_id: str, client_secret: str, api_key: str
    ) -> None:
        super().__init__(staff, client_id, client_secret)
        self.api_key = api_key

    def credentials_ok(self, sent: dict[str, str]) -> bool:
        return (
            super().credentials_ok(sent)
            and sent.get("grant_type") == "kekaapi"
            and sent.get("scope") == "kekaapi"
            and sent.get("api_key") == self.api_key
        )

    def employee(self, p: Person) -> dict[str, Any]:
        return {
            "id": f"8d04399f-8057-4b12-abc1-{p.number[1:]:0>12}",
            "employeeNumber": p.number,
            "displayName": f"{p.first} {p.last}",
            "firstName": p.first,
            "lastName": p.last,
            "email": p.email,
            "mobilePhone": p.mobile,
            "jobTitle": {"identifier": "jt-1", "title": p.title},
            "groups": [{"id": "g-1", "title": p.department, "groupType": 1}],
            "employmentStatus": "Working" if p.active else "Relieved",
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/hris/employees":
            return 404, {}, '{"succeeded": false, "message": "Not found"}'
        size = min(int(query.get("pageSize", "100")), 200)
        number = int(query.get("pageNumber", "1"))
        everyone = [self.employee(p) for p in self.people]
        pages = max((len(everyone) + size - 1) // size, 1)
        data = everyone[(number - 1) * size : number * size]
        link = f"{self.base}/hris/employees?pageNumber={number + 1}&pageSize={size}"
        answer = {
            "succeeded": True,
            "message": None,
            "errors": None,
            "data": data,
            "pageNumber": number,
            "pageSize": size,
            "firstPage": f"{self.base}/hris/employees?pageNumber=1&pageSize={size}",
            "lastPage": f"{self.base}/hris/employees?pageNumber={pages}&pageSize={size}",
            "totalRecords": len(everyone),
            "totalPages": pages,
            "nextPage": link if number < pages else None,
            "previousPage": None,
        }
        return 200, {}, json.dumps(answer)
