"""The operator console's door: off unless configured, a login with CSRF and a lockout, the
session's cookie, an auth_token or api_key never letting anyone in, the trusted-header mode,
and the audit of who came and went (gateway/console)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.journal.operators import Audit, Operators
from tests.conftest import PROFILE_KEY, write_config

PASSWORD = "correct horse battery staple"


def console_config(tmp_path: Path, database_url: str, **console: object) -> Path:
    path = write_config(tmp_path, database_url)
    values = {"enabled": True, "secure_cookies": False, **console}
    lines = ["[console]"] + [
        f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v) if isinstance(v, str) else v}"
        for k, v in values.items()
    ]
    path.write_text(path.read_text() + "\n".join(lines).replace("'", '"') + "\n")
    return path


@pytest.fixture
def console_app(tmp_path: Path, employees_csv: Path, database_url: str) -> Flask:
    app = create_app(console_config(tmp_path, database_url))
    journal = app.extensions["points_gateway"].journal
    Operators(journal).add("alice", "operator", PASSWORD)
    Operators(journal).add("victor", "viewer", PASSWORD)
    return app


def csrf(client: FlaskClient, path: str = "/console/login", base_url: str | None = None) -> str:
    page = client.get(path, **({"base_url": base_url} if base_url else {})).get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(client: FlaskClient, name: str = "alice", password: str = PASSWORD) -> int:
    token = csrf(client)
    answer = client.post(
        "/console/login", data={"name": name, "password": password, "csrf_token": token}
    )
    return answer.status_code


def test_the_console_is_off_unless_configured(client: FlaskClient):
    answer = client.get("/console/")
    assert answer.status_code == 404 and answer.get_json()["error_code"] == "not_found"


def test_an_operator_logs_in_sees_the_overview_and_is_audited(console_app: Flask):
    client = console_app.test_client()
    first = client.get("/console/")
    assert first.status_code == 302 and "/console/login" in first.headers["Location"]
    assert log_in(client) == 302
    page = client.get("/console/").get_data(as_text=True)
    assert "Overview" in page and "alice (operator)" in page
    assert re.search(r'id="unfinished"><a href="/console/p/default/unfinished">0</a>', page)
    audit = client.get("/console/p/default/audit").get_data(as_text=True)
    assert "alice" in audit and "login" in audit
    out = client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    assert out.status_code == 302 and client.get("/console/").status_code == 302
    entries = Audit(console_app.extensions["points_gateway"].journal).recent()
    assert [e.action for e in entries] == ["logout", "login"]


def test_a_form_without_its_csrf_token_is_refused(console_app: Flask):
    client = console_app.test_client()
    answer = client.post("/console/login", data={"name": "alice", "password": PASSWORD})
    assert answer.status_code == 400 and client.get("/console/").status_code == 302


def test_wrong_passwords_are_refused_then_locked_out_per_account_and_address(
    console_app: Flask,
):
    client = console_app.test_client()
    for _ in range(5):
        assert log_in(client, "alice", "not the password at all") == 401
    # The right password now waits too: the account is locked, from anywhere.
    assert log_in(client, "alice") == 429
    other = console_app.test_client()
    assert log_in(other, "alice") == 429
    # And this address is locked for any account.
    assert log_in(client, "victor") == 429
    elsewhere = console_app.test_client()
    token = csrf(elsewhere)
    answer = elsewhere.post(
        "/console/login",
        data={"name": "victor", "password": PASSWORD, "csrf_token": token},
        environ_overrides={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert answer.status_code == 302


def test_an_unknown_name_is_refused_like_a_wrong_password(console_app: Flask):
    assert log_in(console_app.test_client(), "mallory", PASSWORD) == 401


def test_an_auth_token_or_api_key_never_opens_the_console(
    console_app: Flask, token: Callable[[str], str]
):
    client = console_app.test_client()
    for probe in (
        client.get("/console/", query_string={"auth_token": token("DB123")}),
        client.get("/console/", headers={"X-API-Key": PROFILE_KEY}),
        client.get(
            "/console/p/default/audit", headers={"Authorization": f"Bearer {token('DB123')}"}
        ),
    ):
        assert probe.status_code == 302 and "/console/login" in probe.headers["Location"]


def test_the_session_cookie_is_secure_httponly_strict_and_expires(
    tmp_path: Path, employees_csv: Path, database_url: str
):
    app = create_app(console_config(tmp_path, database_url, secure_cookies=True))
    Operators(app.extensions["points_gateway"].journal).add("alice", "operator", PASSWORD)
    client = app.test_client()
    token = csrf(client, base_url="https://gateway.example")
    answer = client.post(
        "/console/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": token},
        base_url="https://gateway.example",
        headers={"Referer": "https://gateway.example/console/login"},  # as a browser sends
    )
    assert answer.status_code == 302
    cookies = answer.headers.getlist("Set-Cookie")
    cookie = next(c for c in cookies if c.startswith("points_gateway_console="))
    assert all("Path=/console" in c for c in cookies), cookies
    for part in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/console", "Expires="):
        assert part in cookie, cookie


def test_a_removed_operator_s_session_ends(console_app: Flask):
    client = console_app.test_client()
    assert log_in(client) == 302 and client.get("/console/").status_code == 200
    Operators(console_app.extensions["points_gateway"].journal).remove("alice")
    assert client.get("/console/").status_code == 302


def test_behind_a_proxy_the_trusted_header_names_the_operator(
    tmp_path: Path, employees_csv: Path, database_url: str
):
    app = create_app(console_config(tmp_path, database_url, trusted_user_header="X-Remote-User"))
    Operators(app.extensions["points_gateway"].journal).add("victor", "viewer", PASSWORD)
    client = app.test_client()
    page = client.get("/console/", headers={"X-Remote-User": "victor"})
    assert page.status_code == 200 and "victor (viewer)" in page.get_data(as_text=True)
    assert client.get("/console/", headers={"X-Remote-User": "nobody"}).status_code == 302


def test_console_pages_are_not_cached_or_framed(console_app: Flask):
    page = console_app.test_client().get("/console/login")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"


def redeem_and_refund(app: Flask) -> None:
    from gateway.app import token_authority

    gateway = app.extensions["points_gateway"]
    token = token_authority(gateway.settings).issue("DB123")
    client = app.test_client()
    body = {
        "unique_id": "DB123",
        "auth_token": token,
        "order_id": "ORD-1",
        "total_points_redeemed": 100,
    }
    answer = client.post("/v1/points/redeem", json=body, headers={"X-Request-ID": "xo-req-7f3a"})
    assert answer.json["status"] == "1"
    refund = {"unique_id": "DB123", "auth_token": token, "transactionid": "ORD-1"}
    assert (
        client.post("/v1/points/refund", json={**refund, "redemption_amount": "30.5"}).json[
            "status"
        ]
        == "1"
    )


def test_search_finds_an_order_and_its_page_tells_its_story(console_app: Flask):
    redeem_and_refund(console_app)
    client = console_app.test_client()
    assert log_in(client, "victor") == 302  # a viewer may look
    found = client.get("/console/p/default/search", query_string={"q": "ORD-1"}).get_data(
        as_text=True
    )
    assert found.count("ORD-1") >= 2 and "debit" in found and "refund" in found
    for text in ("DB123", "xo-req-7f3a", "PAM@example.com"):  # member, request id, email
        by_other = client.get("/console/p/default/search", query_string={"q": text}).get_data(
            as_text=True
        )
        assert "ORD-1" in by_other, text
    debit = console_app.extensions["points_gateway"].journal.order("debit", "ORD-1")
    page = client.get(f"/console/p/default/operations/{debit.id}").get_data(as_text=True)
    assert 'id="amount">100<' in page and 'id="refunded">30.5<' in page
    assert 'id="remaining">69.5<' in page and "xo-req-7f3a" in page
    assert client.get("/console/p/default/operations/999999").status_code == 404


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", "%", "ORD-%", "\\", "<script>x</script>"])
def test_a_hostile_search_matches_nothing_and_is_shown_escaped(console_app: Flask, hostile):
    redeem_and_refund(console_app)
    client = console_app.test_client()
    log_in(client)
    page = client.get("/console/p/default/search", query_string={"q": hostile}).get_data(
        as_text=True
    )
    assert "Nothing matches" in page and "<script>x</script>" not in page


def test_the_search_reads_indexes_only(console_app: Flask):
    """Each of the search's alternatives is an indexed lookup: no scan of the operations."""
    from sqlalchemy import text as sql

    journal = console_app.extensions["points_gateway"].journal
    if not journal.is_sqlite:
        pytest.skip("SQLite's plan is read here; PostgreSQL's planner picks by statistics")
    query = (
        "SELECT * FROM operations WHERE order_id = 'x' OR member = 'x' OR unique_id = 'x' "
        "OR reference = 'x' ORDER BY id DESC LIMIT 50"
    )
    with journal.reader.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.execute(sql("EXPLAIN QUERY PLAN " + query)))
    assert "MULTI-INDEX OR" in plan and "SCAN operations" not in plan, plan
    for index in ("order_id", "member", "unique_id", "reference"):
        assert f"ix_operations_{index}" in plan, plan


def unsettled_debit(app: Flask) -> int:
    """A debit a points ledger has not settled (as a ledger outage leaves it)."""
    journal = app.extensions["points_gateway"].journal
    op, _ = journal.open_order("debit", "DB123", "DB123", "STUCK-1", 1_250_000, "debit:STUCK-1")
    return op.id


def test_unfinished_lists_what_a_ledger_left_and_an_operator_marks_it_with_a_reason(
    console_app: Flask,
):
    op_id = unsettled_debit(console_app)
    client = console_app.test_client()
    assert log_in(client) == 302
    listed = client.get("/console/p/default/unfinished", query_string={"state": "received"})
    assert "STUCK-1" in listed.get_data(as_text=True)
    assert "STUCK-1" not in client.get(
        "/console/p/default/unfinished", query_string={"kind": "refund"}
    ).get_data(as_text=True)
    page = f"/console/p/default/operations/{op_id}"
    token = csrf(client, page)
    # No reason, no mark.
    empty = client.post(
        f"{page}/mark", data={"state": "rejected", "reason": "", "csrf_token": token}
    )
    assert empty.status_code == 302 and "problem=reason" in empty.headers["Location"]
    journal = console_app.extensions["points_gateway"].journal
    assert journal.operation(op_id).state == "received"
    done = client.post(
        f"{page}/mark",
        data={"state": "rejected", "reason": "ledger says never received", "csrf_token": token},
    )
    assert done.status_code == 302
    marked = journal.operation(op_id)
    assert marked.state == "rejected" and marked.detail == "marked: ledger says never received"
    entry = Audit(journal).recent()[0]
    assert (entry.operator, entry.action, entry.target, entry.reason) == (
        "alice",
        "mark rejected",
        f"operation {op_id}",
        "ledger says never received",
    )
    assert "Nothing is unfinished" in client.get("/console/p/default/unfinished").get_data(
        as_text=True
    )


def test_a_viewer_cannot_mark_and_a_mark_needs_its_csrf_token(console_app: Flask):
    op_id = unsettled_debit(console_app)
    viewer = console_app.test_client()
    assert log_in(viewer, "victor") == 302
    page = viewer.get(f"/console/p/default/operations/{op_id}").get_data(as_text=True)
    assert "Mark it by hand" not in page
    token = csrf(viewer, f"/console/p/default/operations/{op_id}")  # the log-out form's token
    refused = viewer.post(
        f"/console/p/default/operations/{op_id}/mark",
        data={"state": "applied", "reason": "trust me", "csrf_token": token},
    )
    assert refused.status_code == 403
    operator = console_app.test_client()
    assert log_in(operator) == 302
    forged = operator.post(
        f"/console/p/default/operations/{op_id}/mark",
        data={"state": "applied", "reason": "no token"},
    )
    assert forged.status_code == 400  # not a "give a reason" page: refused outright
    journal = console_app.extensions["points_gateway"].journal
    assert journal.operation(op_id).state == "received"
    assert [e.action for e in Audit(journal).recent()] == ["login", "login"]


def test_a_member_statement_adds_up_and_downloads_as_a_safe_csv(console_app: Flask):
    import csv
    import io

    from gateway.app import token_authority

    redeem_and_refund(console_app)
    gateway = console_app.extensions["points_gateway"]
    token = token_authority(gateway.settings).issue("DB123")
    hostile = {"unique_id": "DB123", "auth_token": token, "order_id": "=HYPERLINK(1)"}
    answer = console_app.test_client().post(
        "/v1/points/redeem", json={**hostile, "total_points_redeemed": 1}
    )
    assert answer.json["status"] == "1"
    client = console_app.test_client()
    assert log_in(client, "victor") == 302
    page = client.get("/console/p/default/statement", query_string={"member": "DB123"})
    text = page.get_data(as_text=True)
    for field, value in (
        ("received", "2000"),
        ("redeemed", "70.5"),
        ("available", "1929.5"),
        ("debited", "101"),
        ("refunded", "30.5"),
        ("credited", "0"),
    ):
        assert f'id="{field}">{value}<' in text, field
    download = client.get("/console/p/default/statement.csv", query_string={"member": "DB123"})
    assert download.mimetype == "text/csv"
    assert 'filename="statement-default-DB123.csv"' in download.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert [(r["kind"], r["order_id"], r["points"]) for r in rows] == [
        ("debit", "ORD-1", "100"),
        ("refund", "ORD-1", "30.5"),
        ("debit", "'=HYPERLINK(1)", "1"),
    ]
    entry = Audit(gateway.journal).recent()[0]
    assert (entry.operator, entry.action, entry.target) == ("victor", "download statement", "DB123")
    unknown = client.get("/console/p/default/statement", query_string={"member": "NOBODY"})
    assert "no employee &#39;NOBODY&#39; in the HR source" in unknown.get_data(as_text=True)


def test_finance_exports_applied_operations_of_a_date_range_with_totals(console_app: Flask):
    import csv
    import io

    from gateway.journal.records import utcnow

    redeem_and_refund(console_app)
    unsettled_debit(console_app)  # received, not applied: not finance's yet
    client = console_app.test_client()
    assert log_in(client) == 302
    assert "Orphaned debits" in client.get("/console/p/default/reconciliation").get_data(
        as_text=True
    )
    today = utcnow().date().isoformat()
    download = client.get(
        "/console/p/default/export.csv", query_string={"since": today, "until": today}
    )
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    body = [(r[2], r[6], r[7]) for r in rows[1:] if r[0] != "total"]
    assert body == [("debit", "ORD-1", "100"), ("refund", "ORD-1", "30.5")]
    totals = {r[2]: r[7] for r in rows if r[0] == "total"}
    assert totals == {"debit": "100", "refund": "30.5"}
    earlier = client.get(
        "/console/p/default/export.csv", query_string={"since": "2020-01-01", "until": "2020-01-31"}
    )
    assert len(earlier.get_data(as_text=True).splitlines()) == 1  # the header alone
    for bad in (
        {"since": today},
        {"since": "yesterday", "until": today},
        {"since": today, "until": "2020-01-01"},
    ):
        assert client.get("/console/p/default/export.csv", query_string=bad).status_code == 400
    actions = [e.action for e in Audit(console_app.extensions["points_gateway"].journal).recent()]
    assert actions.count("finance export") == 2


def test_the_unfinished_list_pages_oldest_first(console_app: Flask):
    journal = console_app.extensions["points_gateway"].journal
    for i in range(130):
        journal.open_order(
            "debit", "DB123", "DB123", f"STUCK-{i:03d}", 10_000, f"debit:STUCK-{i:03d}"
        )
    client = console_app.test_client()
    assert log_in(client) == 302
    first = client.get("/console/p/default/unfinished").get_data(as_text=True)
    assert "STUCK-000" in first and "STUCK-099" in first and "STUCK-100" not in first
    newer = re.search(r'href="(/console/p/default/unfinished\?[^"]*after=\d+)">Newer', first)
    assert newer, first[-500:]
    second = client.get(newer.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "STUCK-100" in second and "STUCK-129" in second and "STUCK-099" not in second
    assert "Newer" not in second
