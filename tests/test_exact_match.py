"""The exact-match rule (connectors/directory/remote.py `only_match`, and the directory index's
own equality) for rest_directory: by hand against a SCIM search, and every preset against its
vendor's fake answering as that vendor's search matches. Whatever a search returns, a lookup
finds only the person whose value is exactly the one asked (an email in any case), never the
first record that came back; two that both are exactly it are refused. ldap's tests are in
test_exact_match_ldap.py, SuccessFactors' and Darwinbox's in test_exact_match_sap_darwinbox.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.base import UpstreamError
from connectors.hr.presets import identities_of, presets
from connectors.hr.rest_directory import RestDirectoryConnector
from connectors.registry import validate_options
from tests.exact_match_fakes import ScimApi, scim_options
from tests.fakes.hr import HrApi, Person
from tests.test_hr_presets import SYSTEMS, build

#: Per identity: the value asked, values that merely contain it or start with it, and a second
#: spelling a case-insensitive search finds too (an email's is the same address).
EXACT = {"employee_id": "E1001", "email": "jo@x.com", "mobile": "+919800000077"}
NEAR = {
    "employee_id": ["E10010", "XE1001"],
    "email": ["jo@x.com.au", "ajo@x.com"],
    "mobile": ["+9198000000771", "+91980000007"],
}
ATTRIBUTE = {"employee_id": "number", "email": "email", "mobile": "mobile"}


def holding(by: str, values: list[str]) -> list[Person]:
    """One person per value of `by`, named N0, N1...; their other identities all differ."""
    staff = []
    for i, value in enumerate(values):
        person = Person(f"N{i}", f"n{i}@example.com", f"N{i}", "Near", f"+91977000000{i}")
        setattr(person, ATTRIBUTE[by], value)
        staff.append(person)
    return staff


def preset(name: str, staff: list[Person], mock: Any, tmp_path: Path) -> tuple[HrApi, Any]:
    fake = SYSTEMS[name].fake(staff)
    fake.mount(mock)
    return fake, build(SYSTEMS[name], tmp_path)


REFUSED = "refused"
#: (system, its options, identity, value asked, the values people hold in the order the system
#: answers them, who is found: "N<i>", None for nobody, or REFUSED)
# fmt: off
LOOKUPS = [
    # By hand against a SCIM provider: co, sw, and an eq ignoring case as casefold does.
    ("scim", {"email_op": "co"}, "email", "jo@x.com", ["jo@x.com.au", "ajo@x.com", "jo@x.com"], "N2"),
    ("scim", {"email_op": "co"}, "email", "jo@x.com", ["jo@x.com.au", "ajo@x.com"], None),
    ("scim", {"id_op": "sw"}, "employee_id", "E1001", ["E10010", "E1001-B", "E1001"], "N2"),
    ("scim", {"id_op": "sw"}, "employee_id", "E1001", ["E10010", "E1001-B"], None),
    ("scim", {"mobile_op": "sw"}, "mobile", "+919800000077", ["+9198000000771", "+919800000077"], "N1"),
    ("scim", {}, "email", "jo@x.com", ["Jo@X.com", "jo@x.com"], REFUSED),
    ("scim", {}, "mobile", "+919800000077", ["+919800000077", "+919800000077"], REFUSED),
    # ß is no case of ss: the provider's folding answers another mailbox.
    ("scim", {}, "email", "hans.weiß@x.com", ["hans.weiss@x.com"], None),
    ("scim", {}, "email", "hans.weiß@x.com", ["hans.weiss@x.com", "Hans.Weiß@x.com"], "N1"),
    # Graph's eq ignores case (tests/fakes/hr/graph.py); Entra ID keeps employeeId free text,
    # not unique, and mobilePhone too.
    ("microsoft_graph", {}, "employee_id", "E1001", ["e1001", "E1001"], "N1"),
    ("microsoft_graph", {}, "employee_id", "E1001", ["e1001"], None),
    ("microsoft_graph", {}, "employee_id", "E1001", ["E1001", "E1001"], REFUSED),
    ("microsoft_graph", {}, "mobile", "+919800000077", ["+919800000077"] * 2, REFUSED),
    ("microsoft_graph", {}, "email", "jo@x.com", ["Jo@X.com", "jo@x.com"], REFUSED),
    # Zoho's searchOperator 'Is' ignores case (tests/fakes/hr/zoho.py).
    ("zoho_people", {}, "employee_id", "E1001", ["e1001", "E1001"], "N1"),
    ("zoho_people", {}, "employee_id", "E1001", ["e1001"], None),
    ("zoho_people", {}, "email", "jo@x.com", ["Jo@X.com", "jo@x.com"], REFUSED),
    # Bob's "equals" on root.email ignores case (tests/fakes/hr/hibob.py).
    ("hibob", {}, "email", "jo@x.com", ["Jo@X.com", "jo@x.com"], REFUSED),
    # Personio filters by "one or more provided email addresses": a value holding a comma asks
    # for several people, none of whom has the value asked.
    ("personio", {"email_list": True}, "email", "no@x.com,jo@x.com", ["pam@x.com", "jo@x.com"], None),
    # Workday's search matches names and worker ids by what they start with or contain (not
    # emails: those are answered from the host's index, tested with the other indexes below).
    ("workday", {}, "employee_id", "E1001", ["E10010", "XE1001", "E1001"], "N2"),
    ("workday", {}, "employee_id", "E1001", ["E10010", "XE1001"], None),
]
# fmt: on


def case_id(system: str, options: dict[str, Any], by: str, expected: str | None) -> str:
    kind = "nobody" if expected is None else "refused" if expected == REFUSED else "found"
    return "-".join([system, *map(str, options.values()), by, kind])


@pytest.mark.parametrize(
    ("system", "options", "by", "asked", "held", "expected"),
    [pytest.param(*case, id=case_id(*case[:3], case[5])) for case in LOOKUPS],
)
def test_a_lookup_keeps_only_the_exact_person(
    mock, tmp_path, system, options, by, asked, held, expected
):
    people = holding(by, held)
    if system == "scim":
        fake: HrApi = ScimApi(people)
        fake.mount(mock)
        loaded = validate_options(RestDirectoryConnector, scim_options(**options))
        connector = RestDirectoryConnector(**loaded)
    else:
        fake, connector = preset(system, people, mock, tmp_path)
        for name, value in options.items():
            setattr(fake, name, value)
    if expected == REFUSED:
        with pytest.raises(UpstreamError, match=f"{len(held)} people have that {by}"):
            connector.find(by, asked)
        return
    found = connector.find(by, asked)
    assert len(fake.calls) == 1  # one remote search, not the index
    if expected is None:
        assert found is None, "a near miss was taken for the person asked"
    else:
        assert found is not None and found.first_name.startswith(expected)


# -- what presets answer from the host's index of their list -----------------------------------
INDEXED = [
    (name, by)
    for name in sorted(SYSTEMS)
    for by in identities_of(name)
    if by not in presets()[name].get("lookup", {})
]


@pytest.mark.parametrize(("name", "by"), INDEXED)
def test_the_index_finds_the_exact_value_after_near_misses(mock, tmp_path, name, by):
    _, connector = preset(name, holding(by, [*NEAR[by], EXACT[by]]), mock, tmp_path)
    assert connector.find(by, EXACT[by]).first_name.startswith("N2")


@pytest.mark.parametrize(("name", "by"), INDEXED)
def test_the_index_finds_nobody_by_near_misses(mock, tmp_path, name, by):
    _, connector = preset(name, holding(by, NEAR[by]), mock, tmp_path)
    assert connector.find(by, EXACT[by]) is None


@pytest.mark.parametrize(("name", "by"), [(n, b) for n, b in INDEXED if b != "employee_id"])
def test_a_value_two_people_share_in_the_index_finds_neither(mock, tmp_path, name, by):
    """Not the first of them: an email in two spellings, a mobile twice. Both keep their
    profile, found by what else they hold."""
    twice = ["Jo@X.com", "jo@x.com"] if by == "email" else [EXACT[by], EXACT[by]]
    _, connector = preset(name, holding(by, twice), mock, tmp_path)
    assert connector.find(by, EXACT[by]) is None
    assert connector.find("employee_id", "N0").first_name.startswith("N0")
    assert connector.find("employee_id", "N1").first_name.startswith("N1")
