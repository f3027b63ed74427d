"""The pages of each program in a console of several (gateway/console/programs.py), seen by
operators who may see them: labelled with their program and linking within it, its own audit,
its own overview, and the default program's addresses from before programs. The hostile
attempts, and the fixtures of three programs, are in test_console_programs.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from gateway.app import create_app
from gateway.config import load_settings
from gateway.journal.operators import Audit, Operators
from tests.test_console import PASSWORD, csrf
from tests.test_console_programs import (
    SEEDS,
    fake_ledger,
    gateway_of,
    logged_in,
    make_app,
    op_id,
    program_routes,
    send,
    three_programs,
)

#: Outside a program's page the console links to itself, its stylesheet and the log-out form.
SHARED = {"/console/", "/console/logout", "/console/static/console.css"}


@pytest.fixture
def app(tmp_path: Path, database_url: str, mock: Any) -> Iterator[Flask]:
    fake_ledger(mock)
    app = make_app(tmp_path, database_url)
    yield app
    app.extensions["points_gateway"].close()


def test_an_operator_of_every_program_sees_each_one_labelled_with_links_within_it(app: Flask):
    root = logged_in(app, "root")
    listed = root.get("/console/").get_data(as_text=True)
    assert re.findall(r'href="/console/p/([a-z]+)/"', listed) == ["default", "india", "uk"]
    token = csrf(root, "/console/")
    for program in ("default", "india", "uk"):
        for rule in program_routes(app):
            if "POST" in (rule.methods or ()):
                continue
            answer = send(root, rule, program, op_id(app, program), token)
            assert answer.status_code == 200, (rule.rule, program)
            if answer.mimetype == "text/csv":
                assert f"-{program}-" in answer.headers["Content-Disposition"]
                continue
            page = answer.get_data(as_text=True)
            assert f'id="program">{program}<' in page, rule.rule
            assert re.search(rf"<title>[^<]* · {program} · points-gateway</title>", page)
            links = re.findall(r'(?:href|action)="([^"]+)"', page)
            astray = [
                link
                for link in links
                if link.split("?")[0] not in SHARED
                and not link.startswith(f"/console/p/{program}/")
            ]
            assert astray == [], (rule.rule, program, astray)


def test_each_program_s_audit_has_its_own_rows(app: Flask):
    ivy = logged_in(app, "ivy")
    token = csrf(ivy, "/console/p/india/")
    india = op_id(app, "india")
    marked = ivy.post(
        f"/console/p/india/operations/{india}/mark",
        data={"csrf_token": token, "state": "rejected", "reason": "never reached the ledger"},
    )
    assert marked.status_code == 302
    logged_in(app, "root")
    actions = {
        program: [(e.operator, e.action) for e in Audit(gateway_of(app, program).journal).recent()]
        for program in SEEDS
    }
    # A login is in the audit of each program the operator may see; a mark in its program's.
    assert actions == {
        "default": [("root", "login")],
        "india": [("root", "login"), ("ivy", "mark rejected"), ("ivy", "login")],
        "uk": [("root", "login")],
    }
    root = logged_in(app, "root")
    shown = root.get("/console/p/india/audit").get_data(as_text=True)
    assert "mark rejected" in shown and "never reached the ledger" in shown
    assert "What operators did in program india:" in shown  # the page says whose audit it is
    assert "mark rejected" not in root.get("/console/p/uk/audit").get_data(as_text=True)


def test_the_overview_counts_its_program_s_operations_and_says_whose_calls_it_shows(
    app: Flask,
):
    root = logged_in(app, "root")
    for program in ("default", "india", "uk"):
        page = root.get(f"/console/p/{program}/").get_data(as_text=True)
        assert "<h3>Debits: 1</h3>" in page, program  # its own one debit, not three
        assert f"program {program}'s operations by the UTC hour" in page
    # default and india's ledgers are counted under one connector name on this host
    default = root.get("/console/p/default/").get_data(as_text=True)
    assert 'id="calls-shared"' in default and "1 other program&#39;s ledger" in default
    assert 'id="calls-shared"' not in root.get("/console/p/uk/").get_data(as_text=True)
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'endpoint="console.overview_page",outcome="ok",program="india"' in metrics


def test_the_default_program_s_old_addresses_redirect_to_its_pages(app: Flask):
    root = logged_in(app, "root")
    old = root.get(
        f"/console/operations/{op_id(app, 'default')}", query_string={"program": "uk", "x": "1"}
    )
    assert old.status_code == 302
    location = old.headers["Location"]
    assert location.startswith(f"/console/p/default/operations/{op_id(app, 'default')}?")
    assert "program=uk" not in location and "x=1" in location
    assert root.get(location).status_code == 200


def test_without_a_default_program_the_old_addresses_are_404(tmp_path: Path, database_url: str):
    config = three_programs(tmp_path, database_url)
    text = config.read_text()
    top = text.index("[profile]")
    config.write_text(text[:top] + text[text.index("[ledger]") :])  # no [profile], [points]
    app = create_app(load_settings(config))
    try:
        Operators(app.extensions["points_gateway"].journal).add("root", "operator", PASSWORD)
        root = logged_in(app, "root")
        assert root.get("/console/search").status_code == 404
        listed = root.get("/console/").get_data(as_text=True)
        assert re.findall(r'href="/console/p/([a-z]+)/"', listed) == ["india", "uk"]
    finally:
        app.extensions["points_gateway"].close()
