"""SuccessFactors against a faithful fake: the kit, the SAML bearer token, errors, the gateway."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import requests
import responses

from connectors.base import ConnectorConfigError, UpstreamAuthFailed, UpstreamUnavailable
from connectors.registry import BadOptions, validate_options
from connectors.successfactors import SuccessFactorsConnector
from connectors.testing import GrantsSourceContract, ProfileSourceContract
from gateway.app import create_app
from gateway.config import load_settings
from tests.conftest import PROFILE_KEY, assert_failure
from tests.fakes import successfactors as fake_sf

PAM = {"employee_id": "DB123", "email": "pam@example.com", "mobile": "9876543210"}


@pytest.fixture
def fake():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield fake_sf.FakeSuccessFactors(mock)


@pytest.fixture
def sf(fake, tmp_path):
    connector = SuccessFactorsConnector(**fake_sf.options(tmp_path))
    yield connector
    connector.close()


class TestSuccessFactorsProfiles(ProfileSourceContract):
    @pytest.fixture
    def connector(self, sf):
        return sf

    @pytest.fixture
    def known(self):
        return PAM

    @pytest.fixture
    def backend_down(self, fake):
        return lambda: fake.fail_next(*[requests.ConnectionError("reset")] * 100)

    @pytest.fixture
    def secrets(self):
        return (fake_sf.key_pair()[0].decode(), fake_sf.BASIC_PASSWORD)


class TestSuccessFactorsSpotAwards(GrantsSourceContract):
    @pytest.fixture
    def connector(self, sf):
        return sf

    @pytest.fixture
    def granted_known(self, sf):
        return sf.find("employee_id", "DB123"), Decimal("2000")


def test_awards_are_summed_over_every_page_approved_only(sf, fake):
    fake.page_size = 1
    calls = fake.api_calls
    assert sf.granted(sf.find("employee_id", "DB123")) == Decimal("2000.00")
    assert fake.api_calls - calls == 1 + 4  # the lookup, then one page per award


def test_a_leaver_is_found_but_inactive(sf):
    assert sf.find("employee_id", "OLD1").active is False
    assert sf.find("email", "RYAN@example.com").active is False


def test_one_token_serves_many_calls_and_concurrent_callers(sf, fake):
    threads = [threading.Thread(target=sf.find, args=("employee_id", "DB123")) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    sf.find("email", "jim@example.com")
    assert fake.token_requests == 1


def test_an_expired_token_is_refreshed_once(sf, fake):
    sf.find("employee_id", "DB123")
    fake.expire_tokens()
    assert sf.find("employee_id", "DB123").first_name == "Pam"
    assert fake.token_requests == 2
    fake.fail_next(*[fake_sf.error(401, "LGN0022", "[LGN0022]expired")] * 2)
    with pytest.raises(UpstreamAuthFailed, match="LGN0022"):  # refreshed once, not forever
        sf.find("employee_id", "DB123")


def forged(tmp_path):
    """A connector signing with a key SuccessFactors does not know."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    options = fake_sf.options(tmp_path)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "other.pem").write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SuccessFactorsConnector(**{**options, "private_key": str(tmp_path / "other.pem")})


def test_an_assertion_signed_with_another_key_is_refused(fake, tmp_path):
    with pytest.raises(UpstreamAuthFailed, match="credentials refused"):
        forged(tmp_path).find("employee_id", "DB123")


def test_refused_credentials_back_off_and_open_the_breaker(fake, tmp_path):
    """A wrong key stays wrong: not one token exchange per request, and the breaker counts
    each refusal, so the gateway fails fast until it is fixed."""
    from connectors.breaker import BreakerOpen

    forged_one = forged(tmp_path)
    with pytest.raises(UpstreamAuthFailed, match="credentials refused"):
        forged_one.find("employee_id", "DB123")
    assert fake.token_requests == 1
    clock = [0.0]
    forged_one.credentials._timer = lambda: clock[0]  # the constructor's timer seam
    forged_one.credentials._refused_until = 1.0  # the first refusal's wait, on this clock
    for _ in range(20):
        with pytest.raises(UpstreamAuthFailed, match="not asking again"):
            forged_one.find("employee_id", "DB123")
    assert fake.token_requests == 1
    waits = []
    for _ in range(2):  # each wait over: one more exchange, refused, and a longer wait
        clock[0] = forged_one.credentials._refused_until
        with pytest.raises(UpstreamAuthFailed):
            forged_one.find("employee_id", "DB123")
        waits.append(forged_one.credentials._refused_until - clock[0])
    assert fake.token_requests == 3 and waits == [2.0, 4.0]
    assert forged_one.client.breaker.state == "open"  # three refusals in a row (breaker_failures)
    clock[0] = forged_one.credentials._refused_until
    with pytest.raises(BreakerOpen):
        forged_one.find("employee_id", "DB123")
    assert fake.token_requests == 3


def test_errors_map_to_ours(sf, fake):
    fake.fail_next(fake_sf.error(403, "LGN0007", "[LGN0007]TOKEN_INVALID"))
    with pytest.raises(UpstreamAuthFailed, match="LGN0007"):
        sf.find("employee_id", "DB123")
    fake.fail_next(fake_sf.error(503, "", "Scheduled maintenance"))
    assert sf.find("employee_id", "DB123") is not None  # retried
    fake.fail_next((429, {"Retry-After": "300"}, "{}"))
    with pytest.raises(UpstreamUnavailable, match="throttled"):
        sf.find("employee_id", "DB123")
    fake.fail_next(fake_sf.error(400, "COE_PROPERTY_NOT_FOUND", "[COE0021]no field cellPhone"))
    with pytest.raises(ConnectorConfigError, match="lacks a field"):
        sf.find("mobile", "9876543210")


def test_basic_auth_is_an_explicit_opt_in(fake, tmp_path):
    base = {"api_server": fake_sf.HOST, "company_id": fake_sf.COMPANY, "auth": "basic"}
    with pytest.raises(BadOptions, match="username"):
        validate_options(SuccessFactorsConnector, base)
    basic = SuccessFactorsConnector(
        **validate_options(
            SuccessFactorsConnector,
            {**base, "username": fake_sf.BASIC_USER, "password": fake_sf.BASIC_PASSWORD},
        )
    )
    assert basic.find("employee_id", "DB123").first_name == "Pam"
    assert fake.token_requests == 0


def test_saml_bearer_needs_its_key_and_certificate(fake):
    with pytest.raises(BadOptions, match="private_key"):
        validate_options(
            SuccessFactorsConnector,
            {"api_server": fake_sf.HOST, "company_id": "C", "client_id": "x", "user_id": "u"},
        )


@pytest.fixture
def gateway(fake, tmp_path):
    key, cert = fake_sf.write_keys(tmp_path)
    sf = (
        f'connector = "successfactors"\noptions = {{ api_server = "{fake_sf.HOST}", '
        f'company_id = "{fake_sf.COMPANY}", client_id = "{fake_sf.CLIENT_ID}", '
        f'user_id = "{fake_sf.API_USER}", private_key = "{key.name}", certificate = "{cert.name}" }}'
    )
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[gateway]\nsecret_key = "test-secret-key-0123456789"\n'
        f'profile_api_keys = ["{PROFILE_KEY}"]\n'
        f'database_url = "sqlite:///{tmp_path / "journal.db"}"\n'
        f"[profile]\n{sf}\n[points]\n{sf}\n"
    )
    app = create_app(load_settings(config))
    yield app.test_client(), app.extensions["points_gateway"].tokens.issue
    app.extensions["points_gateway"].close()


def test_the_gateway_serves_profiles_and_spot_award_points(gateway, fake):
    client, token = gateway
    profile = client.post("/v1/profile", json={"api_key": PROFILE_KEY, "employee_id": "22816281"})
    assert profile.get_json()["employee_data"]["first_name"] == "Dwight"
    auth = {"unique_id": "DB123", "auth_token": token("DB123")}
    balance = client.post("/v1/points/balance", json=auth).get_json()["points_info"]
    assert balance == {
        "points_received": "2000",
        "points_redeemed": "0",
        "points_available": "2000",
    }
    redeem = {**auth, "order_id": "SF1", "total_points_redeemed": "1500.5"}
    assert client.post("/v1/points/redeem", json=redeem).status_code == 200
    too_much = {**auth, "order_id": "SF2", "total_points_redeemed": 500}
    assert_failure(client.post("/v1/points/redeem", json=too_much), 422, "insufficient_points")
    refund = {**auth, "transactionid": "SF1", "redemption_amount": "0.5"}
    assert client.post("/v1/points/refund", json=refund).get_json()["data"]["points"] == "0.5"
    balance = client.post("/v1/points/balance", json=auth).get_json()["points_info"]
    assert balance["points_available"] == "500"


class TestSuccessFactorsEmployeeCentral(TestSuccessFactorsProfiles):
    @pytest.fixture
    def connector(self, fake, tmp_path):
        connector = SuccessFactorsConnector(**fake_sf.options(tmp_path, employee_central=True))
        yield connector
        connector.close()


def test_employee_central_completes_the_user_from_per_person(fake, tmp_path):
    sf = SuccessFactorsConnector(**fake_sf.options(tmp_path, employee_central=True))
    pam = sf.find("email", "pam@EXAMPLE.com")
    assert (pam.first_name, pam.last_name, pam.designation) == (
        "Pamela",
        "Halpert",
        "Office Manager",
    )
    assert pam.email == "pam@example.com"  # the primary address, not the first one listed
    assert pam.department == "Sales" and pam.raw["perPerson"]["personIdExternal"] == "DB123"
    dwight = sf.find("employee_id", "22816281")  # no Employee Central person: User's fields
    assert (dwight.first_name, dwight.designation) == ("Dwight", "Sales Rep")


def test_employee_central_person_id_may_come_from_another_user_field(fake, tmp_path):
    fake.users = [fake_sf.user("u-9", "Pam", "Beesly", "pam@example.com", empId="DB123")]
    sf = SuccessFactorsConnector(
        **fake_sf.options(tmp_path, employee_central=True, person_id_field="empId")
    )
    assert sf.find("employee_id", "u-9").first_name == "Pamela"
    plain = SuccessFactorsConnector(**fake_sf.options(tmp_path))
    assert plain.find("employee_id", "u-9").first_name == "Pam"
