"""Gusto's API: a company's employees."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import ID, REFRESH, SECRET, System

COMPANY = "c44d66dc-c41b-4a60-9e25-5e93ff8583f2"


class GustoApi(HrApi):
    """Gusto, as documented at
    https://docs.gusto.com/embedded-payroll/reference/get-v1-companies-company_id-employees
    (GET /v1/companies/<uuid>/employees: onboarding, active and terminated employees as a JSON
    array; `terminated` filters; `search_term` matches names; without `page` every employee),
    https://docs.gusto.com/app-integrations/docs/pagination (page and per, 25 by default; the
    totals only in X-Page, X-Total-Count, X-Total-Pages and X-Per-Page headers),
    https://docs.gusto.com/app-integrations/v2024-04-01/reference/refresh-access-token
    (POST /oauth/token with client_id, client_secret, grant_type=refresh_token and
    refresh_token: a new access token, expires_in 7200, and a new refresh token; the previous
    refresh token is revoked on the first use of the new access token: `revokes_used`, off by
    default so a fresh process of the preset tests may use the configured one) and
    https://docs.gusto.com/embedded-payroll/docs/rate-limits (429 with Retry-After). Gusto's
    examples post JSON; this fake reads the form the gateway sends."""

    base = f"https://api.gusto.com/v1/companies/{COMPANY}"
    token_url = "https://api.gusto.com/oauth/token"
    #: Revoke a refresh token once an access token it renewed is used, as Gusto documents.
    revokes_used = False

    def __init__(self, staff: list[Person], client_id: str, secret: str, refresh: str) -> None:
        super().__init__(staff, client_id, secret)
        self.refresh_tokens = {refresh}
        self.renewed_by: dict[str, str] = {}  # access token -> the refresh token it replaced

    def _token(self, form: dict[str, list[str]], headers: Any) -> Answer:
        sent = {k: v[0] for k, v in form.items()}
        if not self.credentials_ok(sent, headers):  # the app's client id and secret
            return 401, {}, '{"error": "invalid_client"}'
        if sent.get("grant_type") != "refresh_token" or (
            sent.get("refresh_token") not in self.refresh_tokens
        ):
            return 400, {}, '{"error": "invalid_grant"}'
        with self.lock:
            self.token_calls += 1
            token, refresh = f"token-{self.token_calls}", f"refresh-{self.token_calls}"
            self.tokens.add(token)
            self.refresh_tokens.add(refresh)
            self.renewed_by[token] = sent["refresh_token"]
        answer = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 7200,
            "refresh_token": refresh,
            "scope": "employees:read",
        }
        return 200, {}, json.dumps(answer)

    def authorized(self, headers: Any) -> bool:
        if not super().authorized(headers):
            return False
        if self.revokes_used:
            with self.lock:
                old = self.renewed_by.pop(headers["Authorization"][7:], None)
                self.refresh_tokens.discard(old or "")
        return True

    def employee(self, i: int, p: Person) -> dict[str, Any]:
        return {
            "uuid": f"d7282d99-ab6b-42f5-ba45-{i:012d}",
            "employee_code": p.number,
            "first_name": p.first,
            "middle_initial": None,
            "last_name": p.last,
            "email": f"home.{i}@mail.example",
            "work_email": p.email,
            "phone": p.mobile or None,
            "company_uuid": COMPANY,
            "department": p.department,
            "terminated": not p.active,
            "onboarded": True,
            "jobs": [{"uuid": f"bc875f9d-{i:04d}", "title": p.title, "primary": True}],
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/employees":
            return 404, {}, '{"errors": [{"error_key": "request", "category": "not_found"}]}'
        found = [self.employee(i, p) for i, p in enumerate(self.people)]
        if "terminated" in query:
            found = [e for e in found if str(e["terminated"]).lower() == query["terminated"]]
        if "page" not in query:
            return 200, {}, json.dumps(found)
        page, per = int(query["page"]), int(query.get("per", "25"))
        pages = (len(found) + per - 1) // per
        headers = {
            "X-Page": str(page),
            "X-Total-Count": str(len(found)),
            "X-Total-Pages": str(pages),
            "X-Per-Page": str(per),
        }
        return 200, headers, json.dumps(found[(page - 1) * per : page * per])


SYSTEM = System(
    "gusto",
    lambda staff: GustoApi(staff, ID, SECRET, REFRESH),
    {
        "tenant": COMPANY,
        "auth": {"client_id": ID, "client_secret": SECRET, "refresh_token": REFRESH},
    },
    [SECRET, REFRESH],
)
