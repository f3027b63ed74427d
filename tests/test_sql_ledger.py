"""The SQL ledger on a real SQLite file, the machine's PostgreSQL and MariaDB: the kit, races,
the gateway; each on the tables exactly as the documentation's DDL creates them."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from connectors.base import InsufficientBalance, Profile
from connectors.sql_engine import ledger_engine
from connectors.testing import PointsLedgerContract
from gateway.app import create_app
from gateway.config import load_settings
from gateway.journal import Journal
from tests.conftest import EMPLOYEES, write_config, write_csv
from tests.sql_ledgers import DATABASES, company_database, database_url, make, unreachable
from tests.test_cli import run

__all__ = ["company_database", "ledger_config", "make"]  # tests/test_references.py's too

PAM = Profile(employee_id="DB123", email="pam@example.com", first_name="Pam", last_name="B")


@pytest.fixture(params=DATABASES)
def ledger_url(request, tmp_path):
    return company_database(database_url(request.param, tmp_path))


class TestSqlLedger(PointsLedgerContract):
    @pytest.fixture
    def connector(self, ledger_url):
        connector = make(ledger_url)
        yield connector
        connector.close()

    @pytest.fixture
    def funded(self):
        return PAM, Decimal("250.75")

    @pytest.fixture
    def backend_down(self, connector):
        def down():  # the same kind of database, where nothing answers
            connector.engine.dispose()
            connector.engine = ledger_engine(unreachable(str(connector.engine.url)))

        return down

    @pytest.fixture
    def secrets(self):
        return ("s3cret-db-password",)


def test_running_totals_move_with_the_points(ledger_url):
    ledger = make(ledger_url)
    ledger.debit(PAM, "T1", Decimal(50))
    ledger.credit(PAM, "T2", Decimal("0.75"))
    balance = ledger.balance(PAM)
    assert (balance.available, balance.received, balance.redeemed) == (
        Decimal("201.5"),
        Decimal("251.5"),
        Decimal(50),
    )


def test_two_gateways_racing_cannot_overspend(ledger_url):
    """Two connectors (two engines, as on two hosts), 20 threads, 25 points each."""
    gateways = [make(ledger_url), make(ledger_url)]
    applied, refused, errors = [], [], []

    def debit(i: int) -> None:
        try:
            gateways[i % 2].debit(PAM, f"R{i}", Decimal(25))
            applied.append(i)
        except InsufficientBalance:
            refused.append(i)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=debit, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(applied) == 10 and len(refused) == 10  # 250.75 covers ten
    assert gateways[0].balance(PAM).available == Decimal("0.75")


def ledger_config(tmp_path, ledger_url):
    """A gateway config: employees from a CSV, points in the company's SQL ledger."""
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    config.write_text(
        config.read_text().replace(
            '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }',
            f'[points]\nconnector = "sql_ledger"\noptions = {{ url = "{ledger_url}", '
            'table = "points_accounts", received_column = "earned", redeemed_column = "spent", '
            'transactions_table = "points_tx" }',
        )
    )
    return config


def test_the_gateway_redeems_and_refunds_through_the_sql_ledger(ledger_url, tmp_path):
    app = create_app(load_settings(ledger_config(tmp_path, ledger_url)))
    client, token = app.test_client(), app.extensions["points_gateway"].tokens.issue
    auth = {"unique_id": "DB123", "auth_token": token("DB123")}
    redeem = {**auth, "order_id": "G1", "total_points_redeemed": "200.25"}
    assert client.post("/v1/points/redeem", json=redeem).get_json()["status"] == "1"
    assert client.post("/v1/points/redeem", json=redeem).get_json()["status"] == "1"
    refund = {**auth, "transactionid": "G1", "redemption_amount": 100}
    answer = client.post("/v1/points/refund", json=refund).get_json()
    assert answer == {
        "status": "1",
        "message": "Successfully updated",
        "data": {"transaction_id": "G1", "points": "100"},
    }
    points = client.post("/v1/points/balance", json=auth).get_json()["points_info"]
    assert points == {
        "points_received": "350.75",
        "points_redeemed": "200.25",
        "points_available": "150.5",
    }
    app.extensions["points_gateway"].close()


def test_journal_pending_and_resolve_as_an_operator_runs_them(ledger_url, tmp_path):
    config = ledger_config(tmp_path, ledger_url)
    journal = Journal(load_settings(config).database_url)
    journal.create_schema()
    # An owed refund (the ledger was down when it came) and a debit nobody could settle.
    journal.open_order("credit", "DB123", "DB123", "GIFT", 5_0000, "GIFT:credit")
    stuck, _ = journal.open_order("debit", "DB123", "DB123", "O9", 1_0000, "O9")
    journal.claim(stuck.id, ("received",), "unknown")
    journal.dispose()

    pending = run("journal", "pending", "--config", str(config))
    assert pending.returncode == 0, pending.stderr
    assert "GIFT" in pending.stdout and "O9" in pending.stdout
    assert "2 unfinished; refunds and credits owed: 5 points" in pending.stderr

    resolve = run("journal", "resolve", "--config", str(config))
    assert resolve.returncode == 3, resolve.stderr  # the claimed debit is held by its lease
    assert "credit  applied" in resolve.stdout
    assert make(ledger_url).balance(PAM).available == Decimal("255.75")

    by_hand = ["--id", str(stuck.id), "--as", "rejected", "--reason", "not in the ledger report"]
    marked = run("journal", "resolve", "--config", str(config), *by_hand)
    assert marked.returncode == 0, marked.stderr
    assert "marked: not in the ledger report" in marked.stdout
    assert run("journal", "resolve", "--config", str(config)).returncode == 0
    again = run("journal", "resolve", "--config", str(config), *by_hand)
    assert again.returncode == 1 and "rejected already" in again.stderr


def test_ledger_commands_have_nothing_to_do_on_a_grants_configuration(config_path):
    out = run("journal", "pending", "--config", str(config_path))
    assert out.returncode == 0 and "is not a points ledger" in out.stderr


@pytest.mark.slow
def test_serve_applies_an_owed_refund_in_the_background(ledger_url, tmp_path):
    """A real `serve --workers 2`: its background worker sends what the journal owes."""
    import time

    from tests.servers import serving

    config = ledger_config(tmp_path, ledger_url)
    config.write_text(config.read_text() + "[ledger]\nworker_interval_seconds = 0.2\n")
    journal = Journal(load_settings(config).database_url)
    journal.create_schema()
    journal.open_order("credit", "DB123", "DB123", "GIFT", 5_0000, "GIFT:credit")
    try:
        with serving(config, "--workers", "2"):
            deadline = time.monotonic() + 20
            while journal.unfinished() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert journal.unfinished() == []
            assert journal.order("credit", "GIFT").state == "applied"
            assert make(ledger_url).balance(PAM).available == Decimal("255.75")
    finally:
        journal.dispose()
