"""Any SCIM 2.0 service provider's users as the profile source (RFC 7643 and RFC 7644).

A lookup is `GET <base_url>/Users?filter=...` (RFC 7644 section 3.4.2.2): the employee id by
`<attribute> eq "..."`, the email by `emails[value eq "..."]` (or `userName eq "..."` where the
provider's userName is the address). The value asked is written as a JSON string, which is what
the filter grammar's compValue is: a `"` or `\\` inside it is escaped and cannot end the string
or add a clause. What the server answers is then checked to hold exactly the value asked
(connectors/directory/remote.py `only_match`): a provider whose `eq` ignores case, or folds it
loosely, never hands one person's points to another.

Mobile numbers, and any identity left out of `lookup`, are found in the host's directory index
of the whole list, read by startIndex and count (RFC 7644 section 3.4.2.4: 1-based; a page may
be shorter than asked; totalResults says how many in all).

The employee id is the enterprise extension's employeeNumber by default (RFC 7643 section
4.3), read from the extension's own object (its schema URN holds dots, "2.0", so it is a key,
not a path), or externalId, userName or id.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import requests
from marshmallow import Schema, fields, validate

from connectors.base import (
    IDENTITY_FIELDS,
    ConnectorConfigError,
    FilePath,
    IdentityField,
    Profile,
    ProfileSource,
    UpstreamError,
)
from connectors.directory import Dataset, DirectoryIndex, batched
from connectors.directory.remote import find_indexed, only_match, private_index, unique_rows
from connectors.hr.auth import Authenticator, AuthOptions, auth_failed
from connectors.hr.paging import PagingOptions, pages
from connectors.http import HttpClient, HttpPolicy, http_options_field, json_of, short_text

log = logging.getLogger(__name__)

#: RFC 7643 section 4.3: the enterprise User extension; its attributes are one object under
#: this key, and a filter names one as `<URN>:<attribute>` (RFC 7644 section 3.10).
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
EMPLOYEE_IDS = {
    "employeeNumber": f"{ENTERPRISE}:employeeNumber",
    "externalId": "externalId",
    "userName": "userName",
    "id": "id",
}
#: A lookup reads this many matches at most; an answer saying there are more is refused.
LOOKUP_COUNT = 50


class ScimOptions(Schema):
    base_url = fields.Url(required=True, schemes={"https", "http"}, require_tld=False)
    auth = fields.Nested(AuthOptions, load_default=lambda: AuthOptions().load({}))
    headers = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    employee_id = fields.String(
        load_default="employeeNumber", validate=validate.OneOf(list(EMPLOYEE_IDS))
    )
    email = fields.String(load_default="emails", validate=validate.OneOf(["emails", "userName"]))
    lookup = fields.List(
        fields.String(validate=validate.OneOf(["employee_id", "email"])),
        load_default=lambda: ["employee_id", "email"],
    )
    page_size = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    active_when_missing = fields.String(
        load_default="inactive", validate=validate.OneOf(["inactive", "active"])
    )
    directory_ttl_seconds = fields.Float(load_default=900.0, validate=validate.Range(min=1))
    index_path = FilePath(load_default=None)
    http = http_options_field()


class ScimConnector(ProfileSource):
    options_schema = ScimOptions
    remote = True
    name = "scim"

    def __init__(
        self,
        base_url: str,
        auth: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        employee_id: str = "employeeNumber",
        email: str = "emails",
        lookup: list[str] | None = None,
        page_size: int = 100,
        active_when_missing: str = "inactive",
        directory_ttl_seconds: float = 900.0,
        index_path: str | None = None,
        http: dict[str, Any] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.users_url = base_url.rstrip("/") + "/Users"
        self.headers = headers or {}
        self.employee_id_from = employee_id
        self.email_from = email
        self.lookups = set(["employee_id", "email"] if lookup is None else lookup)
        self.paging = PagingOptions().load(
            {
                "style": "offset",
                "param": "startIndex",
                "start": 1,
                "size_param": "count",
                "size": page_size,
                "total_path": "totalResults",
            }
        )
        self.active_when_missing = active_when_missing
        self.client = HttpClient(self.name, HttpPolicy(**(http or {})), session)
        self.auth = Authenticator(auth or AuthOptions().load({}), self.client)
        self.directory_ttl = directory_ttl_seconds
        who = str((auth or {}).get("client_id") or (auth or {}).get("username"))
        path = Path(index_path) if index_path else private_index("scim", [base_url, who])
        self.directory = DirectoryIndex(path, {f: f for f in IDENTITY_FIELDS})

    def find(self, by: IdentityField, value: str) -> Profile | None:
        value = value.strip()
        if not value:
            return None
        if by in self.lookups:
            return self._look_up(by, value)
        if by not in IDENTITY_FIELDS:
            raise ConnectorConfigError(f"scim: cannot find people by {by}")
        return find_indexed(self.directory, self.directory_ttl, self._everyone, by, value)

    def check(self) -> None:
        if "employee_id" in self.lookups:
            self._look_up("employee_id", "points-gateway-health-check")
        else:
            self._get({"startIndex": "1", "count": "1"})

    def close(self) -> None:
        self.client.close()
        self.directory.close()

    # -- calls ---------------------------------------------------------------------------
    def filter_for(self, by: IdentityField, value: str) -> str:
        """The filter finding `value` (RFC 7644 section 3.4.2.2)."""
        literal = json.dumps(value, ensure_ascii=False)  # compValue: a JSON string
        if by == "email" and self.email_from == "emails":
            return f"emails[value eq {literal}]"
        attribute = "userName" if by == "email" else EMPLOYEE_IDS[self.employee_id_from]
        return f"{attribute} eq {literal}"

    def _look_up(self, by: IdentityField, value: str) -> Profile | None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no text anyone holds
            return None
        query = {"filter": self.filter_for(by, value), "startIndex": "1"}
        answer = self._get({**query, "count": str(LOOKUP_COUNT)})
        users = _resources(answer)
        total = answer.get("totalResults")
        if isinstance(total, int) and total > len(users):
            raise UpstreamError(
                f"scim: {total} users match that {by} and {len(users)} came back; none is used"
            )
        profiles = [self._profile(user) for user in users]
        found = only_match(self.name, by, value, ((getattr(p, by), p) for p in profiles))
        return found

    def _get(self, query: dict[str, Any]) -> dict[str, Any]:
        return self._call(None, query)[1]

    def _call(
        self, url: str | None, query: dict[str, Any]
    ) -> tuple[requests.Response, dict[str, Any]]:
        """One GET of the Users endpoint (or of `url`, a page's own), its answer checked."""
        for attempt in (1, 2):  # a refused OAuth2 token is renewed once, then it is refused
            credentials, generation = self.auth.headers()
            headers = {"Accept": "application/scim+json, application/json"}
            headers.update({**self.headers, **credentials})
            response = self.client.request(
                "GET", url or self.users_url, idempotent=True, headers=headers, params=query
            )
            if response.status_code == 401 and self.auth.oauth2 and attempt == 1:
                self.auth.refused(generation)
                continue
            break
        answer = json_of(response)
        if response.status_code in (401, 403):
            raise auth_failed(self.name, response)
        if response.status_code == 400 and isinstance(answer, dict):
            said = answer.get("scimType") or "HTTP 400"
            raise UpstreamError(
                f"scim: the provider refused the request ({said}): "
                f"{short_text(str(answer.get('detail', '')), 120)}; an identity it cannot "
                "filter by is read from the list when left out of `lookup`"
            )
        if response.status_code != 200 or not isinstance(answer, dict):
            raise UpstreamError(
                f"scim: HTTP {response.status_code}: {short_text(response.text, 120)}"
            )
        return response, answer

    def _everyone(self) -> Dataset:
        def people() -> Any:
            for users in pages(self.paging, self._page, "Resources", self.users_url):
                for user in users:
                    profile = self._profile(user)
                    if profile.employee_id:
                        yield profile, None

        rows = unique_rows(people())  # an email or mobile two people hold finds neither
        return Dataset(batched(rows), shared=rows.shared)

    def _page(
        self, url: str | None, query: dict[str, Any], body: dict[str, Any]
    ) -> tuple[requests.Response, dict[str, Any]]:
        return self._call(url, query)

    # -- what a User resource says -------------------------------------------------------
    def _profile(self, user: dict[str, Any]) -> Profile:
        extension = _object(user.get(ENTERPRISE))
        name = _object(user.get("name"))
        if self.employee_id_from == "employeeNumber":
            employee_id = _text(extension.get("employeeNumber"))
        else:
            employee_id = _text(user.get(self.employee_id_from))
        if self.email_from == "userName":
            email = _text(user.get("userName"))
        else:
            email = _preferred(user.get("emails"), "work")
        return Profile(
            employee_id=employee_id,
            email=email,
            first_name=_text(name.get("givenName")),
            last_name=_text(name.get("familyName")),
            mobile=_typed(user.get("phoneNumbers"), "mobile"),
            designation=_text(user.get("title")),
            department=_text(extension.get("department")),
            company=_text(extension.get("organization")),
            active=self._active(user.get("active")),
            raw=user,
        )

    def _active(self, value: Any) -> bool:
        """RFC 7643 section 4.1.1: `active`, a Boolean; optional, so a user without it is
        what `active_when_missing` says (inactive unless told otherwise)."""
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return self.active_when_missing == "active"


def _resources(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A ListResponse's Resources (RFC 7644 section 3.4.2: absent when totalResults is 0)."""
    found = answer.get("Resources", [])
    if not isinstance(found, list):
        raise UpstreamError("scim: the answer's Resources is not a list")
    return [user for user in found if isinstance(user, dict)]


def _preferred(values: Any, kind: str) -> str:
    """Of a multi-valued attribute (RFC 7643 section 2.4), the value marked primary, else the
    first of type `kind`, else the first."""
    items = [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
    for choose in (lambda v: v.get("primary") is True, lambda v: v.get("type") == kind):
        for item in items:
            if choose(item) and _text(item.get("value")):
                return _text(item.get("value"))
    return next((_text(v.get("value")) for v in items if _text(v.get("value"))), "")


def _typed(values: Any, kind: str) -> str:
    """The value of type `kind` (a mobile number is `"type": "mobile"`), primary first."""
    items = [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
    typed = [v for v in items if _text(v.get("type")).lower() == kind]
    typed.sort(key=lambda v: v.get("primary") is not True)
    return next((_text(v.get("value")) for v in typed if _text(v.get("value"))), "")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()
