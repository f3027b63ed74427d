"""Console sessions kept in the journal (gateway/console/sessions.py): the cookie holds only a
random id, the journal only its SHA-256; a session ends at log out, at `operator remove`,
`session_minutes` after login however busy, and after `idle_minutes` without a request; the
id changes at every login; every worker and host sees the same sessions."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.app import create_app
from gateway.config import ConfigError, load_settings
from gateway.journal import Journal
from gateway.journal.operators import Operators
from gateway.journal.records import utcnow
from tests.servers import serving
from tests.test_console import PASSWORD, console_config, csrf, log_in

COOKIE = "points_gateway_console"
CSRF_COOKIE = "points_gateway_console_csrf"


class Clock:
    """The journal's clock for the console's sessions and logins, moved by hand."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    found = Clock()
    monkeypatch.setattr("gateway.journal.operators.utcnow", found)
    return found


def make_app(tmp_path: Path, database_url: str, **console: object) -> Flask:
    app = create_app(console_config(tmp_path, database_url, **console))
    journal = app.extensions["points_gateway"].journal
    Operators(journal).add("alice", "operator", PASSWORD)
    Operators(journal).add("victor", "viewer", PASSWORD)
    return app


@pytest.fixture
def console(tmp_path: Path, employees_csv: Path, database_url: str) -> Iterator[Flask]:
    app = make_app(tmp_path, database_url)
    yield app
    app.extensions["points_gateway"].close()


def cookie(client: FlaskClient, name: str = COOKIE) -> str | None:
    found = client.get_cookie(name, path="/console")
    return found.value if found else None


def copy_cookies(source: FlaskClient, target: FlaskClient) -> None:
    """What someone who captured the browser's cookies holds."""
    for name in (COOKIE, CSRF_COOKIE):
        value = cookie(source, name)
        if value is not None:
            target.set_cookie(name, value, path="/console")


def session_rows(app: Flask) -> list[tuple[str, ...]]:
    from gateway.journal.tables import console_sessions

    with app.extensions["points_gateway"].journal.reader.connect() as conn:
        return [tuple(str(v) for v in row) for row in conn.execute(select(console_sessions))]


def is_in(client: FlaskClient) -> bool:
    answer = client.get("/console/")
    assert answer.status_code in (200, 302), answer.status_code
    return answer.status_code == 200


def test_a_cookie_captured_before_log_out_opens_nothing_afterwards(console: Flask):
    client = console.test_client()
    assert log_in(client) == 302 and is_in(client)
    thief = console.test_client()
    copy_cookies(client, thief)
    assert is_in(thief)  # the same session, until...
    out = client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    assert out.status_code == 302
    assert not is_in(thief)
    assert thief.get("/console/p/default/audit").status_code == 302
    assert session_rows(console) == []


def test_the_session_cookie_is_set_at_login_and_never_again(console: Flask):
    """A cookie re-signed on every request would make a session in use last for ever."""
    client = console.test_client()
    assert log_in(client) == 302
    assert client.get("/console/").status_code == 200  # its forms' new CSRF token: a cookie
    for path in (
        "/console/",
        "/console/p/default/audit",
        "/console/p/default/unfinished",
        "/console/",
    ):
        answer = client.get(path)
        assert answer.status_code == 200
        assert answer.headers.getlist("Set-Cookie") == [], path


def test_a_session_ends_session_minutes_after_login_however_busy(console: Flask, clock: Clock):
    client = console.test_client()
    assert log_in(client) == 302
    for _ in range(5):  # a request every 5 minutes: never idle
        clock.advance(minutes=5)
        assert is_in(client)
    clock.advance(minutes=4, seconds=59)
    assert is_in(client)  # 29:59 after login
    clock.advance(seconds=2)
    assert not is_in(client)
    assert session_rows(console) == []  # the ended session is deleted


def test_an_idle_session_ends_after_idle_minutes(
    tmp_path: Path, employees_csv: Path, database_url: str, clock: Clock
):
    app = make_app(tmp_path, database_url, session_minutes=60, idle_minutes=5)
    client = app.test_client()
    assert log_in(client) == 302
    for _ in range(4):  # 16 minutes in use, never 5 idle
        clock.advance(minutes=4)
        assert is_in(client)
    clock.advance(minutes=5, seconds=1)
    assert not is_in(client)
    app.extensions["points_gateway"].close()


def test_idle_minutes_defaults_to_15_and_is_validated(tmp_path: Path, employees_csv: Path):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    assert load_settings(console_config(tmp_path, url)).console["idle_minutes"] == 15
    for bad in (0, -1, 1441, '"soon"'):
        path = console_config(tmp_path, url)
        path.write_text(path.read_text() + f"idle_minutes = {bad}\n")
        with pytest.raises(ConfigError, match=r"^console\.idle_minutes: "):
            load_settings(path)


def test_login_gives_a_new_session_id_and_a_new_csrf_token(console: Flask):
    """Session fixation: an id (or a CSRF token) that existed before login is never the one
    that is logged in."""
    client = console.test_client()
    client.set_cookie(COOKIE, "an-id-chosen-by-an-attacker", path="/console")
    before = csrf(client)
    assert log_in(client) == 302
    first = cookie(client)
    assert first and first != "an-id-chosen-by-an-attacker"
    assert len(first) >= 40  # secrets.token_urlsafe(32)
    attacker = console.test_client()
    attacker.set_cookie(COOKIE, "an-id-chosen-by-an-attacker", path="/console")
    assert not is_in(attacker)
    # The token of the login page no longer passes: the login started a new CSRF session.
    stale = client.post("/console/logout", data={"csrf_token": before})
    assert stale.status_code == 400 and is_in(client)
    # Only the CSRF token is in Flask's cookie; who is logged in is not.
    with client.session_transaction() as flask_session:
        assert set(flask_session) <= {"csrf_token"}, dict(flask_session)
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    assert log_in(client) == 302
    assert cookie(client) not in (None, first)


def test_the_journal_holds_only_a_hash_of_each_session_id(console: Flask):
    client = console.test_client()
    assert log_in(client) == 302
    other = console.test_client()
    assert log_in(other, "victor") == 302
    ids = [cookie(client), cookie(other)]
    assert all(ids) and ids[0] != ids[1]
    rows = session_rows(console)
    stored = {row[0] for row in rows}
    assert stored == {hashlib.sha256(str(i).encode()).hexdigest() for i in ids}
    assert sorted(row[1] for row in rows) == ["alice", "victor"]
    dump = repr(rows)
    assert not any(str(i) in dump for i in ids)


def test_an_ended_or_unknown_session_s_cookie_is_cleared(console: Flask):
    client = console.test_client()
    client.set_cookie(COOKIE, "no-such-session", path="/console")
    answer = client.get("/console/")
    assert answer.status_code == 302
    cleared = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}=")]
    assert cleared and "Expires=Thu, 01 Jan 1970" in cleared[0], cleared


def test_no_session_id_or_password_is_logged(console: Flask, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    client = console.test_client()
    assert log_in(client) == 302
    token = cookie(client)
    client.get("/console/")
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    assert log_in(client, "alice", "a wrong password, logged?") == 401
    text = caplog.text
    assert token and token not in text
    assert PASSWORD not in text and "a wrong password, logged?" not in text


def test_a_removed_operator_s_sessions_are_deleted_at_once(console: Flask):
    client = console.test_client()
    assert log_in(client) == 302
    other = console.test_client()
    assert log_in(other, "victor") == 302
    assert Operators(console.extensions["points_gateway"].journal).remove("alice") == 1
    assert [row[1] for row in session_rows(console)] == ["victor"]
    assert not is_in(client) and is_in(other)


def test_behind_a_proxy_the_header_still_names_the_operator_with_sessions_kept(
    tmp_path: Path, employees_csv: Path, database_url: str
):
    app = make_app(tmp_path, database_url, trusted_user_header="X-Remote-User")
    client = app.test_client()
    page = client.get("/console/", headers={"X-Remote-User": "victor"})
    assert page.status_code == 200 and "victor (viewer)" in page.get_data(as_text=True)
    assert session_rows(app) == []  # the proxy's header is the session: none is kept
    assert log_in(client) == 302 and is_in(client)  # a password still works beside it
    app.extensions["points_gateway"].close()


# -- a real serve: every worker sees the same sessions -------------------------------------
def form_token(session: requests.Session, url: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', session.get(url).text)
    assert found
    return found.group(1)


@pytest.mark.slow
def test_every_worker_of_a_real_serve_sees_the_same_sessions(
    tmp_path: Path, employees_csv: Path, database_url: str
):
    config = console_config(tmp_path, database_url)
    journal = Journal(load_settings(config).database_url)
    journal.create_schema()
    Operators(journal).add("alice", "operator", PASSWORD)
    journal.dispose()
    with serving(config, "--workers", "3") as server:
        base = f"{server.base}/console"
        browser = requests.Session()
        body = {
            "name": "alice",
            "password": PASSWORD,
            "csrf_token": form_token(browser, base + "/login"),
        }
        assert browser.post(base + "/login", data=body, allow_redirects=False).status_code == 302
        captured = requests.Session()
        captured.cookies.update(browser.cookies)
        # Each request may reach any worker: every one knows the session.
        pages = [browser.get(base + "/", allow_redirects=False).status_code for _ in range(30)]
        assert pages == [200] * 30
        token = form_token(browser, base + "/")
        assert browser.post(base + "/logout", data={"csrf_token": token}).status_code == 200
        after = [captured.get(base + "/", allow_redirects=False).status_code for _ in range(30)]
        assert after == [302] * 30
        for each in (browser, captured):
            each.close()
