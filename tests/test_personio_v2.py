"""The `personio` preset against Personio's v2 persons API (tests/fakes/hr/personio.py, written
from Personio's v2 reference and OpenAPI file): its paging as documented, and the answers a
community thread reports without a person's `status`, which the preset's active rule reads as
inactive unless told otherwise (active.when_missing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fakes.hr import Person, people
from tests.fakes.hr.personio import PersonioApi
from tests.test_hr_presets import STAFF, SYSTEMS, build
from tests.test_preset_defects import check_person

SYSTEM = SYSTEMS["personio"]


@pytest.fixture
def personio(mock: Any) -> PersonioApi:
    api = SYSTEM.fake(list(STAFF))
    api.mount(mock)
    return api


def persons(api: PersonioApi, url: str) -> requests.Response:
    api.tokens.add("t")
    return requests.get(url, headers={"Authorization": "Bearer t"})


# -- the fake, as Personio documents v2 ----------------------------------------------------------
def test_a_page_holds_10_by_default_and_at_most_50(personio):
    personio.people = people(60)
    assert len(persons(personio, f"{personio.base}/v2/persons").json()["_data"]) == 10
    assert len(persons(personio, f"{personio.base}/v2/persons?limit=50").json()["_data"]) == 50
    refused = persons(personio, f"{personio.base}/v2/persons?limit=51")
    assert refused.status_code == 400
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["errors"][0]["title"] == "Bad request"


def test_the_next_link_holds_only_the_cursor_and_keeps_the_first_call_s_filters(personio):
    personio.people = people(30)
    first = persons(personio, f"{personio.base}/v2/persons?limit=20&status=ACTIVE").json()
    after = first["_meta"]["links"]["next"]["href"]
    assert after.startswith(f"{personio.base}/v2/persons?cursor=cur_") and "&" not in after
    rest = persons(personio, after).json()
    assert len(rest["_data"]) == 10 and "next" not in rest["_meta"]["links"]


def test_the_status_filter_and_field(personio):
    active = persons(personio, f"{personio.base}/v2/persons?status=ACTIVE&limit=50").json()
    gone = persons(personio, f"{personio.base}/v2/persons?status=INACTIVE").json()
    assert "gone@example.com" not in [p["email"] for p in active["_data"]]
    assert [(p["email"], p["status"]) for p in gone["_data"]] == [("gone@example.com", "INACTIVE")]


# -- answers without status ------------------------------------------------------------------------
def test_a_person_whose_answer_has_no_status_reads_inactive(personio, tmp_path):
    personio.sends_status = False
    jim = build(SYSTEM, tmp_path).find("email", "jim@example.com")
    assert jim is not None and "status" not in jim.raw
    assert jim.active is False


def test_check_person_shows_it(personio, tmp_path, employees_csv):
    personio.sends_status = False
    output = check_person(SYSTEM, tmp_path, "jim@example.com")
    assert "lookup   found E1002 (inactive)" in output, output


def test_when_missing_active_gives_everyone_without_a_status_a_token_leavers_too(
    personio, tmp_path
):
    personio.sends_status = False
    connector = build(SYSTEM, tmp_path, active={"when_missing": "active"})
    assert connector.find("email", "jim@example.com").active is True
    assert connector.find("email", "gone@example.com").active is True  # the price of it


def test_a_status_given_is_read_whatever_when_missing_says(personio, tmp_path):
    connector = build(SYSTEM, tmp_path, active={"when_missing": "active"})
    assert connector.find("email", "gone@example.com").active is False
    assert connector.find("email", "jim@example.com").active is True


def test_unspecified_is_not_active(personio, tmp_path):
    personio.people = [Person("E1", "u@example.com", "U", "Nspecified", extra={})]
    personio.people[0].extra = {"status": "UNSPECIFIED"}
    assert build(SYSTEM, tmp_path).find("email", "u@example.com").active is False


def test_a_list_read_without_status_reads_everyone_inactive(personio, tmp_path: Path):
    personio.sends_status = False
    personio.people = people(120)
    connector = build(SYSTEM, tmp_path)
    connector.lookups.clear()  # from the index of the list, 3 pages of 50
    found = connector.find("employee_id", "E0119")
    assert found is not None and found.active is False
    assert len(personio.calls) == 3
