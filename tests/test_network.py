"""The allowlist, ProxyFix behind a TLS-terminating proxy, and TLS in gunicorn itself."""

from __future__ import annotations

import pytest
import requests

from gateway.app import create_app
from gateway.config import ConfigError, load_settings
from tests.conftest import EMPLOYEES, write_config, write_csv
from tests.fakes.certs import self_signed


def app_with(tmp_path, network: str):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}")
    config.write_text(config.read_text() + "[network]\n" + network)
    return create_app(load_settings(config))


def balance(client, **headers):
    return client.post(
        "/v1/points/balance", json={"unique_id": "DB123", "auth_token": "x"}, headers=headers
    )


def test_a_caller_outside_the_allowlist_gets_json_403_and_nothing_else_is_guarded(tmp_path):
    app = app_with(tmp_path, 'allowlist = ["xoxoday-production", "10.1.0.0/16"]\n')
    client = app.test_client()
    refused = balance(client)  # the test client calls from 127.0.0.1
    assert refused.status_code == 403
    assert refused.get_json()["error_code"] == "ip_not_allowed"
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200  # what answers here: as open as /healthz
    assert client.get("/metrics").status_code == 200


def test_allowed_callers_reach_the_endpoint(tmp_path):
    app = app_with(tmp_path, 'allowlist = ["127.0.0.0/8"]\n')
    assert balance(app.test_client()).status_code == 401  # past the allowlist, to the token


def test_behind_a_proxy_the_forwarded_address_counts(tmp_path):
    app = app_with(tmp_path, 'allowlist = ["xoxoday-staging"]\nproxy_fix = { x_for = 1 }\n')
    client = app.test_client()
    assert balance(client, **{"X-Forwarded-For": "54.184.56.156"}).status_code == 401
    assert balance(client, **{"X-Forwarded-For": "8.8.8.8"}).status_code == 403
    assert balance(client).status_code == 403


@pytest.mark.parametrize(
    ("network", "problem"),
    [
        ('allowlist = ["xoxoday-prod"]\n', "neither a CIDR nor a preset"),
        ("proxy_fix = { x_for = 9 }\n", "x_for"),
    ],
)
def test_bad_network_settings_are_named(tmp_path, network, problem):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}")
    config.write_text(config.read_text() + "[network]\n" + network)
    with pytest.raises(ConfigError, match=problem):
        load_settings(config)


def self_signed_files(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    key_pem, cert_pem = self_signed(
        ec.generate_private_key(ec.SECP256R1()), "127.0.0.1", 1, "127.0.0.1"
    )
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    (tmp_path / "key.pem").write_bytes(key_pem)


@pytest.mark.slow
def test_serve_speaks_tls_when_given_a_certificate(tmp_path):
    from tests.servers import free_port, gateway_argv, running

    self_signed_files(tmp_path)
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}")
    config.write_text(config.read_text() + '[server]\ncertfile = "cert.pem"\nkeyfile = "key.pem"\n')
    port = free_port()
    argv = gateway_argv(config, port, "--workers", "1")
    ca = str(tmp_path / "cert.pem")
    with running(argv, f"https://127.0.0.1:{port}", verify=ca):
        answer = requests.get(f"https://127.0.0.1:{port}/healthz", verify=ca, timeout=2)
        assert answer.json()["status"] == "1"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()


def test_half_a_tls_pair_is_refused(tmp_path):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}")
    config.write_text(config.read_text() + '[server]\ncertfile = "cert.pem"\n')
    with pytest.raises(ConfigError, match="both certfile and keyfile"):
        load_settings(config)
