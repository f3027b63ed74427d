"""The demo serves the console, with a demo operator whose public login `make run` prints; that
login is refused outside demo mode, as the demo's keys are.

Found by a newcomer: /console/ was 404 after `make run`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import Flask

from gateway.app import create_app
from gateway.config import DEMO_CONFIG, load_settings
from gateway.console.demo import DEMO_OPERATOR, DEMO_PASSWORD
from gateway.journal.operators import Operators
from tests.conftest import write_config
from tests.test_console import csrf


def demo_app(tmp_path: Path) -> Flask:
    """The bundled demo, its CSV copied beside a journal of this test's own."""
    folder = tmp_path / "config"
    shutil.copytree(Path(DEMO_CONFIG).parent, folder)
    settings = load_settings(
        folder / Path(DEMO_CONFIG).name,
        {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'journal.db'}"},
    )
    return create_app(settings)


def log_in(app: Flask, name: str, password: str) -> int:
    client = app.test_client()
    token = csrf(client)
    body = {"name": name, "password": password, "csrf_token": token}
    answer = client.post("/console/login", data=body)
    if answer.status_code == 302:
        assert client.get("/console/").status_code == 200
    return answer.status_code


def test_the_demo_serves_the_console_to_its_demo_operator(tmp_path):
    app = demo_app(tmp_path)
    try:
        assert app.test_client().get("/console/login").status_code == 200
        assert log_in(app, DEMO_OPERATOR, DEMO_PASSWORD) == 302
    finally:
        app.extensions["points_gateway"].close()


def test_the_demo_login_is_refused_outside_demo_mode(tmp_path, employees_csv):
    """A journal that came from the demo (or an operator given the demo's public password)
    opens nothing in a real deployment."""
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    config.write_text(config.read_text() + "\n[console]\nenabled = true\nsecure_cookies = false\n")
    app = create_app(load_settings(config))
    try:
        journal = app.extensions["points_gateway"].journal
        Operators(journal).add(DEMO_OPERATOR, "operator", DEMO_PASSWORD)
        Operators(journal).add("alice", "operator", DEMO_PASSWORD)
        assert log_in(app, DEMO_OPERATOR, DEMO_PASSWORD) == 403
        assert log_in(app, "alice", DEMO_PASSWORD) == 403
        assert {o.name for o in Operators(journal).all()} == {DEMO_OPERATOR, "alice"}
    finally:
        app.extensions["points_gateway"].close()
