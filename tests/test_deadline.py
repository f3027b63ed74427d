"""`budget_seconds` is a deadline for the whole call, the answer's reading included.

requests' read timeout bounds each socket read, not the answer: a system that sends a byte
every 0.2 s never trips it, and held a call (and a gateway thread) for as long as it dripped.
A real server in a real socket drips here, its headers or its body, and every remote connector
gives up near its budget: a lookup as unavailable, a write that may have arrived as outcome
unknown. The connection is closed at the deadline, so the server stops dripping too.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.base import OutcomeUnknown, Profile, Reference, UpstreamUnavailable
from connectors.darwinbox import DarwinboxConnector
from connectors.hr.rest_directory import RestDirectoryConnector
from connectors.http import HttpClient, HttpPolicy, certainly_not_sent
from connectors.http_deadline import Deadline
from connectors.registry import validate_options
from connectors.rest_ledger import RestLedgerConnector
from connectors.successfactors import SuccessFactorsConnector
from gateway.xoxoday.client import XoxodayApi
from gateway.xoxoday.tokens import TokenPair, XoxodayUnavailable
from tests.fakes.certs import self_signed

BUDGET = 0.8
SLACK = 0.5  # the watchdog's thread, a retry's bookkeeping, a loaded CI machine
EVERY = 0.2  # seconds between two bytes: far below any read timeout
FAST = {"budget_seconds": BUDGET, "read_timeout": 10, "attempts": 3}
PAM = Profile("DB123", "pam@example.com", "Pam", "Beesly")


class Drip:
    """A real HTTP/1.1 server answering every request with `body`, slowly: `mode` "head" drips
    the whole answer from its status line on; "body" sends the headers with a Content-Length
    and drips the body; "close" drips a body delimited by the connection's end (no length);
    "chunked" drips it one 1-byte chunk at a time. `fast_after` requests later it answers at
    once. `hung_up` holds when each connection's dripping ended because we had hung up.
    With `tls` (a server context), it speaks HTTPS."""

    def __init__(
        self,
        body: bytes,
        mode: str = "body",
        fast_after: int = 1_000_000,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.body, self.mode, self.fast_after, self.tls = body, mode, fast_after, tls
        self.requests = 0
        self.hung_up: list[float] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}"
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:
                return
        with conn:
            while self._read_request(conn):
                with self._lock:
                    self.requests += 1
                    slow = self.requests <= self.fast_after
                head, body = self._answer()
                try:
                    if not slow:
                        conn.sendall(head + body)
                        continue
                    if self.mode == "head":
                        self._drip(conn, head + body)
                    else:
                        conn.sendall(head)
                        self._drip(conn, body)
                    return
                except OSError:
                    self.hung_up.append(time.monotonic())
                    return

    def _answer(self) -> tuple[bytes, bytes]:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        body = self.body
        if self.mode == "chunked":
            head += "Transfer-Encoding: chunked\r\n"
            body = b"".join(b"1\r\n" + bytes([b]) + b"\r\n" for b in body) + b"0\r\n\r\n"
        elif self.mode == "close":
            head += "Connection: close\r\n"
        else:
            head += f"Content-Length: {len(body)}\r\n"
        return (head + "\r\n").encode(), body

    @staticmethod
    def _drip(conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            time.sleep(EVERY)

    @staticmethod
    def _read_request(conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += conn.recv(65536)
        return True


@contextlib.contextmanager
def dripping(answer: Any, mode: str = "body", **kw: Any) -> Iterator[Drip]:
    server = Drip(json.dumps(answer).encode(), mode, **kw)
    try:
        yield server
    finally:
        server.close()


# -- the shared client -------------------------------------------------------------------------

ANSWER = {"id": "E1", "email": "e1@example.com", "padding": "x" * 20}  # 13 s at EVERY


@pytest.mark.parametrize("mode", ["head", "body", "close", "chunked"])
def test_a_lookup_answered_a_byte_at_a_time_ends_at_its_budget(mode):
    client = HttpClient("hr", HttpPolicy(**FAST))
    with dripping(ANSWER, mode) as server:
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable, match="hr: timed out"):
            client.request("GET", server.url + "/people/E1", idempotent=True)
        took = time.monotonic() - started
        assert took < BUDGET + SLACK, f"{mode}: {took:.2f} s for a {BUDGET} s budget"
        assert server.requests == 1  # the budget is spent: no second try
        # The first byte sent after our hang-up still goes (the reset comes back); the next fails.
        waited = time.monotonic() + 5 * EVERY
        while not server.hung_up and time.monotonic() < waited:
            time.sleep(EVERY / 4)
        assert server.hung_up, "the connection was left open at the deadline"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    """A server context with a self-signed certificate for 127.0.0.1, and that certificate."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = self_signed(rsa.generate_private_key(65537, 2048), "127.0.0.1", 2, "127.0.0.1")
    (folder / "key.pem").write_bytes(key)
    (folder / "cert.pem").write_bytes(cert)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context, folder / "cert.pem"


@pytest.mark.parametrize("mode", ["head", "close"])
def test_over_tls_too(tls, mode):
    """The TLS socket is shut below TLS, which wakes a read blocked inside it."""
    context, cert = tls
    client = HttpClient("hr", HttpPolicy(**FAST))
    with dripping(ANSWER, mode, tls=context) as server:
        assert server.url.startswith("https://")
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable, match="hr: timed out"):
            client.request("GET", server.url + "/people/E1", idempotent=True, verify=str(cert))
        assert time.monotonic() - started < BUDGET + SLACK
        assert server.requests == 1


def test_a_connection_made_after_the_deadline_sends_nothing():
    """A try that connects only once the budget is spent is refused before it sends: a write
    stopped there certainly never arrived."""
    client = HttpClient("ledger", HttpPolicy(**FAST))
    with dripping({"ok": True}) as server, Deadline(0.05):
        time.sleep(0.1)
        with pytest.raises(requests.ConnectTimeout) as refused:
            client.session.post(server.url + "/debits", json={"amount": 5}, timeout=1)
    assert certainly_not_sent(refused.value)
    time.sleep(0.1)
    assert server.requests == 0


@pytest.mark.parametrize("mode", ["head", "body", "close"])
def test_a_write_past_its_deadline_after_sending_is_outcome_unknown(mode):
    client = HttpClient("ledger", HttpPolicy(**FAST))
    with dripping({"ok": True}, mode) as server:
        started = time.monotonic()
        with pytest.raises(OutcomeUnknown, match="ledger: timed out after sending"):
            client.request("POST", server.url + "/debits", idempotent=False, json={"amount": 5})
        assert time.monotonic() - started < BUDGET + SLACK
        assert server.requests == 1


def test_an_answer_within_the_budget_and_the_next_call_after_a_deadline_are_untouched():
    client = HttpClient("hr", HttpPolicy(**FAST))
    with dripping(ANSWER, "body", fast_after=1) as server:
        with pytest.raises(UpstreamUnavailable):
            client.request("GET", server.url + "/people/E1", idempotent=True)
        for _ in range(3):  # the pool is not left with a dead or doomed connection
            answer = client.request("GET", server.url + "/people/E1", idempotent=True)
            assert answer.json() == ANSWER
            time.sleep(BUDGET / 2)  # past the first call's deadline, on a reused connection
    assert client.breaker.state == "closed"


# -- every remote connector ----------------------------------------------------------------------


def rest_directory(url: str) -> Callable[[], Any]:
    options = {
        "base_url": url,
        "auth": {"type": "api_key", "api_key": "k"},
        "lookup": {"employee_id": {"path": "/people/{value}"}},
        "fields": {"employee_id": "id", "email": "email"},
        "http": FAST,
    }
    connector = RestDirectoryConnector(**validate_options(RestDirectoryConnector, options))
    return lambda: connector.find("employee_id", "E1")


def ledger(url: str) -> RestLedgerConnector:
    return RestLedgerConnector(base_url=url, http=FAST)


def successfactors(url: str) -> Callable[[], Any]:
    connector = SuccessFactorsConnector(
        api_server=url, company_id="ACME", auth="basic", username="u", password="p", http=FAST
    )
    return lambda: connector.find("employee_id", "DB123")


def darwinbox(url: str) -> Callable[[], Any]:
    connector = DarwinboxConnector(
        tenant_url=url, username="u", password="p", api_key="k", dataset_key="d", http=FAST
    )
    return lambda: connector.find("employee_id", "DB123")


class OnePair:
    def get(self) -> TokenPair:
        return TokenPair("access", "refresh", None, None)


def xoxoday(url: str) -> XoxodayApi:
    return XoxodayApi(url, "id", "secret", OnePair(), http=FAST)  # type: ignore[arg-type]


CONNECTORS: list[tuple[str, Callable[[str], Callable[[], Any]], Any, type[Exception]]] = [
    ("rest_directory", rest_directory, ANSWER, UpstreamUnavailable),
    (
        "rest_ledger balance",
        lambda url: lambda: ledger(url).balance(PAM),
        {"balance": "10", "padding": "x" * 30},
        UpstreamUnavailable,
    ),
    (
        "rest_ledger debit",
        lambda url: lambda: ledger(url).debit(PAM, Reference.of("debit", "o-1"), Decimal(5)),
        {"id": "tx-1", "padding": "x" * 30},
        OutcomeUnknown,
    ),
    (
        "successfactors",
        successfactors,
        {"d": {"userId": "DB123", "email": "pam@example.com", "status": "t"}},
        UpstreamUnavailable,
    ),
    (
        "darwinbox",
        darwinbox,
        {"status": 1, "employee_data": [{"employee_id": "DB123", "first_name": "Pam"}]},
        UpstreamUnavailable,
    ),
    (
        "xoxoday sso",
        lambda url: lambda: xoxoday(url).sso_token("pam@example.com", {"unique_id": "DB123"}),
        {"data": {"ssoToken": "sso.1"}, "padding": "x" * 30},
        XoxodayUnavailable,
    ),
    (
        "xoxoday token refresh",
        lambda url: lambda: xoxoday(url).refresh("refresh"),
        {"access_token": "a", "refresh_token": "r", "padding": "x" * 30},
        XoxodayUnavailable,
    ),
]


@pytest.mark.parametrize(
    "call, answer, error", [c[1:] for c in CONNECTORS], ids=[c[0] for c in CONNECTORS]
)
def test_every_remote_connector_keeps_its_budget_against_a_dripping_system(call, answer, error):
    with dripping(answer, "body") as server:
        run = call(server.url)
        started = time.monotonic()
        with pytest.raises(error, match="timed out"):
            run()
        took = time.monotonic() - started
    assert took < BUDGET + SLACK, f"{took:.2f} s for a {BUDGET} s budget"
