"""The connector model: small abstract classes the gateway talks to.

A connector never sees Flask, the journal or the contract's field names. It receives plain
values, returns the normalized types below and raises the errors below.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal

from marshmallow import Schema, fields

IdentityField = Literal["employee_id", "email", "mobile"]
#: The most decimal places the gateway ever sends a connector (its journal keeps amounts in
#: ten-thousandths of a point; `[gateway] max_decimals` may allow fewer).
MAX_DECIMALS = 4
IDENTITY_FIELDS: tuple[IdentityField, ...] = ("employee_id", "email", "mobile")
#: Profile's text fields, which a provider's record fills through a name mapping.
PROFILE_FIELDS = (
    "employee_id",
    "email",
    "first_name",
    "last_name",
    "mobile",
    "designation",
    "department",
    "company",
)


class FilePath(fields.String):
    """An option naming a file: a relative path is resolved against the config file's folder."""


class Secret(fields.String):
    """An option that must never reach a log line (a password, an api key): it is redacted."""


class ConnectorError(Exception):
    """Base of everything a connector raises; `error_code` is what the gateway answers."""

    error_code = "upstream_error"


class UpstreamUnavailable(ConnectorError):
    """The system behind the connector cannot be reached or refused to serve."""

    error_code = "upstream_unavailable"


class UpstreamError(ConnectorError):
    """The system answered, but with an error or an answer we cannot read."""


class UpstreamAuthFailed(ConnectorError):
    """Our credentials for the system behind the connector were refused."""

    error_code = "upstream_auth_failed"


class OutcomeUnknown(ConnectorError):
    """A debit or credit may or may not have been applied: the request may have reached the
    system (a read timeout, a reset after sending, a 5xx). Never report it as either."""

    error_code = "outcome_unknown"


class LedgerRefused(ConnectorError):
    """The ledger answered that it did not apply a debit or credit."""

    error_code = "ledger_refused"


class InsufficientBalance(LedgerRefused):
    """The ledger refused a debit for want of points; `available` when it said how many."""

    error_code = "insufficient_points"

    def __init__(self, message: str, available: Decimal | None = None) -> None:
        super().__init__(message)
        self.available = available


class MemberUnknown(LedgerRefused):
    """The ledger has no account for the member."""

    error_code = "user_not_found"


class ConnectorConfigError(ConnectorError):
    """The connector's options are unusable (a missing file, a bad column mapping); `option`
    names the one at fault, when one is, so the operator is told its configuration key."""

    error_code = "connector_misconfigured"

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Profile:
    """One employee, normalized to what Xoxoday's profile answers need.

    `raw` keeps the provider's own record beside the normalized fields.
    """

    employee_id: str
    email: str
    first_name: str
    last_name: str
    mobile: str = ""
    designation: str = ""
    department: str = ""
    company: str = ""
    active: bool = True
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_record(
        cls, record: Mapping[str, Any], names: Mapping[str, str], active: bool = True
    ) -> Profile:
        """A profile from a provider's record; `names` maps our field names to the record's
        (a field it does not name, or the record lacks, is ""). The record is kept as `raw`."""

        def text(ours: str) -> str:
            value = record.get(names[ours]) if ours in names else None
            return "" if value is None else str(value).strip()

        return cls(**{f: text(f) for f in PROFILE_FIELDS}, active=active, raw=dict(record))


@dataclass(frozen=True)
class Balance:
    """A member's points as a ledger keeps them; `received` and `redeemed` when it says."""

    available: Decimal
    received: Decimal | None = None
    redeemed: Decimal | None = None


class Reference(str):
    """What a points ledger knows one write by: unique per operation, and never the same text
    for two operations, whatever their order ids hold.

    The text is `debit:<order>`, `credit:<order>` or `refund:<n>:<order>`. Read from the left,
    the kind ends at the first colon and a refund's number (digits) at the second, so the rest
    is the order id exactly: two different operations cannot share a text. `order_id` and
    `operation` travel beside the text; a connector takes them from here, never by parsing.
    An operation journaled by an earlier release keeps the text it was first sent with.
    """

    order_id: str
    operation: str

    def __new__(cls, text: str, operation: str = "", order_id: str | None = None) -> Reference:
        self = super().__new__(cls, text)
        self.operation = operation
        self.order_id = text if order_id is None else order_id
        return self

    @classmethod
    def of(cls, operation: str, order_id: str, n: int = 0, prefix: str = "") -> Reference:
        """The reference of a new operation: the `n`th refund of an order, or its debit or
        credit (a debit and a credit happen once per order). `prefix`, the installation's
        (`[ledger] reference_prefix`), goes before the text: one prefix for all of an
        installation's references keeps them unique among themselves."""
        if operation == "refund":
            return cls(f"{prefix}refund:{n}:{order_id}", operation, order_id)
        if operation in ("debit", "credit"):
            return cls(f"{prefix}{operation}:{order_id}", operation, order_id)
        raise ValueError(f"no reference for a {operation!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Reference, (str(self), self.operation, self.order_id))


@dataclass(frozen=True)
class Receipt:
    """A debit or credit the ledger applied. `replayed` when it had applied that reference
    before (an idempotent ledger answering a repeat); `ledger_id` is its own id, if it has one.

    From a status lookup, or a replay, it says what the ledger's own record holds, as far as
    the ledger tells: its `amount` (None: not said), the `member` it is for (as the ledger
    knows members, see PointsLedger.member_of) and its `kind` ("debit" or "credit", or the
    ledger's own word). The gateway counts a write as applied only when these match what it
    sent: a reference an earlier release (or another system) used for another write is a
    conflict for an operator, never a success."""

    reference: str
    amount: Decimal | None
    ledger_id: str = ""
    replayed: bool = False
    member: str | None = None
    kind: str | None = None


class Connector(ABC):
    """What every connector has: a name, its options' schema, a health check, close()."""

    #: marshmallow schema of the connector's `options` table; validated before __init__.
    options_schema: ClassVar[type[Schema]]
    #: True when it calls another system over the network: its profile lookups are cached.
    remote: ClassVar[bool] = False

    def check(self) -> None:  # noqa: B027 - optional hook, healthy by default
        """Raise a ConnectorError when the system behind the connector is not usable."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release pooled connections and file handles."""


class ProfileSource(Connector):
    """Finds one employee by employee id, email (case-insensitive) or mobile number."""

    @abstractmethod
    def find(self, by: IdentityField, value: str) -> Profile | None:
        """The employee whose `by` field equals `value`, or None when there is none."""


class GrantsSource(Connector):
    """Reports the total points granted to an employee.

    Redemptions and refunds against those grants are kept by the gateway's journal, so the
    source is only read: received = granted + journal credits.
    """

    @abstractmethod
    def granted(self, profile: Profile) -> Decimal | None:
        """Total points granted to the employee `profile` (found by the profile source), or
        None when the source does not know them. Most sources key on `profile.employee_id`."""


class PointsLedger(Connector):
    """Keeps members' points itself: balances are read from it, debits and credits sent to it.

    Every write carries the gateway's `reference`: a `Reference`, whose text is unique per
    operation and whose `order_id` is the order it is for (plain `str` from older callers).
    A write returns a Receipt only when applied; it raises LedgerRefused (or a subclass) when
    the ledger said no, UpstreamUnavailable only when the request certainly never arrived, and
    OutcomeUnknown whenever it may have: the gateway resolves that with `lookup`, or by sending
    the same reference again to an `idempotent` ledger, never by guessing.
    """

    #: True when the ledger applies one reference once however often it is sent.
    idempotent: ClassVar[bool] = False
    #: The decimal places the ledger keeps (2: hundredths), or None when it holds any amount
    #: the gateway sends (up to MAX_DECIMALS). The gateway refuses to start when
    #: `[gateway] max_decimals` would accept amounts the ledger cannot hold; the kit tries
    #: amounts at every precision up to it.
    decimals: ClassVar[int | None] = None

    @abstractmethod
    def balance(self, profile: Profile) -> Balance | None:
        """The member's points, or None when the ledger has no account for them."""

    @abstractmethod
    def debit(self, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        """Take `amount` (> 0) from the member, never below zero."""

    @abstractmethod
    def credit(self, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        """Give `amount` (> 0) to the member (a refund or a grant)."""

    def lookup(self, reference: str) -> Receipt | None:
        """The write sent with `reference` if the ledger applied it, None if it did not;
        OutcomeUnknown when it cannot tell yet. Ledgers without a status lookup leave this.
        Fill the receipt's amount, member and kind from the ledger's record where it has them:
        they are checked against what the gateway meant."""
        raise NotImplementedError

    def member_of(self, profile: Profile) -> str:
        """How this ledger knows the member `profile` (what a receipt's `member` holds)."""
        return profile.employee_id

    @property
    def can_lookup(self) -> bool:
        return type(self).lookup is not PointsLedger.lookup
