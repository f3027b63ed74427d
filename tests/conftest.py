"""Shared fixtures: a CSV of employees, a config file around it, the app on a real journal."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from gateway.app import create_app
from gateway.config import load_settings, resolve_database_url
from gateway.journal import Journal
from gateway.journal.tables import metadata

PG_URL = os.environ.get("GATEWAY_TEST_DATABASE_URL")
PG_SKIP = "GATEWAY_TEST_DATABASE_URL is not set: the PostgreSQL journal tests need a real server"

EMPLOYEES_HEADER = (
    "employee_id,email,first_name,last_name,mobile,designation,department,company,points"
)
EMPLOYEES = [
    "22816281,dwightschrute@dundlermifflin.com,Dwight,Schrute,,Assistant Regional Manager,Sales,Dundler Mifflin,1500",
    "DB123,pam@example.com,Pam,Beesly,9876543210,Receptionist,Admin,Dundler Mifflin,2000",
    "TTEO32S99ERCL,jim@example.com,Jim,Halpert,9876543211,Sales Rep,Sales,Dundler Mifflin,5000",
    "TTE032S99ERCL,stanley@example.com,Stanley,Hudson,9876543212,Sales Rep,Sales,Dundler Mifflin,1651.5",
    "U1000,Mixed.Case@Example.com,Kelly,Kapoor,9876543215,Customer Service,Service,Dundler Mifflin,1000",
]
SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
PROFILE_KEY = "pk-test-7d0c4f1e9b2a4c6d8e0f1a3b5c7d9e1f"
SECOND_PROFILE_KEY = "pk-test-second-4c1a9e7b3d5f2a8c6e0b"
#: The api_key of Xoxoday's GetProfile sample: public, so only a test or a demo configures it.
SEED_API_KEY = "5c720ad8bae86480c01abc0b3734dcfc9sndbjasbdjhabsjdbae"


def write_csv(path: Path, rows: list[str], header: str = EMPLOYEES_HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def toml(value: Any) -> str:
    """A TOML value: strings, booleans, numbers, arrays and (inline) tables."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml(str(k))} = {toml(v)}" for k, v in value.items()) + " }"
    return str(value).lower() if isinstance(value, bool) else str(value)


def write_config(directory: Path, database_url: str, **gateway: Any) -> Path:
    """A config file in `directory` over `employees.csv` there; keyword args override [gateway]."""
    values: dict[str, Any] = {
        "secret_key": SECRET,
        "token_ttl_seconds": 3600,
        "profile_api_keys": [PROFILE_KEY, SECOND_PROFILE_KEY],
        "database_url": database_url,
        "identity": "employee_id",
        **gateway,
    }

    lines = ["[gateway]", *(f"{k} = {toml(v)}" for k, v in values.items())]
    for role in ("profile", "points"):
        lines += [f"[{role}]", 'connector = "csv"', 'options = { path = "employees.csv" }']
    path = directory / "gateway.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def reset_postgres(url: str) -> None:
    engine = create_engine(resolve_database_url(url, Path.cwd()))
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))  # the schema's revision
    engine.dispose()


def fresh_postgres(url: str) -> str:
    """An empty journal at this release's schema, as an operator leaves it after running
    `points-gateway db upgrade` once before serving from PostgreSQL."""
    reset_postgres(url)
    upgraded = Journal(url)
    upgraded.create_schema()
    upgraded.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each journal test runs on a real SQLite file and, when configured, a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.db'}"
    if not PG_URL:
        pytest.skip(PG_SKIP)
    return fresh_postgres(PG_URL)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, with no journal in it yet: the migration tests build an earlier
    release's journal in it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'journal.db'}"
    if not PG_URL:
        pytest.skip(PG_SKIP)
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture(autouse=True)
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's temporary files, and the default directory indexes kept there (Darwinbox's),
    in its own folder: no test answers from another's index."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setenv("TMPDIR", str(folder))


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """`responses` for remote systems' fakes; a request nobody mocked fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def employees_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "employees.csv", EMPLOYEES)


@pytest.fixture
def config_path(tmp_path: Path, employees_csv: Path, database_url: str) -> Path:
    return write_config(tmp_path, database_url)


@pytest.fixture
def app(config_path: Path) -> Iterator[Flask]:
    app = create_app(load_settings(config_path))
    yield app
    app.extensions["points_gateway"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token(app: Flask) -> Callable[[str], str]:
    return app.extensions["points_gateway"].tokens.issue


class Api:
    """The four endpoints as a test calls them: a valid token unless one is given."""

    def __init__(self, client: FlaskClient, token: Callable[[str], str]) -> None:
        self.client = client
        self.token = token

    def post(self, path: str, body: dict[str, Any], auth: bool = True) -> Any:
        if auth and "unique_id" in body and "auth_token" not in body:
            body = {**body, "auth_token": self.token(str(body["unique_id"]))}
        return self.client.post(path, json=body)

    def balance(self, unique_id: str) -> dict[str, str]:
        response = self.post("/v1/points/balance", {"unique_id": unique_id})
        assert response.status_code == 200, response.get_json()
        return response.get_json()["points_info"]

    def redeem(self, unique_id: str, order_id: Any, amount: Any, /, **extra: Any) -> Any:
        body = {"unique_id": unique_id, "order_id": order_id, "total_points_redeemed": amount}
        return self.post("/v1/points/redeem", {**body, **extra})

    def refund(self, unique_id: str, order_id: Any, amount: Any, /, **extra: Any) -> Any:
        body = {"unique_id": unique_id, "transactionid": order_id, "redemption_amount": amount}
        return self.post("/v1/points/refund", {**body, **extra})


@pytest.fixture
def api(client: FlaskClient, token: Callable[[str], str]) -> Api:
    return Api(client, token)


@pytest.fixture
def journal(database_url: str) -> Iterator[Journal]:
    """A journal of its own, on each configured database, with its schema."""
    store = Journal(resolve_database_url(database_url, Path.cwd()))
    store.create_schema()
    store.ping()  # the reader's first connection now, not inside a test's timed wait
    yield store
    store.dispose()


@pytest.fixture
def journal_count(app: Flask) -> Callable[[], int]:
    return app.extensions["points_gateway"].journal.count


def assert_failure(response: Any, http_status: int, error_code: str) -> dict[str, Any]:
    """A failure answer: the status, JSON, status "0", a message and the error_code."""
    assert response.status_code == http_status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] in ("0", 0)
    assert body["error_code"] == error_code, body
    assert body["message"]
    return body


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Skips, one line per reason: the PostgreSQL tests' skips (a hundred of them without a
    server) as one line that says how to run them."""
    skipped = terminalreporter.stats.get("skipped", [])
    reasons: dict[str, int] = {}
    for report in skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else "skipped"
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    postgres = reasons.pop(PG_SKIP, 0)
    for reason, count in sorted(reasons.items()):
        terminalreporter.write_line(f"SKIPPED [{count}] {reason}")
    if postgres:
        terminalreporter.write_line(
            f"SKIPPED [{postgres}] PostgreSQL tests: GATEWAY_TEST_DATABASE_URL is not set. Run "
            "them with GATEWAY_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test "
            "make test (.ci/run sets it)"
        )
