"""Darwinbox: employee profiles from the Employee Master API.

`POST {tenant}/masterapi/employee` with Basic auth, and in the body the `api_key` and
`datasetKey` of a dataset (active employees; optionally a second pair for inactive ones) and
`employee_ids`. The API looks people up by employee id only, so lookups by email or mobile
read the whole dataset and index it in the host's directory (connectors/directory), shared by
every worker: one process reads it once per `directory_ttl_seconds`, the others answer from
the last version meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors.base import (
    FilePath,
    IdentityField,
    Profile,
    ProfileSource,
    Secret,
    UpstreamAuthFailed,
    UpstreamError,
)
from connectors.directory import Dataset, DirectoryIndex, batched
from connectors.directory.remote import find_indexed, only_match, private_index, unique_rows
from connectors.http import HttpClient, HttpPolicy, http_options_field, json_of

NAME = "darwinbox"
#: Xoxoday's legacy profile uses Darwinbox's names, but for `department` (`department_name`).
FIELDS = {
    "employee_id": "employee_id",
    "email": "company_email_id",
    "first_name": "first_name",
    "last_name": "last_name",
    "mobile": "primary_mobile_number",
    "designation": "designation_name",
    "department": "department_name",
    "company": "group_company",
}


class DarwinboxOptions(Schema):
    tenant_url = fields.Url(required=True, schemes={"https", "http"})
    username = fields.String(required=True, validate=validate.Length(min=1))
    password = Secret(required=True, validate=validate.Length(min=1))
    api_key = Secret(required=True, validate=validate.Length(min=1))
    dataset_key = Secret(required=True, validate=validate.Length(min=1))
    # The separate pair Darwinbox issues for employees who have left: refunds still find them.
    inactive_api_key = Secret(load_default=None)
    inactive_dataset_key = Secret(load_default=None)
    directory_ttl_seconds = fields.Float(load_default=900.0, validate=validate.Range(min=1))
    # The host's index of the whole dataset, for lookups by email or mobile; by default in a
    # private folder under the system's temporary directory.
    index_path = FilePath(load_default=None)
    http = http_options_field()

    @validates_schema
    def _inactive_pair(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("inactive_api_key")) != bool(data.get("inactive_dataset_key")):
            raise ValidationError("give both or neither", "inactive_dataset_key")


@dataclass(frozen=True)
class _Dataset:
    api_key: str
    dataset_key: str
    active: bool


class DarwinboxConnector(ProfileSource):
    options_schema = DarwinboxOptions
    remote = True

    def __init__(
        self,
        tenant_url: str,
        username: str,
        password: str,
        api_key: str,
        dataset_key: str,
        inactive_api_key: str | None = None,
        inactive_dataset_key: str | None = None,
        directory_ttl_seconds: float = 900.0,
        index_path: str | None = None,
        http: dict[str, Any] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.url = tenant_url.rstrip("/") + "/masterapi/employee"
        self.client = HttpClient("darwinbox", HttpPolicy(**(http or {})), session)
        self.client.session.auth = (username, password)
        self.datasets = [_Dataset(api_key, dataset_key, active=True)]
        if inactive_api_key and inactive_dataset_key:
            self.datasets.append(_Dataset(inactive_api_key, inactive_dataset_key, active=False))
        self.directory_ttl = directory_ttl_seconds
        names = {"employee_id": "employee_id", "email": FIELDS["email"], "mobile": FIELDS["mobile"]}
        keys = [
            self.url,
            username,
            *(f"{d.api_key}:{d.dataset_key}:{d.active}" for d in self.datasets),
        ]
        path = Path(index_path) if index_path else private_index("darwinbox", keys)
        self.directory = DirectoryIndex(path, names)

    def find(self, by: IdentityField, value: str) -> Profile | None:
        value = value.strip()
        if not value:
            return None
        if by == "employee_id":
            for dataset in self.datasets:  # active first: a rehire under the same id is theirs
                rows = self._employees(dataset, [value])
                held = ((str(row.get("employee_id") or "").strip(), row) for row in rows)
                found = only_match(NAME, by, value, held)
                if found is not None:
                    return _profile(found, dataset.active)
            return None
        return find_indexed(self.directory, self.directory_ttl, self._everyone, by, value)

    def check(self) -> None:
        self._employees(self.datasets[0], ["points-gateway-health-check"])

    def close(self) -> None:
        self.client.close()
        if self.directory is not None:
            self.directory.close()

    def _employees(self, dataset: _Dataset, ids: list[str]) -> list[dict[str, Any]]:
        body = {"api_key": dataset.api_key, "datasetKey": dataset.dataset_key, "employee_ids": ids}
        response = self.client.request("POST", self.url, idempotent=True, json=body)
        status = response.status_code
        if status in (401, 403):
            raise UpstreamAuthFailed(f"darwinbox: credentials refused (HTTP {status})")
        answer = json_of(response)
        if not isinstance(answer, dict):
            raise UpstreamError(f"darwinbox: HTTP {status}, not a JSON object")
        rows = answer.get("employee_data")
        if str(answer.get("status")) == "1" and isinstance(rows, list):
            return [r for r in rows if isinstance(r, dict)]
        message = str(answer.get("message") or f"HTTP {status}")
        if _means_nobody(message):
            return []
        if "key" in message.lower() or "auth" in message.lower():
            raise UpstreamAuthFailed(f"darwinbox: {message}")
        raise UpstreamError(f"darwinbox: {message}")

    def _everyone(self) -> Dataset:
        """Both datasets as directory rows. An id, email or mobile in both (a rehire) is the
        active person's; an email or mobile two people of one dataset hold finds neither (each
        is still found by what else they hold)."""
        people: dict[str, Profile] = {}
        tiers: dict[str, int] = {}
        for tier, dataset in enumerate(self.datasets):  # active first: it wins a clash
            for row in self._employees(dataset, []):
                profile = _profile(row, dataset.active)
                if profile.employee_id and profile.employee_id not in people:
                    people[profile.employee_id] = profile
                    tiers[profile.employee_id] = tier
        rows = unique_rows(((p, None) for p in people.values()), lambda p: tiers[p.employee_id])
        return Dataset(batched(rows), shared=rows.shared)


def _means_nobody(message: str) -> bool:
    text = message.lower()
    return "no employee" in text or "not found" in text or "no data" in text


def _profile(row: dict[str, Any], active: bool) -> Profile:
    status = str(row.get("employee_status", "")).strip().lower()
    left = status in ("inactive", "exited", "terminated")
    return Profile.from_record(row, FIELDS, active=active and not left)
