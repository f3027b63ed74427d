"""The connector conformance kit: one pytest suite that every connector runs on its own fake.

Subclass a contract in a test module named `test_*.py`, in a class named `Test*`, and give it
fixtures (docs/writing-a-connector.md has a whole example of each):

- every contract: `connector`, the connector under test, talking to a fake of its system;
  `backend_down` (optional), a function that makes the fake fail every call from then on;
  `secrets` (optional), option values (passwords, keys) that must never reach a log record or
  an error message;
- ProfileSourceContract: `known`, one active employee in the fake, as a dict with
  `employee_id`, `email` and `mobile` (may be "");
- GrantsSourceContract: `granted_known`, (a Profile, the points the fake grants it);
- PointsLedgerContract (connectors/testing_ledger.py): `funded`, a fresh member of the fake
  ledger for each test, as (Profile, its points, at least 100); `faults` (optional: the kit's
  own for connectors on `requests`, see connectors/testing_faults.py).

The kit turns every logger to DEBUG for its tests, from before the connector is built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from decimal import Decimal

import pytest

from connectors.base import ConnectorError, GrantsSource, Profile, ProfileSource
from connectors.testing_common import (
    UNKNOWN_EMAIL,
    UNKNOWN_ID,
    ConnectorContract,
    Errors,
    assert_no_secret,
    attempt,
)
from connectors.testing_ledger import PointsLedgerContract

__all__ = [
    "UNKNOWN_EMAIL",
    "UNKNOWN_ID",
    "ConnectorContract",
    "GrantsSourceContract",
    "PointsLedgerContract",
    "ProfileSourceContract",
]


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

    def test_no_secret_reaches_a_log_record_or_an_error(
        self,
        connector: ProfileSource,
        known: dict[str, str],
        backend_down: Callable[[], None] | None,
        secrets: Iterable[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        errors: Errors = []
        connector.find("employee_id", known["employee_id"])
        connector.find("email", known["email"])
        connector.check()
        if backend_down is not None:
            backend_down()
            attempt(errors, "find, the system down", connector.find, "employee_id", UNKNOWN_ID)
            attempt(errors, "check, the system down", connector.check)
        assert_no_secret(caplog, secrets, errors)


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
