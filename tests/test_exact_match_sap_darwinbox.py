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


def jo(user_id: str, email: str, status: str = "t", phone: str = "+919800000077") -> Any:
    return fake_sf.user(user_id, "Jo", user_id, email, status=status, cellPhone=phone)


def test_successfactors_refuses_two_active_users_holding_the_value(sf_fake, sf):
    sf_fake.users = [jo("U1", "Jo@X.com"), jo("U2", "jo@x.com", phone="+919800000078")]
    with pytest.raises(UpstreamError, match="2 people have that email"):
        sf.find("email", "jo@x.com")
    sf_fake.users = [jo("U1", "a@x.com"), jo("U2", "b@x.com")]
    with pytest.raises(UpstreamError, match="2 people have that mobile"):
        sf.find("mobile", "+919800000077")


def test_successfactors_finds_the_active_user_after_a_closed_one_and_refuses_two_closed(
    sf_fake, sf
):
    sf_fake.users = [jo("OLD", "jo@x.com", status="f"), jo("NEW", "JO@x.com")]
    assert sf.find("email", "jo@x.com").employee_id == "NEW"
    assert sf.find("mobile", "+919800000077").employee_id == "NEW"
    sf_fake.users = [jo("OLD1", "jo@x.com", status="f"), jo("OLD2", "Jo@x.com", status="f")]
    with pytest.raises(UpstreamError, match="2 people have that email"):
        sf.find("email", "jo@x.com")
    sf_fake.users = [jo("OLD1", "jo@x.com", status="f")]
    found = sf.find("email", "JO@X.COM")
    assert found is not None and (found.employee_id, found.active) == ("OLD1", False)


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


@pytest.mark.parametrize(
    ("by", "exact", "near"),
    [
        ("email", "jo@x.com", ["jo@x.com.au", "ajo@x.com"]),
        ("mobile", "9876500077", ["98765000771", "987650007"]),
    ],
)
def test_darwinbox_s_index_finds_only_the_exact_value(db_fake, tmp_path, by, exact, near):
    db_fake.datasets[fake_db.ACTIVE] = staff(by, [*near, exact])
    assert darwinbox(tmp_path).find(by, exact).employee_id == "N2"
    db_fake.datasets[fake_db.ACTIVE] = staff(by, near)
    assert darwinbox(tmp_path, "near").find(by, exact) is None


def test_darwinbox_s_index_finds_nobody_by_a_value_two_people_share(db_fake, tmp_path):
    """Not the first of them (a rehire's address stays the active person's: test_darwinbox)."""
    db_fake.datasets[fake_db.ACTIVE] = staff("email", ["Jo@X.com", "jo@x.com"])
    connector = darwinbox(tmp_path)
    assert connector.find("email", "jo@x.com") is None
    assert connector.find("mobile", "+919770000001").email == "jo@x.com"
    db_fake.datasets[fake_db.ACTIVE] = staff("mobile", ["9876500077", "9876500077"])
    connector = darwinbox(tmp_path, "mobile")
    assert connector.find("mobile", "9876500077") is None
    assert connector.find("email", "n1@x.com").employee_id == "N1"
    db_fake.datasets[fake_db.INACTIVE] = staff("mobile", ["9876500078", "9876500078"])
    db_fake.datasets[fake_db.ACTIVE] = [
        fake_db.employee("A1", "Jo", "Back", "jo@y.com", "9876500078")
    ]
    assert darwinbox(tmp_path, "rehire").find("mobile", "9876500078").employee_id == "A1"


def test_darwinbox_s_id_lookup_keeps_the_exact_id(db_fake, tmp_path):
    db_fake.ids_ignore_case = True
    db_fake.datasets[fake_db.ACTIVE] = [
        fake_db.employee("db123", "Lower", "Case", "lower@x.com"),
        fake_db.employee("DB123", "Pam", "Beesly", "pam@x.com"),
    ]
    connector = darwinbox(tmp_path)
    assert connector.find("employee_id", "DB123").email == "pam@x.com"
    db_fake.datasets[fake_db.ACTIVE] = db_fake.datasets[fake_db.ACTIVE][:1]
    assert connector.find("employee_id", "DB123") is None
    twice = [fake_db.employee("DB123", "Pam", n, f"{n}@x.com") for n in ("a", "b")]
    db_fake.datasets[fake_db.ACTIVE] = twice
    with pytest.raises(UpstreamError, match="2 people have that employee_id"):
        connector.find("employee_id", "DB123")
