"""The exact-match rule for the two HR connectors written as code (see test_exact_match.py for
rest_directory): SuccessFactors' `$filter` with `tolower()`, which finds every spelling of an
email, and Darwinbox, whose email and mobile lookups are answered from the host's index of its
datasets and whose id lookup is the API's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from connectors.base import UpstreamError
from connectors.darwinbox import DarwinboxConnector
from connectors.successfactors import SuccessFactorsConnector
from tests.fakes import darwinbox as fake_db
from tests.fakes import successfactors as fake_sf

REFUSED = "refused"

# -- SuccessFactors ------------------------------------------------------------------------
# `tolower(email) eq '...'` and `cellPhone eq '...'` match nothing but the value (in any case
# for the email): its answers never merely contain the value, so what the rule meets there is
# two users that both hold it. An active account outranks a closed one (someone who came back
# under a new userId); two of the same standing are refused, whichever came first.


@pytest.fixture
def sf_fake() -> Iterator[fake_sf.FakeSuccessFactors]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield fake_sf.FakeSuccessFactors(mock)


@pytest.fixture
def sf(sf_fake: fake_sf.FakeSuccessFactors, tmp_path: Path) -> Iterator[SuccessFactorsConnector]:
    connector = SuccessFactorsConnector(**fake_sf.options(tmp_path))
    yield connector
    connector.close()


#: (the users SuccessFactors holds, in the order it answers them: userId, email, status,
#: cellPhone; the identity asked; who is found: a userId, or REFUSED)
SF_CASES = [
    (
        [("U1", "Jo@X.com", "t", "+919800000077"), ("U2", "jo@x.com", "t", "+919800000078")],
        "email",
        REFUSED,
    ),
    (
        [("U1", "a@x.com", "t", "+919800000077"), ("U2", "b@x.com", "t", "+919800000077")],
        "mobile",
        REFUSED,
    ),
    (
        [("OLD", "jo@x.com", "f", "+919800000077"), ("NEW", "JO@x.com", "t", "+919800000077")],
        "email",
        "NEW",
    ),
    (
        [("OLD", "jo@x.com", "f", "+919800000077"), ("NEW", "JO@x.com", "t", "+919800000077")],
        "mobile",
        "NEW",
    ),
    (
        [("OLD1", "jo@x.com", "f", "+919800000077"), ("OLD2", "Jo@x.com", "f", "+919800000078")],
        "email",
        REFUSED,
    ),
]
ASKED = {"email": "jo@x.com", "mobile": "+919800000077"}


@pytest.mark.parametrize(
    ("users", "by", "expected"),
    [pytest.param(*case, id=f"{case[1]}-{case[2]}") for case in SF_CASES],
)
def test_successfactors_keeps_one_user_holding_the_value(sf_fake, sf, users, by, expected):
    sf_fake.users = [
        fake_sf.user(uid, "Jo", uid, email, status=status, cellPhone=phone)
        for uid, email, status, phone in users
    ]
    if expected == REFUSED:
        with pytest.raises(UpstreamError, match=f"2 people have that {by}"):
            sf.find(by, ASKED[by])
    else:
        assert sf.find(by, ASKED[by]).employee_id == expected


# -- Darwinbox -----------------------------------------------------------------------------
@pytest.fixture
def db_fake(mock: Any) -> fake_db.FakeDarwinbox:
    fake = fake_db.FakeDarwinbox(mock)
    fake.datasets = {fake_db.ACTIVE: [], fake_db.INACTIVE: []}
    return fake


def darwinbox(tmp_path: Path, name: str = "darwinbox") -> DarwinboxConnector:
    return DarwinboxConnector(**fake_db.options(index_path=str(tmp_path / f"{name}.index")))


def staff(by: str, values: list[str]) -> list[dict[str, Any]]:
    """Employees N0, N1... holding `values` as their email or mobile; all else differs."""
    rows = []
    for i, value in enumerate(values):
        email, mobile = (value, f"+91977000000{i}") if by == "email" else (f"n{i}@x.com", value)
        rows.append(fake_db.employee(f"N{i}", f"N{i}", "Near", email, mobile))
    return rows


DB_NEAR = [
    ("email", "jo@x.com", ["jo@x.com.au", "ajo@x.com"]),
    ("mobile", "9876500077", ["98765000771", "987650007"]),
]


@pytest.mark.parametrize(("by", "exact", "near"), DB_NEAR)
def test_darwinbox_s_index_finds_the_exact_value_after_near_misses(
    db_fake, tmp_path, by, exact, near
):
    db_fake.datasets[fake_db.ACTIVE] = staff(by, [*near, exact])
    assert darwinbox(tmp_path).find(by, exact).employee_id == "N2"


@pytest.mark.parametrize(("by", "exact", "near"), DB_NEAR)
def test_darwinbox_s_index_finds_nobody_by_near_misses(db_fake, tmp_path, by, exact, near):
    db_fake.datasets[fake_db.ACTIVE] = staff(by, near)
    assert darwinbox(tmp_path).find(by, exact) is None


@pytest.mark.parametrize(
    ("by", "twice", "asked"),
    [("email", ["Jo@X.com", "jo@x.com"], "jo@x.com"), ("mobile", ["9876500077"] * 2, "9876500077")],
)
def test_darwinbox_s_index_finds_nobody_by_a_value_two_people_share(
    db_fake, tmp_path, by, twice, asked
):
    """Not the first of them; both are still found by what else they hold."""
    db_fake.datasets[fake_db.ACTIVE] = staff(by, twice)
    connector = darwinbox(tmp_path)
    assert connector.find(by, asked) is None
    other = "mobile" if by == "email" else "email"
    held = staff(by, twice)
    for i in (0, 1):
        value = held[i]["primary_mobile_number" if other == "mobile" else "company_email_id"]
        assert connector.find(other, value).employee_id == f"N{i}"


def test_darwinbox_s_index_gives_a_rehire_s_value_to_the_active_person(db_fake, tmp_path):
    """Two leavers and the active person hold it: the active dataset outranks the other."""
    db_fake.datasets[fake_db.INACTIVE] = staff("mobile", ["9876500078", "9876500078"])
    db_fake.datasets[fake_db.ACTIVE] = [
        fake_db.employee("A1", "Jo", "Back", "jo@y.com", "9876500078")
    ]
    assert darwinbox(tmp_path).find("mobile", "9876500078").employee_id == "A1"


DB_IDS = [
    (["db123", "DB123"], "N1"),  # an id matched in any case: the exact one, not the first
    (["db123"], None),
    (["DB123", "DB123"], REFUSED),
]


@pytest.mark.parametrize(("ids", "expected"), DB_IDS, ids=["found", "nobody", "refused"])
def test_darwinbox_s_id_lookup_keeps_the_exact_id(db_fake, tmp_path, ids, expected):
    db_fake.ids_ignore_case = True
    db_fake.datasets[fake_db.ACTIVE] = [
        fake_db.employee(employee_id, f"N{i}", "Near", f"n{i}@x.com")
        for i, employee_id in enumerate(ids)
    ]
    connector = darwinbox(tmp_path)
    if expected == REFUSED:
        with pytest.raises(UpstreamError, match="2 people have that employee_id"):
            connector.find("employee_id", "DB123")
    elif expected is None:
        assert connector.find("employee_id", "DB123") is None
    else:
        assert connector.find("employee_id", "DB123").first_name == expected
