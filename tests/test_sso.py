"""The SSO launch against a fake of Xoxoday's SSO and token endpoints, on a real journal."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
import responses

from gateway.app import create_app
from gateway.auth import TokenAuthority
from gateway.config import load_settings
from gateway.journal.records import utcnow
from gateway.sealed import Sealer
from gateway.xoxoday.tokens import TokenPair, TokenStore
from tests.conftest import SECRET
from tests.fakes import xoxoday as fake
from tests.test_cli import run

LAUNCH = "/v1/sso/launch"


@pytest.fixture
def xoxoday(mock):
    return fake.FakeXoxoday(mock)


def sso_config(config_path, **sso):
    config_path.write_text(config_path.read_text() + fake.config_toml(**sso))
    return config_path


@pytest.fixture
def app(config_path, xoxoday):
    app = create_app(load_settings(sso_config(config_path, trusted_user_header="X-Remote-User")))
    yield app
    app.extensions["points_gateway"].close()


def store_of(app):
    gateway = app.extensions["points_gateway"]
    return TokenStore(gateway.journal, Sealer(gateway.settings.secret_keys))


def launch(client, body, key=fake.PORTAL_KEY):
    return client.post(LAUNCH, json=body, headers={"X-API-Key": key})


def test_launch_answers_the_storefront_url_with_our_token_inside(app, xoxoday):
    answer = launch(app.test_client(), {"employee_id": "DB123"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {
        "status": "1",
        "message": "Redirect the user to redirect_url",
        "data": {
            "redirect_url": f"{fake.BASE}/chef/v1/oauth/redirect/stores/sso.1",
            "unique_id": "DB123",
        },
    }
    (sent,) = xoxoday.sso_calls
    tpd = sent["tpd"]
    assert sent["user_input"] == "pam@example.com"
    assert tpd["unique_id"] == "DB123" and tpd["otp"] == "primary_email"
    assert tpd["email"] == {
        "default_value": "pam@example.com",
        "editable": True,
        "hidden": False,
        "support_alternate": True,
    }
    assert tpd["phone"] == {
        "default_value": "9876543210",
        "phone_code": "+91",
        "editable": False,
        "hidden": False,
    }
    # The token Xoxoday will echo back is ours, and opens the balance endpoint for Pam.
    TokenAuthority([SECRET], 3600).verify(tpd["auth_token"], "DB123")
    balance = {"unique_id": "DB123", "auth_token": tpd["auth_token"]}
    assert app.test_client().post("/v1/points/balance", json=balance).status_code == 200


def test_launch_by_email_in_any_case(app, xoxoday):
    answer = launch(app.test_client(), {"email": "PAM@example.com"})
    assert answer.get_json()["data"]["unique_id"] == "DB123"


@pytest.mark.parametrize(
    ("body", "key", "status", "code"),
    [
        ({"employee_id": "DB123"}, "wrong-key-0123456789", 401, "unauthorized"),
        ({"employee_id": "DB123"}, "", 401, "unauthorized"),
        ({"employee_id": "NOBODY"}, fake.PORTAL_KEY, 404, "user_not_found"),
        ({}, fake.PORTAL_KEY, 400, "invalid_request"),
        ({"employee_id": "DB123", "email": "pam@example.com"}, fake.PORTAL_KEY, 400, None),
        ({"email": "not-an-email"}, fake.PORTAL_KEY, 400, "invalid_request"),
    ],
)
def test_bad_launches_are_clear_json_and_call_nobody(app, xoxoday, body, key, status, code):
    answer = launch(app.test_client(), body, key)
    assert answer.status_code == status
    assert answer.get_json()["status"] == "0"
    assert code is None or answer.get_json()["error_code"] == code
    assert xoxoday.sso_calls == []


def test_a_refused_access_token_is_refreshed_once_and_the_new_pair_kept(app, xoxoday):
    xoxoday.expire_access_token()
    assert launch(app.test_client(), {"employee_id": "DB123"}).status_code == 200
    assert xoxoday.refreshes == 1
    stored = store_of(app).get()
    assert (stored.access_token, stored.refresh_token) == (
        "access-token-0002",
        "refresh-token-0002",
    )
    assert stored.access_expires_at > utcnow() + timedelta(days=14)
    launch(app.test_client(), {"employee_id": "DB123"})
    assert xoxoday.refreshes == 1  # the stored pair is used from then on


def test_a_token_about_to_expire_is_refreshed_before_the_call(app, xoxoday):
    store = store_of(app)
    store.put(TokenPair(fake.ACCESS, fake.REFRESH, utcnow() + timedelta(hours=1)))
    assert launch(app.test_client(), {"employee_id": "DB123"}).status_code == 200
    assert xoxoday.refreshes == 1 and len(xoxoday.sso_calls) == 1


def test_a_refused_refresh_says_what_to_do(app, xoxoday):
    xoxoday.expire_access_token()
    xoxoday.refresh = "something-else"
    answer = launch(app.test_client(), {"employee_id": "DB123"})
    assert answer.status_code == 502
    assert answer.get_json()["error_code"] == "xoxoday_auth_failed"
    assert "xoxoday tokens set" in answer.get_json()["message"]


def test_xoxoday_refusing_the_launch_is_passed_on(app, mock, xoxoday):
    mock.replace(
        responses.POST,
        f"{fake.BASE}/chef/v1/oauth/sso/stores/company",
        status=400,
        json={"error": "bad_request", "message": "user_input is not an email"},
    )
    answer = launch(app.test_client(), {"employee_id": "DB123"})
    assert answer.status_code == 502
    assert answer.get_json()["error_code"] == "xoxoday_refused"
    assert "user_input is not an email" in answer.get_json()["message"]


def test_many_threads_needing_a_refresh_make_one(config_path, mock):
    """Two gateways (two processes, as two hosts would be) on one journal, 8 threads each."""
    xoxoday = fake.FakeXoxoday(mock, refresh_delay=0.2)
    sso_config(config_path)
    apps = [create_app(load_settings(config_path)) for _ in range(2)]
    for app in apps:  # seed the pair
        launch(app.test_client(), {"employee_id": "DB123"})
    xoxoday.expire_access_token()
    statuses = []

    def one(i: int) -> None:
        answer = launch(apps[i % 2].test_client(), {"employee_id": "DB123"})
        statuses.append((answer.status_code, answer.get_json().get("message")))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for app in apps:
        app.extensions["points_gateway"].close()
    assert [s for s, _ in statuses] == [200] * 16, statuses
    assert xoxoday.refreshes == 1


def test_redirect_behind_the_sign_in_proxy(app, xoxoday):
    client = app.test_client()
    answer = client.get("/v1/sso/redirect", headers={"X-Remote-User": "jim@example.com"})
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{fake.BASE}/chef/v1/oauth/redirect/stores/sso.1"
    assert xoxoday.sso_calls[0]["tpd"]["unique_id"] == "TTEO32S99ERCL"
    without = client.get("/v1/sso/redirect")
    assert without.status_code == 401 and without.get_json()["error_code"] == "unauthorized"


def test_without_xoxoday_configured_the_endpoints_say_so(config_path):
    app = create_app(load_settings(config_path))
    answer = app.test_client().post(LAUNCH, json={"employee_id": "DB123"})
    assert answer.status_code == 503
    assert answer.get_json()["error_code"] == "sso_not_configured"
    app.extensions["points_gateway"].close()


def test_no_xoxoday_secret_reaches_a_log(app, xoxoday, caplog):
    xoxoday.expire_access_token()
    with caplog.at_level(logging.DEBUG):
        launch(app.test_client(), {"employee_id": "DB123"})
        launch(app.test_client(), {"employee_id": "DB123"}, key="wrong-key-0123456789")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert fake.PORTAL_KEY not in text
    for secret in (*fake.SECRETS, "access-token-0002", "refresh-token-0002"):
        assert secret not in text
    assert set(fake.SECRETS) <= set(app.extensions["points_gateway"].settings.secrets())


def test_cli_sets_and_shows_the_pair(config_path):
    sso_config(config_path)
    args = ["--access-token", "typed-access-9999", "--refresh-token", "typed-refresh-8888"]
    stored = run("xoxoday", "tokens", "set", "--config", str(config_path), *args)
    assert stored.returncode == 0, stored.stderr
    shown = run("xoxoday", "tokens", "show", "--config", str(config_path))
    assert shown.returncode == 0, shown.stderr
    assert "…9999" in shown.stdout and "typed-access" not in shown.stdout
    settings = load_settings(config_path)
    from gateway.journal import Journal

    journal = Journal(settings.database_url)
    assert (
        TokenStore(journal, Sealer(settings.secret_keys)).get().access_token == "typed-access-9999"
    )
    journal.dispose()
