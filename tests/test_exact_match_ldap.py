"""The exact-match rule for ldap, against the real slapd (tests/slapd.py; skipped where it is not
installed). A directory's search matches more than the value asked: by its attributes' matching
rules, employeeID's caseIgnoreMatch (RFC 4517 4.2.3: "xa1" for "XA1") and mobile's
telephoneNumberMatch (RFC 4517 4.2.29, RFC 4518 2.6.1: spaces and hyphens are insignificant,
"+91 98000 10001" for "+919800010001"), and by a filter template a company wrote with
wildcards, as `(mail=*{value}*)` (RFC 4515 substrings: "ajo@a.example" for "jo@a.example").
Entries come back in the order slapd stored them, here the near misses first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import UpstreamError
from connectors.hr.ldap_directory import LdapConnector
from connectors.registry import validate_options
from tests import slapd
from tests.exact_match_fakes import ldif_person

KEYS = {"email": 0, "mobile": 1, "employee_id": 2}
#: (name, identity, value asked, values held in the order slapd keeps them)
FOUND = [
    ("fa", "email", "jo@a.example", ["ajo@a.example", "jo@a.example"]),
    ("fb", "mobile", "+919800010001", ["+91 98000 10001", "+919800010001"]),
    ("fc", "employee_id", "XA1", ["xa1", "XA1"]),
]
NOBODY = [
    ("na", "email", "jo@b.example", ["ajo@b.example"]),
    ("nb", "mobile", "+919800010002", ["+91-98000-10002"]),
    ("nc", "employee_id", "XB1", ["xb1"]),
]
TWICE = [
    ("ta", "email", "jo@c.example", ["Jo@C.example", "jo@c.example"]),
    ("tb", "mobile", "+919800010003", ["+919800010003", "+919800010003"]),
    ("tc", "employee_id", "XC1", ["XC1", "XC1"]),
]
# More answers than the two the connector reads (its search's size_limit).
MANY = [
    ("ma", "email", "jo@d.example", ["jo@d.example.au", "ajo@d.example", "jo@d.example"]),
    ("mb", "mobile", "+919800010004", ["+91 98000 10004", "+91-98000-10004", "+919800010004"]),
]
MANY_TWICE = [
    ("mc", "email", "jo@e.example", ["jo@e.example", "jo@e.example.au", "JO@E.example"]),
    ("md", "mobile", "+919800010006", ["+919800010006", "+91 98000 10006", "+919800010006"]),
]
SHARED_MOBILE = "+919800010005"


def ldif() -> str:
    text, filler = (
        ["dn: ou=indexed,dc=example,dc=com\nobjectClass: organizationalUnit\nou: indexed\n"],
        0,
    )
    for name, by, _, values in [*FOUND, *NOBODY, *TWICE, *MANY, *MANY_TWICE]:
        for i, value in enumerate(values):
            filler += 1
            held = [f"f{filler}@filler.example", f"+91977{filler:06d}", f"F{filler}"]
            held[KEYS[by]] = value
            text.append(ldif_person(f"{name}{i}", *held))
    for i in range(3):
        mobile = SHARED_MOBILE if i < 2 else "+919800010007"
        text.append(ldif_person(f"ix{i}", f"ix{i}@x.example", mobile, f"IX{i}", ou="indexed"))
    return "".join(text)


@pytest.fixture(scope="module")
def server() -> Iterator[slapd.Slapd]:
    if (why := slapd.missing()) is not None:
        pytest.skip(why)
    with slapd.running(ldif()) as running:
        yield running


def connector(server: slapd.Slapd, tmp_path: Path, **more: Any) -> LdapConnector:
    options = {
        "url": server.ldaps_url,  # LDAPS: no bind in clear, whatever the plaintext rule
        "ca_file": str(server.ca_file),
        "bind_dn": slapd.BIND_DN,
        "bind_password": slapd.BIND_PASSWORD,
        "base_dn": "ou=people," + slapd.BASE_DN,
        "filters": {
            "employee_id": "(&(objectClass=inetOrgPerson)(employeeID={value}))",
            "email": "(&(objectClass=inetOrgPerson)(mail=*{value}*))",
            "mobile": "(&(objectClass=inetOrgPerson)(mobile={value}))",
        },
        "attributes": {
            "employee_id": "employeeID",
            "email": "mail",
            "first_name": "givenName",
            "mobile": "mobile",
        },
        "index_path": str(tmp_path / "ldap.index"),
        "connect_timeout": 1,
        "receive_timeout": 2,
        **more,
    }
    return LdapConnector(**validate_options(LdapConnector, options))


@pytest.fixture
def ldap(server: slapd.Slapd, tmp_path: Path) -> Iterator[LdapConnector]:
    made = connector(server, tmp_path)
    yield made
    made.close()


@pytest.mark.parametrize(("name", "by", "asked", "held"), FOUND)
def test_the_exact_entry_is_found_after_a_near_miss(ldap, name, by, asked, held):
    found = ldap.find(by, asked)
    assert found is not None and found.first_name == f"{name}{len(held) - 1}"


@pytest.mark.parametrize(("name", "by", "asked", "held"), NOBODY)
def test_near_misses_alone_find_nobody(ldap, name, by, asked, held):
    assert ldap.find(by, asked) is None


@pytest.mark.parametrize(("name", "by", "asked", "held"), TWICE)
def test_two_exact_entries_are_refused(ldap, name, by, asked, held):
    with pytest.raises(UpstreamError, match=f"2 people have that {by}"):
        ldap.find(by, asked)


@pytest.mark.parametrize(("name", "by", "asked", "held"), MANY)
def test_the_exact_entry_is_found_after_two_near_misses(ldap, name, by, asked, held):
    found = ldap.find(by, asked)
    assert found is not None and found.first_name == f"{name}{len(held) - 1}"


@pytest.mark.parametrize(("name", "by", "asked", "held"), MANY_TWICE)
def test_a_second_exact_entry_after_a_near_miss_is_still_refused(ldap, name, by, asked, held):
    refused = False
    try:
        ldap.find(by, asked)
    except UpstreamError:
        refused = True
    assert refused, "one of two people holding the value was used"


def test_a_mobile_two_entries_share_in_the_index_finds_neither(server, tmp_path):
    indexed = connector(
        server,
        tmp_path,
        base_dn="ou=indexed," + slapd.BASE_DN,
        filters={"employee_id": "(&(objectClass=inetOrgPerson)(employeeID={value}))"},
        list_filter="(objectClass=inetOrgPerson)",
    )
    try:
        assert indexed.find("mobile", "+919800010007").first_name == "ix2"
        assert indexed.find("employee_id", "IX0").mobile == SHARED_MOBILE
        assert indexed.find("mobile", SHARED_MOBILE) is None
    finally:
        indexed.close()
