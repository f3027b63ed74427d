"""The console's lockout under concurrency: each login attempt is counted in the journal, per
address and per account, in one atomic statement before its password is checked, so with
`max_failures = 3` twenty wrong passwords at once are three 401s and seventeen 429s, through
threads on one app and through a real `serve` of several workers, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.config import load_settings
from gateway.journal import Journal
from gateway.journal.operators import Operators
from gateway.journal.tables import login_failures
from tests.servers import serving
from tests.test_console import PASSWORD, console_config, csrf, log_in

AT_ONCE = 20
LIMIT = 3
WRONG = "not the password at all"


def at_once(attempts: list[Callable[[], int]]) -> list[int]:
    """Run every attempt in its own thread, released together; their statuses."""
    start = threading.Barrier(len(attempts))

    def run(attempt: Callable[[], int]) -> int:
        start.wait(timeout=30)
        return attempt()

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(run, attempts))


def assert_locked_after_limit(statuses: list[int]) -> None:
    # The counts 1..20 are handed out one each: the first three are checked, the rest wait.
    counted = {status: statuses.count(status) for status in sorted(set(statuses))}
    assert sorted(statuses) == [401] * LIMIT + [429] * (AT_ONCE - LIMIT), counted


@pytest.fixture
def console(tmp_path: Path, employees_csv: Path, database_url: str) -> Iterator[Flask]:
    app = create_app(console_config(tmp_path, database_url, max_failures=LIMIT))
    Operators(app.extensions["points_gateway"].journal).add("alice", "operator", PASSWORD)
    yield app
    app.extensions["points_gateway"].close()


def test_twenty_wrong_passwords_at_once_through_threads_are_locked_out(console: Flask):
    attempts = []
    for _ in range(AT_ONCE):
        client = console.test_client()
        token = csrf(client)  # each its own form first, as twenty browsers would

        def attempt(client: FlaskClient = client, token: str = token) -> int:
            data = {"name": "alice", "password": WRONG, "csrf_token": token}
            return client.post("/console/login", data=data).status_code

        attempts.append(attempt)
    assert_locked_after_limit(at_once(attempts))
    assert log_in(console.test_client()) == 429  # the right password waits too


def test_a_success_resets_the_count(console: Flask):
    client = console.test_client()
    for _ in range(LIMIT - 1):
        assert log_in(client, "alice", WRONG) == 401
    assert log_in(client) == 302
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    for _ in range(LIMIT):
        assert log_in(client, "alice", WRONG) == 401
    assert log_in(client, "alice", WRONG) == 429


def test_a_locked_out_address_adds_no_rows_whatever_names_it_tries(console: Flask):
    client = console.test_client()
    for _ in range(LIMIT):
        assert log_in(client, "alice", WRONG) == 401
    journal = console.extensions["points_gateway"].journal

    def rows() -> int:
        with journal.reader.connect() as conn:
            return conn.execute(select(func.count()).select_from(login_failures)).scalar_one()

    before = rows()
    for i in range(10):
        assert log_in(client, f"guess{i}", WRONG) == 429
    assert rows() == before


def form_token(session: requests.Session, url: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', session.get(url).text)
    assert found
    return found.group(1)


@pytest.mark.slow
def test_twenty_wrong_passwords_at_once_at_a_real_serve_are_locked_out(
    tmp_path: Path, employees_csv: Path, database_url: str
):
    config = console_config(tmp_path, database_url, max_failures=LIMIT)
    journal = Journal(load_settings(config).database_url)
    journal.create_schema()
    Operators(journal).add("alice", "operator", PASSWORD)
    journal.dispose()
    with serving(config, "--workers", "4") as server:
        login = f"{server.base}/console/login"
        attempts, browsers = [], []
        for _ in range(AT_ONCE):
            browser = requests.Session()
            browsers.append(browser)
            token = form_token(browser, login)

            def attempt(browser: requests.Session = browser, token: str = token) -> int:
                data = {"name": "alice", "password": WRONG, "csrf_token": token}
                return browser.post(login, data=data, allow_redirects=False, timeout=30).status_code

            attempts.append(attempt)
        statuses = at_once(attempts)
        for browser in browsers:
            browser.close()
        assert_locked_after_limit(statuses)
