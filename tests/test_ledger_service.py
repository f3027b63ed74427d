"""The points operations over a points ledger: states, ambiguous debits, owed refunds, worker.

The ledger is the in-memory double (tests/fakes/ledger.py) with faults chosen per write; the
journal is real (SQLite here, and PostgreSQL when configured).
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from connectors.csv_source import CsvConnector
from gateway.errors import InsufficientPoints, LedgerAnswer, OrderConflict, OutcomeNotKnown
from gateway.service.ledger import LedgerPointsService
from gateway.service.ledger_ops import LedgerPolicy
from gateway.service.worker import Worker
from tests.conftest import EMPLOYEES, write_csv
from tests.fakes.ledger import MemoryLedger

FAST = LedgerPolicy(wait_seconds=0.3, settle_seconds=30, retry_base_seconds=0.01)


class Faults:
    """A fault plan: each write's fate in turn (then None: apply), like a transport handler."""

    def __init__(self) -> None:
        self.plan: dict[str, list[str | None]] = {}

    def next(self, kind: str, fates: list[str | None]) -> None:
        self.plan.setdefault(kind, []).extend(fates)

    def __call__(self, kind: str, reference: str) -> str | None:
        fates = self.plan.get(kind) or [None]
        return fates.pop(0) if self.plan.get(kind) else fates[0]


@pytest.fixture
def faults():
    return Faults()


@pytest.fixture
def ledger(faults):
    return MemoryLedger({"DB123": Decimal(1000), "OLD1": Decimal(5)}, fault=faults)


def service_for(journal, ledger, tmp_path, policy=FAST):
    profiles = CsvConnector(str(write_csv(tmp_path / "employees.csv", EMPLOYEES)))
    return LedgerPointsService(profiles, ledger, journal, policy=policy)


@pytest.fixture
def service(journal, ledger, tmp_path):
    return service_for(journal, ledger, tmp_path)


def test_a_redemption_is_applied_by_the_ledger_and_journaled(service, ledger, journal):
    result = service.redeem("DB123", "O1", Decimal("250.5"))
    assert not result.replayed and ledger.accounts["DB123"] == Decimal("749.5")
    op = journal.order("debit", "O1")
    assert (op.state, op.reference, op.attempts) == ("applied", "debit:O1", 1)
    balance = service.balance("DB123")
    assert (balance.available, balance.redeemed, balance.received) == (
        Decimal("749.5"),
        Decimal("250.5"),
        Decimal(1000),
    )


def test_a_repeated_order_is_answered_from_the_journal(service, ledger):
    service.redeem("DB123", "O1", Decimal(100))
    again = service.redeem("DB123", "O1", Decimal(100))
    assert again.replayed and ledger.accounts["DB123"] == Decimal(900)
    assert ledger.total("debit") == Decimal(100)
    with pytest.raises(OrderConflict):
        service.redeem("DB123", "O1", Decimal(101))


def test_the_ledger_refusing_rejects_and_a_new_delivery_tries_again(service, ledger, journal):
    with pytest.raises(InsufficientPoints, match="1000 points available"):
        service.redeem("DB123", "BIG", Decimal(1500))
    assert journal.order("debit", "BIG").state == "rejected"
    assert ledger.accounts["DB123"] == Decimal(1000)
    ledger.accounts["DB123"] = Decimal(2000)  # HR granted more meanwhile
    assert not service.redeem("DB123", "BIG", Decimal(1500)).replayed
    assert journal.order("debit", "BIG").attempts == 2


def test_a_debit_that_never_left_is_rejected_and_may_be_sent_again(service, ledger, faults):
    faults.next("debit", ["down"])
    with pytest.raises(LedgerAnswer) as refused:
        service.redeem("DB123", "O1", Decimal(10))
    assert refused.value.error_code == "upstream_unavailable"
    assert ledger.total("debit") == 0
    service.redeem("DB123", "O1", Decimal(10))
    assert ledger.total("debit") == Decimal(10)


def test_an_applied_debit_whose_answer_was_lost_is_found_by_the_lookup(
    journal, ledger, faults, tmp_path
):
    from dataclasses import replace

    # Room for the request's poll (0.25 s) and a first connection on a slow machine: what is
    # tested is that the lookup settles it, not how fast.
    service = service_for(journal, ledger, tmp_path, replace(FAST, wait_seconds=3))
    faults.next("debit", ["late"])
    result = service.redeem("DB123", "O1", Decimal(10))
    assert not result.replayed and ledger.total("debit") == Decimal(10)


def test_an_unsettled_debit_answers_outcome_unknown_and_never_applies_twice(
    journal, ledger, faults, tmp_path
):
    ledger.idempotent = False  # only the status lookup may settle it
    service = service_for(journal, ledger, tmp_path)
    faults.next("debit", ["lost"])
    with pytest.raises(OutcomeNotKnown):
        service.redeem("DB123", "O1", Decimal(10))
    assert journal.order("debit", "O1").state == "unknown"
    with pytest.raises(OutcomeNotKnown):  # Xoxoday retries: it joins, it does not resend
        service.redeem("DB123", "O1", Decimal(10))
    assert ledger.total("debit") == 0
    # Once the settle time has passed, the lookup's "not there" is believed: the delivery
    # that learns it sends the debit again, once, and answers what the ledger says.
    patient = service_for(
        journal, ledger, tmp_path, LedgerPolicy(wait_seconds=0.3, settle_seconds=0)
    )
    assert not patient.redeem("DB123", "O1", Decimal(10)).replayed
    assert patient.redeem("DB123", "O1", Decimal(10)).replayed
    assert ledger.total("debit") == Decimal(10)


def test_copies_arriving_together_debit_once_and_agree(service, ledger, faults):
    slow = threading.Event()

    def hold(kind, reference):
        slow.wait(0.2)  # keep the first copy in flight while the others arrive
        return None

    ledger.fault = hold
    answers, errors = [], []

    def deliver():
        try:
            answers.append(service.redeem("DB123", "SAME", Decimal(10)).order_id)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and answers == ["SAME"] * 8
    assert ledger.total("debit") == Decimal(10)


def test_a_refund_is_accepted_while_the_ledger_is_down_and_the_worker_applies_it(
    service, ledger, faults, journal
):
    service.redeem("DB123", "O1", Decimal(300))
    faults.next("credit", ["down", "down"])
    refund = service.refund("DB123", "O1", Decimal(300))
    assert refund.pending and ledger.total("credit") == 0
    assert [op.state for op in journal.unfinished()] == ["received"]
    again = service.refund("DB123", "O1", Decimal(300))  # a repeat answers the same, no new row
    assert again.replayed and again.pending and len(journal.unfinished()) == 1
    worker = Worker(service)
    for _ in range(20):
        worker.run_once(everything=True)
        if not journal.unfinished():
            break
        time.sleep(0.02)
    assert journal.unfinished() == [] and ledger.total("credit") == Decimal(300)
    assert service.balance("DB123").redeemed == Decimal(0)


def test_refunds_count_what_is_owed_against_the_order(service, ledger, faults):
    service.redeem("DB123", "O1", Decimal(300))
    faults.next("credit", ["down"])
    assert service.refund("DB123", "O1", Decimal(200)).pending
    with pytest.raises(Exception, match="already refunded"):
        service.refund("DB123", "O1", Decimal(150))


def test_a_credit_goes_to_the_ledger_once(service, ledger):
    result = service.credit("DB123", "GIFT1", Decimal(50))
    assert not result.pending and ledger.accounts["DB123"] == Decimal(1050)
    assert service.credit("DB123", "GIFT1", Decimal(50)).replayed
    assert ledger.total("credit") == Decimal(50)


def test_the_worker_settles_a_debit_left_by_a_killed_process(service, ledger, journal):
    # A process recorded and sent the debit, the ledger applied it, and the process died.
    op, _ = journal.open_order("debit", "DB123", "DB123", "K1", 10_0000, "K1")
    claimed = journal.claim(op.id, ("received",), "sent", lease_seconds=0.01)
    ledger.debit(service.profile("DB123"), "K1", Decimal(10))
    assert claimed.state == "sent"
    time.sleep(0.02)
    (moved,) = Worker(service).run_once()
    assert moved.state == "applied" and ledger.total("debit") == Decimal(10)
    assert service.redeem("DB123", "K1", Decimal(10)).replayed  # Xoxoday's retry: success
    assert ledger.total("debit") == Decimal(10)
    assert service.balance("DB123").redeemed == Decimal(10)


def test_an_operator_marks_an_operation_by_hand(service, ledger, journal, faults):
    ledger.idempotent = False
    faults.next("debit", ["lost"])
    with pytest.raises(OutcomeNotKnown):
        service.redeem("DB123", "O1", Decimal(10))
    op = journal.order("debit", "O1")
    assert journal.mark(op, "rejected", "checked the ledger's report: not there")
    op = journal.order("debit", "O1")
    assert (op.state, op.detail) == ("rejected", "marked: checked the ledger's report: not there")
    assert not journal.mark(op, "applied", "twice")  # a final state stays final


class CountingCsv(CsvConnector):
    """The real CSV connector, counting its lookups (each would be a call to a remote HR system)."""

    lookups = 0

    def find(self, by, value):
        self.lookups += 1
        return super().find(by, value)


def test_a_refund_and_a_credit_look_the_member_up_once(journal, ledger, tmp_path):
    """The profile found to record the operation is the one sent to the ledger: with a remote
    HR system and no cache, a second lookup would be a second call, and one more way to fail."""
    profiles = CountingCsv(str(write_csv(tmp_path / "employees.csv", EMPLOYEES)))
    service = LedgerPointsService(profiles, ledger, journal, policy=FAST)
    service.redeem("DB123", "O1", Decimal(300))
    profiles.lookups = 0
    refund = service.refund("DB123", "O1", Decimal(100))
    credit = service.credit("DB123", "C1", Decimal(50))
    assert not refund.pending and not credit.pending
    assert ledger.total("credit") == 150
    assert profiles.lookups == 2


@pytest.mark.parametrize(("funds", "outcome"), [(50, "refused"), (500, "paid")])
def test_a_lost_debit_a_redelivery_finds_unapplied_is_sent_again(journal, tmp_path, funds, outcome):
    """The first write is lost (nothing applied, nobody can tell); by the time Xoxoday
    delivers the order again the lookup can say "never applied". That delivery sends it
    again and answers what the ledger says, never 503 "the ledger did not apply it"."""
    from dataclasses import replace

    fates = ["lost"]
    ledger = MemoryLedger(
        {"DB123": Decimal(funds)}, fault=lambda k, r: fates.pop(0) if fates else None
    )
    ledger.idempotent = False  # the lookup alone settles it (an idempotent ledger is sent it
    # again at once: tests/test_ledger_settling.py)
    # The first delivery polls once after 0.25 s and must still find the debit unsettled:
    # settle_seconds leaves room for a slow journal beyond that poll.
    policy = replace(FAST, wait_seconds=0.1, settle_seconds=0.8)
    service = service_for(journal, ledger, tmp_path, policy)
    with pytest.raises(OutcomeNotKnown):
        service.redeem("DB123", "Q1", Decimal(100))
    time.sleep(0.9)
    if outcome == "refused":
        with pytest.raises(InsufficientPoints):
            service.redeem("DB123", "Q1", Decimal(100))
        assert ledger.accounts["DB123"] == Decimal(50)
    else:
        assert not service.redeem("DB123", "Q1", Decimal(100)).replayed
        assert ledger.accounts["DB123"] == Decimal(400)  # debited once
