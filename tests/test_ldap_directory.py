"""The ldap connector against a real OpenLDAP (tests/slapd.py: Debian's slapd in a temporary
folder on a free port, seeded with tests/fixtures/ldap/people.ldif, which holds people the way
Active Directory does: employeeID, userAccountControl). Through the conformance kit, and: the
disabled bit, hostile values that would change a filter, the paged search behind the index,
StartTLS and LDAPS with the server's CA (and refused without it), a refused bind, a referral
never followed, and a simple bind in clear refused unless allow_plaintext_bind says so (that
one at configuration time, without slapd: the other tests skip when it is not installed)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import (
    ConnectorConfigError,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamUnavailable,
)
from connectors.hr.ldap_directory import LdapConnector
from connectors.registry import BadOptions, validate_options
from connectors.testing import ProfileSourceContract
from gateway.config import ConfigError, load_settings
from tests import slapd
from tests.conftest import toml, write_config

FILTERS = {
    "employee_id": "(&(objectClass=inetOrgPerson)(employeeID={value}))",
    "email": "(&(objectClass=inetOrgPerson)(mail={value}))",
    "mobile": "(&(objectClass=inetOrgPerson)(mobile={value}))",
}
PLAINTEXT = "allow_plaintext_bind"
ATTRIBUTES = {
    "employee_id": "employeeID",
    "email": "mail",
    "first_name": "givenName",
    "last_name": "sn",
    "mobile": "mobile",
    "designation": "title",
    "department": "ou",
    "company": "o",
}


def options(server: slapd.Slapd, tmp_path: Path, **more: Any) -> dict[str, Any]:
    """Over LDAPS with the server's CA, as the LDAP page asks. (StartTLS has its own test:
    slapd answers about one StartTLS in 600 "operations outstanding" when a connection reuses a
    closed one's slot, a race of its own.)"""
    return {
        "url": server.ldaps_url,
        "ca_file": str(server.ca_file),
        "bind_dn": slapd.BIND_DN,
        "bind_password": slapd.BIND_PASSWORD,
        "base_dn": "ou=people," + slapd.BASE_DN,
        "filters": FILTERS,
        "attributes": ATTRIBUTES,
        "disabled": {"attribute": "userAccountControl", "bits": 2},
        "index_path": str(tmp_path / "ldap.index"),
        "connect_timeout": 1,
        "receive_timeout": 2,
        **more,
    }


def build(opts: dict[str, Any]) -> LdapConnector:
    return LdapConnector(**validate_options(LdapConnector, opts))


def running(extra_ldif: str = "") -> Iterator[slapd.Slapd]:
    if (why := slapd.missing()) is not None:
        pytest.skip(why)
    with slapd.running(extra_ldif) as server:
        yield server


@pytest.fixture(scope="module")
def shared() -> Iterator[slapd.Slapd]:
    yield from running()


class TestLdap(ProfileSourceContract):
    @pytest.fixture
    def server(self) -> Iterator[slapd.Slapd]:
        yield from running()  # its own: backend_down stops it

    @pytest.fixture
    def connector(self, server, tmp_path):
        connector = build(options(server, tmp_path))
        yield connector
        connector.close()

    @pytest.fixture
    def known(self):
        return {
            "employee_id": "E1001",
            "email": "Pam.Beesly@Example.com",
            "mobile": "+919800000001",
        }

    @pytest.fixture
    def backend_down(self, server):
        return server.stop

    @pytest.fixture
    def secrets(self):
        return [slapd.BIND_PASSWORD]


def test_the_disabled_bit_marks_who_left(shared, tmp_path):
    connector = build(options(shared, tmp_path))
    toby = connector.find("employee_id", "E1004")
    assert toby is not None and toby.active is False
    pam = connector.find("email", "pam.beesly@example.com")
    assert (pam.first_name, pam.designation, pam.department, pam.company, pam.active) == (
        "Pam",
        "Receptionist",
        "Admin",
        "Dunder Mifflin",
        True,
    )


@pytest.mark.parametrize(
    "hostile", ["*", "E1*", "E100?", "*)(mail=*", "E1001)(|(employeeID=*", "\\2a", "E1001\x00"]
)
def test_a_value_can_never_change_the_filter(shared, tmp_path, hostile):
    assert build(options(shared, tmp_path)).find("employee_id", hostile) is None


def test_a_value_with_filter_characters_is_looked_up_literally(shared, tmp_path):
    star = build(options(shared, tmp_path)).find("employee_id", "E*")
    assert star is not None and star.email == "star@example.com"


def test_identities_without_a_filter_come_from_a_paged_search_into_the_index(shared, tmp_path):
    opts = options(
        shared,
        tmp_path,
        filters={"employee_id": FILTERS["employee_id"]},
        list_filter="(objectClass=inetOrgPerson)",
        page_size=1,  # four people: four pages and the last, empty answer
    )
    connector = build(opts)
    assert connector.find("mobile", "+919800000002").employee_id == "E1002"
    assert connector.find("email", "TOBY@example.com").active is False
    assert connector.find("email", "nobody@example.com") is None
    assert Path(opts["index_path"]).exists()


def test_starttls_and_ldaps_verify_the_server_s_certificate(shared, tmp_path):
    for url, start_tls in ((shared.url, True), (shared.ldaps_url, False)):
        trusted = build(
            options(shared, tmp_path, url=url, start_tls=start_tls, ca_file=str(shared.ca_file))
        )
        assert trusted.find("employee_id", "E1002").email == "jim@example.com"
        untrusted = build(options(shared, tmp_path, url=url, start_tls=start_tls, ca_file=None))
        with pytest.raises(UpstreamUnavailable):
            untrusted.find("employee_id", "E1002")


def test_a_refused_bind_is_an_auth_failure_without_the_password(shared, tmp_path):
    connector = build(options(shared, tmp_path, bind_password="not-the-password-42"))
    with pytest.raises(UpstreamAuthFailed) as refused:
        connector.find("employee_id", "E1001")
    assert "not-the-password-42" not in str(refused.value)


def test_filters_must_hold_the_value_and_be_parenthesised(shared, tmp_path):
    for filters in ({"email": "(mail=fixed@example.com)"}, {"email": "mail={value}"}):
        with pytest.raises(BadOptions):
            validate_options(LdapConnector, options(shared, tmp_path, filters=filters))


def test_check_binds_looks_one_person_up_and_names_empty_fields(shared, tmp_path, employees_csv):
    from click.testing import CliRunner

    from gateway.cli import main

    def config(**more: Any) -> Path:
        opts = options(shared, tmp_path, **more)
        path = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}", identity="email")
        section = "\n".join(f"{k} = {toml(v)}" for k, v in opts.items())
        path.write_text(
            path.read_text().replace(
                '[profile]\nconnector = "csv"\noptions = { path = "employees.csv" }',
                f'[profile]\nconnector = "ldap"\n[profile.options]\n{section}\n',
            )
        )
        return path

    runner = CliRunner()
    done = runner.invoke(main, ["check", "--config", str(config()), "--person", "jim@example.com"])
    assert done.exit_code == 0, done.output
    assert "profile  ok" in done.output
    assert "lookup   found E1002 (active); empty: company" in done.output
    refused = runner.invoke(main, ["check", "--config", str(config(bind_password="nope-123"))])
    assert refused.exit_code == 1 and "profile  upstream_auth_failed" in refused.output
    assert slapd.BIND_PASSWORD not in done.output + refused.output


# -- referrals: never followed -------------------------------------------------------------------


class Elsewhere:
    """The directory a referral points to, as an attacker would run it: it answers every search
    "done, nothing found" and every bind "success", refuses StartTLS, and keeps every byte
    (an LDAP simple bind carries the password as it is, RFC 4511 4.2)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        pending = b""
        with conn, contextlib.suppress(OSError):
            conn.settimeout(2)
            while chunk := conn.recv(4096):
                self.received += chunk
                pending += chunk
                while (message := _one_message(pending)) is not None:
                    pending = pending[len(message) :]
                    conn.sendall(_answer(message))


def _one_message(data: bytes) -> bytes | None:
    """The first whole BER LDAPMessage (a SEQUENCE) in `data`, or None."""
    if len(data) < 2:
        return None
    size, at = data[1], 2
    if size & 0x80:
        count = size & 0x7F
        size, at = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    return data[: at + size] if len(data) >= at + size else None


def _answer(message: bytes) -> bytes:
    at = 2 + (message[1] & 0x7F if message[1] & 0x80 else 0)
    message_id = message[at : at + 2 + message[at + 1]]  # INTEGER, as the request spelled it
    op = message[at + len(message_id)]
    done = {0x60: (0x61, 0), 0x63: (0x65, 0), 0x77: (0x78, 2)}.get(op)  # bind, search, extended
    if done is None:  # unbind, abandon: no answer
        return b""
    tag, code = done
    body = message_id + bytes([tag, 7, 0x0A, 1, code, 4, 0, 4, 0])
    return bytes([0x30, len(body)]) + body


def test_a_referral_is_never_followed_nor_bound_to(tmp_path):
    """ldap3 follows a referral by default, to any host, and binds there as the service
    account: an entry referring elsewhere collected the bind password (in clear, over ldap://).
    A base that refers elsewhere is now an error that says so; a reference met inside the
    subtree is skipped; nothing ever reaches the other host."""
    elsewhere = Elsewhere()
    refer = f"ldap://127.0.0.1:{elsewhere.port}/ou=people,dc=example,dc=com"
    referrals = f"""
dn: ou=moved,dc=example,dc=com
objectClass: referral
objectClass: extensibleObject
ou: moved
ref: {refer}

dn: ou=partners,ou=people,dc=example,dc=com
objectClass: referral
objectClass: extensibleObject
ou: partners
ref: {refer}
"""
    for server in running(referrals):
        for tls in ({}, {"url": server.url, PLAINTEXT: True}):  # LDAPS, then in clear
            moved = build(options(server, tmp_path, base_dn="ou=moved," + slapd.BASE_DN, **tls))
            with pytest.raises(UpstreamError, match="refers the search to another server"):
                moved.find("employee_id", "E1002")
            with pytest.raises(UpstreamError, match="refers the search to another server"):
                moved.check()
            everyone = build(options(server, tmp_path, list_filter="(objectClass=*)", **tls))
            assert everyone.find("employee_id", "E1002").email == "jim@example.com"
            assert everyone.find("email", "pam.beesly@example.com").employee_id == "E1001"
        time.sleep(0.2)
        assert elsewhere.connections == 0
        assert slapd.BIND_PASSWORD.encode() not in elsewhere.received


# -- a simple bind in clear: refused unless allowed ---------------------------------------------

CLEAR = {
    "url": "ldap://dc1.corp.example.com:389",
    "bind_dn": "cn=points-gateway,dc=corp,dc=example,dc=com",
    "bind_password": "never-in-clear-5x",
    "base_dn": "dc=corp,dc=example,dc=com",
    "filters": {"employee_id": FILTERS["employee_id"]},
    "attributes": {"employee_id": "employeeID", "email": "mail"},
}


def test_a_bind_in_clear_is_refused_in_the_options(tmp_path):
    with pytest.raises(BadOptions) as refused:
        validate_options(LdapConnector, {**CLEAR, "index_path": str(tmp_path / "i")})
    assert list(refused.value.messages) == [PLAINTEXT]
    assert "never-in-clear-5x" not in str(refused.value.messages)
    for fine in ({"start_tls": True}, {"url": "ldaps://dc1.corp.example.com"}, {PLAINTEXT: True}):
        validate_options(LdapConnector, {**CLEAR, **fine})


def test_a_bind_in_clear_is_refused_by_the_connector_itself():
    """Built without the schema (by code), it refuses too, before any connection."""
    loaded = validate_options(LdapConnector, {**CLEAR, PLAINTEXT: True})
    with pytest.raises(ConnectorConfigError, match=f"ldap: .*{PLAINTEXT} = true"):
        LdapConnector(**{**loaded, PLAINTEXT: False})


def test_a_bind_in_clear_stops_the_configuration_in_one_line(tmp_path, employees_csv):
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    section = "\n".join(f"{k} = {toml(v)}" for k, v in CLEAR.items())
    path.write_text(
        path.read_text().replace(
            '[profile]\nconnector = "csv"\noptions = { path = "employees.csv" }',
            f'[profile]\nconnector = "ldap"\n[profile.options]\n{section}\n',
        )
    )
    with pytest.raises(ConfigError) as refused:
        load_settings(path, {})
    line = str(refused.value)
    assert line.startswith(f"profile.options.{PLAINTEXT}: ") and "\n" not in line
    assert "ldaps://" in line and "start_tls" in line


def test_a_bind_in_clear_works_when_allowed(shared, tmp_path):
    connector = build(options(shared, tmp_path, url=shared.url, ca_file=None, **{PLAINTEXT: True}))
    assert connector.find("employee_id", "E1002").email == "jim@example.com"


# -- timeouts ------------------------------------------------------------------------------------


def test_every_search_asks_the_server_to_stop_when_we_would(shared, tmp_path, monkeypatch):
    """RFC 4511 timeLimit = receive_timeout, so a slow search ends on the directory too, and a
    paged search cut short by it is an error, never a partial index."""
    import ldap3

    asked: list[int] = []
    search = ldap3.Connection.search

    def spy(self: Any, base: str, *args: Any, **kwargs: Any) -> Any:
        if base == "ou=people," + slapd.BASE_DN:  # not ldap3's own reads of the root DSE
            asked.append(kwargs.get("time_limit", 0))
        return search(self, base, *args, **kwargs)

    monkeypatch.setattr(ldap3.Connection, "search", spy)
    connector = build(
        options(shared, tmp_path, receive_timeout=1.5, list_filter="(objectClass=inetOrgPerson)")
    )
    connector.check()
    connector.find("employee_id", "E1002")
    connector.find("email", "jim@example.com")  # the paged search behind the index
    assert len(asked) >= 3 and set(asked) == {2}


def test_a_directory_that_never_answers_is_given_up_on_at_receive_timeout(tmp_path):
    silent = socket.create_server(("127.0.0.1", 0))  # its backlog connects us; nobody answers
    with silent:
        opts = {
            **CLEAR,
            "url": f"ldap://127.0.0.1:{silent.getsockname()[1]}",
            PLAINTEXT: True,
            "receive_timeout": 1,
            "index_path": str(tmp_path / "i"),
        }
        connector = LdapConnector(**validate_options(LdapConnector, opts))
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable, match="no answer in 1"):
            connector.find("employee_id", "E1001")
        assert time.monotonic() - started < 2.5
