"""Darwinbox: employee profiles from the Employee Master API.

`POST {tenant}/masterapi/employee` with Basic auth, and in the body the `api_key` and
`datasetKey` of a dataset (active employees; optionally a second pair for inactive ones) and
`employee_ids`. The API looks people up by employee id only, so lookups by email or mobile
read the whole dataset and index it in the host's directory (connectors/directory), shared by
every worker: one process reads it once per `directory_ttl_seconds`, the others answer from
the last version meanwhile.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors.base import (
    ConnectorConfigError,
    FilePath,
    IdentityField,
    Profile,
    ProfileSource,
    Secret,
    UpstreamAuthFailed,
    UpstreamError,
)
from connectors.directory import Dataset, DirectoryIndex, batched, row_of
from connectors.http import HttpClient, HttpPolicy, http_options_field

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
        path = Path(index_path) if index_path else _private_index(self.url, username, self.datasets)
        self.directory = DirectoryIndex(path, names)

    def find(self, by: IdentityField, value: str) -> Profile | None:
        value = value.strip()
        if not value:
            return None
        if by == "employee_id":
            for dataset in self.datasets:
                for row in self._employees(dataset, [value]):
                    if str(row.get("employee_id", "")) == value:
                        return _profile(row, dataset.active)
            return None
        # A version a TTL long, the same for every process of the host: a restart within it
        # reuses the index, and one process reads the dataset again when it ends.
        version = f"{int(time.time() // self.directory_ttl)}:{self.directory_ttl}"
        reader = self.directory.current(version, self._everyone)
        person = None if reader is None else reader.find(by, value)
        return None if person is None else person.profile

    def check(self) -> None:
        self._employees(self.datasets[0], ["points-gateway-health-check"])

    def close(self) -> None:
        self.client.close()

    def _employees(self, dataset: _Dataset, ids: list[str]) -> list[dict[str, Any]]:
        body = {"api_key": dataset.api_key, "datasetKey": dataset.dataset_key, "employee_ids": ids}
        response = self.client.request("POST", self.url, idempotent=True, json=body)
        status = response.status_code
        if status in (401, 403):
            raise UpstreamAuthFailed(f"darwinbox: credentials refused (HTTP {status})")
        try:
            answer = response.json()
        except ValueError:
            answer = None
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
        active person's; a clash within one dataset goes to its first row, and the other
        row keeps its profile but cannot be found by the value it shares."""
        people: dict[str, Profile] = {}
        for dataset in self.datasets:  # active first: it wins a clash
            for row in self._employees(dataset, []):
                profile = _profile(row, dataset.active)
                if profile.employee_id:
                    people.setdefault(profile.employee_id, profile)
        return Dataset(batched(_rows(people.values())))


def _rows(people: Any) -> Iterator[tuple[Any, ...]]:
    taken: set[tuple[str, str]] = set()
    for line, profile in enumerate(people, start=1):
        row = list(row_of(line, profile, None))
        for at, key in ((2, "email"), (3, "mobile")):
            if row[at] and (key, row[at]) in taken:
                row[at] = ""
            taken.add((key, row[at]))
        yield tuple(row)


def _private_index(url: str, username: str, datasets: list[_Dataset]) -> Path:
    """`<tmp>/points-gateway-<uid>/darwinbox-<digest>.index`: one per tenant and dataset, in a
    folder only this user may use (another user could otherwise plant the file)."""
    folder = Path(tempfile.gettempdir()) / f"points-gateway-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    st = folder.lstat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077 or not stat.S_ISDIR(st.st_mode):
        raise ConnectorConfigError(f"{folder} is not a private folder of this user: set index_path")
    keys = [url, username, *(f"{d.api_key}:{d.dataset_key}:{d.active}" for d in datasets)]
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return folder / f"darwinbox-{digest}.index"


def _means_nobody(message: str) -> bool:
    text = message.lower()
    return "no employee" in text or "not found" in text or "no data" in text


def _profile(row: dict[str, Any], active: bool) -> Profile:
    status = str(row.get("employee_status", "")).strip().lower()
    left = status in ("inactive", "exited", "terminated")
    return Profile.from_record(row, FIELDS, active=active and not left)
