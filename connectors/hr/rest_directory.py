"""Any HR system or directory with a REST API as the profile source, configured rather than coded.

A lookup call per identity the system can search by (a path, query and/or body template where
`{value}` is the id, email or mobile asked); for the identities it cannot search by, a list call
read page by page into the host's shared directory index (connectors/directory). Answer fields
map to ours by dotted paths; an "active" rule says who has left. A named preset
(connectors/hr/presets/) fills in all of it for a known system; every option still overrides.

A value asked is escaped for where it goes (URL-escaped in a path, JSON in a body, quotes
doubled inside an OData filter), so it can never change the call's meaning, and every record a
lookup returns is checked to hold exactly the value asked: a system's "contains" search never
hands one person's points to another.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from connectors.base import (
    IDENTITY_FIELDS,
    PROFILE_FIELDS,
    ConnectorConfigError,
    GrantsSource,
    IdentityField,
    Profile,
    ProfileSource,
    UpstreamError,
)
from connectors.directory import Dataset, DirectoryIndex, batched
from connectors.directory.remote import find_indexed, only_match, private_index, unique_rows
from connectors.hr.auth import Authenticator, AuthOptions, auth_failed
from connectors.hr.options import ESCAPES, Refused, RestDirectoryOptions, rule_says
from connectors.hr.paging import pages, records_at
from connectors.http import HttpClient, HttpPolicy, json_of, short_text
from connectors.rest_mapping import (
    UnsafePath,
    as_decimal,
    dig,
    fill,
    fill_path,
    matches,
    render_body,
)

log = logging.getLogger(__name__)


class RestDirectoryConnector(ProfileSource, GrantsSource):
    options_schema = RestDirectoryOptions
    remote = True

    def __init__(
        self,
        base_url: str,
        mapping: dict[str, str],
        auth: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        lookup: dict[str, dict[str, Any]] | None = None,
        list_call: dict[str, Any] | None = None,
        active: dict[str, Any] | None = None,
        points: str | None = None,
        directory_ttl_seconds: float = 900.0,
        index_path: str | None = None,
        http: dict[str, Any] | None = None,
        preset: str | None = None,
        tenant: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.name = preset or "rest_directory"
        self.base_url = base_url.rstrip("/")
        self.fields = mapping
        self.headers = headers or {}
        self.lookups = lookup or {}
        self.list_call = list_call
        self.active_rule = active
        self._said_missing = False
        self.points_path = points
        self.client = HttpClient(self.name, HttpPolicy(**(http or {})), session)
        self.auth = Authenticator(auth or AuthOptions().load({}), self.client)
        self.directory_ttl = directory_ttl_seconds
        self.directory: DirectoryIndex | None = None
        if list_call is not None:
            who = str((auth and auth.get("client_id")) or (auth and auth.get("username")))
            keys = [self.base_url, str(sorted(mapping.items())), who]
            path = Path(index_path) if index_path else private_index(self.name, keys)
            names: dict[str, str] = {f: mapping.get(f, f) for f in IDENTITY_FIELDS}
            self.directory = DirectoryIndex(path, names)

    @property
    def identities(self) -> tuple[str, ...]:
        """What it finds people by: what it has a lookup for, and everything with a list."""
        if self.list_call is not None:
            return tuple(f for f in IDENTITY_FIELDS if f in self.fields)
        return tuple(f for f in IDENTITY_FIELDS if f in self.lookups)

    def find(self, by: IdentityField, value: str) -> Profile | None:
        value = value.strip()
        if not value:
            return None
        if by in self.lookups:
            return self._look_up(by, value)
        if self.directory is None or by not in self.fields:
            raise ConnectorConfigError(f"{self.name}: cannot find people by {by}")
        return find_indexed(self.directory, self.directory_ttl, self._everyone, by, value)

    def granted(self, profile: Profile) -> Decimal | None:
        if self.points_path is None:
            return None
        points = self._points(profile.raw)
        if points is None:  # a profile from elsewhere (the [profile] source): ask for this one
            found = self.find("employee_id", profile.employee_id)
            points = self._points(found.raw) if found is not None else None
        return points

    def check(self) -> None:
        if "employee_id" in self.lookups:
            self._look_up("employee_id", "points-gateway-health-check")
        elif self.list_call is not None:
            _, answer = self._fetcher(self.list_call, None)(None, {}, {})
            records_at(answer, self.list_call["results"])
        else:
            self._look_up(next(iter(self.lookups)), "points-gateway-health-check")  # type: ignore[arg-type]

    def close(self) -> None:
        self.client.close()
        if self.directory is not None:
            self.directory.close()

    # -- calls ---------------------------------------------------------------------------
    def _look_up(self, by: IdentityField, value: str) -> Profile | None:
        call = self.lookups[by]
        try:
            fetch = self._fetcher(call, value)
        except Refused:
            log.info("%s: a %s that cannot be sent as it is was not looked up", self.name, by)
            return None
        _, answer = fetch(None, {}, {})
        if answer is None:
            return None
        records = records_at(answer, call["results"])
        found = only_match(self.name, by, value, ((_first(r, self.fields[by]), r) for r in records))
        return self._profile(found) if found is not None else None

    def _fetcher(self, call: dict[str, Any], value: str | None) -> Any:
        """One call of `call` with `value` in its templates; None for "nobody" answers."""
        escape = ESCAPES[call["escape"]]
        values = {"value": escape(value or "")}

        def fetch(
            url: str | None, extra_query: dict[str, Any], extra_body: dict[str, Any]
        ) -> tuple[requests.Response, Any]:
            kwargs: dict[str, Any] = {}
            if url is None:
                try:
                    url = self.base_url + fill_path(call["path"], {"value": value or ""})
                except UnsafePath as exc:
                    raise UpstreamError(f"{self.name}: {exc}") from None
                kwargs["params"] = {k: fill(v, values) for k, v in call["query"].items()}
                kwargs["params"].update(extra_query)
                if call["body"] is not None or extra_body:
                    text = render_body(call["body"] or {}, {**values, "amount": "null"})
                    kwargs["data"] = _with(text, extra_body)
            return self._send(call, url, kwargs)

        return fetch

    def _send(
        self, call: dict[str, Any], url: str, kwargs: dict[str, Any]
    ) -> tuple[requests.Response, Any]:
        for attempt in (1, 2):  # a refused OAuth2 token is renewed once, then it is refused
            headers, generation = self.auth.headers()
            headers = {"Accept": "application/json", **self.headers, **call["headers"], **headers}
            if "data" in kwargs:
                headers["Content-Type"] = "application/json"
            response = self.client.request(
                call["method"], url, idempotent=True, headers=headers, **kwargs
            )
            if response.status_code == 401 and self.auth.oauth2 and attempt == 1:
                self.auth.refused(generation)
                continue
            break
        answer = json_of(response)
        if matches(call["nobody"], response.status_code, answer):
            return response, None
        if response.status_code in (401, 403):
            raise auth_failed(self.name, response)
        if not 200 <= response.status_code < 300 or answer is None:
            raise UpstreamError(
                f"{self.name}: HTTP {response.status_code}: {short_text(response.text, 120)}"
            )
        return response, answer

    def _everyone(self) -> Dataset:
        assert self.list_call is not None
        call = self.list_call

        def people() -> Any:
            for records in pages(
                call["paging"], self._fetcher(call, None), call["results"], self.base_url
            ):
                for record in records:
                    profile = self._profile(record)
                    if profile.employee_id:
                        yield profile, self._points(record)

        rows = unique_rows(people())  # an email or mobile two people hold finds neither
        return Dataset(batched(rows), shared=rows.shared)

    def _points(self, record: Any) -> Decimal | None:
        """The points a record grants, exactly; None where it holds none (or none are mapped)."""
        return as_decimal(dig(record, self.points_path)) if self.points_path else None

    def _profile(self, record: dict[str, Any]) -> Profile:
        values = {f: _first(record, path) for f, path in self.fields.items()}
        return Profile(
            **{f: values.get(f, "") for f in PROFILE_FIELDS},
            active=self._active(record),
            raw=record,
        )

    def _active(self, record: dict[str, Any]) -> bool:
        rule = self.active_rule
        if rule is None:
            return True
        said = rule_says(rule, dig(record, rule["field"]))
        if said is not None:
            return said
        missing = rule.get("when_missing", "inactive")
        if missing == "refuse":
            raise UpstreamError(
                f"{self.name}: a record has no {rule['field']} to say whether the person is "
                'active (active.when_missing = "refuse")'
            )
        if not self._said_missing:  # once: a list can hold thousands
            self._said_missing = True
            log.warning(
                "%s: a record has no %s; read as %s (active.when_missing)",
                self.name,
                rule["field"],
                missing,
            )
        return bool(missing == "active")


def _first(record: Any, paths: str) -> str:
    """The first of `a|b|c` the record holds a value at (systems differ in where they put it)."""
    for path in paths.split("|"):
        value = dig(record, path)
        if value not in (None, "") and not isinstance(value, dict | list):
            return _text(value)
    return ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _with(body_text: str, extra: dict[str, Any]) -> str:
    """A rendered JSON body with the paging values (a cursor) added at its top level."""
    if not extra:
        return body_text
    return json.dumps({**json.loads(body_text), **extra})
