"""rest_directory's active rule: who has left, read from one field of a record. A value is
compared as what it is (a number as a number, text without regard to case, JSON true as
"true"), and a record without the field says what `when_missing` says: inactive by default
(found, so a refund reaches them, but no token and no balance), active, or refused."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from connectors.base import UpstreamError
from connectors.hr.rest_directory import RestDirectoryConnector
from connectors.registry import BadOptions, validate_options
from tests.fakes.hr import Answer, HrApi

MISSING = "(no field)"


class StatusApi(HrApi):
    """A directory answering `GET /people` with the records it is given, a lookup by email
    (`GET /people?email=`) too: the status field's value is whatever a test puts there."""

    base = "https://hr.example.com/api"

    def __init__(self, statuses: dict[str, Any]) -> None:
        super().__init__([], "", "")
        self.records = [
            {"id": f"P{i}", "mail": f"p{i}@example.com", **({} if s == MISSING else {"state": s})}
            for i, s in enumerate(statuses.values())
        ]

    def authorized(self, headers: Any) -> bool:
        return True

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        found = [r for r in self.records if query.get("email") in (None, r["mail"])]
        return 200, {}, json.dumps({"people": found})


def connector(tmp_path: Path, active: dict[str, Any], lookup: bool = False) -> Any:
    options: dict[str, Any] = {
        "base_url": StatusApi.base,
        "fields": {"employee_id": "id", "email": "mail"},
        "list": {"path": "/people", "results": "people"},
        "active": active,
        "index_path": str(tmp_path / "people.index"),
    }
    if lookup:
        options["lookup"] = {"email": {"path": "/people", "query": {"email": "{value}"}}}
        options["lookup"]["email"]["results"] = "people"
    return RestDirectoryConnector(**validate_options(RestDirectoryConnector, options))


def statuses(mock: Any, values: list[Any]) -> StatusApi:
    api = StatusApi({str(i): v for i, v in enumerate(values)})
    api.mount(mock)
    return api


def active_of(found: RestDirectoryConnector, count: int) -> list[bool]:
    profiles = [found.find("employee_id", f"P{i}") for i in range(count)]
    return [p is not None and p.active for p in profiles]


# -- a record without the field --------------------------------------------------------------------
@pytest.mark.parametrize(
    "rule",
    [{"values": ["ACTIVE"]}, {"inactive_values": ["INACTIVE"]}],
    ids=["values", "inactive_values"],
)
def test_a_record_without_the_field_is_inactive_by_default(mock, tmp_path, rule):
    """Absent, null or empty: nobody gets a token on a status that could not be read."""
    statuses(mock, [MISSING, None, "", "  ", "ACTIVE"])
    found = connector(tmp_path, {"field": "state", **rule})
    assert active_of(found, 5) == [False, False, False, False, True]


def test_a_record_without_the_field_is_logged_once(mock, tmp_path, caplog):
    statuses(mock, [MISSING, None, "ACTIVE"])
    found = connector(tmp_path, {"field": "state", "values": ["ACTIVE"]})
    with caplog.at_level(logging.WARNING, logger="connectors.hr.rest_directory"):
        active_of(found, 3)
    said = [r.getMessage() for r in caplog.records if "state" in r.getMessage()]
    assert len(said) == 1 and "when_missing" in said[0], said


@pytest.mark.parametrize(
    "rule",
    [{"values": ["ACTIVE"]}, {"inactive_values": ["INACTIVE"]}],
    ids=["values", "inactive_values"],
)
def test_when_missing_active_reads_such_a_record_as_active(mock, tmp_path, rule):
    statuses(mock, [MISSING, None, "INACTIVE", "ACTIVE"])
    found = connector(tmp_path, {"field": "state", "when_missing": "active", **rule})
    assert active_of(found, 4) == [True, True, False, True]


def test_when_missing_refuse_fails_the_lookup_that_answered_such_a_record(mock, tmp_path):
    statuses(mock, ["ACTIVE", MISSING])
    found = connector(
        tmp_path, {"field": "state", "values": ["ACTIVE"], "when_missing": "refuse"}, lookup=True
    )
    assert found.find("email", "p0@example.com").active is True
    with pytest.raises(UpstreamError, match="no state"):
        found.find("email", "p1@example.com")


def test_when_missing_refuse_fails_a_list_holding_such_a_record(mock, tmp_path):
    statuses(mock, ["ACTIVE", MISSING])
    found = connector(tmp_path, {"field": "state", "values": ["ACTIVE"], "when_missing": "refuse"})
    with pytest.raises(UpstreamError, match="no state"):
        found.find("employee_id", "P0")


def test_when_missing_takes_only_its_three_answers(tmp_path):
    with pytest.raises(BadOptions, match="when_missing"):
        connector(tmp_path, {"field": "state", "values": ["ACTIVE"], "when_missing": "maybe"})


# -- how a value is compared -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "values", "expected"),
    [
        # A TOML integer is the JSON number, however written, and its digits as text.
        ({"values": [0]}, [0, 0.0, "0", " 0 ", 1, False, "zero"], [1, 1, 1, 1, 0, 0, 0]),
        ({"inactive_values": [1]}, [1, 1.0, "1", 0, True], [0, 0, 0, 1, 1]),
        # JSON true and false are "true" and "false", never 1 and 0.
        ({"values": [False]}, [False, "false", "FALSE", 0, "0"], [1, 1, 1, 0, 0]),
        ({"values": [True]}, [True, "true", 1, "1"], [1, 1, 0, 0]),
        # Text without regard to case or surrounding spaces.
        ({"values": ["Active"]}, ["ACTIVE", " active ", "Inactive"], [1, 1, 0]),
    ],
    ids=["zero", "one-inactive", "false", "true", "text"],
)
def test_a_value_is_compared_as_what_it_is(mock, tmp_path, rule, values, expected):
    statuses(mock, values)
    found = connector(tmp_path, {"field": "state", **rule})
    assert active_of(found, len(values)) == [bool(e) for e in expected]
