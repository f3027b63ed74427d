"""greytHR's API."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import ID, SECRET, System

#: Airbyte's greytHR source, whose record schemas were imported from live answers
#: (`autoImportSchema`): the Employees stream and the Employee Separation Details stream.
AIRBYTE = (
    "https://github.com/airbytehq/airbyte/blob/b231bcd1564d481e55b7372e72b68f1dd6974d05/"
    "airbyte-integrations/connectors/source-greythr/manifest.yaml"
)


class GreytHrApi(HrApi):
    """greytHR, as documented at https://api-docs.greythr.com/#section/Authentication (POST
    https://<domain>.greythr.com/uas/v1/oauth2/client-token with the API user's id and secret
    as HTTP Basic; calls carry the token in ACCESS-TOKEN and the tenant in x-greythr-domain) and
    its Employee Details endpoints (GET https://api.greythr.com/employee/v2/employees with
    page and size; `data` and `pages.totalPages`).

    A record of /employee/v2/employees holds what Airbyte's source read from live answers
    (AIRBYTE, schema `Employees`): employeeId (a number), employeeNo, name, firstName,
    middleName, lastName, email, mobile, title, status, dateOfJoin, leavingDate and `leftorg`,
    in lower case. `leftOrg` is a field of the separation endpoint only (/employee/v2/employees/
    separation, schema `Employee Separation Details`). Designation and department are employee
    categories (/employee/v2/employees/categories), not fields of this record."""

    domain = "acme"
    base = "https://api.greythr.com/employee/v2"
    token_url = f"https://{domain}.greythr.com/uas/v1/oauth2/client-token"

    def credentials_ok(self, sent: dict[str, str], headers: Any) -> bool:
        return self.basic_ok(headers, self.client_id, self.client_secret)

    def authorized(self, headers: Any) -> bool:
        return (
            headers.get("ACCESS-TOKEN", "") in self.tokens
            and headers.get("x-greythr-domain") == f"{self.domain}.greythr.com"
        )

    def employee(self, i: int, p: Person) -> dict[str, Any]:
        return {
            "employeeId": 1000 + i,
            "employeeNo": p.number,
            "name": f"{p.first} {p.last}",
            "firstName": p.first,
            "middleName": None,
            "lastName": p.last,
            "email": p.email,
            "mobile": p.mobile,
            "dateOfJoin": "2021-04-01",
            "leavingDate": None if p.active else "2024-03-31",
            "leftorg": not p.active,
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/employees":
            return 404, {}, ""
        size = min(int(query.get("size", "25")), 100)
        number = int(query.get("page", "1"))
        everyone = [self.employee(i, p) for i, p in enumerate(self.people)]
        total_pages = max((len(everyone) + size - 1) // size, 1)
        data = everyone[(number - 1) * size : number * size]
        pages = {"totalPages": total_pages, "pageNumber": number, "hasNext": number < total_pages}
        return 200, {}, json.dumps({"data": data, "pages": pages})


SYSTEM = System(
    "greythr",
    lambda staff: GreytHrApi(staff, ID, SECRET),
    {"tenant": GreytHrApi.domain, "auth": {"client_id": ID, "client_secret": SECRET}},
    [SECRET],
)
