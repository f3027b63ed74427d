"""Every connector we ship runs the conformance kit (connectors.testing) on its own fake."""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

import pytest
import requests
import responses

from connectors.base import Profile
from connectors.csv_source import CsvConnector
from connectors.darwinbox import DarwinboxConnector
from connectors.testing import GrantsSourceContract, PointsLedgerContract, ProfileSourceContract
from connectors.testing_faults import Tally
from tests.conftest import EMPLOYEES, write_csv
from tests.fakes import darwinbox as fake_darwinbox
from tests.fakes.ledger import MemoryLedger

PAM = {"employee_id": "DB123", "email": "pam@example.com", "mobile": "9876543210"}


class TestCsvProfiles(ProfileSourceContract):
    @pytest.fixture
    def csv_file(self, tmp_path):
        return write_csv(tmp_path / "employees.csv", EMPLOYEES)

    @pytest.fixture
    def connector(self, csv_file):
        return CsvConnector(str(csv_file))

    @pytest.fixture
    def known(self):
        return PAM

    @pytest.fixture
    def backend_down(self, csv_file):
        return csv_file.unlink


class TestCsvGrants(GrantsSourceContract):
    @pytest.fixture
    def connector(self, tmp_path):
        return CsvConnector(str(write_csv(tmp_path / "employees.csv", EMPLOYEES)))

    @pytest.fixture
    def granted_known(self, connector):
        return connector.find("employee_id", "TTE032S99ERCL"), Decimal("1651.5")


class TestDarwinboxProfiles(ProfileSourceContract):
    @pytest.fixture
    def fake(self):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            yield fake_darwinbox.FakeDarwinbox(mock)

    @pytest.fixture
    def connector(self, fake):
        connector = DarwinboxConnector(**fake_darwinbox.options())
        yield connector
        connector.close()

    @pytest.fixture
    def known(self):
        return PAM

    @pytest.fixture
    def backend_down(self, fake):
        return lambda: fake.fail_next(*[requests.ConnectionError("reset by peer")] * 100)

    @pytest.fixture
    def secrets(self):
        return fake_darwinbox.SECRETS


class MemoryFaults:
    """The kit's faults, made by the in-memory double's own fault hook: how a connector that
    does not talk HTTP through `requests` gives the kit its faults."""

    kinds = frozenset({"refused", "unavailable", "applied_then_5xx", "applied_then_timeout"})

    def __init__(self, ledger: MemoryLedger) -> None:
        self.armed, self.tally = None, Tally()
        ledger.fault = self.fate

    def fate(self, kind: str, reference: str) -> str | None:
        if self.armed is None:
            return None
        armed, self.armed = self.armed, None
        self.tally.hit = True
        fate = {"refused": "down", "unavailable": "lost"}.get(armed, "late")
        self.tally.sent += fate == "late"
        return fate

    @contextmanager
    def during(self, kind: str):
        self.armed, self.tally = kind, Tally()
        try:
            yield self.tally
        finally:
            self.armed = None


class TestMemoryLedger(PointsLedgerContract):
    """The kit's ledger checks on the in-memory double the service tests use."""

    @pytest.fixture
    def connector(self):
        return MemoryLedger({"DB123": Decimal("250.75")})

    @pytest.fixture
    def faults(self, connector):
        return MemoryFaults(connector)

    @pytest.fixture
    def funded(self, connector):
        pam = Profile(employee_id="DB123", email="pam@example.com", first_name="", last_name="")
        return pam, Decimal("250.75")

    @pytest.fixture
    def backend_down(self, connector):
        return lambda: setattr(connector, "down", True)

    @pytest.mark.skip(reason="a test double, not an installed connector")
    def test_is_found_by_its_entry_point(self, connector):
        pass
