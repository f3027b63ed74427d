"""The Darwinbox connector against a faithful fake, and the gateway serving through it."""

from __future__ import annotations

import time

import pytest
import requests

from connectors.base import ConnectorConfigError, UpstreamAuthFailed, UpstreamUnavailable
from connectors.darwinbox import DarwinboxConnector
from gateway.app import create_app
from gateway.config import load_settings
from tests.conftest import PROFILE_KEY, assert_failure
from tests.fakes import darwinbox as fake_darwinbox


@pytest.fixture
def fake(mock):
    return fake_darwinbox.FakeDarwinbox(mock)


@pytest.fixture
def darwinbox(fake):
    connector = DarwinboxConnector(**fake_darwinbox.options())
    yield connector
    connector.close()


def test_fields_map_to_the_xoxoday_profile(darwinbox):
    pam = darwinbox.find("employee_id", "DB123")
    assert (pam.email, pam.mobile, pam.designation, pam.department, pam.company) == (
        "Pam@Example.com",
        "9876543210",
        "Sales Rep",
        "Sales",  # department_name
        "Dundler Mifflin",
    )
    assert pam.raw["full_name"] == "Pam Beesly"


def test_leavers_come_from_the_inactive_dataset(darwinbox, fake):
    ryan = darwinbox.find("employee_id", "OLD1")
    assert ryan is not None and not ryan.active
    no_inactive = DarwinboxConnector(
        **fake_darwinbox.options(inactive_api_key=None, inactive_dataset_key=None)
    )
    assert no_inactive.find("employee_id", "OLD1") is None


def test_the_directory_is_read_once_for_email_lookups(darwinbox, fake):
    assert darwinbox.find("email", "pam@example.com").employee_id == "DB123"
    calls = fake.calls
    assert darwinbox.find("mobile", "9876543211").employee_id == "TTEO32S99ERCL"
    assert darwinbox.find("email", "RYAN@example.com").active is False
    assert fake.calls == calls


def test_every_worker_of_the_host_reads_the_dataset_once_per_ttl(fake, tmp_path, monkeypatch):
    """The dataset is indexed in the host's directory: another worker (another connector on
    the same index) finds people by email without reading it again, until the TTL ends."""
    options = fake_darwinbox.options(index_path=str(tmp_path / "darwinbox.index"))
    first, second = DarwinboxConnector(**options), DarwinboxConnector(**options)
    assert first.find("email", "jim@EXAMPLE.com").employee_id == "TTEO32S99ERCL"
    calls = fake.calls
    assert second.find("mobile", "9876543210").employee_id == "DB123"
    assert fake.calls == calls
    fake.datasets[fake_darwinbox.ACTIVE] = [
        fake_darwinbox.employee("NEW9", "Kelly", "Kapoor", "kelly@example.com", "555")
    ]
    later = time.time() + options["directory_ttl_seconds"]
    monkeypatch.setattr(time, "time", lambda: later)
    assert second.find("email", "kelly@example.com").employee_id == "NEW9"
    assert fake.calls == calls + 2  # both datasets, once
    assert first.find("mobile", "555").first_name == "Kelly"
    assert first.find("email", "jim@example.com") is None
    assert fake.calls == calls + 2


def test_a_rehire_is_found_as_the_active_person_and_clashes_refuse_nobody(fake, darwinbox):
    """Darwinbox may hold one email in both datasets (someone who left and came back) or, in
    one, twice: the directory is still built; an email in both names the active person, and
    one held twice in a dataset names nobody, not the first of them (test_exact_match_*)."""
    fake.datasets[fake_darwinbox.INACTIVE] = [
        fake_darwinbox.employee("OLD2", "Pam", "Old", "pam@example.com", "9876543210"),
        fake_darwinbox.employee("DB123", "Pam", "Twice", "pam.b@example.com"),
    ]
    fake.datasets[fake_darwinbox.ACTIVE] = [
        *fake_darwinbox.ACTIVE_EMPLOYEES,
        fake_darwinbox.employee("DUP", "Jim", "Again", "JIM@example.com"),
    ]
    assert darwinbox.find("email", "pam@example.com").employee_id == "DB123"
    assert darwinbox.find("mobile", "9876543210").employee_id == "DB123"
    assert darwinbox.find("email", "pam.b@example.com") is None  # the inactive DB123 lost
    assert darwinbox.find("email", "jim@example.com") is None  # DUP holds JIM@example.com
    assert darwinbox.find("employee_id", "TTEO32S99ERCL").email == "jim@example.com"


def test_the_default_index_is_in_a_private_folder(fake, tmp_path):
    connector = DarwinboxConnector(**fake_darwinbox.options())
    folder = connector.directory.path.parent
    assert folder.parent == tmp_path / "tmp" and oct(folder.stat().st_mode & 0o777) == "0o700"
    assert connector.find("email", "pam@example.com").employee_id == "DB123"
    assert oct(connector.directory.path.stat().st_mode & 0o777) == "0o600"
    for secret in fake_darwinbox.SECRETS:
        assert secret not in connector.directory.path.name
    folder.chmod(0o755)
    with pytest.raises(ConnectorConfigError, match="not a private folder"):
        DarwinboxConnector(**fake_darwinbox.options())


def test_refused_credentials_are_an_auth_failure(fake):
    wrong = DarwinboxConnector(**fake_darwinbox.options(password="wrong"))
    with pytest.raises(UpstreamAuthFailed):
        wrong.find("employee_id", "DB123")
    bad_key = DarwinboxConnector(**fake_darwinbox.options(api_key="revoked"))
    with pytest.raises(UpstreamAuthFailed, match="Invalid api_key"):
        bad_key.check()


def test_maintenance_and_resets_are_retried(darwinbox, fake):
    fake.fail_next((503, {"status": 0, "message": "maintenance"}, {}))
    assert darwinbox.find("employee_id", "DB123") is not None
    fake.fail_next(requests.ConnectionError("reset by peer"))
    assert darwinbox.find("employee_id", "DB123") is not None
    fake.fail_next(*[(503, {"status": 0, "message": "maintenance"}, {})] * 3)
    with pytest.raises(UpstreamUnavailable, match="503"):
        darwinbox.find("employee_id", "DB123")


def test_the_options_secrets_are_redacted(tmp_path):
    settings = load_settings(write_darwinbox_config(tmp_path))
    assert set(fake_darwinbox.SECRETS) <= set(settings.secrets())
    assert settings.profile_cache is not None  # remote: cached by default


def write_darwinbox_config(tmp_path, cache: str = ""):
    (tmp_path / "points.csv").write_text(
        "employee_id,email,first_name,last_name,points\n"
        "DB123,pam@example.com,Pam,Beesly,2000\n"
        "OLD1,ryan@example.com,Ryan,Howard,50\n"
    )
    path = tmp_path / "gateway.toml"
    path.write_text(f"""[gateway]
secret_key = "test-secret-key-0123456789"
profile_api_keys = ["{PROFILE_KEY}"]
database_url = "sqlite:///{tmp_path / "journal.db"}"
[profile]
connector = "darwinbox"
options = {{ tenant_url = "{fake_darwinbox.TENANT}", username = "{fake_darwinbox.USER}", \
password = "{fake_darwinbox.PASSWORD}", api_key = "{fake_darwinbox.ACTIVE[0]}", \
dataset_key = "{fake_darwinbox.ACTIVE[1]}", inactive_api_key = "{fake_darwinbox.INACTIVE[0]}", \
inactive_dataset_key = "{fake_darwinbox.INACTIVE[1]}", http = {{ breaker_failures = 2 }} }}
{cache}
[points]
connector = "csv"
options = {{ path = "points.csv" }}
""")
    return path


@pytest.fixture
def gateway(tmp_path, fake):
    app = create_app(load_settings(write_darwinbox_config(tmp_path)))
    yield app.test_client(), app.extensions["points_gateway"].tokens.issue
    app.extensions["points_gateway"].close()


def test_the_gateway_serves_the_seed_endpoints_through_darwinbox(gateway, fake):
    client, token = gateway
    sample = {"api_key": PROFILE_KEY, "employee_id": "22816281"}
    answer = client.post("/v1/profile", json=sample).get_json()
    assert answer["employee_data"]["company_email_id"] == "dwightschrute@dundlermifflin.com"
    assert answer["employee_data"]["department"] == "Sales"
    body = {"unique_id": "DB123", "auth_token": token("DB123")}
    assert client.post("/v1/points/balance", json=body).get_json()["points_info"] == {
        "points_received": "2000",
        "points_redeemed": "0",
        "points_available": "2000",
    }
    calls = fake.calls
    redeem = {**body, "order_id": "A1", "total_points_redeemed": 500}
    assert client.post("/v1/points/redeem", json=redeem).status_code == 200
    assert fake.calls == calls  # the profile came from the cache
    counts = client.get("/readyz").get_json()["profile_cache"]
    assert (counts["hits"], counts["misses"], counts["stale"]) == (1, 2, 0)  # redeem hit


def test_a_leaver_cannot_redeem_but_is_found_for_refunds(gateway, fake):
    client, token = gateway
    body = {"unique_id": "OLD1", "auth_token": token("OLD1")}
    answer = client.post(
        "/v1/points/redeem", json={**body, "order_id": "R1", "total_points_redeemed": 5}
    )
    assert_failure(answer, 404, "user_not_found")
    refund = {**body, "transactionid": "R0", "redemption_amount": 5}
    assert_failure(client.post("/v1/points/refund", json=refund), 404, "order_not_found")


def test_darwinbox_down_answers_json_503_and_fails_fast(gateway, fake):
    client, token = gateway
    fake.fail_next(*[requests.ConnectionError("down")] * 50)
    body = {"unique_id": "TTEO32S99ERCL", "auth_token": token("TTEO32S99ERCL")}
    for _ in range(2):
        assert_failure(client.post("/v1/points/balance", json=body), 503, "upstream_unavailable")
    calls = fake.calls
    answer = assert_failure(
        client.post("/v1/points/balance", json=body), 503, "upstream_unavailable"
    )
    assert fake.calls == calls and answer["message"]  # the breaker answered, no call made
