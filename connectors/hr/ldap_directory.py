"""Profiles from an LDAP directory or Active Directory (ldap3).

A search filter template per identity, where `{value}` is replaced by the value asked escaped
as RFC 4515 says (`*`, `(`, `)`, `\\` and NUL become `\\2a`...): an id can never change the
filter. Every entry found must hold exactly the value asked (emails without regard to case);
two are refused, never guessed between. Identities without a filter are answered from the
host's directory index, filled by a paged search (RFC 2696) of `list_filter`.

Binds as a service account over `ldaps://`, or `ldap://` with StartTLS, verifying the server's
certificate unless told not to; a bind in clear over plain `ldap://` is refused at configuration
time unless `allow_plaintext_bind` says so. Referrals are never followed (ldap3 would follow one
to any host and bind there with the service account's password). A connection per thread,
opened on first use and once more after the server dropped it; a search asks the server to give
up when we would (receive_timeout); a circuit breaker like every remote connector's.
"""

from __future__ import annotations

import logging
import math
import ssl
import threading
from pathlib import Path
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.utils.conv import escape_filter_chars

from connectors.base import (
    IDENTITY_FIELDS,
    PROFILE_FIELDS,
    ConnectorConfigError,
    IdentityField,
    Profile,
    ProfileSource,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamUnavailable,
)
from connectors.breaker import CircuitBreaker
from connectors.directory import Dataset, DirectoryIndex, batched
from connectors.directory.remote import find_indexed, only_match, private_index, unique_rows
from connectors.hr.ldap_options import LdapOptions, plaintext_bind_refused

log = logging.getLogger(__name__)
NAME = "ldap"


class LdapConnector(ProfileSource):
    options_schema = LdapOptions
    remote = True

    def __init__(
        self,
        url: str,
        bind_dn: str,
        bind_password: str,
        base_dn: str,
        attributes: dict[str, str],
        filters: dict[str, str] | None = None,
        list_filter: str | None = None,
        page_size: int = 500,
        disabled: dict[str, Any] | None = None,
        start_tls: bool = False,
        allow_plaintext_bind: bool = False,
        ca_file: str | None = None,
        verify_certificate: bool = True,
        connect_timeout: float = 3.0,
        receive_timeout: float = 5.0,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 30.0,
        directory_ttl_seconds: float = 900.0,
        index_path: str | None = None,
    ) -> None:
        refused = plaintext_bind_refused(url, start_tls, allow_plaintext_bind)
        if refused:
            raise ConnectorConfigError(f"{NAME}: {refused}")
        if url.lower().startswith("ldap://") and not start_tls:
            log.warning("%s: binds in clear over ldap:// (allow_plaintext_bind = true)", NAME)
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED if verify_certificate else ssl.CERT_NONE,
            ca_certs_file=ca_file,
        )
        self.server = ldap3.Server(
            url,
            use_ssl=url.startswith("ldaps://"),
            tls=tls,
            connect_timeout=connect_timeout,
            allowed_referral_hosts=[],  # and auto_referrals=False: no referral is followed
        )
        self.start_tls = start_tls
        self.bind_dn, self._password = bind_dn, bind_password
        self.base_dn = base_dn
        self.attributes = attributes
        self.filters = filters or {}
        self.list_filter = list_filter
        self.page_size = page_size
        self.disabled = disabled
        self.receive_timeout = receive_timeout
        # ldap3 packs the receive timeout into SO_RCVTIMEO as whole seconds; the server is
        # asked (RFC 4511 timeLimit) to stop searching then too.
        self._seconds = max(1, math.ceil(receive_timeout))
        self.breaker = CircuitBreaker(NAME, breaker_failures, breaker_reset_seconds)
        self._local = threading.local()
        self.directory_ttl = directory_ttl_seconds
        self.directory: DirectoryIndex | None = None
        if list_filter:
            path = Path(index_path) if index_path else private_index(NAME, [url, base_dn, bind_dn])
            names: dict[str, str] = {f: attributes.get(f, f) for f in IDENTITY_FIELDS}
            self.directory = DirectoryIndex(path, names)

    def find(self, by: IdentityField, value: str) -> Profile | None:
        value = value.strip()
        if not value:
            return None
        if by in self.filters:
            return self._look_up(by, value)
        if self.directory is None or by not in self.attributes:
            raise ConnectorConfigError(f"{NAME}: cannot find people by {by}")
        return find_indexed(self.directory, self.directory_ttl, self._everyone, by, value)

    def check(self) -> None:
        def base(conn: ldap3.Connection) -> None:
            conn.search(self.base_dn, "(objectClass=*)", ldap3.BASE, time_limit=self._seconds)
            _not_referred(conn)

        self._call(base)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.unbind()
            self._local.conn = None
        if self.directory is not None:
            self.directory.close()

    # -- searches ------------------------------------------------------------------------
    def _look_up(self, by: IdentityField, value: str) -> Profile | None:
        query = self.filters[by].replace("{value}", escape_filter_chars(value))

        def search(conn: ldap3.Connection) -> tuple[list[dict[str, Any]], bool]:
            conn.search(
                self.base_dn,
                query,
                ldap3.SUBTREE,
                attributes=self._wanted(),
                size_limit=LOOKUP_LIMIT,
                time_limit=self._seconds,
            )
            _answered(conn)
            entries = [
                dict(e["attributes"])
                for e in conn.response or []
                if e.get("type") == "searchResEntry"
            ]
            return entries, (conn.result or {}).get("result") == SIZE_LIMIT_EXCEEDED

        # A directory's matching is loose (a case-folded employeeID, a mobile without its
        # spaces, a wildcard in the filter): every entry is read, and only_match keeps the
        # exact one. Near misses that fill the limit could hide it, so a cut answer is none.
        entries, cut = self._call(search)
        if cut:
            raise UpstreamError(
                f"{NAME}: more than {LOOKUP_LIMIT} entries match that {by}; none is used"
            )
        found = only_match(
            NAME, by, value, ((_first(e.get(self.attributes[by])), e) for e in entries)
        )
        return self._profile(found) if found is not None else None

    def _everyone(self) -> Dataset:
        def people() -> Any:
            def all_entries(conn: ldap3.Connection) -> list[dict[str, Any]]:
                entries = [
                    dict(e["attributes"])
                    for e in conn.extend.standard.paged_search(
                        self.base_dn,
                        self.list_filter,
                        ldap3.SUBTREE,
                        attributes=self._wanted(),
                        paged_size=self.page_size,
                        time_limit=self._seconds,
                        generator=False,
                    )
                    if e.get("type") == "searchResEntry"
                ]
                _answered(conn)  # a search cut short (a time limit, a referral) is no index
                return entries

            for entry in self._call(all_entries):
                profile = self._profile(entry)
                if profile.employee_id:
                    yield profile, None

        rows = unique_rows(people())  # a value two people share finds neither of them
        return Dataset(batched(rows), shared=rows.shared)

    def _wanted(self) -> list[str]:
        names = set(self.attributes.values())
        if self.disabled:
            names.add(self.disabled["attribute"])
        return sorted(names)

    def _profile(self, entry: dict[str, Any]) -> Profile:
        values = {f: _first(entry.get(a)) for f, a in self.attributes.items()}
        raw = {
            k: [str(v) for v in vs] if isinstance(vs, list) else str(vs) for k, vs in entry.items()
        }
        return Profile(
            **{f: values.get(f, "") for f in PROFILE_FIELDS}, active=self._active(entry), raw=raw
        )

    def _active(self, entry: dict[str, Any]) -> bool:
        rule = self.disabled
        if rule is None:
            return True
        have = _first(entry.get(rule["attribute"]))
        if rule["bits"] is not None:
            return not (have.lstrip("-").isdigit() and int(have) & rule["bits"])
        return have.casefold() not in {v.casefold() for v in rule["values"]}

    # -- the connection ------------------------------------------------------------------
    def _call(self, work: Any) -> Any:
        return self.breaker.measured(lambda: self._with_connection(work), is_failure=_is_outage)

    def _with_connection(self, work: Any) -> Any:
        for attempt in (1, 2):  # a connection the server dropped is opened again, once
            try:
                return work(self._connection())
            except ldap_errors.LDAPSocketReceiveError:
                raise UpstreamUnavailable(
                    f"{NAME}: no answer in {self.receive_timeout} s"
                ) from None
            except (ldap_errors.LDAPSocketOpenError, ldap_errors.LDAPStartTLSError) as exc:
                raise UpstreamUnavailable(
                    f"{NAME}: cannot reach it ({type(exc).__name__})"
                ) from None
            except ldap_errors.LDAPBindError:
                raise UpstreamAuthFailed(
                    f"{NAME}: the bind as {self.bind_dn} was refused"
                ) from None
            except (
                ldap_errors.LDAPSessionTerminatedByServerError,
                ldap_errors.LDAPSocketSendError,
            ):
                self._local.conn = None
                if attempt == 2:
                    raise UpstreamUnavailable(f"{NAME}: the server closed the connection") from None
            except ldap_errors.LDAPException as exc:
                raise UpstreamError(f"{NAME}: {type(exc).__name__}") from None
        raise AssertionError("unreachable")

    def _connection(self) -> ldap3.Connection:
        conn: ldap3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed:
            return conn
        conn = ldap3.Connection(
            self.server,
            user=self.bind_dn,
            password=self._password,
            receive_timeout=self._seconds,
            raise_exceptions=False,
            auto_referrals=False,
        )
        conn.open()
        if self.start_tls and not (conn.start_tls() and conn.tls_started):
            raise ldap_errors.LDAPStartTLSError("StartTLS did not start")  # never bind in clear
        if not conn.bind():
            raise ldap_errors.LDAPBindError(conn.result.get("description", "bind refused"))
        self._local.conn = conn
        return conn


#: Search results that are answers: success, more than size_limit entries, no such base.
ANSWERS = {0, 4, 32}
REFERRAL = 10
SIZE_LIMIT_EXCEEDED = 4
#: Entries one lookup reads at most: enough for a loose match's near misses.
LOOKUP_LIMIT = 50


def _not_referred(conn: ldap3.Connection) -> None:
    if (conn.result or {}).get("result") == REFERRAL:
        raise UpstreamError(
            f"{NAME}: the directory refers the search to another server, and referrals are not "
            "followed: give the url and base_dn of the server that holds the people"
        )


def _answered(conn: ldap3.Connection) -> None:
    _not_referred(conn)
    result = conn.result or {}
    if result.get("result") not in ANSWERS:
        raise UpstreamError(f"{NAME}: the search failed: {result.get('description', 'no answer')}")


def _first(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else None
    return "" if value is None else str(value).strip()


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, UpstreamUnavailable | UpstreamError)
