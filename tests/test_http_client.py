"""The connectors' HTTP client: which failures are retried, within what budget, and the breaker."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

from connectors.base import OutcomeUnknown, UpstreamError, UpstreamUnavailable
from connectors.breaker import BreakerOpen
from connectors.http import HttpClient, HttpPolicy

URL = "https://hr.example.com/api/people"


def refused() -> requests.ConnectionError:
    """What requests raises when nothing listens: certainly not sent."""
    return requests.ConnectionError(MaxRetryError(None, URL, NewConnectionError(None, "refused")))


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sleeps):
    policy = HttpPolicy(budget_seconds=5, attempts=3, breaker_failures=3)
    return HttpClient("hr", policy, sleep=sleeps.append)


def answers(mock, *items):
    for item in items:
        if isinstance(item, BaseException):
            mock.add(responses.GET, URL, body=item)
            mock.add(responses.POST, URL, body=item)
        else:
            status, headers = item if isinstance(item, tuple) else (item, {})
            mock.add(responses.GET, URL, status=status, headers=headers, json={})
            mock.add(responses.POST, URL, status=status, headers=headers, json={})


def calls(mock, method):
    return sum(1 for c in mock.calls if c.request.method == method)


@pytest.mark.parametrize(
    "failure", [503, 500, 429, requests.ReadTimeout("slow"), requests.ConnectionError("reset")]
)
def test_a_lookup_is_retried_after_any_failure(client, mock, failure):
    answers(mock, failure, 200)
    assert client.request("GET", URL, idempotent=True).status_code == 200
    assert calls(mock, "GET") == 2


@pytest.mark.parametrize(
    "failure", [503, requests.ReadTimeout("slow"), requests.ConnectionError("reset")]
)
def test_a_call_that_moves_points_is_not_retried_once_it_may_have_arrived(client, mock, failure):
    answers(mock, failure, 200)
    with pytest.raises(OutcomeUnknown):  # neither "failed" nor "done": the ledger must be asked
        client.request("POST", URL, idempotent=False)
    assert calls(mock, "POST") == 1


def test_a_throttled_call_that_moves_points_was_not_applied(client, mock):
    answers(mock, 429)
    with pytest.raises(UpstreamUnavailable, match="throttled"):
        client.request("POST", URL, idempotent=False)


def test_a_call_that_moves_points_and_never_connects_is_not_sent(client, mock):
    answers(mock, refused(), refused(), refused())
    with pytest.raises(UpstreamUnavailable):
        client.request("POST", URL, idempotent=False)
    assert calls(mock, "POST") == 3


def test_a_call_that_moves_points_is_retried_when_it_never_connected(client, mock):
    answers(mock, refused(), 200)
    assert client.request("POST", URL, idempotent=False).status_code == 200
    assert calls(mock, "POST") == 2


def test_retry_after_is_honoured_within_the_budget(client, mock, sleeps):
    answers(mock, (429, {"Retry-After": "2"}), 200)
    assert client.request("GET", URL, idempotent=True).status_code == 200
    assert sleeps == [2.0]


def test_retry_after_beyond_the_budget_gives_up_at_once(client, mock, sleeps):
    answers(mock, (429, {"Retry-After": "300"}), 200)
    with pytest.raises(UpstreamUnavailable, match=r"throttled.*300"):
        client.request("GET", URL, idempotent=True)
    assert sleeps == [] and calls(mock, "GET") == 1


def test_attempts_are_bounded_and_backoff_grows(client, mock, sleeps):
    answers(mock, 503, 503, 503, 200)
    with pytest.raises(UpstreamUnavailable, match="503"):
        client.request("GET", URL, idempotent=True)
    assert calls(mock, "GET") == 3 and len(sleeps) == 2 and sleeps[0] < sleeps[1] <= 2.1


def test_an_answered_error_is_returned_not_retried(client, mock):
    answers(mock, 404)
    assert client.request("GET", URL, idempotent=True).status_code == 404
    answers(mock, 502, 502, 502)
    with pytest.raises(UpstreamError, match="502"):
        client.request("GET", URL, idempotent=True)


def test_the_budget_bounds_a_hanging_server():
    """A real server that accepts and never answers: the call ends near the budget, not the
    10 s read timeout, and never sleeps past it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    client = HttpClient("slow", HttpPolicy(budget_seconds=0.6, read_timeout=10, attempts=5))
    url = f"http://127.0.0.1:{server.getsockname()[1]}/"
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamUnavailable, match="timed out"):
            client.request("GET", url, idempotent=True)
        assert time.monotonic() - started < 2.0
    finally:
        stop.set()
        server.close()
        for conn in held:
            conn.close()


def test_the_breaker_fails_fast_after_repeated_failures(client, mock):
    answers(mock, *[requests.ConnectionError("down")] * 9)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            client.request("GET", URL, idempotent=True)
    before = len(mock.calls)
    with pytest.raises(BreakerOpen):
        client.request("GET", URL, idempotent=True)
    assert len(mock.calls) == before and client.breaker.state == "open"
