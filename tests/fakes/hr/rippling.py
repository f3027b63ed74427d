"""Rippling's Platform API (employees)."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import KEY, System

#: Rippling's OpenAPI document of the Platform API, as Rippling publishes it on GitHub.
SPEC = (
    "https://github.com/Rippling/OpenAPIDocs/blob/412d4b3ce697af89b012fa42683253084087ce23/"
    "RipplingOpenAPI.v1.yaml"
)


class RipplingApi(HrApi):
    """Rippling's Platform API as its OpenAPI document (SPEC) describes it: the root
    https://api.rippling.com/platform/api, the API key as "Authorization: Bearer <key>",
    GET /employees (active employees) and GET /employees/include_terminated ("both active and
    terminated employees"), each a JSON array of Employee paged by `limit` and `offset` (at most
    100 a page: https://docs.rs/crate/rippling-base-api/0.1.0/source/src/employees.rs); an
    Employee's id, employeeNumber (a number in the examples), name, firstName, lastName,
    workEmail, personalEmail, phone, title, department and roleState (ACTIVE, TERMINATED...).
    No filter by email or number exists. Throttling is not documented: 429 with Retry-After,
    as HTTP has it, is assumed."""

    base = "https://api.rippling.com/platform/api"

    def __init__(self, staff: list[Person], api_key: str) -> None:
        super().__init__(staff, "", "")
        self.tokens.add(api_key)

    def employee(self, i: int, p: Person) -> dict[str, Any]:
        return {
            "id": f"5c8f7f06c592917aeee1{i:04d}",
            "name": f"{p.first} {p.last}",
            "preferredFirstName": p.first,
            "firstName": p.first,
            "lastName": p.last,
            "employmentType": "SALARIED_FT",
            "phone": p.mobile or None,
            "personalEmail": f"{p.first.lower()}@personal.example",
            "workEmail": p.email,
            "title": p.title,
            "department": p.department,
            "employeeNumber": p.number,
            "roleState": "ACTIVE" if p.active else "TERMINATED",
            "endDate": None if p.active else "2024-06-30",
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path not in ("/employees", "/employees/include_terminated"):
            return 404, {}, '{"detail": "Not found."}'
        everyone = [self.employee(i, p) for i, p in enumerate(self.people)]
        if path == "/employees":
            everyone = [e for e in everyone if e["roleState"] == "ACTIVE"]
        limit = min(int(query.get("limit", "100")), 100)
        offset = int(query.get("offset", "0"))
        return 200, {}, json.dumps(everyone[offset : offset + limit])


SYSTEM = System(
    "rippling",
    lambda staff: RipplingApi(staff, KEY),
    {"auth": {"token": KEY}},
    [KEY],
    oauth2=False,
)
