"""A legacy points system behind a REST API as the points ledger, configured rather than coded.

Each of balance, debit, credit and the optional status lookup is a method, a path template and
(for writes) a JSON body template; the values are read from the answer by dotted paths, and
answer rules say which statuses or body values mean "insufficient", "not found", "duplicate".
The gateway's reference goes into the body (`{reference}`) and/or a header (`Idempotency-Key`).

Writes are never retried once they may have arrived (see connectors/http.py): a timeout, a
reset or a 5xx after sending is OutcomeUnknown, which the gateway settles with the lookup.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors.base import (
    Balance,
    InsufficientBalance,
    LedgerRefused,
    MemberUnknown,
    OutcomeUnknown,
    PointsLedger,
    Profile,
    Receipt,
    Secret,
    UpstreamAuthFailed,
    UpstreamError,
)
from connectors.http import HttpClient, HttpPolicy, http_options_field, json_of, short_text
from connectors.rest_mapping import (
    UnsafePath,
    as_decimal,
    check_template,
    dig,
    fill_path,
    matches,
    render_body,
    rule_field,
)

METHODS = validate.OneOf(["GET", "POST", "PUT", "PATCH", "DELETE"])
DEFAULT_BODY = {"amount": "{amount}", "reference": "{reference}"}


def _path(default: str, allowed: frozenset[str]) -> fields.String:
    return fields.String(
        load_default=default,
        validate=[validate.Regexp(r"^/"), lambda t: check_template(t, allowed)],
    )


class BalanceCall(Schema):
    method = fields.String(load_default="GET", validate=METHODS)
    path = _path("/members/{member}/points", frozenset({"member"}))
    available = fields.String(load_default="balance")  # dotted path in the answer
    received = fields.String(load_default=None)  # optional: the member's lifetime totals
    redeemed = fields.String(load_default=None)


WRITE_PATH_NAMES = frozenset({"member", "reference", "kind", "order_id"})


class DebitCall(Schema):
    method = fields.String(load_default="POST", validate=METHODS)
    path = _path("/members/{member}/debits", WRITE_PATH_NAMES)
    body = fields.Dict(load_default=lambda: dict(DEFAULT_BODY), validate=check_template)
    ledger_id = fields.String(load_default=None)  # where the answer gives the ledger's own id


class CreditCall(DebitCall):
    path = _path("/members/{member}/credits", WRITE_PATH_NAMES)


class LookupCall(Schema):
    method = fields.String(load_default="GET", validate=METHODS)
    path = _path("/transactions/{reference}", frozenset({"reference"}))
    amount = fields.String(load_default="amount")
    # Optional: where the answer says how the write went, and which values mean what. Any
    # other value (pending, processing) means the ledger cannot tell yet.
    state = fields.String(load_default=None)
    applied = fields.List(
        fields.String(), load_default=lambda: ["applied", "completed", "success", "succeeded"]
    )
    not_applied = fields.List(
        fields.String(), load_default=lambda: ["failed", "rejected", "cancelled", "reversed"]
    )
    not_found = rule_field([404])
    # Optional: where the answer names the member and the kind of write. Where they are said,
    # the gateway counts a write as applied only if they are what it sent (a reference another
    # release or system used for another write is a conflict for an operator).
    member = fields.String(load_default=None)
    kind = fields.String(load_default=None)
    debit_kinds = fields.List(
        fields.String(), load_default=lambda: ["debit", "redemption", "redeem", "withdrawal"]
    )
    credit_kinds = fields.List(
        fields.String(), load_default=lambda: ["credit", "refund", "grant", "deposit"]
    )


class RestLedgerOptions(Schema):
    base_url = fields.Url(required=True, schemes={"https", "http"}, require_tld=False)
    auth = fields.String(
        load_default="none", validate=validate.OneOf(["none", "basic", "bearer", "api_key"])
    )
    username = fields.String(load_default=None)
    password = Secret(load_default=None)
    token = Secret(load_default=None)
    api_key = Secret(load_default=None)
    api_key_header = fields.String(load_default="X-API-Key")
    # Which profile field the ledger knows members by: what `{member}` stands for.
    member = fields.String(
        load_default="employee_id", validate=validate.OneOf(["employee_id", "email", "mobile"])
    )
    # True only when the ledger applies one reference once however often it is sent (it
    # honours the header below, or answers `duplicate` for a reference it has): the gateway
    # may then resend an unsettled write instead of waiting for the lookup or an operator.
    idempotent = fields.Boolean(load_default=False)
    reference_header = fields.String(load_default="Idempotency-Key")  # "" sends none
    balance = fields.Nested(BalanceCall, load_default=lambda: BalanceCall().load({}))
    debit = fields.Nested(DebitCall, load_default=lambda: DebitCall().load({}))
    credit = fields.Nested(CreditCall, load_default=lambda: CreditCall().load({}))
    lookup = fields.Nested(LookupCall, load_default=None)
    insufficient = rule_field([402])
    not_found = rule_field([404])
    duplicate = rule_field([409])
    http = http_options_field()

    @validates_schema
    def _credentials(self, data: dict[str, Any], **_: Any) -> None:
        needs = {"basic": ("username", "password"), "bearer": ("token",), "api_key": ("api_key",)}
        for name in needs.get(data.get("auth", "none"), ()):
            if not data.get(name):
                raise ValidationError(f"auth = {data['auth']!r} needs {name}", name)


class RestLedgerConnector(PointsLedger):
    options_schema = RestLedgerOptions
    remote = True

    def __init__(
        self,
        base_url: str,
        auth: str = "none",
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        api_key: str | None = None,
        api_key_header: str = "X-API-Key",
        member: str = "employee_id",
        idempotent: bool = False,
        reference_header: str = "Idempotency-Key",
        balance: dict[str, Any] | None = None,
        debit: dict[str, Any] | None = None,
        credit: dict[str, Any] | None = None,
        lookup: dict[str, Any] | None = None,
        insufficient: dict[str, Any] | None = None,
        not_found: dict[str, Any] | None = None,
        duplicate: dict[str, Any] | None = None,
        http: dict[str, Any] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        defaults = RestLedgerOptions().load({"base_url": base_url})
        self.base_url = base_url.rstrip("/")
        self.member = member
        self.idempotent = idempotent  # type: ignore[misc]
        self.reference_header = reference_header
        self.calls = {
            "balance": balance or defaults["balance"],
            "debit": debit or defaults["debit"],
            "credit": credit or defaults["credit"],
        }
        self.lookup_call = lookup
        given = {"insufficient": insufficient, "not_found": not_found, "duplicate": duplicate}
        self.rules = {name: rule or defaults[name] for name, rule in given.items()}
        self.client = HttpClient("rest ledger", HttpPolicy(**(http or {})), session)
        self.client.session.headers["Accept"] = "application/json"
        if auth == "basic":
            self.client.session.auth = (username or "", password or "")
        elif auth == "bearer":
            self.client.session.headers["Authorization"] = f"Bearer {token}"
        elif auth == "api_key":
            self.client.session.headers[api_key_header] = api_key or ""

    @property
    def can_lookup(self) -> bool:
        return self.lookup_call is not None

    def balance(self, profile: Profile) -> Balance | None:
        call = self.calls["balance"]
        status, answer, _ = self._call(call, self._values(profile), idempotent=True)
        if matches(self.rules["not_found"], status, answer):
            return None
        if not 200 <= status < 300:
            raise UpstreamError(f"rest ledger: balance answered HTTP {status}")
        available = as_decimal(dig(answer, call["available"]))
        if available is None:
            raise UpstreamError(f"rest ledger: no number at {call['available']!r} in the balance")
        extra = [
            as_decimal(dig(answer, call[k])) if call.get(k) else None
            for k in ("received", "redeemed")
        ]
        return Balance(available, *extra)

    def debit(self, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        return self._write("debit", profile, reference, amount)

    def credit(self, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        return self._write("credit", profile, reference, amount)

    def lookup(self, reference: str) -> Receipt | None:
        call = self.lookup_call
        if call is None:
            raise NotImplementedError
        status, answer, _ = self._call(call, {"reference": reference}, idempotent=True)
        if matches(call["not_found"], status, answer):
            return None
        if not 200 <= status < 300:
            raise UpstreamError(f"rest ledger: status lookup answered HTTP {status}")
        if call["state"]:
            state = str(dig(answer, call["state"]) or "").strip().lower()
            if state in {v.lower() for v in call["not_applied"]}:
                return None
            if state not in {v.lower() for v in call["applied"]}:
                raise OutcomeUnknown(f"rest ledger: {reference} is {state or 'in no state'} yet")
        member = dig(answer, call["member"]) if call.get("member") else None
        return Receipt(
            reference,
            as_decimal(dig(answer, call["amount"])),  # None when the answer leaves it out
            member=None if member is None else str(member),
            kind=_kind(call, dig(answer, call["kind"])) if call.get("kind") else None,
        )

    def member_of(self, profile: Profile) -> str:
        return str(getattr(profile, self.member))

    def check(self) -> None:
        """Up when the balance endpoint answers for a member nobody has, short of a 5xx."""
        probe = Profile("points-gateway-health-check", "health@example.invalid", "", "")
        status, _, _ = self._call(self.calls["balance"], self._values(probe), idempotent=True)
        if status >= 500:
            raise UpstreamError(f"rest ledger: HTTP {status}")

    def close(self) -> None:
        self.client.close()

    # -- internals ---------------------------------------------------------------------------
    def _values(
        self, profile: Profile, reference: str = "", amount: Decimal = Decimal(0), kind: str = ""
    ) -> dict[str, str]:
        text = format(amount.normalize(), "f") if amount else "0"
        return {
            "member": str(getattr(profile, self.member)),
            "reference": reference,
            # The order itself, as the gateway passed it: never recovered from the text.
            "order_id": getattr(reference, "order_id", reference),
            "amount": text,
            "amount_text": text,
            "kind": kind,
        }

    def _call(
        self, call: dict[str, Any], values: dict[str, str], idempotent: bool, body: Any = None
    ) -> tuple[int, Any, requests.Response]:
        try:
            url = self.base_url + fill_path(call["path"], values)
        except UnsafePath as exc:  # refused before anything is sent
            raise LedgerRefused(f"rest ledger: {exc}") from None
        headers: dict[str, str] = {}
        data = None
        if body is not None and call["method"] != "GET":
            data = render_body(body, values).encode()
            headers["Content-Type"] = "application/json"
        if not idempotent and self.reference_header:
            headers[self.reference_header] = values["reference"]
        response = self.client.request(
            call["method"], url, idempotent=idempotent, data=data, headers=headers
        )
        if response.status_code in (401, 403):
            raise UpstreamAuthFailed(
                f"rest ledger: credentials refused (HTTP {response.status_code})"
            )
        return response.status_code, json_of(response), response

    def _write(self, kind: str, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        call = self.calls[kind]
        values = self._values(profile, reference, amount, kind)
        status, answer, response = self._call(call, values, idempotent=False, body=call["body"])
        ledger_id = str(dig(answer, call["ledger_id"]) or "") if call["ledger_id"] else ""
        if matches(self.rules["duplicate"], status, answer):
            # Known to the ledger: the gateway looks it up to see whether it is this write.
            return Receipt(reference, None, ledger_id, replayed=True)
        if kind == "debit" and matches(self.rules["insufficient"], status, answer):
            raise InsufficientBalance("rest ledger: not enough points")
        if matches(self.rules["not_found"], status, answer):
            raise MemberUnknown(f"rest ledger: no account {values['member']!r}")
        if 200 <= status < 300:
            return Receipt(reference, amount, ledger_id)
        if 400 <= status < 500:  # the ledger read the request and said no
            raise LedgerRefused(
                f"rest ledger: {kind} refused (HTTP {status}): {short_text(response.text)}"
            )
        raise OutcomeUnknown(f"rest ledger: {kind} answered HTTP {status}")


def _kind(call: dict[str, Any], said: Any) -> str | None:
    """ "debit" or "credit" for the ledger's own word, or that word when it is neither."""
    if said is None:
        return None
    word = str(said).strip().lower()
    for kind in ("debit", "credit"):
        if word in {k.lower() for k in call[f"{kind}_kinds"]}:
            return kind
    return word
