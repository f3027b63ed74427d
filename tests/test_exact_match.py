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


# -- rest_directory by hand: a SCIM provider's co / sw / eq -------------------------------------
@pytest.fixture
def scim(mock: Any) -> ScimApi:
    api = ScimApi([])
    api.mount(mock)
    return api


OP = {"employee_id": "id_op", "email": "email_op", "mobile": "mobile_op"}


def by_hand(**ops: str) -> RestDirectoryConnector:
    return RestDirectoryConnector(**validate_options(RestDirectoryConnector, scim_options(**ops)))


@pytest.mark.parametrize(("by", "op"), [("email", "co"), ("employee_id", "sw"), ("mobile", "sw")])
def test_by_hand_a_loose_search_finds_the_exact_person_after_near_misses(scim, by, op):
    scim.people = holding(by, [*NEAR[by], EXACT[by]])
    connector = by_hand(**{OP[by]: op})
    assert connector.find(by, EXACT[by]).first_name.startswith("N2")  # not N0, the first answered
    assert f"+{op}+" in scim.calls[-1]
    scim.people = holding(by, NEAR[by])
    assert connector.find(by, EXACT[by]) is None  # near misses only: nobody


def test_by_hand_two_exact_answers_of_a_case_insensitive_eq_are_refused(scim):
    scim.people = holding("email", ["Jo@X.com", "jo@x.com"])
    with pytest.raises(UpstreamError, match="2 people have that email"):
        by_hand().find("email", "jo@x.com")
    scim.people = holding("mobile", ["+919800000077", "+919800000077"])
    with pytest.raises(UpstreamError, match="2 people have that mobile"):
        by_hand().find("mobile", "+919800000077")


def test_by_hand_a_folded_letter_is_another_address_not_a_case(scim):
    """ß folds to ss (Unicode full case folding), so the provider's case-insensitive eq
    answers hans.weiss@ for hans.weiß@: another mailbox, another person."""
    scim.people = holding("email", ["hans.weiss@x.com"])
    assert by_hand().find("email", "hans.weiß@x.com") is None
    scim.people = holding("email", ["hans.weiss@x.com", "Hans.Weiß@x.com"])
    assert by_hand().find("email", "hans.weiß@x.com").first_name.startswith("N1")


# -- presets whose lookups are a remote search --------------------------------------------------
def test_graph_s_case_insensitive_eq_never_turns_one_id_into_another(mock, tmp_path):
    """Graph's `eq` ignores case (tests/fakes/hr/graph.py), and employeeId is free text that
    Entra ID does not keep unique."""
    fake, connector = preset(
        "microsoft_graph", holding("employee_id", ["e1001", "E1001"]), mock, tmp_path
    )
    assert connector.find("employee_id", "E1001").first_name.startswith("N1")
    fake.people = holding("employee_id", ["e1001"])
    assert connector.find("employee_id", "E1001") is None
    for by, twice in (("employee_id", "E1001"), ("mobile", "+919800000077")):
        fake.people = holding(by, [twice, twice])
        with pytest.raises(UpstreamError, match=f"2 people have that {by}"):
            connector.find(by, twice)  # type: ignore[arg-type]


def test_zoho_s_is_operator_ignores_case_and_the_rule_does_not(mock, tmp_path):
    fake, connector = preset(
        "zoho_people", holding("employee_id", ["e1001", "E1001"]), mock, tmp_path
    )
    assert connector.find("employee_id", "E1001").first_name.startswith("N1")
    fake.people = holding("employee_id", ["e1001"])
    assert connector.find("employee_id", "E1001") is None
    fake.people = holding("email", ["Jo@X.com", "jo@x.com"])
    with pytest.raises(UpstreamError, match="2 people have that email"):
        connector.find("email", "jo@x.com")


def test_hibob_s_equals_finding_two_spellings_of_one_email_is_refused(mock, tmp_path):
    _, connector = preset("hibob", holding("email", ["Jo@X.com", "jo@x.com"]), mock, tmp_path)
    with pytest.raises(UpstreamError, match="2 people have that email"):
        connector.find("email", "jo@x.com")


def test_personio_s_list_of_emails_never_finds_one_of_them(mock, tmp_path):
    """Personio filters by "one or more provided email addresses": a value holding a comma
    asks for several people, and none of them has the value asked."""
    fake, connector = preset(
        "personio", holding("email", ["pam@x.com", "jo@x.com"]), mock, tmp_path
    )
    fake.email_list = True  # type: ignore[attr-defined]
    assert connector.find("email", "nobody@x.com,jo@x.com") is None
    assert fake.calls and "nobody%40x.com%2Cjo%40x.com" in fake.calls[-1]
    assert connector.find("email", "jo@x.com").first_name.startswith("N1")


@pytest.mark.parametrize("by", ["employee_id", "email"])
def test_workday_s_search_matches_by_contains_and_the_rule_keeps_the_exact_worker(
    mock, tmp_path, by
):
    fake, connector = preset("workday", holding(by, [*NEAR[by], EXACT[by]]), mock, tmp_path)
    assert connector.find(by, EXACT[by]).first_name.startswith("N2")
    fake.people = holding(by, NEAR[by])
    assert connector.find(by, EXACT[by]) is None
    fake.people = holding("email", ["Jo@X.com", "jo@x.com"])
    with pytest.raises(UpstreamError, match="2 people have that email"):
        connector.find("email", "jo@x.com")


# -- what presets answer from the host's index of their list -----------------------------------
INDEXED = [
    (name, by)
    for name in sorted(SYSTEMS)
    for by in identities_of(name)
    if by not in presets()[name].get("lookup", {})
]


@pytest.mark.parametrize(("name", "by"), INDEXED)
def test_the_index_finds_only_the_exact_value(mock, tmp_path, name, by):
    fake, connector = preset(name, holding(by, [*NEAR[by], EXACT[by]]), mock, tmp_path)
    assert connector.find(by, EXACT[by]).first_name.startswith("N2")
    fake.people = holding(by, NEAR[by])
    connector = build(SYSTEMS[name], tmp_path, index_path=str(tmp_path / "near.index"))
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
