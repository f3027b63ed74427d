"""The ledger kit: what a PointsLedger owes the gateway, checked on the connector's own fake.

Import it as `connectors.testing.PointsLedgerContract`. Fixtures: `connector`, `funded` (a
fresh member of the fake for each test: (Profile, its points, at least 100)), and optionally
`backend_down`, `secrets` and `faults` (connectors/testing_faults.py: by default the kit's own,
between `requests` and the system).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from decimal import Decimal

import pytest

from connectors.base import (
    MAX_DECIMALS,
    ConnectorError,
    InsufficientBalance,
    LedgerRefused,
    OutcomeUnknown,
    PointsLedger,
    Profile,
    Receipt,
)
from connectors.testing_common import (
    UNKNOWN_EMAIL,
    UNKNOWN_ID,
    ConnectorContract,
    available_of,
    fit,
    places,
)
from connectors.testing_faults import FaultChecks

#: Amounts a binary float cannot hold, by decimal places: int(float(a) * 10**places) is wrong
#: for each with 2 places or more (0.29 becomes 28 hundredths), and the largest test the range.
AMOUNTS = {
    0: ("7", "9999999"),
    1: ("0.3", "9999999.9"),
    2: ("0.29", "4.35", "9999999.99"),
    3: ("1.005", "999999.999"),
    4: ("0.0029", "999999.9999"),
}


class PointsLedgerContract(FaultChecks, ConnectorContract):
    """A ledger's invariants: exact decimals at its precision, nothing below zero, a refused
    write changes nothing, a repeated reference is applied once (idempotent ledgers), a write
    that may have arrived is never reported as either done or not sent, a reference the ledger
    holds for another write is never taken for ours, lookups tell what the ledger recorded,
    and no secret reaches a log record or an error."""

    @pytest.fixture
    def funded(self) -> tuple[Profile, Decimal]:
        raise NotImplementedError("the test class must define a `funded` fixture")

    available = staticmethod(available_of)  # kept: subclasses call self.available

    def test_declares_a_precision_the_gateway_has(self, connector: PointsLedger) -> None:
        decimals = connector.decimals
        assert decimals is None or (isinstance(decimals, int) and 0 <= decimals <= MAX_DECIMALS), (
            f"decimals = {decimals!r}: say None (any amount) or the places it keeps, 0 to 4"
        )

    def test_balances_are_exact_decimals(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        profile, points = funded
        available = available_of(connector, profile)
        assert isinstance(available, Decimal) and available.is_finite(), (
            f"the balance is {available!r}: read the ledger's number as a Decimal, from its text"
        )
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
        taken, given = fit(connector, "10.5"), fit(connector, "0.25")
        receipt = connector.debit(profile, "kit-debit-1", taken)
        assert isinstance(receipt, Receipt) and receipt.reference == "kit-debit-1"
        assert receipt.amount == taken and not receipt.replayed
        assert available_of(connector, profile) == points - taken
        connector.credit(profile, "kit-credit-1", given)
        assert available_of(connector, profile) == points - taken + given

    def test_amounts_a_float_cannot_hold_are_exact(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        """Each precision up to the ledger's, credited then debited: a float on the way (in
        the amount sent, or the balance read) is off by one unit at the last place."""
        profile, points = funded
        most = places(connector)
        for amount in [Decimal(a) for p in range(most + 1) for a in AMOUNTS[p]]:
            for kind, after in (("credit", points + amount), ("debit", points)):
                write = connector.credit if kind == "credit" else connector.debit
                receipt = write(profile, f"kit-exact-{kind}-{amount}", amount)
                assert receipt.amount == amount, f"{kind} of {amount}: receipt says {receipt}"
                now = available_of(connector, profile)
                assert now == after, (
                    f"after a {kind} of {amount} the balance is {now}, not {after}: the amount "
                    "went through a binary float (int(float(amount) * 100) makes 0.29 into 28 "
                    "hundredths), or was cut to fewer places than `decimals` says the ledger "
                    f"keeps ({connector.decimals}; None: 4). Convert with Decimal only: "
                    "int(amount.scaleb(2)), Decimal(text), format(amount, 'f')"
                )

    def test_a_debit_beyond_the_balance_is_refused_and_changes_nothing(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        profile, points = funded
        unit = Decimal(1).scaleb(-places(connector))
        with pytest.raises(InsufficientBalance):
            connector.debit(profile, "kit-overdraft-1", points + unit)
        assert available_of(connector, profile) == points
        connector.debit(profile, "kit-all-of-it", points)  # down to exactly zero is fine
        assert available_of(connector, profile) == 0

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
        assert available_of(connector, profile) == points - Decimal(7)

    def test_a_reference_it_holds_is_never_taken_for_another_write(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        """The gateway may send a reference the ledger holds for another write (an earlier
        release's order, another system's): a replay must say what the ledger recorded, so
        the gateway sees a conflict, never the amount just sent."""
        profile, points = funded
        held, sent = fit(connector, "7"), fit(connector, "9")
        connector.debit(profile, "kit-reused-1", held)
        try:
            again: Receipt | ConnectorError = connector.debit(profile, "kit-reused-1", sent)
        except ConnectorError as exc:
            again = exc
        now = available_of(connector, profile)
        if isinstance(again, Receipt) and not again.replayed and not connector.idempotent:
            pytest.skip("the ledger applies every write it is sent: it keeps no references")
        what = f"a debit of {sent} under kit-reused-1, where the ledger holds a debit of {held},"
        assert now == points - held, f"{what} left the balance at {now}, not {points - held}"
        if isinstance(again, ConnectorError):  # refused, or left to the lookup: both safe
            assert isinstance(again, LedgerRefused | OutcomeUnknown), f"{what} raised {again!r}"
            return
        assert again.replayed, f"{what} was answered as a new write applied: {again}"
        assert again.amount is None or abs(again.amount) == held, (
            f"{what} was answered as a replay whose amount is {again.amount}: a replayed "
            "receipt says the amount of the ledger's record (from its answer) or None, never "
            "the amount just sent, or the gateway takes another write for this one"
        )
        assert again.kind is None or again.kind.strip().lower() == "debit", again
        if connector.can_lookup:
            found = connector.lookup("kit-reused-1")
            assert found is not None and found.amount is not None, (
                f"{what} was answered as a replay; the gateway checks a replay with the lookup, "
                f"which says {found}: it must give the amount the ledger recorded"
            )
            assert abs(found.amount) == held, f"lookup says {found.amount}, not {held}"

    def test_lookup_reports_applied_writes_only(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        if not connector.can_lookup:
            pytest.skip("the ledger has no status lookup")
        profile, _ = funded
        connector.debit(profile, "kit-lookup-1", Decimal(3))
        found = connector.lookup("kit-lookup-1")
        assert found is not None and found.amount == Decimal(3), (
            f"lookup of an applied debit of 3: {found}"
        )
        with contextlib.suppress(InsufficientBalance):
            connector.debit(profile, "kit-lookup-refused", Decimal(10**9))
        assert connector.lookup("kit-lookup-refused") is None, "a refused write is not applied"
        assert connector.lookup("kit-never-sent") is None, "a write never sent is not applied"

    def test_lookup_says_what_the_ledger_recorded(
        self, connector: PointsLedger, funded: tuple[Profile, Decimal]
    ) -> None:
        """The gateway counts a write found under its reference as its own only if the record
        says the same amount, member and kind: what the lookup leaves unsaid, it cannot check.
        (A ledger that cannot tell the member or kind overrides this test with a skip.)"""
        if not connector.can_lookup:
            pytest.skip("the ledger has no status lookup")
        profile, _ = funded
        member = connector.member_of(profile)
        writes = [("debit", fit(connector, "3.5")), ("credit", fit(connector, "2.25"))]
        for kind, amount in writes:
            write = connector.debit if kind == "debit" else connector.credit
            write(profile, f"kit-record-{kind}", amount)
        for kind, amount in writes:
            found = connector.lookup(f"kit-record-{kind}")
            assert found is not None, f"lookup of an applied {kind}: None"
            said = f"lookup of a {kind} of {amount} for {member!r} says {found}"
            assert found.amount is not None and abs(found.amount) == amount, (
                f"{said}: fill Receipt.amount from the ledger's record"
            )
            assert found.member == member, (
                f"{said}: fill Receipt.member from the record, as member_of(profile) gives it"
            )
            assert (found.kind or "").strip().lower() == kind, (
                f"{said}: fill Receipt.kind ('debit' or 'credit') from the record"
            )

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
