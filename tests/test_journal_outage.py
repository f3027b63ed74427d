"""A journal outage is a 503 `journal_unavailable`, not a bug.

Found from outside: with the PostgreSQL journal unreachable, every StoreFront call answered 500
with a traceback, /metrics answered 500 (hiding the outage's own error counts), and `serve`
printed a 135-line traceback. The journal here really goes away: the app's journal is pointed
at a port nobody listens on, so the driver's own connection error is what the gateway meets.
"""

from __future__ import annotations

import logging

import pytest

from tests.conftest import PG_SKIP, PG_URL, assert_failure, fresh_postgres, write_config
from tests.servers import free_port
from tests.test_cli import run

DEAD_PG = f"postgresql+psycopg://postgres:s3cret-pg-password@127.0.0.1:{free_port()}/journaldb"


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request):
    """The outage is a PostgreSQL one (a SQLite file does not go away): PostgreSQL only."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    return fresh_postgres(PG_URL)


@pytest.fixture
def journal_down(app):
    """Take the running app's journal away, as a database outage would."""
    journal = app.extensions["points_gateway"].journal
    journal.dispose()
    journal.url = DEAD_PG


def lines_of(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name != "werkzeug"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/points/balance", {"unique_id": "U1000"}),
        (
            "/v1/points/redeem",
            {"unique_id": "U1000", "order_id": "J-1", "total_points_redeemed": 5},
        ),
        (
            "/v1/points/refund",
            {"unique_id": "U1000", "transactionid": "J-1", "redemption_amount": 5},
        ),
    ],
)
def test_storefront_calls_answer_503_with_one_line(api, journal_down, caplog, path, body):
    caplog.set_level(logging.INFO)
    r = api.post(path, body)
    answer = assert_failure(r, 503, "journal_unavailable")
    assert "127.0.0.1" not in answer["message"]
    records = [r for r in lines_of(caplog) if r.levelno >= logging.WARNING]
    assert len(records) == 1 and not records[0].exc_info, [r.getMessage() for r in records]
    text = " ".join(r.getMessage() for r in lines_of(caplog))
    assert "s3cret-pg-password" not in text and "Traceback" not in text
    assert "[SQL" not in text and "[parameters" not in text


def test_metrics_keep_answering_and_say_the_journal_could_not_be_read(api, client, journal_down):
    api.post("/v1/points/balance", {"unique_id": "U1000"})
    r = client.get("/metrics")
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "points_gateway_journal_up 0.0" in text
    assert 'outcome="journal_unavailable"' in text


def test_metrics_say_when_the_journal_is_up(client):
    assert "points_gateway_journal_up 1.0" in client.get("/metrics").get_data(as_text=True)


def test_readyz_says_unreachable_and_nothing_more(client, journal_down):
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.get_json()
    assert body["checks"]["journal"] == "unreachable"
    text = r.get_data(as_text=True)
    for leak in ("127.0.0.1", str(DEAD_PG.rsplit(":", 1)[1].split("/")[0]), "journaldb", "psycopg"):
        assert leak not in text


@pytest.mark.parametrize("command", ["serve", "journal export"])
def test_commands_against_an_unreachable_journal_exit_2_with_one_line(
    tmp_path, employees_csv, command
):
    out = run(*command.split(), "--config", str(write_config(tmp_path, DEAD_PG)))
    assert out.returncode == 2
    assert out.stderr.startswith("points-gateway: error: journal unreachable: ")
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "Traceback" not in out.stderr and "s3cret-pg-password" not in out.stderr
