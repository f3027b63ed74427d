"""Mutual TLS in the shared HTTP client (connectors/http_tls.py), against a real TLS server on
127.0.0.1 that asks every client for a certificate its CA signed (ssl.CERT_REQUIRED), with
certificates made here (tests/fakes/pki.py): without one the call fails in one clear line;
with one it is let in, the OAuth2 token request included; one the CA never signed is refused;
the server's own certificate is checked against `ca_file`; the deadline still cuts a dripping
answer. And the files are checked before any call: a key others may read is refused, naming
its option, and no message or log line ever holds a key."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from marshmallow import ValidationError

from connectors.base import ConnectorConfigError, UpstreamUnavailable
from connectors.hr.rest_directory import RestDirectoryConnector
from connectors.http import HttpClient, HttpOptions, HttpPolicy
from connectors.registry import validate_options
from tests.fakes.mtls import ANSWER, MtlsServer
from tests.fakes.pki import Issued, Pki, write_private
from tests.test_deadline import BUDGET, SLACK, dripping


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def ours(pki: Pki) -> Issued:
    return pki.client()


@pytest.fixture
def server(pki: Pki) -> Iterator[MtlsServer]:
    running = MtlsServer(pki.server_context())
    threading.Thread(target=running.serve_forever, daemon=True).start()
    yield running
    running.shutdown()
    running.server_close()


def client(pki: Pki, **tls: Any) -> HttpClient:
    tls = {"ca_file": str(pki.ca_file), **tls}
    return HttpClient("hr", HttpPolicy(budget_seconds=3, attempts=2, **tls))


def failure(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message and len(message) < 300, message
    return message


# -- the handshake -------------------------------------------------------------------------------


def test_without_a_client_certificate_the_call_fails_in_one_clear_line(pki, server):
    with pytest.raises(UpstreamUnavailable) as refused:
        client(pki).request("GET", server.url + "/people/E1", idempotent=True)
    message = failure(refused)
    assert message.startswith("hr: cannot reach it (TLS handshake refused")
    assert "no client certificate" in message and "http.client_cert" in message
    assert server.refused and server.seen == []


@pytest.mark.parametrize("files", ["cert and key", "key in the cert file"])
def test_with_its_certificate_the_call_is_let_in(pki, ours, server, files):
    tls = (
        {"client_cert": str(ours.cert), "client_key": str(ours.key)}
        if files == "cert and key"
        else {"client_cert": str(ours.both)}
    )
    answer = client(pki, **tls).request("GET", server.url + "/people/E1", idempotent=True)
    assert answer.json() == ANSWER
    assert server.seen == [("GET /people/E1", "points-gateway-client")]


def test_a_certificate_its_ca_never_signed_is_refused(pki, server):
    stranger = pki.stranger()
    tls = {"client_cert": str(stranger.cert), "client_key": str(stranger.key)}
    with pytest.raises(UpstreamUnavailable) as refused:
        client(pki, **tls).request("GET", server.url + "/people/E1", idempotent=True)
    message = failure(refused)
    assert "TLS handshake refused" in message and "is http.client_cert the one" in message
    assert server.refused and server.seen == []


def test_the_server_s_certificate_is_checked_against_ca_file(pki, ours, server):
    """Without `ca_file`, the public CAs are trusted, and the test CA is none of them."""
    tls = {"client_cert": str(ours.cert), "client_key": str(ours.key)}
    policy = HttpPolicy(budget_seconds=3, attempts=1, **tls)
    with pytest.raises(UpstreamUnavailable) as refused:
        HttpClient("hr", policy).request("GET", server.url + "/people/E1", idempotent=True)
    message = failure(refused)
    assert "not trusted" in message and "http.ca_file" in message
    assert server.seen == []


def rest_directory(server: MtlsServer, **http: Any) -> RestDirectoryConnector:
    options = {
        "base_url": server.url,
        "auth": {
            "type": "oauth2_client_credentials",
            "token_url": server.url + "/token",
            "client_id": "client-7",
            "client_secret": "client-secret-5f4e3d",
        },
        "lookup": {"employee_id": {"path": "/people/{value}"}},
        "fields": {"employee_id": "id", "email": "email"},
        "http": {"budget_seconds": 3, "attempts": 2, **http},
    }
    return RestDirectoryConnector(**validate_options(RestDirectoryConnector, options))


def test_the_oauth2_token_request_presents_the_certificate_too(pki, ours, server):
    tls = {"client_cert": str(ours.cert), "client_key": str(ours.key), "ca_file": str(pki.ca_file)}
    found = rest_directory(server, **tls).find("employee_id", "E1")
    assert found is not None and found.email == "e1@example.com"
    assert server.seen == [
        ("POST /token", "points-gateway-client"),
        ("GET /people/E1", "points-gateway-client"),
    ]


def test_without_the_certificate_not_even_a_token_is_got(pki, server):
    with pytest.raises(UpstreamUnavailable) as refused:
        rest_directory(server, ca_file=str(pki.ca_file)).find("employee_id", "E1")
    assert "no client certificate" in failure(refused)
    assert server.seen == []


def test_the_deadline_holds_over_mutual_tls(pki, ours):
    """A system that drips its answer over mTLS: the call still ends at its budget."""
    tls = {"client_cert": str(ours.cert), "client_key": str(ours.key), "ca_file": str(pki.ca_file)}
    http = HttpClient("hr", HttpPolicy(budget_seconds=BUDGET, read_timeout=10, attempts=3, **tls))
    with dripping(ANSWER | {"padding": "x" * 20}, "body", tls=pki.server_context()) as drip:
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable, match="hr: timed out"):
            http.request("GET", drip.url + "/people/E1", idempotent=True)
        assert time.monotonic() - started < BUDGET + SLACK
        assert drip.requests == 1  # it was let in: the handshake passed, the answer dripped


# -- the files, before any call ------------------------------------------------------------------


def copy(source: Path, folder: Path, mode: int) -> Path:
    return write_private(folder / source.name, source.read_bytes(), mode)


def refused_option(pki: Pki, **tls: Any) -> tuple[str | None, str]:
    with pytest.raises(ConnectorConfigError) as refused:
        client(pki, **tls)
    assert "\n" not in str(refused.value)
    return refused.value.option, str(refused.value)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o602, 0o610])
def test_a_key_others_may_read_or_write_is_refused_naming_its_option(pki, ours, tmp_path, mode):
    key = copy(ours.key, tmp_path, mode)
    option, message = refused_option(pki, client_cert=str(ours.cert), client_key=str(key))
    assert option == "http.client_key"
    assert f"mode {mode:04o}" in message and f"chmod 600 {key}" in message
    assert "PRIVATE KEY" not in message and key.read_text()[40:80] not in message


def test_a_private_key_is_accepted(pki, ours, tmp_path):
    key = copy(ours.key, tmp_path, 0o400)
    assert client(pki, client_cert=str(ours.cert), client_key=str(key)).tls["cert"] == (
        str(ours.cert),
        str(key),
    )


def test_a_certificate_file_holding_the_key_must_be_private_too(pki, ours, tmp_path):
    both = copy(ours.both, tmp_path, 0o644)
    option, message = refused_option(pki, client_cert=str(both))
    assert option == "http.client_cert" and "holds a private key" in message


@pytest.mark.parametrize(
    ("tls", "option", "said"),
    [
        ({"client_cert": "/nonexistent/cert.pem"}, "http.client_cert", "no such file"),
        ({"ca_file": "/nonexistent/ca.pem"}, "http.ca_file", "no such file"),
        ({"client_cert": "{folder}"}, "http.client_cert", "not a file"),
        ({"client_cert": "{text}"}, "http.client_cert", "no certificate and key"),
        ({"client_cert": "{cert}", "client_key": "{other_key}"}, "http.client_key", "not the key"),
        ({"client_cert": "{cert}"}, "http.client_cert", "no private key"),
        ({"client_cert": "{cert}", "client_key": "{encrypted}"}, "http.client_key", "encrypted"),
        ({"ca_file": "{text}"}, "http.ca_file", "no CA certificate"),
    ],
)
def test_a_file_that_cannot_serve_is_one_line_naming_its_option(
    pki, ours, tmp_path, tls, option, said
):
    text = tmp_path / "notes.txt"
    text.write_text("not a certificate\n")
    places = {
        "folder": str(tmp_path),
        "text": str(text),
        "cert": str(ours.cert),
        "other_key": str(pki.stranger().key),
        "encrypted": str(pki.encrypted_key(ours, b"a passphrase")),
    }
    tls = {name: value.format(**places) for name, value in tls.items()}
    got, message = refused_option(pki, **tls)
    assert (got, said in message) == (option, True), message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_file_this_user_cannot_read_is_refused(pki, ours, tmp_path):
    key = copy(ours.key, tmp_path, 0o000)
    option, message = refused_option(pki, client_cert=str(ours.cert), client_key=str(key))
    assert option == "http.client_key" and "cannot read" in message


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"client_cert": "relative/cert.pem"}, {"client_cert": ["give an absolute path"]}),
        ({"client_key": "/etc/key.pem"}, {"client_key": ["give client_cert too"]}),
        ({"ca_file": "ca.pem"}, {"ca_file": ["give an absolute path"]}),
    ],
)
def test_the_schema_takes_absolute_paths_and_a_key_only_with_its_certificate(given, problem):
    with pytest.raises(ValidationError) as refused:
        HttpOptions().load(given)
    assert refused.value.messages == problem


def test_the_gateway_says_it_in_one_line_naming_the_option(pki, ours, tmp_path, employees_csv):
    from click.testing import CliRunner

    from gateway.cli import main
    from tests.conftest import toml, write_config

    key = copy(ours.key, tmp_path, 0o644)
    options = {
        "base_url": "https://127.0.0.1:9",
        "auth": {"type": "api_key", "api_key": "k"},
        "lookup": {"employee_id": {"path": "/people/{value}"}},
        "fields": {"employee_id": "id", "email": "email"},
        "http": {"client_cert": str(ours.cert), "client_key": str(key)},
    }
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    section = "\n".join(f"{k} = {toml(v)}" for k, v in options.items())
    path.write_text(
        path.read_text().replace(
            '[profile]\nconnector = "csv"\noptions = { path = "employees.csv" }',
            f'[profile]\nconnector = "rest_directory"\n[profile.options]\n{section}\n',
        )
    )
    done = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert done.exit_code != 0
    said = [line for line in done.output.splitlines() if "client_key" in line]
    assert len(said) == 1 and said[0].count("profile.options.http.client_key: ") == 1, done.output
    assert "chmod 600" in said[0]
    assert key.read_text().splitlines()[1] not in done.output


def test_no_log_line_or_error_holds_a_key(pki, ours, server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    key_lines = [line for line in ours.key.read_text().splitlines() if "-----" not in line]
    said: list[str] = []
    for tls in ({}, {"client_cert": str(pki.stranger().both)}):
        with pytest.raises(UpstreamUnavailable) as refused:
            client(pki, **tls).request("GET", server.url + "/people/E1", idempotent=True)
        said.append(str(refused.value))
    with pytest.raises(ConnectorConfigError) as wrong:
        client(pki, client_cert=str(copy(ours.both, tmp_path, 0o644)))
    said.append(str(wrong.value))
    text = caplog.text + "\n".join(said)
    assert all(line not in text for line in key_lines)
