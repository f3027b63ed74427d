"""Who may call, and how every failure answers: JSON, status "0", a stable error_code."""

from __future__ import annotations

import logging
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from gateway.app import create_app
from gateway.auth import TOKEN_SALT
from gateway.config import load_settings
from tests.conftest import PROFILE_KEY, SECOND_PROFILE_KEY, SECRET, assert_failure, write_config

pytestmark = pytest.mark.usefixtures("employees_csv")


@pytest.fixture(params=["balance", "redeem", "refund"])
def endpoint(request):
    bodies = {
        "balance": ("/v1/points/balance", {}),
        "redeem": ("/v1/points/redeem", {"order_id": "O-1", "total_points_redeemed": 10}),
        "refund": ("/v1/points/refund", {"transactionid": "O-1", "redemption_amount": 10}),
    }
    return bodies[request.param]


def test_missing_token(api, endpoint, journal_count):
    path, body = endpoint
    r = api.post(path, {"unique_id": "U1000", **body}, auth=False)
    assert_failure(
        r, 400, "invalid_request"
    )  # a required field is absent: the request is malformed
    r = api.post(path, {"unique_id": "U1000", "auth_token": "", **body})
    assert_failure(r, 401, "unauthorized")
    assert journal_count() == 0


@pytest.mark.parametrize(
    "bad_token",
    [
        "forged",
        "IlUxMDAwIg.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb",
        URLSafeTimedSerializer("another-secret", salt=TOKEN_SALT).dumps("U1000"),
        URLSafeTimedSerializer(SECRET, salt="another-salt").dumps("U1000"),
    ],
    ids=["garbage", "bad-signature", "other-secret", "other-salt"],
)
def test_forged_tokens(api, endpoint, journal_count, bad_token):
    path, body = endpoint
    r = api.post(path, {"unique_id": "U1000", "auth_token": bad_token, **body})
    assert_failure(r, 401, "unauthorized")
    assert journal_count() == 0


def test_token_for_another_user(api, token, endpoint, journal_count):
    path, body = endpoint
    r = api.post(path, {"unique_id": "U1000", "auth_token": token("DB123"), **body})
    assert_failure(r, 401, "unauthorized")
    assert journal_count() == 0


def test_non_string_token(api, endpoint):
    path, body = endpoint
    r = api.post(path, {"unique_id": "U1000", "auth_token": 12345, **body})
    assert_failure(r, 400, "invalid_request")


def test_expired_token(tmp_path, database_url):
    config = write_config(tmp_path, database_url, token_ttl_seconds=1)
    app = create_app(load_settings(config))
    try:
        issued = app.extensions["points_gateway"].tokens.issue("U1000")
        client = app.test_client()
        body = {"unique_id": "U1000", "auth_token": issued}
        assert client.post("/v1/points/balance", json=body).status_code == 200
        time.sleep(2.1)  # itsdangerous timestamps are whole seconds
        r = client.post("/v1/points/balance", json=body)
        assert_failure(r, 401, "unauthorized")
        assert "expired" in r.get_json()["message"]
    finally:
        app.extensions["points_gateway"].close()


def test_rotated_secret_keeps_old_tokens_valid(tmp_path, database_url):
    old_app = create_app(load_settings(write_config(tmp_path, database_url)))
    old_token = old_app.extensions["points_gateway"].tokens.issue("U1000")
    old_app.extensions["points_gateway"].close()
    rotated = write_config(
        tmp_path, database_url, secret_key="the-new-key-987654321", old_secret_keys=[SECRET]
    )
    app = create_app(load_settings(rotated))
    try:
        client = app.test_client()
        r = client.post("/v1/points/balance", json={"unique_id": "U1000", "auth_token": old_token})
        assert r.status_code == 200
        new_token = app.extensions["points_gateway"].tokens.issue("U1000")
        assert new_token != old_token
        # Once the old key is dropped, its tokens stop working.
        dropped = create_app(
            load_settings(write_config(tmp_path, database_url, secret_key="the-new-key-987654321"))
        )
        r = dropped.test_client().post(
            "/v1/points/balance", json={"unique_id": "U1000", "auth_token": old_token}
        )
        assert_failure(r, 401, "unauthorized")
        dropped.extensions["points_gateway"].close()
    finally:
        app.extensions["points_gateway"].close()


def test_environment_secret_overrides_the_file(tmp_path, database_url):
    settings = load_settings(
        write_config(tmp_path, database_url), {"GATEWAY_SECRET_KEY": "from-env-123"}
    )
    assert settings.secret_keys[-1] == "from-env-123"


@pytest.mark.parametrize("key", [PROFILE_KEY, SECOND_PROFILE_KEY])
def test_profile_accepts_each_configured_key(client, key):
    r = client.post("/v1/profile", json={"api_key": key, "employee_id": "U1000"})
    assert r.status_code == 200
    assert r.get_json()["employee_data"]["company_email_id"] == "Mixed.Case@Example.com"


@pytest.mark.parametrize("key", ["wrong-key-wrong-key", "", PROFILE_KEY[:-1]])
def test_profile_refuses_other_keys(client, key):
    r = client.post("/v1/profile", json={"api_key": key, "employee_id": "U1000"})
    body = assert_failure(r, 401, "unauthorized")
    assert body["status"] == 0  # the profile answer's status is a number, as in the seed


def test_profile_by_the_employees_own_token(client, token):
    """Xoxoday's help center documents GetProfile with {auth_token, employee_id} too."""
    r = client.post("/v1/profile", json={"auth_token": token("U1000"), "employee_id": "U1000"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["employee_data"]["employee_id"] == "U1000"
    other = client.post("/v1/profile", json={"auth_token": token("DB123"), "employee_id": "U1000"})
    assert assert_failure(other, 401, "unauthorized")["status"] == 0
    forged = client.post("/v1/profile", json={"auth_token": "forged", "employee_id": "U1000"})
    assert_failure(forged, 401, "unauthorized")
    neither = client.post("/v1/profile", json={"employee_id": "U1000"})
    assert_failure(neither, 400, "invalid_request")


def test_profile_of_unknown_user(client):
    r = client.post("/v1/profile", json={"api_key": PROFILE_KEY, "employee_id": "nobody"})
    assert_failure(r, 404, "user_not_found")


def test_not_found_and_method_not_allowed_are_json(client):
    assert_failure(client.get("/nope"), 404, "not_found")
    r = client.get("/v1/points/redeem")
    assert_failure(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


def test_oversized_body_is_413_json(api, journal_count):
    body = {
        "unique_id": "U1000",
        "order_id": "O-1",
        "total_points_redeemed": 1,
        "comments": "x" * 70_000,
    }
    assert_failure(api.post("/v1/points/redeem", body), 413, "payload_too_large")
    assert journal_count() == 0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "invalid_json"),
        ("", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('"a string"', "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        ("{}", "invalid_request"),
        ('{"unique_id": true, "auth_token": "x"}', "invalid_request"),
        ('{"unique_id": "", "auth_token": "x"}', "invalid_request"),
        ('{"unique_id": "' + "x" * 200 + '", "auth_token": "x"}', "invalid_request"),
    ],
)
def test_malformed_bodies(client, text, code):
    r = client.post("/v1/points/balance", data=text, content_type="application/json")
    assert_failure(r, 400, code)


def test_a_crash_answers_json_500(app):
    def boom():
        raise RuntimeError("kaboom")

    app.add_url_rule("/boom", view_func=boom)
    r = app.test_client().get("/boom")
    body = assert_failure(r, 500, "internal_error")
    assert "kaboom" not in body["message"]


def test_unknown_fields_are_ignored(api):
    r = api.post("/v1/points/balance", {"unique_id": "U1000", "new_field_from_xoxoday": 1})
    assert r.status_code == 200


def test_secrets_never_reach_the_logs(api, client, token, caplog):
    caplog.set_level(logging.DEBUG)
    used = [token("U1000"), token("DB123"), PROFILE_KEY, SECRET]
    api.redeem("U1000", "O-1", 10)
    api.redeem("U1000", "O-1", 11)
    api.refund("U1000", "O-1", 5)
    api.post("/v1/points/balance", {"unique_id": "U1000", "auth_token": token("DB123")})
    client.post("/v1/profile", json={"api_key": PROFILE_KEY, "employee_id": "U1000"})
    logging.getLogger("gateway.test").info("auth_token=%s api_key: %s", used[0], PROFILE_KEY)
    text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert "order=O-1" in text  # the operations were logged...
    for secret in used:
        assert secret not in text  # ...and no secret with them
