"""Slow clients cannot take a default `serve` down.

Found from outside: four connections that send their headers and one byte of a body stalled
every request for 30 s, with the default sync workers. A default serve now runs threads, and a
body that does not arrive within `[server] body_timeout_seconds` is answered 408 and its thread
freed. Behind nginx, request buffering takes care of the rest (see the README).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import requests

from gateway.auth import TokenAuthority
from tests.conftest import EMPLOYEES, SECRET, write_config, write_csv
from tests.servers import Server, serving

pytestmark = pytest.mark.slow
SLOW = 8  # twice what stalled the sync workers


def slow_connection(server: Server) -> socket.socket:
    """Headers that promise 100 bytes of body, and one byte of it."""
    host, port = server.base.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=30)
    head = (
        "POST /v1/points/balance HTTP/1.1\r\n"
        f"Host: {host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    )
    conn.sendall(head.encode())
    return conn


def answer_of(conn: socket.socket) -> str:
    conn.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


@pytest.fixture
def gateway(tmp_path) -> Iterator[Server]:
    """A default serve: no --workers or --threads given."""
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    config.write_text(config.read_text() + "[server]\nbody_timeout_seconds = 2\n")
    with serving(config, log=tmp_path / "gateway.log") as server:
        yield server


def test_slow_clients_do_not_stall_a_normal_call(gateway):
    token = TokenAuthority([SECRET], 3600).issue("DB123")
    body = {"unique_id": "DB123", "auth_token": token}
    with ExitStack() as stack:
        slow = [stack.enter_context(slow_connection(gateway)) for _ in range(SLOW)]
        time.sleep(0.5)  # let the gateway take them in
        started = time.monotonic()
        r = requests.post(f"{gateway.base}/v1/points/balance", json=body, timeout=30)
        took = time.monotonic() - started
        assert r.status_code == 200, r.text
        assert took < 1.0, f"a normal call took {took:.1f} s behind {SLOW} slow clients"
        # The slow ones are answered 408 once their body is overdue, as JSON.
        answers = [answer_of(conn) for conn in slow]
    assert all(a.startswith("HTTP/1.1 408") for a in answers), answers[0][:200]
    payload = answers[0].split("\r\n\r\n", 1)[1] if "\r\n\r\n" in answers[0] else ""
    if payload:
        assert json.loads(payload)["error_code"] == "request_timeout"


def test_a_chunked_body_past_the_limit_is_413_on_a_real_server(gateway):
    """gunicorn terminates a chunked stream itself; the gateway must still count its bytes."""
    token = TokenAuthority([SECRET], 3600).issue("DB123")
    body = json.dumps({"unique_id": "DB123", "auth_token": token, "pad": "x" * 70_000}).encode()
    chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))  # sent chunked
    r = requests.post(
        f"{gateway.base}/v1/points/balance",
        data=chunks,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 413 and r.json()["error_code"] == "payload_too_large", r.text
    small = json.dumps({"unique_id": "DB123", "auth_token": token}).encode()
    r = requests.post(
        f"{gateway.base}/v1/points/balance",
        data=iter([small[:10], small[10:]]),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
