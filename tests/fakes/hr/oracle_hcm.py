"""Oracle Fusion Cloud HCM's REST API (workers)."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import ID, SECRET, System

DOCS = "https://docs.oracle.com/en/cloud/saas/human-resources"
CHILDREN = ("names", "emails", "phones", "workRelationships")


class OracleHcmApi(HrApi):
    """Oracle HCM's `workers` resource as Oracle's REST documentation shows it
    (DOCS/farws/api-workers.html, DOCS/23d/farws/op-workers-get.html and the use cases
    DOCS/25a/farws/Retrieve_Worker_Details.html, DOCS/24c/farws/Retrieve_Past_or_Future_Worker_Details.html):
    HTTP Basic for an integration user; GET .../workers with q (`PersonNumber='...'`, a child's
    attribute as `emails.EmailAddress='...'`), expand (names, emails, phones,
    workRelationships.assignments: children left out are not in the answer), onlyData,
    limit (25 by default, at most 500) and offset; the answer's items, count, hasMore, limit
    and offset. With REST-Framework-Version: 4 an expanded child is { "items": [...], "count",
    "hasMore", "limit", "offset" }; without it, a bare list (as older answers show it), and a
    child's attribute in q is refused (400). A worker's emails (EmailType W1,
    DOCS/24c/farws/Add_a_Worker_Email.html), names, and work relationships (LegalEmployerName,
    TerminationDate) with assignments (AssignmentName, DepartmentName, AssignmentStatusType).

    Assumed where Oracle says nothing: a terminated worker's assignment is INACTIVE; q's `=`
    ignores case for an email; throttling answers 429 with Retry-After."""

    host = "acme.fa.us2.oraclecloud.com"
    base = f"https://{host}/hcmRestApi/resources/11.13.18.05"
    QUERY = re.compile(r"^(PersonNumber|emails\.EmailAddress) ?= ?'([^']*)'$")

    def __init__(self, staff: list[Person], username: str, password: str) -> None:
        super().__init__(staff, username, password)
        self.asked = threading.local()  # the REST-Framework-Version of the call being answered

    def authorized(self, headers: Any) -> bool:
        return self.basic_ok(headers, self.client_id, self.client_secret)

    def worker(self, i: int, p: Person, wanted: set[str], v4: bool) -> dict[str, Any]:
        def child(items: list[dict[str, Any]]) -> Any:
            if not v4:
                return items
            return {"items": items, "count": len(items), "hasMore": False, "limit": 25, "offset": 0}

        assignment = {
            "AssignmentId": 300100037952130 + i,
            "AssignmentNumber": f"E{p.number}",
            "AssignmentName": p.title,
            "AssignmentStatusType": "ACTIVE" if p.active else "INACTIVE",
            "DepartmentName": p.department,
            "PrimaryFlag": True,
        }
        relationship = {
            "PeriodOfServiceId": 300100180001240 + i,
            "LegalEmployerName": "Vision Corporation",
            "WorkerType": "E",
            "PrimaryFlag": True,
            "StartDate": "2019-06-02",
            "TerminationDate": None if p.active else "2024-06-30",
            "assignments": child([assignment]),
        }
        children = {
            "names": [{"FirstName": p.first, "LastName": p.last, "DisplayName": p.first}],
            "emails": [{"EmailType": "W1", "EmailAddress": p.email, "PrimaryFlag": True}],
            "phones": [{"PhoneType": "WM", "PhoneNumber": p.mobile}] if p.mobile else [],
            "workRelationships": [relationship],
        }
        record = {"PersonId": 300100180313789 + i, "PersonNumber": p.number, "DateOfBirth": None}
        record |= {name: child(items) for name, items in children.items() if name in wanted}
        return {**record, **p.extra}

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/workers":
            return 404, {}, ""
        v4 = self.asked.version == "4"
        wanted = {name.split(".")[0] for name in query.get("expand", "").split(",")}
        people = list(enumerate(self.people))
        if "q" in query:
            match = self.QUERY.match(query["q"])
            if match is None or (match[1].startswith("emails.") and not v4):
                return (
                    400,
                    {},
                    '{"title": "Bad Request", "detail": "The query parameter is invalid"}',
                )
            attribute, value = match.groups()
            if attribute == "PersonNumber":
                people = [(i, p) for i, p in people if p.number == value]
            else:
                people = [(i, p) for i, p in people if p.email.lower() == value.lower()]
        limit = min(int(query.get("limit", "25")), 500)
        offset = int(query.get("offset", "0"))
        page = people[offset : offset + limit]
        answer = {
            "items": [self.worker(i, p, wanted, v4) for i, p in page],
            "count": len(page),
            "hasMore": offset + limit < len(people),
            "limit": limit,
            "offset": offset,
        }
        return 200, {}, json.dumps(answer)

    def _guarded(self, request: Any) -> Answer:
        self.asked.version = request.headers.get("REST-Framework-Version", "")
        return super()._guarded(request)


SYSTEM = System(
    "oracle_hcm",
    lambda staff: OracleHcmApi(staff, ID, SECRET),
    {"tenant": OracleHcmApi.host, "auth": {"username": ID, "password": SECRET}},
    [SECRET],
    oauth2=False,
)
