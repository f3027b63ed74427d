"""Sage HR's API (sage.hr)."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import KEY, System

#: The Sage HR API's OpenAPI document (v1.0), as Konfig's generated SDK publishes it.
OAS = (
    "https://github.com/konfig-sdks/sage-java-sdk/blob/"
    "2cd1ddcc751c1ba2db062eafec84f1c48a79918d/api/openapi.yaml"
)
PER_PAGE = 50  # OAS's example meta: per_page 50; the API takes no page-size parameter


class SageHrApi(HrApi):
    """Sage HR, as documented at https://developer.sage.com/hr/get-started (each company's API
    on its own subdomain; the API key in X-Auth-Token with every request) and in OAS
    (GET /api/employees?page=N lists active employees: `data` with id, email, first_name,
    last_name, mobile_phone, work_phone, position, team, employee_number, employment_status,
    and `meta` with current_page, next_page, previous_page, total_pages, per_page,
    total_entries; GET /api/terminated-employees lists the people who left, with their
    termination_date; errors as {"error_code", "errors"}). What a wrong key and throttling
    answer is not documented: HrApi's 401 and 429 with Retry-After here."""

    company = "acme"
    base = f"https://{company}.sage.hr/api"

    def __init__(self, staff: list[Person], api_key: str) -> None:
        super().__init__(staff, "", "")
        self.api_key = api_key

    def authorized(self, headers: Any) -> bool:
        return headers.get("X-Auth-Token", "") == self.api_key

    def employee(self, i: int, p: Person) -> dict[str, Any]:
        record = {
            "id": 19 + i,
            "email": p.email,
            "first_name": p.first,
            "last_name": p.last,
            "picture_url": None,
            "employment_start_date": "2021-04-01",
            "team": p.department,
            "team_id": 1,
            "position": p.title,
            "position_id": 123,
            "reports_to_employee_id": None,
            "work_phone": None,
            "mobile_phone": p.mobile or None,
            "employee_number": p.number,
            "employment_status": "Full-time",
            **p.extra,
        }
        if not p.active:
            record["termination_date"] = "2024-05-31"
        return record

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path not in ("/employees", "/terminated-employees"):
            return 404, {}, '{"error_code": "not_found", "errors": []}'
        wanted = path == "/employees"
        found = [self.employee(i, p) for i, p in enumerate(self.people) if p.active is wanted]
        page = int(query.get("page", "1"))
        total_pages = max((len(found) + PER_PAGE - 1) // PER_PAGE, 1)
        meta = {
            "current_page": page,
            "next_page": page + 1 if page < total_pages else None,
            "previous_page": page - 1 if page > 1 else None,
            "total_pages": total_pages,
            "per_page": PER_PAGE,
            "total_entries": len(found),
        }
        data = found[(page - 1) * PER_PAGE : page * PER_PAGE]
        return 200, {}, json.dumps({"data": data, "meta": meta})


SYSTEM = System(
    "sage_hr",
    lambda staff: SageHrApi(staff, KEY),
    {"tenant": SageHrApi.company, "auth": {"api_key": KEY}},
    [KEY],
    oauth2=False,
    keeps_leavers=False,
)
