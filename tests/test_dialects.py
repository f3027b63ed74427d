"""The current dialect (Xoxoday's newer shapes, ../shared/CONTRACT.md), whole or per endpoint."""

from __future__ import annotations

import pytest

from gateway.app import create_app
from gateway.config import ConfigError, load_settings
from tests.conftest import EMPLOYEES, PROFILE_KEY, write_config, write_csv


@pytest.fixture
def current(tmp_path, database_url):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    app = create_app(load_settings(write_config(tmp_path, database_url, dialect="current")))
    yield app
    app.extensions["points_gateway"].close()


def auth(app, unique_id="DB123"):
    return {
        "unique_id": unique_id,
        "auth_token": app.extensions["points_gateway"].tokens.issue(unique_id),
    }


def test_balance_answers_data_points(current):
    answer = current.test_client().post("/v1/points/balance", json=auth(current))
    assert answer.status_code == 200
    assert answer.get_json() == {"status": 1, "data": {"unique_id": "DB123", "points": "2000"}}


def test_profile_by_unique_id_and_auth_token(current):
    answer = current.test_client().post("/v1/profile", json=auth(current))
    assert answer.get_json() == {
        "status": 1,
        "message": "Successfully loaded user's data",
        "user_data": {
            "unique_id": "DB123",
            "company_email_id": "pam@example.com",
            "first_name": "Pam",
            "last_name": "Beesly",
            "mobile_number": "9876543210",
        },
    }
    # The legacy call's shared api_key opens nothing here: the user's own token is required.
    legacy = {"api_key": PROFILE_KEY, "employee_id": "DB123"}
    refused = current.test_client().post("/v1/profile", json=legacy)
    assert refused.status_code == 400 and refused.get_json()["status"] == 0


def test_redeem_then_refund_by_order_id(current):
    client = current.test_client()
    redeem = {**auth(current), "order_id": "C-1", "total_points_redeemed": 348.5}
    assert client.post("/v1/points/redeem", json=redeem).get_json() == {
        "status": "1",
        "message": "Successfully updated",
        "data": {"order_id": "C-1"},
    }
    refund = {**auth(current), "order_id": "C-1", "redemption_amount": "100"}
    assert client.post("/v1/points/refund", json=refund).get_json() == {
        "status": "1",
        "message": "Successfully updated",
        "data": {"order_id": "C-1", "points": "100"},
    }
    balance = client.post("/v1/points/balance", json=auth(current)).get_json()
    assert balance["data"]["points"] == "1751.5"


def test_failures_keep_the_dialects_status_type(current):
    bad = {"unique_id": "DB123", "auth_token": "forged"}
    answer = current.test_client().post("/v1/points/balance", json=bad)
    assert answer.status_code == 401
    assert answer.get_json()["status"] == 0 and answer.get_json()["error_code"] == "unauthorized"


def test_one_endpoint_set_apart(tmp_path):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}")
    config.write_text(
        config.read_text().replace("[gateway]", '[gateway]\ndialects = { balance = "current" }')
    )
    app = create_app(load_settings(config))
    client = app.test_client()
    assert "data" in client.post("/v1/points/balance", json=auth(app)).get_json()
    legacy = {"api_key": PROFILE_KEY, "employee_id": "DB123"}
    assert (
        client.post("/v1/profile", json=legacy).get_json()["employee_data"]["employee_id"]
        == "DB123"
    )
    app.extensions["points_gateway"].close()


@pytest.mark.parametrize("line", ['dialect = "newest"', 'dialects = { balances = "current" }'])
def test_unknown_dialects_are_refused(tmp_path, line):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}")
    config.write_text(config.read_text().replace("[gateway]", f"[gateway]\n{line}"))
    with pytest.raises(ConfigError, match=r"gateway\.dialect"):
        load_settings(config)
