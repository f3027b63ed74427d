"""Freshteam's API (employees)."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import KEY, System

#: The Swagger 2.0 document of the Freshteam API that Freshworks publishes with its API SDK.
SPEC = (
    "https://github.com/freshworks/freshworks-api-sdk/blob/"
    "eff8997376ca269cbd2b1ac4173755090dcd9366/codegen/freshteam/freshteam-v1.0.0.swagger.json"
)


class FreshteamApi(HrApi):
    """Freshteam, as https://developers.freshteam.com/api/ (status codes: 401, 403, 404, 429...;
    errors as {"errors": [{"code", "message"}]}) and its Swagger document (SPEC) describe it:
    https://<domain>.freshteam.com/api, the API key in the Authorization header (sent as
    "Bearer <key>" by the integrations that call it), GET /employees, "List of active
    employees from directory": a JSON array of Employee filtered by employee_id,
    official_email, status, terminated and deleted, paged by `page` with the Per-Page,
    Total-Objects and Total-Pages headers. An Employee's id, employee_id, first_name,
    last_name, official_email, personal_email, designation, phone_numbers ([{name: Mobile,
    number}]), department_id, status (active or inactive) and termination_date.

    Not said, so assumed here: the filters compare whole values, an address without regard to
    case; terminated/deleted=true ask for those only, and without them (or =false) people who
    left are not listed; 30 employees a page; throttling answers 429 with Retry-After."""

    company = "acme"
    base = f"https://{company}.freshteam.com/api"
    per_page = 30

    def __init__(self, staff: list[Person], api_key: str) -> None:
        super().__init__(staff, "", "")
        self.tokens.add(api_key)

    def throttle_answer(self) -> Answer:
        body = {"errors": [{"code": "too_many_requests", "message": "Rate limit exceeded"}]}
        return 429, {"Retry-After": "0", "X-RateLimit-Remaining": "0"}, json.dumps(body)

    def employee(self, i: int, p: Person) -> dict[str, Any]:
        return {
            "id": 5000 + i,
            "employee_id": p.number,
            "first_name": p.first,
            "last_name": p.last,
            "official_email": p.email,
            "personal_email": f"{p.first.lower()}@personal.example",
            "designation": p.title,
            "phone_numbers": [{"name": "Mobile", "number": p.mobile}] if p.mobile else [],
            "department_id": 7,
            "status": "active" if p.active else "inactive",
            "terminated": not p.active,
            "termination_date": None if p.active else "2024-06-30",
            "deleted": False,
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/employees":
            return 404, {}, '{"errors": [{"code": "not_found", "message": "Not found"}]}'
        found = [self.employee(i, p) for i, p in enumerate(self.people)]
        terminated = query.get("terminated") == "true"
        found = [e for e in found if e["terminated"] is terminated and not e["deleted"]]
        if "employee_id" in query:
            found = [e for e in found if e["employee_id"] == query["employee_id"]]
        if "official_email" in query:
            wanted = query["official_email"].lower()
            found = [e for e in found if e["official_email"].lower() == wanted]
        page = int(query.get("page", "1"))
        pages = max((len(found) + self.per_page - 1) // self.per_page, 1)
        headers = {
            "Per-Page": str(self.per_page),
            "Total-Objects": str(len(found)),
            "Total-Pages": str(pages),
        }
        chunk = found[(page - 1) * self.per_page : page * self.per_page]
        return 200, headers, json.dumps(chunk)


SYSTEM = System(
    "freshteam",
    lambda staff: FreshteamApi(staff, KEY),
    {"tenant": FreshteamApi.company, "auth": {"token": KEY}},
    [KEY],
    oauth2=False,
    keeps_leavers=False,
)
