"""Deel's REST v2 API: the people list."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import KEY, System

#: The Java SDK Deel generates from its OpenAPI document: the people list's record and page.
SDK = (
    "https://github.com/letsdeel/deel-api-java-sdk/blob/"
    "9542d2f2ceaadc3a6d8a3448b81173f2aab67d11/docs/GetPeopleList200ResponseDataInner.md"
)


class DeelApi(HrApi):
    """Deel, as documented at https://developer.deel.com/api/reference/endpoints/people/get-people
    (GET https://api.letsdeel.com/rest/v2/people with an organization API token as a bearer;
    offset from 0, limit 1 to 200; `search` keeps a person whose name or email contains the
    text; `hiring_statuses` filters) and in SDK (each person's id, worker_id (a number),
    external_id, first_name, last_name, emails [{type, value}], job_title, department
    {id, name}, hiring_status, client_legal_entity {id, name}; the answer's `data` and
    `page` {offset, total_rows, items_per_page}), and https://developer.deel.com/api/rate-limits
    (429 past 5 requests a second, without rate-limit headers). That `search` ignores case
    is not documented: it does here."""

    base = "https://api.letsdeel.com/rest/v2"

    def __init__(self, staff: list[Person], token: str) -> None:
        super().__init__(staff, "", "")
        self.token = token

    def authorized(self, headers: Any) -> bool:
        return headers.get("Authorization", "") == f"Bearer {self.token}"

    def throttle_answer(self) -> Answer:
        return 429, {}, '{"error": "too many requests"}'

    def person(self, i: int, p: Person) -> dict[str, Any]:
        return {
            "id": str(uuid.UUID(int=i + 1)),
            "worker_id": 4000 + i,
            "external_id": p.number,
            "first_name": p.first,
            "last_name": p.last,
            "full_name": f"{p.first} {p.last}",
            "emails": [
                {"type": "work", "value": p.email},
                {"type": "personal", "value": f"home.{i}@mail.example"},
            ],
            "job_title": p.title,
            "department": {"id": str(uuid.UUID(int=900)), "name": p.department, "parent": None},
            "hiring_type": "direct_employee",
            "hiring_status": "active" if p.active else "inactive",
            "client_legal_entity": {"id": "232324", "name": "Acme Ltd"},
            "country": "IN",
            "employments": [],
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/people":
            return 404, {}, '{"errors": [{"message": "Not found"}]}'
        limit = int(query.get("limit", "50"))
        offset = int(query.get("offset", "0"))
        if not 1 <= limit <= 200 or offset < 0:
            return 400, {}, '{"errors": [{"message": "limit must be 1 to 200"}]}'
        found = [self.person(i, p) for i, p in enumerate(self.people)]
        if "search" in query:
            text = query["search"].lower()
            found = [
                r
                for r in found
                if text in r["full_name"].lower()
                or any(text in str(e["value"]).lower() for e in r["emails"])
            ]
        if "hiring_statuses" in query:
            found = [r for r in found if r["hiring_status"] == query["hiring_statuses"]]
        page = {"offset": offset, "total_rows": len(found), "items_per_page": limit}
        return 200, {}, json.dumps({"data": found[offset : offset + limit], "page": page})


SYSTEM = System(
    "deel",
    lambda staff: DeelApi(staff, KEY),
    {"auth": {"token": KEY}},
    [KEY],
    oauth2=False,
)
