"""Fakes whose searches match loosely, for tests/test_exact_match*.py: a SCIM 2.0 `/Users`
search for rest_directory configured by hand, and entries for the tests' slapd.

A search that matches more than the exact value is what real systems do: SCIM's `co` and `sw`
operators, a case-insensitive `eq`, Workday's `search`, an LDAP attribute's matching rule. The
gateway must keep only the person whose value is exactly the one asked, whatever came back.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from tests.fakes.hr import Answer, HrApi, Person

SCIM_TOKEN = "scim-bearer-token-4e5f6a"


class ScimApi(HrApi):
    """A SCIM 2.0 service provider's `GET /Users?filter=...`, as RFC 7644 section 3.4.2.2
    defines it (https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2): `attr op "value"`,
    the value a JSON string; `eq` equal, `co` contains, `sw` starts with; "If the attribute is
    case-insensitive (caseExact = false) the comparison is case-insensitive", without saying
    by which folding. RFC 7643 gives userName, emails' and phoneNumbers' values caseExact
    false and externalId caseExact true (sections 4.1.1, 4.1.2, 3.1). This provider folds case
    as Unicode's full case folding does (Python's str.casefold, ICU collations at level 2):
    "hans.weiß@" and "hans.weiss@" compare equal. The answer is a ListResponse, `Resources` in
    the order the people are kept (section 3.4.2: no order unless sortBy asks for one)."""

    base = "https://scim.example.com/scim/v2"
    ATTRIBUTES: ClassVar[dict[str, bool]] = {
        "externalId": True,  # caseExact
        "userName": False,
        "emails.value": False,
        "phoneNumbers.value": False,
    }
    FILTER = re.compile(r'^([\w.]+) (eq|co|sw) ("(?:[^"\\]|\\.)*")$')

    def __init__(self, staff: list[Person]) -> None:
        super().__init__(staff, "", "")
        self.tokens.add(SCIM_TOKEN)

    def user(self, p: Person) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": f"scim-{p.number}",
            "externalId": p.number,
            "userName": p.email,
            "name": {"givenName": p.first, "familyName": p.last},
            "emails": [{"value": p.email, "type": "work", "primary": True}],
            "phoneNumbers": [{"value": p.mobile, "type": "mobile"}] if p.mobile else [],
            "active": p.active,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/Users":
            return 404, {}, ""
        users = [self.user(p) for p in self.people]
        if "filter" in query:
            match = self.FILTER.match(query["filter"])
            if match is None or match[1] not in self.ATTRIBUTES:
                return 400, {}, json.dumps({"status": "400", "scimType": "invalidFilter"})
            users = [u for u in users if _matches(u, match[1], match[2], json.loads(match[3]))]
        answer = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(users),
            "startIndex": 1,
            "itemsPerPage": len(users),
            "Resources": users,
        }
        return 200, {}, json.dumps(answer)


def _matches(user: dict[str, Any], attribute: str, op: str, value: str) -> bool:
    name, _, sub = attribute.partition(".")
    held = [v.get(sub) for v in user.get(name) or []] if sub else [user.get(name)]
    exact = ScimApi.ATTRIBUTES[attribute]
    want = value if exact else value.casefold()
    for have in held:
        text = str(have or "") if exact else str(have or "").casefold()
        if (
            (op == "eq" and text == want)
            or (op == "co" and want in text)
            or (op == "sw" and text.startswith(want))
        ):
            return True
    return False


def scim_options(email_op: str = "eq", id_op: str = "eq", mobile_op: str = "eq") -> dict[str, Any]:
    """rest_directory by hand against ScimApi: a lookup per identity with the operators given
    (an operator a company might choose, or all its provider offers)."""

    def lookup(attribute: str, op: str) -> dict[str, Any]:
        # `none`: the filter's quotes are the test's to keep; a value holds none of them here.
        query = {"filter": f'{attribute} {op} "{{value}}"'}
        return {"path": "/Users", "query": query, "results": "Resources"}

    return {
        "base_url": ScimApi.base,
        "auth": {"type": "bearer", "token": SCIM_TOKEN},
        "fields": {
            "employee_id": "externalId",
            "email": "emails.0.value",
            "first_name": "name.givenName",
            "last_name": "name.familyName",
            "mobile": "phoneNumbers.0.value",
        },
        "lookup": {
            "employee_id": lookup("externalId", id_op),
            "email": lookup("emails.value", email_op),
            "mobile": lookup("phoneNumbers.value", mobile_op),
        },
        "active": {"field": "active", "values": [True]},
        "http": {"attempts": 1},
    }


def ldif_person(uid: str, mail: str, mobile: str, employee_id: str, ou: str = "people") -> str:
    """An entry for tests/slapd.py's directory, beside the fixture's people (inetOrgPerson
    with the fixture's Active Directory attributes), in `ou` under dc=example,dc=com."""
    return f"""
dn: uid={uid},ou={ou},dc=example,dc=com
objectClass: inetOrgPerson
objectClass: pointsGatewayTestADUser
uid: {uid}
cn: {uid}
givenName: {uid}
sn: Exact
mail: {mail}
mobile: {mobile}
employeeID: {employee_id}
userAccountControl: 512
"""
