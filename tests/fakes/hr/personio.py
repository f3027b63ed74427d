"""Personio's v2 API (persons)."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import ID, SECRET, System

#: Personio's OpenAPI file of the persons API (Person 2.0.0), as its Developer Hub serves it.
SPEC = "https://developer.personio.de/openapi/persons-service-api-v2.yaml"


class PersonioApi(HrApi):
    """Personio v2, as documented at https://developer.personio.de/reference/post_v2-auth-token
    (client credentials at https://api.personio.de/v2/auth/token, grant_type
    client_credentials only) and https://developer.personio.de/reference/get_v2-persons with
    its OpenAPI file (SPEC): GET /v2/persons, `limit` from 1 to 50 (10 by default; anything
    else answers 400 application/problem+json), `cursor`, the `email` filter ("one or more
    provided email addresses"), the `status` filter (ACTIVE: the latest employment active,
    on leave or onboarding; INACTIVE otherwise:
    https://developer.personio.de/changelog/status-filter-in-list-persons-endpoint); records
    in `_data`, the next page's URL in `_meta.links.next.href`, holding only the cursor.

    A Person's `status` is ACTIVE or INACTIVE (UNSPECIFIED is in the enum too), and the spec
    requires none of a Person's fields: a community thread reports real answers without it
    (https://developer.personio.de/discuss/6852be86eeee1000114eeec1). `sends_status = False`
    answers so."""

    base = "https://api.personio.de"
    token_url = "https://api.personio.de/v2/auth/token"
    #: Read `email=a@x.com,b@x.com` as two addresses, as "one or more" allows (off by default).
    email_list = False
    #: Whether a Person carries `status` (the community thread's tenant: False).
    sends_status = True

    def credentials_ok(self, sent: dict[str, str], headers: Any) -> bool:
        return (
            super().credentials_ok(sent, headers) and sent.get("grant_type") == "client_credentials"
        )

    def person(self, i: int, p: Person) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": p.number,
            "email": p.email,
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "first_name": p.first,
            "last_name": p.last,
            "preferred_name": f"{p.first} {p.last}",
            "gender": "UNSPECIFIED",
            "custom_attributes": [],
            "employments": [{"id": f"c85d978e-1104-4762-be94-{i:012d}"}],
            "_meta": {"links": {"employments": {"href": f"{self.base}/v2/persons/{p.number}"}}},
        }
        if self.sends_status:
            record["status"] = "ACTIVE" if p.active else "INACTIVE"
        return {**record, **p.extra}

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/v2/persons":
            return 404, {}, ""
        if "cursor" in query:  # what the first call asked, and where the next page starts
            query = json.loads(base64.urlsafe_b64decode(query["cursor"][4:]))
        limit = int(query.get("limit", "10"))
        if not 1 <= limit <= 50:
            return self.bad_request("Provided request parameters are invalid.")
        found = [(p, self.person(i, p)) for i, p in enumerate(self.people)]
        if "email" in query:
            # "Filter persons matching one or more provided email addresses" (a string
            # parameter): with `email_list`, one string holding several, comma-separated.
            asked = query["email"].lower()
            wanted = asked.split(",") if self.email_list else [asked]
            found = [(p, r) for p, r in found if r["email"].lower() in wanted]
        if "status" in query:
            if query["status"] not in ("ACTIVE", "INACTIVE"):
                return self.bad_request("Provided request parameters are invalid.")
            found = [(p, r) for p, r in found if p.active == (query["status"] == "ACTIVE")]
        start = int(query.get("start", "0"))
        links: dict[str, Any] = {"self": {"href": f"{self.base}/v2/persons"}}
        if start + limit < len(found):
            after = json.dumps({**query, "start": str(start + limit)}).encode()
            cursor = "cur_" + base64.urlsafe_b64encode(after).decode()
            links["next"] = {"href": f"{self.base}/v2/persons?cursor={cursor}"}
        page = [r for _, r in found[start : start + limit]]
        return 200, {}, json.dumps({"_data": page, "_meta": {"links": links}})

    def bad_request(self, detail: str) -> Answer:
        error = {"title": "Bad request", "detail": detail, "type": "common.bad_request"}
        problem = {"personio_trace_id": "trace-1", "timestamp": "2024-01-01T00:00:00Z"}
        headers = {"Content-Type": "application/problem+json"}
        return 400, headers, json.dumps({**problem, "errors": [error]})


SYSTEM = System(
    "personio",
    lambda staff: PersonioApi(staff, ID, SECRET),
    {"auth": {"client_id": ID, "client_secret": SECRET}},
    [SECRET],
)
