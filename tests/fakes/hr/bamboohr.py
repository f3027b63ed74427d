"""BambooHR's API."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import KEY, System


class BambooApi(HrApi):
    """BambooHR, as documented at https://documentation.bamboohr.com/docs/getting-started (the
    root https://api.bamboohr.com/api/gateway.php/{companyDomain}/v1, HTTP Basic with the API
    key as username and any password, 503 with Retry-After when throttled) and
    https://documentation.bamboohr.com/reference/request-custom-report-1 (POST
    /reports/custom?format=JSON with the fields wanted; onlyCurrent=false adds people who left;
    the answer's `employees`, each with BambooHR's own `id` and the fields asked)."""

    company = "acme"
    base = f"https://api.bamboohr.com/api/gateway.php/{company}/v1"

    def __init__(self, staff: list[Person], api_key: str) -> None:
        super().__init__(staff, "", "")
        self.api_key = api_key

    def authorized(self, headers: Any) -> bool:
        return self.basic_ok(headers, self.api_key, "x")

    def throttle_answer(self) -> Answer:
        return 503, {"Retry-After": "0"}, ""

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "POST" or path != "/reports/custom" or query.get("format") != "JSON":
            return 404, {}, ""
        wanted = body.get("fields", []) if isinstance(body, dict) else []
        current = query.get("onlyCurrent", "true") != "false"
        rows = []
        for i, p in enumerate(self.people):
            if current and not p.active:
                continue
            record = {
                "employeeNumber": p.number,
                "firstName": p.first,
                "lastName": p.last,
                "workEmail": p.email,
                "mobilePhone": p.mobile,
                "jobTitle": p.title,
                "department": p.department,
                "division": "North America",
                "status": "Active" if p.active else "Inactive",
                **p.extra,
            }
            rows.append({"id": str(40 + i), **{f: record.get(f) for f in wanted}})
        fields = [{"id": f, "type": "text", "name": f} for f in wanted]
        return (
            200,
            {},
            json.dumps({"title": body.get("title", ""), "fields": fields, "employees": rows}),
        )


SYSTEM = System(
    "bamboohr",
    lambda staff: BambooApi(staff, KEY),
    {"tenant": BambooApi.company, "auth": {"username": KEY}},
    [KEY],
    oauth2=False,
    pages=False,
)
