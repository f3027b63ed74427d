"""The console of a deployment with several programs: each page is one program's, at
/console/p/<program>/..., open only to the operators whose scope names it (gateway/console/
programs.py), reading and acting through that program's Gateway alone.

The hostile attempts come first: an operator scoped to india tries every page of uk and of the
default program (each console route with a program, found in the URL map, so a new page is
tried too), another program's operation id under their own program, a mark or a resolve of
another program's operation, a statement or an export naming another program's member or
dates, and their session's cookie elsewhere. What operators who may see a program find on
its pages: test_console_program_pages.py.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.config import load_settings
from gateway.journal.operators import Audit, Operators
from gateway.journal.records import utcnow
from gateway.journal.tables import audit, operations
from tests.conftest import EMPLOYEES, SECRET, toml, write_config, write_csv
from tests.fakes import rest_ledger as fake
from tests.test_console import PASSWORD, csrf, log_in
from tests.test_console_ledger import Flaky
from tests.test_console_sessions import COOKIE, CSRF_COOKIE, copy_cookies

ROWS = {
    "india": ["IN7,seven@india.example.com,Seven,India,,,,,70"],
    "uk": ["UK9,nine@uk.example.com,Nine,Uk,,,,,90"],
}
#: Each program's unsettled debit: (member, order id).
SEEDS = {"default": ("DB123", "DEF-1"), "india": ("IN7", "IND-1"), "uk": ("UK9", "UK-1")}
#: Who may see what: ivy acts in india only, una looks at uk only, root sees every program.
OPERATORS = {"ivy": ("operator", "india"), "una": ("viewer", "uk"), "root": ("operator", "*")}


def ledger_points(prefix: str) -> str:
    """The fake REST ledger as the points of `prefix` ("" for the top level)."""
    text = fake.POINTS_TOML.replace("[points]", f"[{prefix}points]")
    text = text.replace("[points.options]", f"[{prefix}points.options]")
    return text + "http = { attempts = 1, read_timeout = 0.5, budget_seconds = 1 }\n"


def program_table(folder: Path, name: str, ledger: bool) -> str:
    write_csv(folder / f"{name}.csv", ROWS[name])
    values = {
        "secret_key": SECRET,  # the same text as the default program's: isolation is not keys
        "profile_api_keys": [f"pk-{name}-0123456789abcdef0123456789abcdef"],
        "identity": "employee_id",
        "hosts": [f"points.{name}.example.com"],
    }
    lines = [f"[programs.{name}]", *(f"{k} = {toml(v)}" for k, v in values.items())]
    lines += [
        f"[programs.{name}.profile]",
        'connector = "csv"',
        f'options = {{ path = "{name}.csv" }}',
    ]
    if ledger:
        lines += [ledger_points(f"programs.{name}.")]
        lines += [f"[programs.{name}.ledger]", "wait_seconds = 0.2", "settle_seconds = 0"]
    else:
        lines += [f"[programs.{name}.points]", 'connector = "csv"']
        lines += [f'options = {{ path = "{name}.csv" }}']
    return "\n".join(lines) + "\n"


def three_programs(folder: Path, database_url: str, **console: Any) -> Path:
    """default and india keep their points in the (fake) REST ledger; uk in a CSV file."""
    write_csv(folder / "employees.csv", EMPLOYEES)
    config = write_config(folder, database_url)
    text = config.read_text().replace(
        '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }', ledger_points("")
    )
    text += "[ledger]\nwait_seconds = 0.2\nsettle_seconds = 0\n"
    text += "[console]\nenabled = true\nsecure_cookies = false\n"
    text += "".join(f"{k} = {toml(v)}\n" for k, v in console.items())
    text += program_table(folder, "india", ledger=True) + program_table(folder, "uk", ledger=False)
    config.write_text(text)
    return config


def fake_ledger(mock: Any) -> Flaky:
    """The fake REST ledger of default and india, behind `mock` (responses)."""
    api = fake.LedgerApi()
    for member in ("DB123", "IN7"):
        api.accounts[member] = Decimal("500")
    flaky = Flaky(api)
    for method in ("GET", "POST"):
        mock.add_callback(method, re.compile(re.escape(fake.BASE) + r"/.*"), callback=flaky)
    return flaky


@pytest.fixture
def ledger(mock: Any) -> Flaky:
    return fake_ledger(mock)


def make_app(folder: Path, database_url: str, **console: Any) -> Flask:
    app = create_app(load_settings(three_programs(folder, database_url, **console)))
    operators = Operators(app.extensions["points_gateway"].journal)
    for name, (role, scope) in OPERATORS.items():
        operators.add(name, role, PASSWORD, scope)
    for program, (member, order) in SEEDS.items():
        gateway_of(app, program).journal.open_order(
            "debit", member, member, order, 10_000, f"debit:{order}"
        )
    return app


@pytest.fixture
def app(tmp_path: Path, database_url: str, ledger: Flaky) -> Iterator[Flask]:
    app = make_app(tmp_path, database_url)
    yield app
    app.extensions["points_gateway"].close()


def gateway_of(app: Flask, program: str) -> Any:
    return app.extensions["points_gateway_programs"].named(program)


def op_id(app: Flask, program: str) -> int:
    _member, order = SEEDS[program]
    return int(gateway_of(app, program).journal.order("debit", order).id)


def everything(app: Flask) -> tuple[list[tuple[Any, ...]], int]:
    """Every program's operations (and their states) and how many audit rows there are."""
    with app.extensions["points_gateway"].journal.reader.connect() as conn:
        o = operations.c
        ops = [tuple(r) for r in conn.execute(select(o.program, o.id, o.state).order_by(o.id))]
        return ops, int(conn.execute(select(func.count()).select_from(audit)).scalar_one())


def program_routes(app: Flask) -> list[Any]:
    found = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.") and "<program>" in rule.rule
    ]
    assert len(found) >= 14, [rule.rule for rule in found]  # every program's page
    return found


def send(client: FlaskClient, rule: Any, program: str, operation: int, token: str) -> Any:
    """The route for `program`, on `operation`, with everything its form or query could name."""
    path = rule.rule.replace("<program>", program).replace("<int:operation_id>", str(operation))
    assert "<" not in path, f"{rule.rule}: give this route's arguments here"
    today = utcnow().date().isoformat()
    if "POST" in (rule.methods or ()):
        form = {"csrf_token": token, "ids": [str(operation)], "every": "1", "state": "applied"}
        return client.post(path, data={**form, "reason": "a hostile attempt"})
    query = {"q": "UK-1", "member": "UK9", "lines": "UK9", "since": today, "until": today}
    return client.get(path, query_string=query)


def logged_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    assert log_in(client, name) == 302
    return client


def test_an_operator_of_india_gets_404_on_every_page_of_every_other_program(app: Flask):
    """Each page of uk and of the default program, GET and POST (with a valid CSRF token, so
    the scope is what refuses), on an operation of that program: the same 404 as a program
    that does not exist, and nothing in any journal or audit changes."""
    ivy = logged_in(app, "ivy")
    token = csrf(ivy, "/console/")
    before = everything(app)
    answers = {}
    for rule in program_routes(app):
        for program in ("uk", "default", "nope"):
            operation = op_id(app, program if program != "nope" else "uk")
            answer = send(ivy, rule, program, operation, token)
            text = answer.get_data(as_text=True)
            answers[(rule.rule, program)] = (answer.status_code, "No such program here" in text)
            for other in ("UK-1", "DEF-1", "UK9"):
                assert other not in text, (rule.rule, program)
    assert set(answers.values()) == {(404, True)}, answers
    assert everything(app) == before


def test_another_program_s_operation_is_not_found_under_this_one(app: Flask, ledger: Flaky):
    """The path names india: the india journal does not find uk's or the default program's
    operation, for an operator scoped to india, or for one who may see every program."""
    for name in ("ivy", "root"):
        client = logged_in(app, name)
        token = csrf(client, "/console/p/india/")
        before = everything(app)
        for other in ("uk", "default"):
            page = f"/console/p/india/operations/{op_id(app, other)}"
            assert client.get(page).status_code == 404
            marked = client.post(
                f"{page}/mark",
                data={"csrf_token": token, "state": "applied", "reason": "a hostile attempt"},
            )
            assert marked.status_code == 404
        preview = client.post(
            "/console/p/india/unfinished/preview",
            data={"csrf_token": token, "ids": [str(op_id(app, "default"))]},
        )
        assert "Nothing selected is unfinished" in preview.get_data(as_text=True)
        resolved = client.post(
            "/console/p/india/unfinished/resolve",
            data={"csrf_token": token, "ids": [str(op_id(app, "default"))]},
        )
        assert resolved.status_code == 200 and "Nothing was selected" in resolved.get_data(True)
        after = everything(app)
        assert after[0] == before[0] and after[1] == before[1] + 1  # the attempt, audited:
        entry = Audit(gateway_of(app, "india").journal).recent(1)[0]
        assert (entry.operator, entry.action, entry.target) == (name, "resolve now", "no operation")
    assert ledger.api.applied == {}  # nobody's debit went to the ledger


def test_resolve_every_one_shown_moves_the_page_s_program_s_alone(app: Flask):
    root = logged_in(app, "root")
    token = csrf(root, "/console/p/india/unfinished")
    done = root.post(
        "/console/p/india/unfinished/resolve", data={"csrf_token": token, "every": "1"}
    )
    assert done.status_code == 200 and "IND-1" in done.get_data(as_text=True)
    states = {(program, state) for program, _id, state in everything(app)[0]}
    assert states == {("default", "received"), ("india", "rejected"), ("uk", "received")}


def test_statements_and_exports_read_the_page_s_program_whatever_they_name(app: Flask):
    uk = gateway_of(app, "uk").journal
    uk.debit("UK9", "UK9", "UK-PAID", 10_000, 900_000, {"status": "1"})
    root = logged_in(app, "root")
    today = utcnow().date().isoformat()
    days = {"since": "2000-01-01", "until": today, "program": "uk"}  # ?program= chooses nothing
    page = root.get("/console/p/default/statement", query_string={"member": "UK9", **days})
    text = page.get_data(as_text=True)
    assert "no employee &#39;UK9&#39; in the HR source" in text and "UK-PAID" not in text
    for program, expected in (("default", []), ("india", []), ("uk", ["UK-PAID"])):
        statement = root.get(
            f"/console/p/{program}/statement.csv", query_string={"member": "UK9", **days}
        )
        rows = list(csv.DictReader(io.StringIO(statement.get_data(as_text=True))))
        assert [r["order_id"] for r in rows if r["state"] == "applied"] == expected, program
        export = root.get(f"/console/p/{program}/export.csv", query_string=days)
        rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))[1:]
        orders = [r[6] for r in rows if r[0] != "total"]
        assert orders == expected, program
    ivy = logged_in(app, "ivy")
    audited = everything(app)[1]
    for path in ("statement.csv", "export.csv", "statement"):
        assert ivy.get(f"/console/p/uk/{path}", query_string=days).status_code == 404
    assert everything(app)[1] == audited  # refused before anything was read or audited
    downloads = [(e.operator, e.action) for e in Audit(uk).recent()][:2]
    assert downloads == [("root", "finance export"), ("root", "download statement")]


def test_a_session_opens_only_its_operator_s_programs_wherever_it_is_used(app: Flask):
    ivy = logged_in(app, "ivy")
    thief = app.test_client()
    copy_cookies(ivy, thief)
    for client in (ivy, thief):
        assert client.get("/console/p/india/audit").status_code == 200
        assert client.get("/console/p/uk/audit").status_code == 404
    # On uk's storefront's host name, the session is ivy's still: the path names the program.
    uk = "http://points.uk.example.com"
    for name in (COOKIE, CSRF_COOKIE):
        found = ivy.get_cookie(name, path="/console")
        assert found is not None
        thief.set_cookie(name, found.value, domain="points.uk.example.com", path="/console")
    home = thief.get("/console/", base_url=uk)
    assert 'id="program">india<' in home.get_data(as_text=True)  # ivy's only one, at once
    assert thief.get("/console/p/uk/audit", base_url=uk).status_code == 404
    moved = thief.get("/console/audit", base_url=uk)
    assert moved.headers["Location"].endswith("/console/p/default/audit")
    assert thief.get("/console/p/default/audit", base_url=uk).status_code == 404


def test_a_changed_scope_holds_at_the_next_page_of_an_open_session(app: Flask):
    root = logged_in(app, "root")
    assert root.get("/console/p/uk/").status_code == 200
    operators = Operators(app.extensions["points_gateway"].journal)
    assert operators.set_programs("root", "india") is not None
    assert root.get("/console/p/uk/").status_code == 404
    assert 'id="program">india<' in root.get("/console/").get_data(as_text=True)
    operators.set_programs("root", "gone")  # a program this deployment no longer serves
    nothing = root.get("/console/").get_data(as_text=True)
    assert "Your account may see no program served here" in nothing


def test_behind_a_proxy_the_named_operator_s_scope_holds(
    tmp_path: Path, database_url: str, ledger: Flaky
):
    app = make_app(tmp_path, database_url, trusted_user_header="X-Remote-User")
    try:
        client = app.test_client()
        una = {"X-Remote-User": "una"}
        assert client.get("/console/p/uk/search", headers=una).status_code == 200
        assert client.get("/console/p/india/search", headers=una).status_code == 404
        assert client.get("/console/p/default/", headers=una).status_code == 404
        assert client.get("/console/p/uk/").status_code == 302  # no header: the login
    finally:
        app.extensions["points_gateway"].close()
