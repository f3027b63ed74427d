"""Zoho People's Forms API."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import ID, REFRESH, SECRET, System


class ZohoPeopleApi(HrApi):
    """Zoho People, as documented at https://www.zoho.com/people/api/oauth-steps.html (a
    refresh-token grant at https://accounts.zoho.com/oauth/v2/token; calls carry
    "Authorization: Zoho-oauthtoken <token>") and https://www.zoho.com/people/api/bulk-records.html
    (GET /people/api/forms/employee/getRecords with sIndex from 1, limit at most 200 and
    searchParams {searchField: '...', searchOperator: 'Is', searchText: '...'}; the records in
    response.result as [{"<recordId>": [{...}]}]; none found: HTTP 200 with
    response.errors.code 7024)."""

    base = "https://people.zoho.com/people/api"
    token_url = "https://accounts.zoho.com/oauth/v2/token"
    SEARCH = re.compile(r"^\{searchField: '(\w+)', searchOperator: 'Is', searchText: '([^']*)'\}$")

    def __init__(self, staff: list[Person], client_id: str, secret: str, refresh: str) -> None:
        super().__init__(staff, client_id, secret)
        self.refresh = refresh

    def credentials_ok(self, sent: dict[str, str], headers: Any) -> bool:
        return (
            super().credentials_ok(sent, headers)
            and sent.get("grant_type") == "refresh_token"
            and sent.get("refresh_token") == self.refresh
        )

    def authorized(self, headers: Any) -> bool:
        auth = headers.get("Authorization", "")
        return auth.startswith("Zoho-oauthtoken ") and auth[16:] in self.tokens

    def record(self, p: Person) -> dict[str, Any]:
        return {
            "EmployeeID": p.number,
            "FirstName": p.first,
            "LastName": p.last,
            "EmailID": p.email,
            "Mobile": p.mobile,
            "Designation": p.title,
            "Department": p.department,
            "Employeestatus": "Active" if p.active else "Resigned",
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/forms/employee/getRecords":
            return 404, {}, ""
        found = [self.record(p) for p in self.people]
        if "searchParams" in query:
            match = self.SEARCH.match(query["searchParams"])
            if match is None:
                return (
                    200,
                    {},
                    json.dumps(
                        {
                            "response": {
                                "errors": {"code": 7011, "message": "Invalid searchParams"},
                                "status": 1,
                            }
                        }
                    ),
                )
            field, text = match.groups()
            found = [r for r in found if str(r.get(field, "")).lower() == text.lower()]
        start, limit = int(query.get("sIndex", "1")), min(int(query.get("limit", "200")), 200)
        page = found[start - 1 : start - 1 + limit]
        if not page:
            answer = {
                "response": {
                    "errors": {"code": 7024, "message": "No records found"},
                    "message": "Error occurred",
                    "status": 1,
                }
            }
            return 200, {}, json.dumps(answer)
        result = [{str(412762000001000000 + start + i): [r]} for i, r in enumerate(page)]
        answer = {
            "response": {"result": result, "message": "Data fetched successfully", "status": 0}
        }
        return 200, {}, json.dumps(answer)


SYSTEM = System(
    "zoho_people",
    lambda staff: ZohoPeopleApi(staff, ID, SECRET, REFRESH),
    {"auth": {"client_id": ID, "client_secret": SECRET, "refresh_token": REFRESH}},
    [SECRET, REFRESH],
)
