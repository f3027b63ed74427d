"""What the Oracle HCM, Rippling and Freshteam presets do beyond what every preset is put through
(tests/test_hr_presets.py), and the pages written by hand for UKG Pro (no preset can describe
it) and for the scim connector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from marshmallow import fields

from connectors.base import Secret
from connectors.hr.options import Call, RestDirectoryOptions
from connectors.hr.presets import presets
from tests.fakes.hr import HrApi, Person
from tests.fakes.hr.registry import systems
from tests.test_hr_presets import STAFF, build

REPO = Path(__file__).resolve().parent.parent
HAND_WRITTEN = {"ukg_pro": "# UKG Pro", "scim": "# SCIM 2.0 (`scim`)"}


def fake_of(name: str, mock: Any, staff: list[Person]) -> HrApi:
    api = systems()[name].fake(staff)
    api.mount(mock)
    return api


def test_oracle_never_sends_a_quote_inside_q(mock, tmp_path):
    """Oracle documents no escape inside q's quotes: such a value is nobody, and no call."""
    fake = fake_of("oracle_hcm", mock, list(STAFF))
    assert build(systems()["oracle_hcm"], tmp_path).find("email", "o'brien@example.com") is None
    assert fake.calls == []


def test_oracle_looks_an_email_up_in_the_emails_child(mock, tmp_path):
    fake = fake_of("oracle_hcm", mock, list(STAFF))
    found = build(systems()["oracle_hcm"], tmp_path).find("email", "JIM@example.com")
    assert found is not None and (found.employee_id, found.company) == (
        "E1002",
        "Vision Corporation",
    )
    assert len(fake.calls) == 1 and "emails.EmailAddress%3D%27JIM%40example.com%27" in fake.calls[0]


def test_oracle_finds_nobody_by_an_address_that_is_not_the_first(mock, tmp_path):
    """The preset shows the first email; a worker found by another is not taken for them."""
    emails = [
        {"EmailType": "H1", "EmailAddress": "jim@home.example", "PrimaryFlag": False},
        {"EmailType": "W1", "EmailAddress": "jim@example.com", "PrimaryFlag": True},
    ]
    jim = Person("E1002", "jim@example.com", "Jim", "Halpert", extra={"emails": {"items": emails}})
    fake_of("oracle_hcm", mock, [jim])
    assert build(systems()["oracle_hcm"], tmp_path).find("email", "jim@example.com") is None


def test_rippling_counts_only_role_state_active(mock, tmp_path):
    hired = Person("E1005", "new@example.com", "New", "Hire", extra={"roleState": "ACCEPTED"})
    fake_of("rippling", mock, [*STAFF, hired])
    found = build(systems()["rippling"], tmp_path).find("email", "new@example.com")
    assert found is not None and found.active is False


def test_freshteam_asks_for_people_not_terminated_nor_deleted(mock, tmp_path):
    fake = fake_of("freshteam", mock, list(STAFF))
    connector = build(systems()["freshteam"], tmp_path)
    assert connector.find("employee_id", "E1004") is None  # Toby left
    assert connector.find("email", "jim@example.com").employee_id == "E1002"
    assert all("terminated=false" in c and "deleted=false" in c for c in fake.calls)


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_a_hand_written_page_is_in_the_site_and_no_preset_overwrites_it(name):
    page = REPO / "docs" / "connectors" / "hr" / f"{name}.md"
    assert page.exists() and page.read_text().startswith(HAND_WRITTEN[name])
    assert name not in presets()  # `python -m connectors.hr.catalog` writes one page per preset
    assert f"connectors/hr/{name}.md" in (REPO / "mkdocs.yml").read_text()


def test_the_ukg_page_s_claims_hold():
    """The UKG Pro page says a lookup is one call and that `headers` are not secret options:
    when rest_directory learns either, this fails, and the page (and perhaps a preset) should
    change."""
    assert not any(
        isinstance(f, fields.Nested) and f.nested is Call for f in Call().fields.values()
    )
    headers = RestDirectoryOptions().fields["headers"]
    assert isinstance(headers, fields.Dict) and not isinstance(headers.value_field, Secret)
    page = (REPO / "docs" / "connectors" / "hr" / "ukg_pro.md").read_text()
    assert "person-details" in page and "employee-employment-details" in page
