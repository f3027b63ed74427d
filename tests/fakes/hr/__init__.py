"""Fakes of HR systems' REST APIs for the rest_directory presets, one module per vendor, each
following its vendor's public documentation (cited on its class), mounted on `responses` like
an httpx MockTransport handler: `api.mount(mock)`.

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
from urllib.parse import parse_qs, urlsplit

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


def found_at_once(connector: Any, threads: int = 16) -> list[Any]:
    """What `threads` lookups by email (people 0-3 of `people()`), released together, find:
    a crowd arriving on an expired token, which must be renewed once for all of them."""
    found: list[Any] = []
    start = threading.Barrier(threads)

    def one(i: int) -> None:
        start.wait()
        found.append(connector.find("email", f"person.{i % 4}@example.com"))

    crowd = [threading.Thread(target=one, args=(i,)) for i in range(threads)]
    for t in crowd:
        t.start()
    for t in crowd:
        t.join()
    return found


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
        def route(request: Any) -> Answer:
            # One handler for every URL: responses hands overlapping matches out in turn.
            if self.token_url and request.url.split("?")[0] == self.token_url:
                body = request.body or ""
                text = body.decode() if isinstance(body, bytes) else body
                return self._token(parse_qs(text), request.headers)
            return self._guarded(request)

        patterns = [re.compile(re.escape(self.base) + r"(/.*)?$")]
        if self.token_url:
            patterns.append(re.compile(re.escape(self.token_url) + r"$"))
        for pattern in patterns:
            for method in ("GET", "POST"):
                mock.add_callback(method, pattern, callback=route)

    def _guarded(self, request: Any) -> Answer:
        if self.down:
            return 503, {}, '{"error": "maintenance"}'
        with self.lock:
            if self.throttled > 0:
                self.throttled -= 1
                return self.throttle_answer()
        if not self.authorized(request.headers):
            return 401, {}, '{"error": "invalid_token"}'
        parts = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path[len(urlsplit(self.base).path) :]
        self.calls.append(f"{request.method} {path}?{parts.query}")
        body = json.loads(request.body) if request.body else None
        return self.handle(request.method, path, query, body)

    def throttle_answer(self) -> Answer:
        return 429, {"Retry-After": "0"}, '{"error": "throttled"}'

    def authorized(self, headers: Any) -> bool:
        """A bearer token this fake issued and has not expired (`expire_tokens`)."""
        auth = headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def basic_ok(self, headers: Any, user: str, password: str) -> bool:
        import base64

        wanted = base64.b64encode(f"{user}:{password}".encode()).decode()
        return headers.get("Authorization", "") == f"Basic {wanted}"

    def _token(self, form: dict[str, list[str]], headers: Any) -> Answer:
        sent = {k: v[0] for k, v in form.items()}
        if not self.credentials_ok(sent, headers):
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

    def credentials_ok(self, sent: dict[str, str], headers: Any) -> bool:
        return (
            sent.get("client_id") == self.client_id
            and sent.get("client_secret") == self.client_secret
        )

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        raise NotImplementedError
