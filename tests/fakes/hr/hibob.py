"""HiBob's People API."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import SECRET, System


class HibobApi(HrApi):
    """Bob's People API, as documented at https://apidocs.hibob.com/docs/api-service-users
    (Basic authentication with a service user's id and token) and
    https://apidocs.hibob.com/docs/people-read-api-contract (POST /v1/people/search: at most one
    filter, on root.id or root.email with operator "equals", else 400; `showInactive` false by
    default; no pagination, every match in `employees`; fields outside root in nested category
    objects)."""

    base = "https://api.hibob.com/v1"

    def __init__(self, staff: list[Person], user: str, token: str) -> None:
        super().__init__(staff, "", "")
        self.user, self.token = user, token

    def authorized(self, headers: Any) -> bool:
        return self.basic_ok(headers, self.user, self.token)

    def employee(self, i: int, p: Person) -> dict[str, Any]:
        return {
            "id": str(3332883884017713000 + i),
            "email": p.email,
            "firstName": p.first,
            "surname": p.last,
            "work": {
                "employeeIdInCompany": p.number,
                "title": p.title,
                "department": p.department,
                "site": "London",
                "mobile": p.mobile or None,
            },
            "internal": {"status": "Active" if p.active else "Inactive"},
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "POST" or path != "/people/search" or not isinstance(body, dict):
            return 404, {}, ""
        found = [self.employee(i, p) for i, p in enumerate(self.people)]
        if not body.get("showInactive", False):
            found = [e for e in found if e["internal"]["status"] == "Active"]
        filters = body.get("filters") or []
        if len(filters) > 1:
            return 400, {}, '{"error": "at most one filter"}'
        for f in filters:
            if f.get("operator") != "equals" or f.get("fieldPath") not in ("root.id", "root.email"):
                return 400, {}, '{"error": "invalid filter"}'
            key = f["fieldPath"].removeprefix("root.")
            values = {str(v).lower() for v in f.get("values", [])}
            found = [e for e in found if str(e[key]).lower() in values]
        return 200, {}, json.dumps({"employees": found})


SYSTEM = System(
    "hibob",
    lambda staff: HibobApi(staff, "SERVICE-42", SECRET),
    {"auth": {"username": "SERVICE-42", "password": SECRET}},
    [SECRET],
    oauth2=False,
    pages=False,
)
