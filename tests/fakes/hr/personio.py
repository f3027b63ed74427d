"""Personio's v2 API."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import ID, SECRET, System


class PersonioApi(HrApi):
    """Personio v2, as documented at https://developer.personio.de/reference/post_v2-auth-token
    (client credentials at https://api.personio.de/v2/auth/token) and
    https://developer.personio.de/reference/get_v2-persons (GET /v2/persons, `email` filter,
    `limit` at most 50, the records in `_data`, the next page's URL in
    `_meta.links.next.href`, a person's `status` ACTIVE or INACTIVE)."""

    base = "https://api.personio.de"
    token_url = "https://api.personio.de/v2/auth/token"
    #: Read `email=a@x.com,b@x.com` as two addresses, as "one or more" allows (off by default).
    email_list = False

    def credentials_ok(self, sent: dict[str, str], headers: Any) -> bool:
        return (
            super().credentials_ok(sent, headers) and sent.get("grant_type") == "client_credentials"
        )

    def person(self, i: int, p: Person) -> dict[str, Any]:
        return {
            "id": p.number,
            "email": p.email,
            "first_name": p.first,
            "last_name": p.last,
            "preferred_name": None,
            "status": "ACTIVE" if p.active else "INACTIVE",
            "created_at": "2024-01-01T00:00:00Z",
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/v2/persons":
            return 404, {}, ""
        limit = int(query.get("limit", "10"))
        if limit > 50:
            return 400, {}, '{"errors": [{"title": "limit must be at most 50"}]}'
        found = [self.person(i, p) for i, p in enumerate(self.people)]
        if "email" in query:
            # "Filter persons matching one or more provided email addresses" (get_v2-persons,
            # a string parameter): with `email_list`, one string holding several, comma-separated.
            asked = (
                query["email"].lower().split(",") if self.email_list else [query["email"].lower()]
            )
            found = [r for r in found if r["email"].lower() in asked]
        start = int(query.get("cursor", "0"))
        page = found[start : start + limit]
        links: dict[str, Any] = {"self": {"href": f"{self.base}/v2/persons?{urlencode(query)}"}}
        if start + limit < len(found):
            after = {**query, "cursor": str(start + limit)}
            links["next"] = {"href": f"{self.base}/v2/persons?{urlencode(after)}"}
        return 200, {}, json.dumps({"_data": page, "_meta": {"links": links}})


SYSTEM = System(
    "personio",
    lambda staff: PersonioApi(staff, ID, SECRET),
    {"auth": {"client_id": ID, "client_secret": SECRET}},
    [SECRET],
)
