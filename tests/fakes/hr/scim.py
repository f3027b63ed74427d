"""A SCIM 2.0 service provider's `/Users`, written from the RFCs, for connectors/hr/scim.py.

Not a rest_directory preset (it declares no SYSTEM): tests/test_scim.py builds the scim
connector against it.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from tests.fakes.hr import Answer, HrApi, Person

SCIM_TOKEN = "scim-bearer-token-7d8e9f"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
STRING = r'"(?:[^"\\]|\\.)*"'  # a JSON string (RFC 8259 section 7)
ATTRIBUTE = r"(?:urn:[A-Za-z0-9.:-]+:)?[A-Za-z][\w$-]*(?:\.[A-Za-z][\w$-]*)?"
COMPARE = re.compile(rf"^({ATTRIBUTE}) (eq|co|sw) ({STRING})$", re.IGNORECASE)
VALUE_PATH = re.compile(rf"^([A-Za-z]\w*)\[(\w+) (eq|co|sw) ({STRING})\]$", re.IGNORECASE)


class ScimProvider(HrApi):
    """`GET /Users` as RFC 7644 defines it (https://www.rfc-editor.org/rfc/rfc7644):

    - section 3.4.2.2, filtering: `attrPath op compValue`, where compValue is a JSON value (a
      string in double quotes, `\\"` and `\\\\` escaped, as RFC 8259 section 7 writes them),
      and a valuePath `emails[value eq "..."]`; attribute names and operators in any case; an
      attribute named with its schema URN, `urn:...:enterprise:2.0:User:employeeNumber`
      (section 3.10); string comparison ignoring case unless the attribute is caseExact
      (RFC 7643 sections 4.1.1, 4.1.2, 3.1 and 8.7.2: userName, emails and phoneNumbers
      values, employeeNumber not caseExact; id and externalId caseExact). A filter this
      provider cannot evaluate answers 400 with scimType invalidFilter (section 3.12);
    - section 3.4.2.4, paging: startIndex is 1-based (below 1 read as 1), count is a wish the
      provider may cut (this one to `max_count`); the ListResponse carries totalResults,
      itemsPerPage and startIndex, and Resources only when totalResults is not 0 (3.4.2);
    - section 2, authentication: an OAuth 2.0 bearer token (RFC 6750), a static one or one
      from the client-credentials grant (RFC 6749 section 4.4) at `token_url`.

    A User (RFC 7643 sections 4.1 and 4.3, example 8.3): userName is the work address,
    `emails` holds a home address before the primary work one, `phoneNumbers` a work number
    before the mobile, the enterprise extension's object holds employeeNumber, department and
    organization, and `active` is false for people who left. Throttling answers 429 with
    Retry-After (RFC 6585 section 4; RFC 7644 names no status for it).

    `loose = True` makes `eq` match as `co` does and fold case as Unicode's full case
    folding does: what the gateway must not trust."""

    base = "https://idp.example.com/scim/v2"
    token_url = "https://idp.example.com/oauth2/token"
    ATTRIBUTES: ClassVar[dict[str, tuple[str, bool]]] = {  # lower name -> (our key, caseExact)
        "id": ("id", True),
        "externalid": ("externalId", True),
        "username": ("userName", False),
        "emails.value": ("emails.value", False),
        "phonenumbers.value": ("phoneNumbers.value", False),
        f"{ENTERPRISE}:employeenumber".lower(): ("employeeNumber", False),
    }

    def __init__(self, staff: list[Person], client_id: str = "", client_secret: str = "") -> None:
        super().__init__(staff, client_id, client_secret)
        self.tokens.add(SCIM_TOKEN)
        self.max_count = 40
        self.loose = False
        self.without_active = False
        self.filters: list[tuple[str, str, str]] = []  # (attribute, operator, value) parsed

    def user(self, i: int, p: Person) -> dict[str, Any]:
        user: dict[str, Any] = {
            "schemas": [CORE, ENTERPRISE],
            "id": f"2819c223-7f76-453a-919d-{i:012d}",
            "externalId": f"ext-{p.number}",
            "userName": p.email,
            "name": {
                "formatted": f"{p.first} {p.last}",
                "givenName": p.first,
                "familyName": p.last,
            },
            "displayName": f"{p.first} {p.last}",
            "title": p.title,
            "emails": [
                {"value": f"{p.first.lower()}.home@personal.example", "type": "home"},
                {"value": p.email, "type": "work", "primary": True},
            ],
            "phoneNumbers": [{"value": f"+1 555 010 {i:04d}", "type": "work"}]
            + ([{"value": p.mobile, "type": "mobile"}] if p.mobile else []),
            "active": p.active,
            ENTERPRISE: {
                "employeeNumber": p.number,
                "department": p.department,
                "organization": "Example Corp",
            },
            "meta": {"resourceType": "User", "location": f"{self.base}/Users/{i}"},
            **p.extra,
        }
        if self.without_active:
            del user["active"]
        return user

    def throttle_answer(self) -> Answer:
        body = {"schemas": [ERROR], "status": "429", "detail": "Too many requests"}
        return 429, {"Retry-After": "0"}, json.dumps(body)

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/Users":
            return self.error(404, None, "Resource not found")
        users = [self.user(i, p) for i, p in enumerate(self.people)]
        if "filter" in query:
            parsed = self.parse(query["filter"])
            if parsed is None:
                return self.error(400, "invalidFilter", "The specified filter syntax is invalid")
            self.filters.append(parsed)
            users = [u for u in users if self.matches(u, *parsed)]
        start = max(int(query.get("startIndex", "1")), 1)
        count = max(min(int(query.get("count", str(self.max_count))), self.max_count), 0)
        page = users[start - 1 : start - 1 + count]
        answer: dict[str, Any] = {"schemas": [LIST], "totalResults": len(users)}
        if users:
            answer |= {"Resources": page, "startIndex": start, "itemsPerPage": len(page)}
        return 200, {"Content-Type": "application/scim+json"}, json.dumps(answer)

    def parse(self, text: str) -> tuple[str, str, str] | None:
        """(our attribute, operator, the value) of a filter this provider evaluates."""
        if match := VALUE_PATH.match(text):
            attribute, op, literal = f"{match[1]}.{match[2]}", match[3], match[4]
        elif match := COMPARE.match(text):
            attribute, op, literal = match[1], match[2], match[3]
        else:
            return None
        known = self.ATTRIBUTES.get(attribute.lower().removeprefix(f"{CORE}:".lower()))
        try:
            value = json.loads(literal)
        except ValueError:  # a control character unescaped, a stray backslash
            return None
        if known is None or not isinstance(value, str):
            return None
        return known[0], op.lower(), value

    def matches(self, user: dict[str, Any], attribute: str, op: str, value: str) -> bool:
        exact = next(e for key, e in self.ATTRIBUTES.values() if key == attribute)
        name, _, sub = attribute.partition(".")
        if name == "employeeNumber":
            held = [user[ENTERPRISE].get("employeeNumber")]
        elif sub:
            held = [v.get(sub) for v in user.get(name) or []]
        else:
            held = [user.get(name)]
        fold = str.casefold if self.loose else str.lower

        def same(text: str) -> str:
            return text if exact else fold(text)

        for have in (same(str(h)) for h in held if h is not None):
            want = same(value)
            if (op == "eq" and not self.loose and have == want) or (
                op in ("co", "eq") and (op == "co" or self.loose) and want in have
            ):
                return True
            if op == "sw" and have.startswith(want):
                return True
        return False

    def error(self, status: int, scim_type: str | None, detail: str) -> Answer:
        body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
        if scim_type:
            body["scimType"] = scim_type
        return status, {"Content-Type": "application/scim+json"}, json.dumps(body)
