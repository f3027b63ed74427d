"""Orphans: debits the ledger applied although Xoxoday was answered a failure, never delivered again.

The ledger is the in-memory double with a "late" fault (it applies the debit, the answer is
lost), the request waits no time for it to settle, so Xoxoday hears 503 outcome_unknown; the
worker then finds the debit applied. The journal is real (SQLite, and PostgreSQL when set).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from gateway.errors import OrderRefunded, OutcomeNotKnown
from gateway.service.worker import Worker
from tests.fakes.ledger import MemoryLedger
from tests.test_cli import run
from tests.test_ledger_service import FAST, service_for

NOW = replace(FAST, wait_seconds=0, orphan_grace_seconds=0)
LATER = replace(NOW, orphan_grace_seconds=3600)


@pytest.fixture
def late_once():
    """Each debit's first write is applied and its answer lost; the rest go through."""
    seen: set[str] = set()

    def fate(kind, reference):
        if kind != "debit" or reference in seen:
            return None
        seen.add(reference)
        return "late"

    return fate


@pytest.fixture
def ledger(late_once):
    return MemoryLedger({"DB123": Decimal(1000)}, fault=late_once)


def unknown_then_applied(service, journal, order="X1", amount=100):
    """The debit answered 503, then settled as applied by the worker."""
    with pytest.raises(OutcomeNotKnown):
        service.redeem("DB123", order, Decimal(amount))
    debit = journal.order("debit", order)
    assert (debit.state, debit.answered) == ("unknown", "outcome_unknown")
    Worker(service, threads=1).step(debit, everything=True)
    debit = journal.order("debit", order)
    assert debit.state == "applied" and debit.answered == "outcome_unknown"
    return debit


def test_an_orphan_is_refunded_once_through_the_ledger(journal, ledger, tmp_path):
    service = service_for(journal, ledger, tmp_path, NOW)
    unknown_then_applied(service, journal)
    assert ledger.accounts["DB123"] == Decimal(900)  # the points are gone; Xoxoday saw a failure
    worker = Worker(service, threads=1)
    worker.run_once()
    assert ledger.accounts["DB123"] == Decimal(1000)  # given back
    debit = journal.order("debit", "X1")
    assert debit.orphan == "refunded" and "orphan, refunded" in debit.detail
    (refund,) = [op for op in journal.operations() if op.kind == "refund"]
    assert (refund.state, refund.amount, refund.answer["orphan"]) == ("applied", 100_0000, True)
    worker.run_once()
    worker.run_once(everything=True)
    assert len([op for op in journal.operations() if op.kind == "refund"]) == 1
    assert ledger.total("credit") == Decimal(100)


def test_a_redelivery_after_the_orphan_refund_is_never_answered_paid(journal, ledger, tmp_path):
    service = service_for(journal, ledger, tmp_path, NOW)
    unknown_then_applied(service, journal)
    Worker(service, threads=1).run_once()
    with pytest.raises(OrderRefunded):
        service.redeem("DB123", "X1", Decimal(100))
    assert ledger.accounts["DB123"] == Decimal(1000)  # not debited again, not answered paid
    answers = [a for _, a, _ in journal.deliveries_of(journal.order("debit", "X1").id)]
    assert answers == ["outcome_unknown", "order_refunded"]


def test_a_redelivery_within_the_grace_period_is_no_orphan(journal, ledger, tmp_path):
    service = service_for(journal, ledger, tmp_path, LATER)
    unknown_then_applied(service, journal)
    assert [o.orphan for o in journal.orphans()] == [None]  # waiting out its grace period
    assert service.redeem("DB123", "X1", Decimal(100)).replayed  # Xoxoday retried: paid
    assert journal.orphans() == []
    service.policy = NOW
    assert service.settle_orphans() == []
    assert ledger.accounts["DB123"] == Decimal(900)


def test_the_orphan_mark_and_a_success_answer_exclude_each_other(journal, ledger, tmp_path):
    service = service_for(journal, ledger, tmp_path, NOW)
    debit = unknown_then_applied(service, journal)
    assert journal.answered(debit, "ok")  # a delivery answered paid first...
    assert service.settle_orphans() == []  # ...so it is no orphan
    other = unknown_then_applied(service, journal, "X2")
    assert len(service.settle_orphans()) == 1  # the mark first...
    assert not journal.answered(other, "ok")  # ...so no success may be answered after it


def test_the_report_policy_lists_and_counts_without_refunding(journal, ledger, tmp_path):
    service = service_for(journal, ledger, tmp_path, replace(NOW, orphan_policy="report"))
    unknown_then_applied(service, journal)
    Worker(service, threads=1).run_once()
    (orphan,) = journal.orphans()
    assert orphan.orphan == "reported" and ledger.accounts["DB123"] == Decimal(900)
    assert service.redeem("DB123", "X1", Decimal(100)).replayed  # points were taken: paid
    assert journal.orphans() == []


def test_journal_orphans_lists_them(journal, ledger, tmp_path):
    from tests.conftest import write_config

    service = service_for(journal, ledger, tmp_path, NOW)
    unknown_then_applied(service, journal)
    service.settle_orphans()
    config = write_config(tmp_path, journal.url)
    out = run("journal", "orphans", "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert "X1" in out.stdout and "answered=outcome_unknown" in out.stdout
    assert "orphan=refunded" in out.stdout and "1 orphans" in out.stderr


def test_metrics_count_orphans(journal, ledger, tmp_path):
    from gateway.metrics import JournalCollector

    service = service_for(journal, ledger, tmp_path, NOW)
    unknown_then_applied(service, journal)
    service.settle_orphans()
    families = {f.name: f for f in JournalCollector(journal).collect()}
    samples = {
        s.labels["handling"]: s.value for s in families["points_gateway_journal_orphans"].samples
    }
    assert samples == {"refunded": 1, "reported": 0}
