"""SAP SuccessFactors (OData v2): profiles from `User`, optionally points from `SpotAward`.

A key lookup (`User('id')`) finds a user whatever their status; a `$filter` query returns only
active users unless it filters on status, so lookups by email or mobile name every status, and
a leaver is found (inactive) for refunds. `$filter` is case-sensitive: emails are compared
with `tolower()`, which finds every spelling of an address: as for every remote lookup
(`only_match`), two users holding it are refused, unless one is active and the others closed.
Points: SpotAward is an award log, not a balance, so received = the sum of a user's approved
awards; redemptions and refunds are the gateway's journal, as with a CSV.

Employee Central tenants keep the person's own data on `PerPerson` and its navigations; with
`employee_central = true` a user found on `User` is completed from there (see `_person`).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import requests
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors.base import (
    ConnectorConfigError,
    FilePath,
    GrantsSource,
    IdentityField,
    Profile,
    ProfileSource,
    Secret,
    UpstreamAuthFailed,
    UpstreamError,
)
from connectors.directory.remote import only_match
from connectors.http import HttpClient, HttpPolicy, http_options_field, short_text
from connectors.sap_auth import BasicCredentials, SamlBearerTokens

#: Our profile fields -> User's; `division` is the nearest User has to Xoxoday's group_company.
FIELDS = {
    "employee_id": "userId",
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "mobile": "cellPhone",
    "designation": "title",
    "department": "department",
    "company": "division",
}
USER_FIELDS = (*FIELDS.values(), "username", "status")
ACTIVE_STATUSES = frozenset({"t", "T"})
NAME = "successfactors"
EVERY_STATUS = "status in 't','f','T','F','e','d'"
PERSON_EXPAND = "personalInfoNav,emailNav,phoneNav,employmentNav/jobInfoNav"
MAX_PAGES = 1000  # a loop guard: 1000 pages of 1000 awards is far beyond one user's log


class SuccessFactorsOptions(Schema):
    # The data centre's API host, e.g. https://api4.successfactors.com (no /odata/v2).
    api_server = fields.Url(required=True, schemes={"https", "http"})
    company_id = fields.String(required=True, validate=validate.Length(min=1))
    auth = fields.String(
        load_default="saml_bearer", validate=validate.OneOf(["saml_bearer", "basic"])
    )
    # saml_bearer: the OAuth client registered in SuccessFactors, its key, the API user
    client_id = fields.String(load_default=None)
    user_id = fields.String(load_default=None)
    private_key = FilePath(load_default=None)
    certificate = FilePath(load_default=None)
    # basic: an explicit opt-in for tenants that still allow it (SAP is retiring Basic auth)
    username = fields.String(load_default=None)
    password = Secret(load_default=None)
    approved_statuses = fields.List(fields.String(), load_default=lambda: ["APPROVED", "COMPLETED"])
    page_size = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=1000))
    # Employee Central: names, primary email and phone, job title from PerPerson's navigations
    employee_central = fields.Boolean(load_default=False)
    # the User field holding the person's personIdExternal (the userId in most tenants)
    person_id_field = fields.String(load_default="userId", validate=validate.Length(min=1))
    http = http_options_field()

    @validates_schema
    def _credentials(self, data: dict[str, Any], **_: Any) -> None:
        needed = (
            ("client_id", "user_id", "private_key", "certificate")
            if data.get("auth", "saml_bearer") == "saml_bearer"
            else ("username", "password")
        )
        for name in needed:
            if not data.get(name):
                raise ValidationError(
                    f"required with auth = {data.get('auth', 'saml_bearer')!r}", name
                )


class SuccessFactorsConnector(ProfileSource, GrantsSource):
    options_schema = SuccessFactorsOptions
    remote = True

    def __init__(
        self,
        api_server: str,
        company_id: str,
        auth: str = "saml_bearer",
        client_id: str | None = None,
        user_id: str | None = None,
        private_key: str | None = None,
        certificate: str | None = None,
        username: str | None = None,
        password: str | None = None,
        approved_statuses: list[str] | None = None,
        page_size: int = 1000,
        employee_central: bool = False,
        person_id_field: str = "userId",
        http: dict[str, Any] | None = None,
    ) -> None:
        host = api_server.rstrip("/")
        self.base = f"{host}/odata/v2"
        self.client = HttpClient("successfactors", HttpPolicy(**(http or {})))
        self.approved = {s.upper() for s in (approved_statuses or ["APPROVED", "COMPLETED"])}
        self.page_size = page_size
        self.employee_central = employee_central
        self.person_id_field = person_id_field
        self.user_fields = ",".join(dict.fromkeys([*USER_FIELDS, person_id_field]))
        if auth == "basic":
            self.credentials: SamlBearerTokens | BasicCredentials = BasicCredentials(
                username or "", company_id, password or ""
            )
        else:
            self.credentials = SamlBearerTokens(
                self.client,
                f"{host}/oauth/token",
                company_id,
                client_id or "",
                user_id or "",
                _read(private_key),
                _read(certificate),
            )

    # -- profiles ----------------------------------------------------------------------------
    def find(self, by: IdentityField, value: str) -> Profile | None:
        value = value.strip()
        if not value:
            return None
        params = {"$format": "json", "$select": self.user_fields}
        if by == "employee_id":
            answer = self._get(f"{self.base}/User('{_quote(value)}')", params)
            return self._profile(answer["d"]) if answer else None
        condition = (
            f"tolower(email) eq '{_quote(value.lower())}'"
            if by == "email"
            else f"cellPhone eq '{_quote(value)}'"
        )
        answer = self._get(
            f"{self.base}/User", {**params, "$filter": f"{condition} and {EVERY_STATUS}"}
        )
        held = [(str(row.get(FIELDS[by]) or "").strip(), row) for row in _results(answer)]
        # Only a user holding exactly the value; an active account outranks a closed one with
        # it (someone back under a new userId), and two of the same standing are refused.
        active = [(have, row) for have, row in held if row.get("status") in ACTIVE_STATUSES]
        found = only_match(NAME, by, value, active)
        if found is None:
            closed = [(have, row) for have, row in held if row.get("status") not in ACTIVE_STATUSES]
            found = only_match(NAME, by, value, closed)
        return self._profile(found) if found is not None else None

    def _profile(self, row: dict[str, Any]) -> Profile:
        profile = Profile.from_record(row, FIELDS, active=row.get("status") in ACTIVE_STATUSES)
        if not self.employee_central:
            return profile
        person_id = str(row.get(self.person_id_field) or "")
        answer = self._get(
            f"{self.base}/PerPerson('{_quote(person_id)}')",
            {"$format": "json", "$expand": PERSON_EXPAND},
        )
        if answer is None:  # a user without an Employee Central person: User's fields stand
            return profile
        person = answer["d"]
        found: dict[str, Any] = {name: value for name, value in _person(person).items() if value}
        return replace(profile, **found, raw={**row, "perPerson": person})

    def check(self) -> None:
        self._get(f"{self.base}/User", {"$format": "json", "$select": "userId", "$top": "1"})

    # -- points ------------------------------------------------------------------------------
    def granted(self, profile: Profile) -> Decimal | None:
        """The sum of the user's approved SpotAward amounts, following every page."""
        params: dict[str, str] | None = {
            "$format": "json",
            "$filter": f"userId eq '{_quote(profile.employee_id)}'",
            "$select": "externalCode,userId,awardAmount,approvalStatus",
            "customPageSize": str(self.page_size),
        }
        url: str | None = f"{self.base}/SpotAward"
        total = Decimal(0)
        for _ in range(MAX_PAGES):
            if url is None:
                return total
            answer = self._get(url, params) or {}
            for award in _results(answer):
                if str(award.get("approvalStatus", "")).upper() in self.approved:
                    total += _amount(award.get("awardAmount"))
            url, params = answer.get("d", {}).get("__next"), None  # __next carries the query
        raise UpstreamError(f"successfactors: SpotAward paging did not end after {MAX_PAGES} pages")

    def close(self) -> None:
        self.client.close()

    # -- the API -----------------------------------------------------------------------------
    def _get(self, url: str, params: dict[str, str] | None) -> dict[str, Any] | None:
        """The JSON answer, None for an entity that does not exist; errors mapped to ours."""
        for first_try in (True, False):
            header = self.credentials.header()
            response = self.client.request(
                "GET",
                url,
                idempotent=True,
                params=params,
                headers={"Authorization": header, "Accept": "application/json"},
            )
            code, message = _error(response)
            if response.status_code == 401 or "LGN0022" in message:
                self.credentials.rejected(header)
                if first_try:
                    continue  # an expired or revoked token: fetch a new one, once
            break
        if response.status_code == 200:
            try:
                return response.json()
            except ValueError:
                raise UpstreamError(
                    "successfactors: the answer is not JSON ($format=json?)"
                ) from None
        if response.status_code == 404 or code == "COE_ENTITY_NOT_FOUND":
            return None
        if response.status_code in (401, 403):
            raise UpstreamAuthFailed(f"successfactors: {code or response.status_code}: {message}")
        if code == "COE_PROPERTY_NOT_FOUND":
            raise ConnectorConfigError(
                f"successfactors: this tenant lacks a field we ask for: {message}"
            )
        raise UpstreamError(f"successfactors: HTTP {response.status_code} {code}: {message}")


def _error(response: requests.Response) -> tuple[str, str]:
    """SuccessFactors' error code and message, from its JSON error shape, or ("", text)."""
    if response.status_code == 200:
        return "", ""
    try:
        error = response.json()["error"]
        return str(error.get("code", "")), str(error.get("message", {}).get("value", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", short_text(response.text)


def _results(answer: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = (answer or {}).get("d", {}).get("results", [])
    return [row for row in rows if isinstance(row, dict)]


def _person(person: dict[str, Any]) -> dict[str, str]:
    """Profile fields from an expanded PerPerson. Effective-dated records (PerPersonal, EmpJob)
    come as of today, so the first is the current one; email and phone prefer the primary."""
    personal = _first(_nav(person, "personalInfoNav"))
    jobs = [job for emp in _nav(person, "employmentNav") for job in _nav(emp, "jobInfoNav")]
    return {
        "first_name": _text(personal, "firstName"),
        "last_name": _text(personal, "lastName"),
        "email": _text(_primary(_nav(person, "emailNav")), "emailAddress"),
        "mobile": _text(_primary(_nav(person, "phoneNav")), "phoneNumber"),
        "designation": _text(_first(jobs), "jobTitle"),
    }


def _nav(entity: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """An expanded navigation as a list: OData v2 wraps to-many ones in `results`."""
    value = entity.get(name)
    if isinstance(value, dict):
        value = value.get("results", [value])
    return [row for row in value or [] if isinstance(row, dict)]


def _first(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return rows[0] if rows else {}


def _primary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return _first(sorted(rows, key=lambda row: str(row.get("isPrimary")).lower() != "true"))


def _text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    return "" if value is None else str(value).strip()


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))  # OData v2 JSON gives Edm.Decimal as a string
    except InvalidOperation:
        raise UpstreamError(f"successfactors: awardAmount {value!r} is not a number") from None
    if not amount.is_finite():
        raise UpstreamError(f"successfactors: awardAmount {value!r} is not a number")
    return amount


def _quote(value: str) -> str:
    """An OData string literal's content: a quote is written twice."""
    return value.replace("'", "''")


def _read(path: str | None) -> bytes:
    try:
        return Path(path or "").read_bytes()
    except OSError as exc:
        raise ConnectorConfigError(f"successfactors: cannot read {path}: {exc.strerror}") from None
