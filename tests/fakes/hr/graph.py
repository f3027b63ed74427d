"""Microsoft Graph v1.0 /users."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import ID, SECRET, System


class GraphApi(HrApi):
    """Microsoft Graph v1.0 `/users`, as documented at
    https://learn.microsoft.com/graph/api/user-list (the `$filter` forms `prop eq 'value'`,
    a quote inside written twice, https://learn.microsoft.com/graph/query-parameters;
    `$select`; `$top` up to 999; `@odata.nextLink` holding the next page's whole URL,
    https://learn.microsoft.com/graph/paging), https://learn.microsoft.com/graph/api/resources/user
    (employeeId, mail, mobilePhone, accountEnabled), and the client-credentials token of
    https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
    (scope https://graph.microsoft.com/.default). mobilePhone is filtered only as an advanced
    query, with `ConsistencyLevel: eventual` and `$count=true`, as the fake insists."""

    base = "https://graph.microsoft.com/v1.0"
    tenant = "contoso.onmicrosoft.com"
    token_url = f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    FILTER = re.compile(r"^(\w+) eq '((?:[^']|'')*)'$")

    def credentials_ok(self, sent: dict[str, str], headers: Any) -> bool:
        return (
            super().credentials_ok(sent, headers)
            and sent.get("grant_type") == "client_credentials"
            and sent.get("scope") == "https://graph.microsoft.com/.default"
        )

    def user(self, p: Person) -> dict[str, Any]:
        return {
            "id": f"00000000-0000-0000-0000-{p.number[1:]:0>12}",
            "employeeId": p.number,
            "mail": p.email,
            "userPrincipalName": p.email,
            "givenName": p.first,
            "surname": p.last,
            "mobilePhone": p.mobile or None,
            "jobTitle": p.title,
            "department": p.department,
            "companyName": "Contoso",
            "accountEnabled": p.active,
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/users":
            return 404, {}, '{"error": {"code": "Request_ResourceNotFound"}}'
        found = [self.user(p) for p in self.people]
        if "$filter" in query:
            match = self.FILTER.match(query["$filter"])
            if match is None:
                return 400, {}, '{"error": {"code": "Request_UnsupportedQuery"}}'
            prop, value = match.group(1), match.group(2).replace("''", "'")
            if prop not in ("employeeId", "mail", "mobilePhone", "userPrincipalName"):
                return 400, {}, '{"error": {"code": "Request_UnsupportedQuery"}}'
            if prop == "mobilePhone" and query.get("$count") != "true":
                return 400, {}, '{"error": {"code": "Request_UnsupportedQuery"}}'
            # Graph compares strings without regard to case.
            found = [u for u in found if str(u.get(prop) or "").lower() == value.lower()]
        top = min(int(query.get("$top", "100")), 999)
        skip = int(query.get("$skiptoken", "0"))
        page = found[skip : skip + top]
        answer: dict[str, Any] = {"@odata.context": f"{self.base}/$metadata#users", "value": page}
        if skip + top < len(found):
            answer["@odata.nextLink"] = (
                f"{self.base}/users?{urlencode({**query, '$skiptoken': str(skip + top)})}"
            )
        return 200, {}, json.dumps(answer)


SYSTEM = System(
    "microsoft_graph",
    lambda staff: GraphApi(staff, ID, SECRET),
    {"tenant": GraphApi.tenant, "auth": {"client_id": ID, "client_secret": SECRET}},
    [SECRET],
)
