"""Keka HR's HRIS API."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import ID, KEY, SECRET, System


class KekaApi(HrApi):
    """Keka's HRIS API, as documented at https://apidocs.keka.com/ ("Overview": pageNumber and
    pageSize, default 100 and at most 200; each page gives pageNumber, pageSize, totalPages,
    totalRecords and nextPage, null on the last page; 429 past the rate limit) and its
    "Get all employees" (`GET https://{company}.keka.com/api/v1/hris/employees`, records under
    `data`). Its token endpoint takes grant_type=kekaapi, scope=kekaapi, client_id,
    client_secret and api_key as a form.

    A record's `employmentStatus` is an integer, as Keka's published OpenAPI types it (the
    `EmploymentStatus` enum, int32, values 0 and 1, in the SDKs generated from it:
    https://github.com/konfig-sdks/keka-hr-python-sdk/blob/b479db790c3f48e093d868d615ba2735aa397ed2/keka_hr_python_sdk/model/employment_status.py);
    "Working" and "Relieved" are only the names the `employmentStatus` query filter takes
    (the SDK's README, `employees.get_all`). 0 is Working and 1 Relieved: the filter lists the
    names in that order, and an integration reading live answers maps them so; no Keka page
    says it in words."""

    #: employmentStatus of a person who works here, and of one who has left.
    WORKING, RELIEVED = 0, 1

    company = "acme"
    base = f"https://{company}.keka.com/api/v1"
    token_url = "https://login.keka.com/connect/token"

    def __init__(
        self, staff: list[Person], client_id: str, client_secret: str, api_key: str
    ) -> None:
        super().__init__(staff, client_id, client_secret)
        self.api_key = api_key

    def credentials_ok(self, sent: dict[str, str], headers: Any) -> bool:
        return (
            super().credentials_ok(sent, headers)
            and sent.get("grant_type") == "kekaapi"
            and sent.get("scope") == "kekaapi"
            and sent.get("api_key") == self.api_key
        )

    def employee(self, p: Person) -> dict[str, Any]:
        return {
            "id": f"8d04399f-8057-4b12-abc1-{p.number[1:]:0>12}",
            "employeeNumber": p.number,
            "displayName": f"{p.first} {p.last}",
            "firstName": p.first,
            "lastName": p.last,
            "email": p.email,
            "mobilePhone": p.mobile,
            "jobTitle": {"identifier": "jt-1", "title": p.title},
            "groups": [{"id": "g-1", "title": p.department, "groupType": 1}],
            "employmentStatus": self.WORKING if p.active else self.RELIEVED,
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/hris/employees":
            return 404, {}, '{"succeeded": false, "message": "Not found"}'
        size = min(int(query.get("pageSize", "100")), 200)
        number = int(query.get("pageNumber", "1"))
        everyone = [self.employee(p) for p in self.people]
        pages = max((len(everyone) + size - 1) // size, 1)
        data = everyone[(number - 1) * size : number * size]
        link = f"{self.base}/hris/employees?pageNumber={number + 1}&pageSize={size}"
        answer = {
            "succeeded": True,
            "message": None,
            "errors": None,
            "data": data,
            "pageNumber": number,
            "pageSize": size,
            "firstPage": f"{self.base}/hris/employees?pageNumber=1&pageSize={size}",
            "lastPage": f"{self.base}/hris/employees?pageNumber={pages}&pageSize={size}",
            "totalRecords": len(everyone),
            "totalPages": pages,
            "nextPage": link if number < pages else None,
            "previousPage": None,
        }
        return 200, {}, json.dumps(answer)


SYSTEM = System(
    "keka",
    lambda staff: KekaApi(staff, ID, SECRET, KEY),
    {
        "tenant": KekaApi.company,
        "auth": {"client_id": ID, "client_secret": SECRET, "token_secrets": {"api_key": KEY}},
    },
    [SECRET, KEY],
)
