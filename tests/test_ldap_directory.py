"""The ldap connector against a real OpenLDAP (tests/slapd.py: Debian's slapd in a temporary
folder on a free port, seeded with tests/fixtures/ldap/people.ldif, which holds people the way
Active Directory does: employeeID, userAccountControl). Through the conformance kit, and: the
disabled bit, hostile values that would change a filter, the paged search behind the index,
StartTLS and LDAPS with the server's CA (and refused without it), a refused bind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import UpstreamAuthFailed, UpstreamUnavailable
from connectors.hr.ldap_directory import LdapConnector
from connectors.registry import validate_options
from connectors.testing import ProfileSourceContract
from tests import slapd

pytestmark = pytest.mark.skipif(slapd.missing() is not None, reason=str(slapd.missing()))

FILTERS = {
    "employee_id": "(&(objectClass=inetOrgPerson)(employeeID={value}))",
    "email": "(&(objectClass=inetOrgPerson)(mail={value}))",
    "mobile": "(&(objectClass=inetOrgPerson)(mobile={value}))",
}
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
    return {
        "url": server.url,
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


@pytest.fixture(scope="module")
def shared() -> Iterator[slapd.Slapd]:
    with slapd.running() as server:
        yield server


class TestLdap(ProfileSourceContract):
    @pytest.fixture
    def server(self) -> Iterator[slapd.Slapd]:
        with slapd.running() as server:  # its own: backend_down stops it
            yield server

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
        untrusted = build(options(shared, tmp_path, url=url, start_tls=start_tls))
        with pytest.raises(UpstreamUnavailable):
            untrusted.find("employee_id", "E1002")


def test_a_refused_bind_is_an_auth_failure_without_the_password(shared, tmp_path):
    connector = build(options(shared, tmp_path, bind_password="not-the-password-42"))
    with pytest.raises(UpstreamAuthFailed) as refused:
        connector.find("employee_id", "E1001")
    assert "not-the-password-42" not in str(refused.value)


def test_filters_must_hold_the_value_and_be_parenthesised(shared, tmp_path):
    from connectors.registry import BadOptions

    for filters in ({"email": "(mail=fixed@example.com)"}, {"email": "mail={value}"}):
        with pytest.raises(BadOptions):
            validate_options(LdapConnector, options(shared, tmp_path, filters=filters))


def test_check_binds_looks_one_person_up_and_names_empty_fields(shared, tmp_path, employees_csv):
    from click.testing import CliRunner

    from gateway.cli import main
    from tests.conftest import toml, write_config

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
