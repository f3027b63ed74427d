"""A Darwinbox Employee Master API on `responses`, as ../shared/HR-SYSTEMS.md describes it."""

from __future__ import annotations

import base64
import json
from collections import deque
from typing import Any

import requests
import responses

TENANT = "https://acme.darwinbox.in"
USER, PASSWORD = "gateway-api", "darwinbox-password-s3cret"
ACTIVE = ("active-api-key-7f3a", "active-dataset-key-91c2")
INACTIVE = ("inactive-api-key-55d0", "inactive-dataset-key-0b7e")
SECRETS = (PASSWORD, *ACTIVE, *INACTIVE)


def employee(employee_id: str, first: str, last: str, email: str, mobile: str = "", **extra: Any):
    return {
        "employee_id": employee_id,
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}",
        "company_email_id": email,
        "personal_email_id": f"{first.lower()}@home.example",
        "primary_mobile_number": mobile,
        "designation_name": "Sales Rep",
        "department_name": "Sales",
        "group_company": "Dundler Mifflin",
        "employee_status": "Active",
        **extra,
    }


ACTIVE_EMPLOYEES = [
    employee("DB123", "Pam", "Beesly", "Pam@Example.com", "9876543210"),
    employee("22816281", "Dwight", "Schrute", "dwightschrute@dundlermifflin.com"),
    employee("TTEO32S99ERCL", "Jim", "Halpert", "jim@example.com", "9876543211"),
]
INACTIVE_EMPLOYEES = [
    employee("OLD1", "Ryan", "Howard", "ryan@example.com", employee_status="Inactive"),
]


class FakeDarwinbox:
    """Serves the two datasets; `fail_next(status, body)` queues failures for coming calls."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.calls = 0
        self.failures: deque[Any] = deque()
        self.datasets = {ACTIVE: ACTIVE_EMPLOYEES, INACTIVE: INACTIVE_EMPLOYEES}
        # Inferred, not documented: Darwinbox documents no matching rule for `employee_ids`;
        # a lookup in a case-insensitive database collation (MySQL's default) would also
        # answer "db123" for "DB123". Off by default.
        self.ids_ignore_case = False
        mock.add_callback(responses.POST, f"{TENANT}/masterapi/employee", callback=self._answer)

    def fail_next(self, *failures: Any) -> None:
        """Each: (status, body, headers) answered, or an exception raised, for one call."""
        self.failures.extend(failures)

    def _answer(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.calls += 1
        if self.failures:
            failure = self.failures.popleft()
            if isinstance(failure, BaseException):
                raise failure
            status, body, headers = failure
            return status, headers, json.dumps(body)
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return 401, {}, json.dumps({"status": 0, "message": "Unauthorized"})
        body = json.loads(request.body or b"{}")
        rows = self.datasets.get((body.get("api_key"), body.get("datasetKey")))
        if rows is None:
            return 200, {}, json.dumps({"status": 0, "message": "Invalid api_key or datasetKey"})
        ids = body.get("employee_ids") or []
        if self.ids_ignore_case:
            wanted = {str(i).lower() for i in ids}
            found = [r for r in rows if not ids or r["employee_id"].lower() in wanted]
        else:
            found = [r for r in rows if not ids or r["employee_id"] in ids]
        if not found:
            return 200, {}, json.dumps({"status": 0, "message": "No employees found"})
        message = "Successfully loaded all employees data"
        return 200, {}, json.dumps({"status": 1, "message": message, "employee_data": found})


def options(**overrides: Any) -> dict[str, Any]:
    """Connector options for the fake, as they would be loaded from the config file."""
    from connectors.darwinbox import DarwinboxOptions

    raw = {
        "tenant_url": TENANT,
        "username": USER,
        "password": PASSWORD,
        "api_key": ACTIVE[0],
        "dataset_key": ACTIVE[1],
        "inactive_api_key": INACTIVE[0],
        "inactive_dataset_key": INACTIVE[1],
        "http": {"budget_seconds": 2, "attempts": 3, "breaker_failures": 3},
        **overrides,
    }
    return DarwinboxOptions().load(raw)
