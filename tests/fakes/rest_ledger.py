"""A legacy points system's REST API: the fake behind the rest_ledger connector's tests and bench.

`LedgerApi.handle(method, path, headers, body)` is the whole API as one function (like an httpx
MockTransport handler); `on_responses` mounts it on `responses`, and `python -m
tests.fakes.rest_ledger --port N` serves it for real, with faults an HTTP client can order:

    POST /_control {"fail_rate": 0.5, "faults": ["fail", "hang", "reset", "apply_then_hang"],
                    "hang_seconds": 0.6, "latency_seconds": 0.02, "seed": 7,
                    "only": "/debits"}
    POST /_accounts {"DB123": "250"}        GET /_state  (balances and what was applied how often)

Like many legacy systems it applies every write it is sent unless `idempotent` (then a known
reference answers 409). `applied` counts each reference's applications: more than one is a
double debit.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import socket
import struct
import threading
import time
import tomllib
from collections import Counter
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import responses

BASE = "https://ledger.example.com/api"
TOKEN = "ledger-bearer-token-5ec7e7"
Answer = tuple[int, str]


def number(value: Decimal) -> str:
    return format(value, "f")


class LedgerApi:
    def __init__(self, token: str | None = TOKEN, idempotent: bool = False) -> None:
        self.token = token
        self.idempotent = idempotent
        self.accounts: dict[str, Decimal] = {}
        self.transactions: dict[str, dict[str, Any]] = {}  # reference -> the last write
        self.applied: Counter[str] = Counter()
        self.log: list[tuple[float, str, str]] = []  # (when, reference, what happened)
        self.lock = threading.Lock()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            return 401, '{"error": "UNAUTHORIZED"}'
        path = "/".join(unquote(part) for part in path.split("/"))
        if method == "GET" and (m := re.fullmatch(r"/api/members/([^/]+)/points", path)):
            return self._balance(m.group(1))
        if method == "POST" and (m := re.fullmatch(r"/api/members/([^/]+)/(debit|credit)s", path)):
            return self._write(m.group(2), m.group(1), headers, body)
        if method == "GET" and (m := re.fullmatch(r"/api/transactions/([^/]+)", path)):
            return self._transaction(m.group(1))
        return 404, '{"error": "NO_ROUTE"}'

    def _balance(self, member: str) -> Answer:
        with self.lock:
            points = self.accounts.get(member)
        if points is None:
            return 404, '{"error": "NO_MEMBER"}'
        return 200, f'{{"member": "{member}", "data": {{"balance": {number(points)}}}}}'

    def _write(self, kind: str, member: str, headers: dict[str, str], body: bytes) -> Answer:
        try:
            sent = json.loads(body, parse_float=Decimal)
            amount, reference = Decimal(sent["points"]), str(sent["ref"])
        except (ValueError, KeyError, TypeError, ArithmeticError):
            return 400, '{"error": "BAD_REQUEST"}'
        if headers.get("idempotency-key", reference) != reference:
            return 400, '{"error": "KEY_MISMATCH"}'
        with self.lock:
            if self.idempotent and reference in self.transactions:
                return 409, '{"error": "DUPLICATE"}'
            if member not in self.accounts:
                return 404, '{"error": "NO_MEMBER"}'
            points = self.accounts[member] + (amount if kind == "credit" else -amount)
            if points < 0:
                return 402, '{"error": "INSUFFICIENT_POINTS"}'
            self.accounts[member] = points
            self.applied[reference] += 1
            self.log.append((time.time(), reference, f"applied {kind}"))
            number_of = len(self.transactions) + 1
            self.transactions[reference] = {"member": member, "kind": kind, "amount": amount}
        return 201, f'{{"transaction": {{"id": "tx-{number_of}", "status": "completed"}}}}'

    def _transaction(self, reference: str) -> Answer:
        with self.lock:
            tx = self.transactions.get(reference)
        if tx is None:
            return 404, '{"error": "NO_TRANSACTION"}'
        return 200, json.dumps(
            {
                "reference": reference,
                "status": "completed",
                "points": number(tx["amount"]),
                "member": tx["member"],
                "kind": tx["kind"],
            }
        )

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "accounts": {m: number(p) for m, p in self.accounts.items()},
                "applied": dict(self.applied),
                "log": self.log,
                "transactions": {
                    r: {**t, "amount": number(t["amount"])} for r, t in self.transactions.items()
                },
            }


#: What the rest_ledger connector is told about this API, as a gateway.toml says it.
POINTS_TOML = f"""
[points]
connector = "rest_ledger"
[points.options]
base_url = "{BASE}"
auth = "bearer"
token = "{TOKEN}"
balance = {{ available = "data.balance" }}
debit = {{ body = {{ points = "{{amount}}", ref = "{{reference}}" }}, ledger_id = "transaction.id" }}
credit = {{ body = {{ points = "{{amount}}", ref = "{{reference}}" }} }}
lookup = {{ amount = "points", state = "status", member = "member", kind = "kind" }}
"""
OPTIONS = tomllib.loads(POINTS_TOML)["points"]["options"]


def on_responses(mock: responses.RequestsMock, api: LedgerApi, base: str = BASE) -> None:
    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        path = request.path_url.split("?")[0]
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, text = api.handle(request.method, path, headers, request.body or b"")
        return status, {"Content-Type": "application/json"}, text

    for method in ("GET", "POST"):
        mock.add_callback(method, re.compile(re.escape(base) + r"/.*"), callback=callback)


class Faults:
    def __init__(self) -> None:
        self.fail_rate = 0.0
        self.faults = ["fail"]
        self.hang_seconds = 1.0
        self.latency_seconds = 0.0
        self.only = ""  # faults only for paths holding this text ("/debits")
        self.random = random.Random(1)
        self.lock = threading.Lock()

    def pick(self, path: str) -> str | None:
        with self.lock:
            if self.only not in path or self.random.random() >= self.fail_rate:
                return None
            return self.random.choice(self.faults)


def serve(port: int, api: LedgerApi) -> ThreadingHTTPServer:
    faults = Faults()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            if path.startswith("/_") or path == "/healthz":
                return self._answer(*self._control(path, body))
            time.sleep(faults.latency_seconds)
            fault = faults.pick(path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            if fault == "fail":
                return self._answer(random.choice([500, 502, 503]), '{"error": "OOPS"}')
            if fault == "reset":
                # RST instead of FIN: the client sees "connection reset", after sending.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
                return None
            if fault == "hang":  # applied after the client gave up waiting
                time.sleep(faults.hang_seconds)
            answer = api.handle(self.command, path, headers, body)
            if fault == "apply_then_hang":
                time.sleep(faults.hang_seconds)
            return self._answer(*answer)

        def _control(self, path: str, body: bytes) -> Answer:
            if path == "/healthz":
                return 200, '{"status": "1"}'
            if path == "/_state":
                return 200, json.dumps(api.state())
            sent = json.loads(body or b"{}")
            if path == "/_accounts":
                with api.lock:
                    api.accounts.update({m: Decimal(str(p)) for m, p in sent.items()})
                return 200, "{}"
            if path == "/_control":
                with faults.lock:
                    for name in ("fail_rate", "faults", "hang_seconds", "latency_seconds", "only"):
                        if name in sent:
                            setattr(faults, name, sent[name])
                    if "seed" in sent:
                        faults.random.seed(sent["seed"])
                api.idempotent = bool(sent.get("idempotent", api.idempotent))
                return 200, "{}"
            return 404, "{}"

        def _answer(self, status: int, text: str) -> None:
            data = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (a hang outlived its timeout)
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-auth", action="store_true")
    args = parser.parse_args()
    serve(args.port, LedgerApi(token=None if args.no_auth else TOKEN)).serve_forever()


if __name__ == "__main__":
    main()
