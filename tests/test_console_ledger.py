"""The console's pages that reach a points ledger: "resolve now" on one operation or a selection
(previewed first, operators only, audited), the comparison of journal and ledger, and the lists
behind the overview's numbers. The ledger is the REST ledger's fake (tests/fakes/rest_ledger.py)
mounted on `responses`, with a switch that makes it apply a debit and then time out, and fail
its status lookups, as a flaky legacy system does."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from gateway.app import create_app
from gateway.journal.operators import Audit, Operators
from tests.conftest import write_config
from tests.fakes import rest_ledger as fake
from tests.test_console import PASSWORD, csrf, log_in

CONSOLE = """
[ledger]
wait_seconds = 0.2
settle_seconds = 0
[console]
enabled = true
secure_cookies = false
"""


class Flaky:
    """While `on`, a debit is applied and its answer lost, and status lookups fail."""

    def __init__(self, api: fake.LedgerApi) -> None:
        self.api = api
        self.on = False
        self.lose_credits = False  # a credit times out before the ledger saw it

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        path = request.path_url.split("?")[0]
        if self.lose_credits and path.endswith("/credits"):
            raise requests.ReadTimeout("the credit never reached the ledger")
        if self.on and "/transactions/" in path:
            return 503, {}, '{"error": "BUSY"}'
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, text = self.api.handle(request.method, path, headers, request.body or b"")
        if self.on and path.endswith("/debits"):
            raise requests.ReadTimeout("the ledger applied it, then its answer was lost")
        return status, {"Content-Type": "application/json"}, text


@pytest.fixture
def ledger(mock) -> Flaky:
    api = fake.LedgerApi()
    api.accounts["DB123"] = Decimal("500")
    flaky = Flaky(api)
    for method in ("GET", "POST"):
        mock.add_callback(method, re.compile(re.escape(fake.BASE) + r"/.*"), callback=flaky)
    return flaky


@pytest.fixture
def ledger_app(tmp_path: Path, employees_csv: Path, database_url: str, ledger: Flaky) -> Flask:
    config = write_config(tmp_path, database_url)
    points = fake.POINTS_TOML + "http = { attempts = 1, read_timeout = 0.5, budget_seconds = 1 }\n"
    config.write_text(
        config.read_text().replace(
            '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }', points
        )
        + CONSOLE
    )
    app = create_app(config)
    journal = app.extensions["points_gateway"].journal
    Operators(journal).add("alice", "operator", PASSWORD)
    Operators(journal).add("victor", "viewer", PASSWORD)
    yield app
    app.extensions["points_gateway"].close()


def redeem(app: Flask, order_id: str, points: str = "100", request_id: str = "") -> dict[str, Any]:
    tokens = app.extensions["points_gateway"].tokens
    body = {"unique_id": "DB123", "auth_token": tokens.issue("DB123"), "order_id": order_id}
    headers = {"X-Request-ID": request_id} if request_id else {}
    answer = app.test_client().post(
        "/v1/points/redeem", json={**body, "total_points_redeemed": points}, headers=headers
    )
    return answer.get_json()


def stuck(app: Flask, ledger: Flaky, order_id: str) -> int:
    """A debit the ledger applied whose outcome the gateway could not learn."""
    ledger.on = True
    assert redeem(app, order_id)["error_code"] == "outcome_unknown"
    ledger.on = False
    op = app.extensions["points_gateway"].journal.order("debit", order_id)
    assert op.state == "unknown" and ledger.api.applied[f"debit:{order_id}"] == 1
    return op.id


def test_resolve_now_previews_the_selection_then_settles_it_and_is_audited(
    ledger_app: Flask, ledger: Flaky
):
    first, second = stuck(ledger_app, ledger, "S-1"), stuck(ledger_app, ledger, "S-2")
    client = ledger_app.test_client()
    assert log_in(client) == 302
    token = csrf(client, "/console/p/default/unfinished")
    preview = client.post(
        "/console/p/default/unfinished/preview",
        data={"csrf_token": token, "ids": [str(first), "x", "9" * 30]},
    ).get_data(as_text=True)
    assert "1 operation will be driven now" in preview and "S-1" in preview and "S-2" not in preview
    journal = ledger_app.extensions["points_gateway"].journal
    assert journal.operation(first).state == "unknown"  # a preview changes nothing
    done = client.post(
        "/console/p/default/unfinished/resolve", data={"csrf_token": token, "ids": [str(first)]}
    )
    assert done.status_code == 200 and "found applied by the status lookup" in done.get_data(True)
    assert journal.operation(first).state == "applied"
    assert journal.operation(second).state == "unknown"
    every = client.post(
        "/console/p/default/unfinished/preview",
        data={"csrf_token": token, "every": "1", "kind": "debit"},
    ).get_data(as_text=True)
    assert "1 operation will be driven now" in every and "S-2" in every
    client.post(
        "/console/p/default/unfinished/resolve", data={"csrf_token": token, "ids": [str(second)]}
    )
    assert journal.operation(second).state == "applied"
    assert ledger.api.applied == {"debit:S-1": 1, "debit:S-2": 1}  # looked up, never re-sent
    actions = [(e.operator, e.action, e.target) for e in Audit(journal).recent()][:2]
    assert actions == [
        ("alice", "resolve now", f"operations {second}"),
        ("alice", "resolve now", f"operations {first}"),
    ]


def test_resolve_now_drives_an_owed_refund_all_the_way_in_one_pass(
    ledger_app: Flask, ledger: Flaky
):
    """Found by an operator: on a selection, "resolve now" left a refund the ledger never got
    at "not applied (status lookup): to be sent again" though the ledger was healthy; a second
    pass sent it. One pass does what `journal resolve` does."""
    assert redeem(ledger_app, "R-1")["status"] == "1"
    tokens = ledger_app.extensions["points_gateway"].tokens
    body = {"unique_id": "DB123", "auth_token": tokens.issue("DB123"), "transactionid": "R-1"}
    ledger.lose_credits = True
    refund = ledger_app.test_client().post(
        "/v1/points/refund", json={**body, "redemption_amount": "40"}
    )
    assert refund.get_json()["status"] == "1"
    ledger.lose_credits = False
    journal = ledger_app.extensions["points_gateway"].journal
    (owed,) = [op for op in journal.unfinished() if op.kind == "refund"]
    assert owed.state == "unknown"
    client = ledger_app.test_client()
    assert log_in(client) == 302
    token = csrf(client, "/console/p/default/unfinished")
    client.post(
        "/console/p/default/unfinished/resolve", data={"csrf_token": token, "ids": [str(owed.id)]}
    )
    assert journal.operation(owed.id).state == "applied"
    assert ledger.api.accounts["DB123"] == Decimal("500") - 100 + 40


def test_a_viewer_cannot_resolve_and_a_resolve_needs_its_csrf_token(
    ledger_app: Flask, ledger: Flaky
):
    op_id = stuck(ledger_app, ledger, "S-3")
    viewer = ledger_app.test_client()
    assert log_in(viewer, "victor") == 302
    assert "Resolve now" not in viewer.get(f"/console/p/default/operations/{op_id}").get_data(True)
    token = csrf(viewer, "/console/p/default/unfinished")
    for path in ("/console/p/default/unfinished/preview", "/console/p/default/unfinished/resolve"):
        assert viewer.post(path, data={"csrf_token": token, "ids": [str(op_id)]}).status_code == 403
    operator = ledger_app.test_client()
    assert log_in(operator) == 302
    assert "Resolve now" in operator.get(f"/console/p/default/operations/{op_id}").get_data(True)
    forged = operator.post("/console/p/default/unfinished/resolve", data={"ids": [str(op_id)]})
    assert forged.status_code == 400
    assert ledger_app.extensions["points_gateway"].journal.operation(op_id).state == "unknown"


def test_journal_and_ledger_are_compared_and_differences_named(ledger_app: Flask, ledger: Flaky):
    assert redeem(ledger_app, "C-1")["status"] == "1"
    assert redeem(ledger_app, "C-2", "50")["status"] == "1"
    unknown = stuck(ledger_app, ledger, "C-3")
    # The ledger's own books disagree on C-2 (someone edited it there by hand).
    ledger.api.transactions["debit:C-2"]["amount"] = Decimal("40")
    client = ledger_app.test_client()
    assert log_in(client) == 302
    page = client.get("/console/p/default/compare", query_string={"lines": "DB123\nC-1\nnobody"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'id="differ">1<', text), text
    assert '<span id="differ">1</span> differs</h2>' in text
    assert "the ledger&#39;s write is 40 points, not 50" in text
    assert "both applied it, for the same points" in text  # C-1
    assert "unfinished (unknown): resolving it settles this" in text and f">{unknown}<" in text
    assert "Not in the journal: nobody" in text
    assert re.search(r"DB123</a></td><td class=\"n\">250<", text), text  # 500 - 100 - 50 - 100
    # Only read: nothing changed on either side.
    assert ledger_app.extensions["points_gateway"].journal.operation(unknown).state == "unknown"


def test_the_overview_counts_link_to_the_operations_behind_them(ledger_app: Flask, ledger: Flaky):
    assert redeem(ledger_app, "L-1")["status"] == "1"
    stuck(ledger_app, ledger, "L-2")
    client = ledger_app.test_client()
    assert log_in(client) == 302
    overview = client.get("/console/").get_data(as_text=True)
    assert "breaker closed (this worker)" in overview  # the REST ledger's
    links = re.findall(r'href="(/console/p/default/operations\?[^"]+)">(\d+)<', overview)
    assert sorted(n for _, n in links) == ["1", "1"], overview
    for href, _ in links:
        listed = client.get(href.replace("&amp;", "&")).get_data(as_text=True)
        state = "applied" if "applied" in href else "unknown"
        order = "L-1" if state == "applied" else "L-2"
        assert order in listed and ("L-2" if order == "L-1" else "L-1") not in listed


def test_the_operations_list_pages_by_time_then_id_without_losing_one(app: Flask):
    from datetime import timedelta

    from sqlalchemy import insert

    from gateway.console.overview import operations_since
    from gateway.journal.records import utcnow
    from gateway.journal.tables import operations

    journal = app.extensions["points_gateway"].journal
    now = utcnow()
    rows = [
        {
            # Ties in time, and times out of id order, as several hosts write them.
            "created_at": now - timedelta(seconds=(i * 7) % 50),
            "kind": "debit",
            "state": "applied",
            "member": "DB123",
            "unique_id": "DB123",
            "order_id": f"P{i}",
            "amount": 10_000,
            "fingerprint": "f",
            "answer": "{}",
        }
        for i in range(250)
    ]
    with journal._write() as conn:
        conn.execute(insert(operations), rows)
    seen, before = [], None
    while True:
        page = operations_since(journal, now - timedelta(hours=1), "debit", "", 100, before)
        seen += [op.order_id for op in page]
        if len(page) < 100:
            break
        before = page[-1].id
    assert sorted(seen) == sorted(f"P{i}" for i in range(250)) and len(seen) == 250


def test_each_delivery_keeps_its_request_id_and_search_finds_the_order_by_any(
    ledger_app: Flask, ledger: Flaky
):
    ledger.on = True
    assert redeem(ledger_app, "R-1", request_id="xo-first-try")["error_code"] == "outcome_unknown"
    ledger.on = False
    assert redeem(ledger_app, "R-1", request_id="xo-second-try")["status"] == "1"
    journal = ledger_app.extensions["points_gateway"].journal
    op = journal.order("debit", "R-1")
    assert op.request_id == "xo-first-try"
    assert [(a, r) for _, a, r in journal.deliveries_of(op.id)] == [
        ("outcome_unknown", "xo-first-try"),
        ("ok", "xo-second-try"),
    ]
    client = ledger_app.test_client()
    assert log_in(client) == 302
    for request_id in ("xo-first-try", "xo-second-try"):
        page = client.get("/console/p/default/search", query_string={"q": request_id}).get_data(
            True
        )
        assert "R-1" in page, request_id
    assert "Nothing matches" in client.get(
        "/console/p/default/search", query_string={"q": "xo-third-try"}
    ).get_data(True)


def journal_state(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the console writes."""
    from sqlalchemy import select

    from gateway.journal.tables import metadata

    journal = app.extensions["points_gateway"].journal
    with journal.reader.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))]
            for name, table in metadata.tables.items()
        }


def test_every_console_post_without_a_valid_token_is_refused_and_changes_nothing(
    ledger_app: Flask, ledger: Flaky
):
    """Each POST route of the console's blueprint, found in the URL map (a new one is tried
    too), with its token missing, forged, signed with another key, or another session's:
    400, and not a row of the journal or the audit changes."""
    from itsdangerous import URLSafeTimedSerializer

    op_id = stuck(ledger_app, ledger, "F-1")
    client = ledger_app.test_client()
    assert log_in(client) == 302
    stranger = ledger_app.test_client()
    someone_elses = csrf(stranger)  # a valid token, of another browser's session
    other_key = URLSafeTimedSerializer("not our key", salt="wtf-csrf-token").dumps("x" * 40)
    routes = [
        rule
        for rule in ledger_app.url_map.iter_rules()
        if rule.endpoint.startswith("console.") and "POST" in (rule.methods or ())
    ]
    endpoints = {rule.endpoint for rule in routes}
    assert {"console.login", "console.logout", "console.mark"} <= endpoints
    assert {"console.resolve_preview", "console.resolve_now"} <= endpoints
    # What each form would send: acting on the stuck operation, were the token good.
    data = {
        "name": "alice",
        "password": PASSWORD,
        "state": "applied",
        "reason": "forged from another site",
        "ids": [str(op_id)],
        "every": "1",
    }
    tokens = {
        "missing": None,
        "forged": "forged",
        "another session's": someone_elses,
        "another key's": other_key,
    }
    before = journal_state(ledger_app)
    answered = {}
    for rule in routes:
        path = rule.rule.replace("<int:operation_id>", str(op_id))
        path = path.replace("<program>", "default")
        assert "<" not in path, f"{rule.rule}: give this route's arguments here"
        for label, token in tokens.items():
            sent = data if token is None else {**data, "csrf_token": token}
            answer = client.post(path, data=sent)
            refused = "The form expired or was not sent from this page" in answer.get_data(True)
            answered[(path, label)] = answer.status_code if refused else f"{answer.status_code}!"
    assert answered == {key: 400 for key in answered}
    assert journal_state(ledger_app) == before
    assert ledger_app.extensions["points_gateway"].journal.operation(op_id).state == "unknown"
    assert client.get("/console/").status_code == 200  # still logged in: logout refused too


def test_over_https_a_post_from_another_origin_is_refused(ledger_app: Flask):
    client = ledger_app.test_client()
    https = "https://gateway.example"
    token = csrf(client, base_url=https)
    login = {"name": "alice", "password": PASSWORD, "csrf_token": token}
    cross = client.post(
        "/console/login", data=login, base_url=https, headers={"Referer": "https://evil.example/"}
    )
    assert cross.status_code == 400
    same = client.post(
        "/console/login", data=login, base_url=https, headers={"Referer": f"{https}/console/login"}
    )
    assert same.status_code == 302


def test_counts_read_right_in_the_singular_and_the_plural(ledger_app: Flask, ledger: Flaky):
    """ "Resolve these 1 now" read wrong: each count in a sentence, once in the singular and
    once in the plural."""
    from gateway.console.charts import plural

    assert plural(1, "minute") == "1 minute" and plural(0, "minute") == "0 minutes"
    assert plural(2, "entry", "entries") == "2 entries"
    assert redeem(ledger_app, "P-0")["status"] == "1"
    first = stuck(ledger_app, ledger, "P-1")
    client = ledger_app.test_client()
    assert log_in(client) == 302
    token = csrf(client, "/console/p/default/unfinished")
    journal = ledger_app.extensions["points_gateway"].journal
    applied = journal.order("debit", "P-0")
    assert applied.attempts == 1
    assert "(1 attempt)" in client.get(f"/console/p/default/operations/{applied.id}").get_data(True)
    attempts = journal.operation(first).attempts
    assert attempts > 1
    assert f"({attempts} attempts)" in client.get(
        f"/console/p/default/operations/{first}"
    ).get_data(True)
    assert "Resolve the one shown now" in client.get("/console/p/default/unfinished").get_data(True)
    one = client.post(
        "/console/p/default/unfinished/preview", data={"csrf_token": token, "ids": [str(first)]}
    )
    text = one.get_data(as_text=True)
    assert "1 operation will be driven now" in text and "Resolve this one now</button>" in text
    second = stuck(ledger_app, ledger, "P-2")
    assert "Resolve all 2 shown now" in client.get("/console/p/default/unfinished").get_data(True)
    both = client.post(
        "/console/p/default/unfinished/preview",
        data={"csrf_token": token, "ids": [str(first), str(second)]},
    )
    text = both.get_data(as_text=True)
    assert "2 operations will be driven now" in text and "Resolve these 2 now</button>" in text
    assert "After 60 minutes each is" in client.get("/console/p/default/reconciliation").get_data(
        True
    )
