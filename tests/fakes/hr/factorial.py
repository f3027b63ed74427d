"""Factorial's API, version 2026-07-01."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import KEY, System

#: Factorial's OpenAPI document of version 2026-07-01, as Factorial publishes it.
OAS = (
    "https://github.com/factorialco/factorial-api-sdks/blob/"
    "1de707328b3d7df4c4eda65659253ee8ae115964/ruby/oas-2026-07-01.yaml"
)


class FactorialApi(HrApi):
    """Factorial, as documented at https://apidoc.factorialhr.com/docs/api-keys (an API key in
    the x-api-key header, no prefix), https://apidoc.factorialhr.com/docs/how-does-it-work
    (limit at most 100 and the default; with `page`, offset pagination and a meta of
    has_next_page, has_previous_page, total and limit; without it, cursor pagination whose
    meta adds start_cursor and end_cursor) and the OpenAPI document OAS
    (GET /api/2026-07-01/resources/employees/employees: filters ids[], emails[],
    company_identifier, only_active and only_managers, the last two marked required; records
    in `data`; ids are strings since 2026-07-01; an employee's `active` is false once
    terminated). What a missing required filter answers is not documented: 400 here."""

    base = "https://api.factorialhr.com/api/2026-07-01/resources"

    def __init__(self, staff: list[Person], api_key: str) -> None:
        super().__init__(staff, "", "")
        self.api_key = api_key

    def authorized(self, headers: Any) -> bool:
        return headers.get("x-api-key", "") == self.api_key

    def employee(self, i: int, p: Person) -> dict[str, Any]:
        return {
            "id": str(100 + i),
            "access_id": str(500 + i),
            "first_name": p.first,
            "last_name": p.last,
            "full_name": f"{p.first} {p.last}",
            "email": p.email,
            "login_email": p.email,
            "phone_number": p.mobile or None,
            "company_identifier": p.number,
            "company_id": "1",
            "location_id": "1",
            "created_at": "2024-01-08T09:00:00.000Z",
            "updated_at": "2024-06-01T09:00:00.000Z",
            "is_terminating": False,
            "terminated_on": None if p.active else "2024-05-31",
            "active": p.active,
            "attendable": True,
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/employees/employees":
            return 404, {}, '{"errors": ["Not found"]}'
        if "only_active" not in query or "only_managers" not in query:
            return 400, {}, '{"errors": {"errors": ["only_active and only_managers are required"]}}'
        found = [self.employee(i, p) for i, p in enumerate(self.people)]
        if query["only_active"] == "true":
            found = [e for e in found if e["active"]]
        if "company_identifier" in query:
            found = [e for e in found if e["company_identifier"] == query["company_identifier"]]
        limit = min(int(query.get("limit", "100")), 100)
        meta: dict[str, Any]
        if "page" in query:
            page = int(query["page"])
            data = found[(page - 1) * limit : page * limit]
            more = page * limit < len(found)
            meta = {"has_next_page": more, "has_previous_page": page > 1}
        else:  # cursor pagination: the default
            data, more, meta = found[:limit], len(found) > limit, {"has_previous_page": False}
            if data:
                meta |= {"start_cursor": _cursor(data[0]), "end_cursor": _cursor(data[-1])}
            meta["has_next_page"] = more
        meta |= {"total": len(found), "limit": limit}
        return 200, {}, json.dumps({"data": data, "meta": meta})


def _cursor(record: dict[str, Any]) -> str:
    return base64.b64encode(record["id"].encode()).decode()


SYSTEM = System(
    "factorial",
    lambda staff: FactorialApi(staff, KEY),
    {"auth": {"api_key": KEY}},
    [KEY],
    oauth2=False,
)
