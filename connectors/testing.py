"""The connector conformance kit: one pytest suite that every connector runs on its own fake.

Subclass a contract in a test module named `test_*.py`, in a class named `Test*`, and give it
these fixtures (see the README's example connector):

- `connector`: the connector under test, talking to a fake of its system;
- `known`: one active employee in the fake, as a dict with `employee_id`, `email` and
  `mobile` (may be "");
- `backend_down` (optional): a function that makes the fake fail every call from then on;
- `secrets` (optional): option values (passwords, keys) that must never reach a log record.

GrantsSourceContract also needs `granted_known`: (a Profile, the points the fake grants it);
PointsLedgerContract needs `funded` (see there).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import Schema

from connectors.base import (
    Balance,
    Connector,
    ConnectorError,
    GrantsSource,
    InsufficientBalance,
    LedgerRefused,
    PointsLedger,
    Profile,
    ProfileSource,
    Receipt,
)
from connectors.registry import available

UNKNOWN_ID = "no-such-employee-000"
UNKNOWN_EMAIL = "nobody.at.all@example.invalid"


class ConnectorContract:
    """What every connector owes, whatever its role."""

    @pytest.fixture
    def connector(self) -> Connector:
        raise NotImplementedError("the test class must define a `connector` fixture")

    @pytest.fixture
    def backend_down(self) -> Callable[[], None] | None:
        return None  # a connector without a backend to break skips the failure checks

    @pytest.fixture
    def secrets(self) -> Iterable[str]:
        return ()

    def test_options_are_a_marshmallow_schema(self, connector: Connector) -> None:
        assert issubclass(type(connector).options_schema, Schema)

    def test_is_found_by_its_entry_point(self, connector: Connector) -> None:
        assert type(connector) in available().values(), (
            f"{type(connector).__name__} is not registered in the points_gateway.connectors "
            "entry-point group (pyproject.toml), so a configuration cannot name it"
        )

    def test_check_passes_when_the_system_is_up(self, connector: Connector) -> None:
        connector.check()

    def test_check_fails_with_a_connector_error_when_down(
        self, connector: Connector, backend_down: Callable[[], None] | None
    ) -> None:
        if backend_down is None:
            pytest.skip("no backend_down fixture")
        backend_down()
        with pytest.raises(ConnectorError):
            connector.check()


class ProfileSourceContract(ConnectorContract):
    @pytest.fixture
    def known(self) -> dict[str, str]:
        raise NotImplementedError("the test class must define a `known` fixture")

    def test_finds_by_employee_id(self, connector: ProfileSource, known: dict[str, str]) -> None:
        profile = connector.find("employee_id", known["employee_id"])
        assert isinstance(profile, Profile)
        assert profile.employee_id == known["employee_id"]
        assert profile.email.lower() == known["email"].lower()
        assert profile.active
        for name in ("first_name", "last_name", "mobile", "designation", "department"):
            assert isinstance(getattr(profile, name), str), name
        assert profile.raw, "keep the provider's own record in Profile.raw"

    def test_an_unknown_employee_is_none(self, connector: ProfileSource) -> None:
        assert connector.find("employee_id", UNKNOWN_ID) is None
        assert connector.find("email", UNKNOWN_EMAIL) is None

    def test_email_matches_in_any_case(
        self, connector: ProfileSource, known: dict[str, str]
    ) -> None:
        for variant in (known["email"].upper(), known["email"].lower()):
            profile = connector.find("email", variant)
            assert profile is not None, variant
            assert profile.employee_id == known["employee_id"]

    def test_finds_by_mobile(self, connector: ProfileSource, known: dict[str, str]) -> None:
        if not known.get("mobile"):
            pytest.skip("the known employee has no mobile number")
        profile = connector.find("mobile", known["mobile"])
        assert profile is not None and profile.employee_id == known["employee_id"]

    def test_a_failing_system_raises_connector_errors_only(
        self,
        connector: ProfileSource,
        known: dict[str, str],
        backend_down: Callable[[], None] | None,
    ) -> None:
        """The gateway maps ConnectorError to a JSON answer; anything else would be a 500."""
        if backend_down is None:
            pytest.skip("no backend_down fixture")
        backend_down()
        with contextlib.suppress(ConnectorError):  # serving last good data is allowed too
            connector.find("employee_id", known["employee_id"] + "-cold")

    def test_no_secret_reaches_a_log_record(
        self,
        connector: ProfileSource,
        known: dict[str, str],
        backend_down: Callable[[], None] | None,
        secrets: Iterable[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        with caplog.at_level(logging.DEBUG):
            connector.find("employee_id", known["employee_id"])
            connector.find("email", known["email"])
            connector.check()
            if backend_down is not None:
                backend_down()
                _swallow(connector.find, "employee_id", UNKNOWN_ID)
                _swallow(connector.check)
        _assert_no_secret(caplog, secrets)


class GrantsSourceContract(ConnectorContract):
    @pytest.fixture
    def granted_known(self) -> tuple[Profile, Decimal]:
        raise NotImplementedError("the test class must define a `granted_known` fixture")

    def test_grants_are_exact_decimals(
        self, connector: GrantsSource, granted_known: tuple[Profile, Decimal]
    ) -> None:
        profile, points = granted_known
        granted = connector.granted(profile)
        assert isinstance(granted, Decimal) and granted == points
        assert granted.is_finite() and granted >= 0

    def test_an_unknown_employee_has_no_grants(self, connector: GrantsSource) -> None:
        nobody = Profile(employee_id=UNKNOWN_ID, email=UNKNOWN_EMAIL, first_name="", last_name="")
        assert connector.granted(nobody) in (None, Decimal(0))


def _assert_no_secret(caplog: pytest.LogCaptureFixture, secrets: Iterable[str]) -> None:
    records = [*caplog.get_records("setup"), *caplog.records]  # building it logs too
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in records)
    for secret in secrets:
        assert secret not in logged


def _swallow(fn: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(ConnectorError):
        fn(*args)


class PointsLedgerContract(ConnectorContract):
    """A ledger's invariants: exact decimals, nothing below zero, a refused write changes
    nothing, a repeated reference is applied once (idempotent ledgers), lookups tell the truth.

    Needs `funded`: a fresh member of the fake ledger for each test, as (Profile, its points,
    at least 100).
    """

    @pytest.fixture
    def funded(self) -> tuple[Profile, Decimal]:
        raise NotImplementedError("the test class must define a `funded` fixture")

    @staticmethod
    def available(connector: PointsLedger, profile: Profile) -> Decimal:
        balance = connector.balance(profile)
        assert isinstance(balance, Balance), "a funded member has a balance"
        return balance.available

    def test_balances_are_exact_decimals(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        profile, points = funded
        available = self.available(connector, profile)
        assert isinstance(available, Decimal) and available.is_finite()
        assert available == points

    def test_an_unknown_member_has_no_balance_and_cannot_be_debited(
        self, connector: PointsLedger
    ) -> None:
        nobody = Profile(employee_id=UNKNOWN_ID, email=UNKNOWN_EMAIL, first_name="", last_name="")
        assert connector.balance(nobody) is None
        with pytest.raises(LedgerRefused):
            connector.debit(nobody, "kit-unknown-1", Decimal(1))

    def test_debit_and_credit_move_exactly_the_amount(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        profile, points = funded
        receipt = connector.debit(profile, "kit-debit-1", Decimal("10.5"))
        assert isinstance(receipt, Receipt) and receipt.reference == "kit-debit-1"
        assert receipt.amount == Decimal("10.5") and not receipt.replayed
        assert self.available(connector, profile) == points - Decimal("10.5")
        connector.credit(profile, "kit-credit-1", Decimal("0.25"))
        assert self.available(connector, profile) == points - Decimal("10.25")

    def test_a_debit_beyond_the_balance_is_refused_and_changes_nothing(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        profile, points = funded
        with pytest.raises(InsufficientBalance):
            connector.debit(profile, "kit-overdraft-1", points + Decimal("0.01"))
        assert self.available(connector, profile) == points
        connector.debit(profile, "kit-all-of-it", points)  # down to exactly zero is fine
        assert self.available(connector, profile) == 0

    def test_a_repeated_reference_is_applied_once(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        if not connector.idempotent:
            pytest.skip("the ledger does not declare itself idempotent")
        profile, points = funded
        connector.debit(profile, "kit-repeat-1", Decimal(7))
        again = connector.debit(profile, "kit-repeat-1", Decimal(7))
        # A replay may leave the amount unsaid: the gateway then asks the status lookup.
        assert again.replayed and again.amount in (None, Decimal(7))
        assert self.available(connector, profile) == points - Decimal(7)

    def test_lookup_reports_applied_writes_only(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        if not connector.can_lookup:
            pytest.skip("the ledger has no status lookup")
        profile, _ = funded
        connector.debit(profile, "kit-lookup-1", Decimal(3))
        found = connector.lookup("kit-lookup-1")
        assert found is not None and found.amount == Decimal(3)
        with contextlib.suppress(InsufficientBalance):
            connector.debit(profile, "kit-lookup-refused", Decimal(10**9))
        assert connector.lookup("kit-lookup-refused") is None
        assert connector.lookup("kit-never-sent") is None

    def test_a_failing_system_never_reports_a_write_applied(
        self,
        connector: PointsLedger,
        funded: tuple[Profile, Decimal],
        backend_down: Callable[[], None] | None,
    ) -> None:
        if backend_down is None:
            pytest.skip("no backend_down fixture")
        profile, _ = funded
        backend_down()
        with pytest.raises(ConnectorError):
            connector.debit(profile, "kit-down-1", Decimal(1))
        with pytest.raises(ConnectorError):
            connector.credit(profile, "kit-down-2", Decimal(1))

    def test_no_secret_reaches_a_log_record(
        self,
        connector: PointsLedger,
        funded: tuple[Profile, Decimal],
        backend_down: Callable[[], None] | None,
        secrets: Iterable[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        profile, _ = funded
        with caplog.at_level(logging.DEBUG):
            connector.balance(profile)
            connector.debit(profile, "kit-secret-1", Decimal(1))
            connector.check()
            if backend_down is not None:
                backend_down()
                _swallow(connector.debit, profile, "kit-secret-2", Decimal(1))
                _swallow(connector.check)
        _assert_no_secret(caplog, secrets)
