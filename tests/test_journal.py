"""The journal on a real SQLite file and a real PostgreSQL: locking, uniqueness, durability."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from gateway.config import resolve_database_url
from gateway.journal import Journal, OrderRecordedConcurrently, Totals


@pytest.fixture
def journal(database_url: str):
    j = Journal(resolve_database_url(database_url, Path.cwd()))
    j.create_schema()
    yield j
    j.dispose()


def run_holding_the_lock(
    journal: Journal, first_member: str, first_order: str, second, record_first: bool
):
    """Thread A holds `first_member`'s lock for half a second; B runs `second` meanwhile.

    With `record_first`, A has already written its (uncommitted) operation when B starts.
    Returns the order in which things happened.
    """
    entered, events = threading.Event(), []

    def a():
        with journal.locked_account(first_member) as acct:
            if record_first:
                acct.record("debit", first_member, first_order, 10, {})
            entered.set()
            time.sleep(0.5)  # B runs now: it must wait for this transaction
            if not record_first:
                acct.record("debit", first_member, first_order, 10, {})
            events.append("a committed")

    def b():
        entered.wait(5)
        events.append(second())

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return events


@pytest.mark.parametrize("existing", [True, False], ids=["existing-account", "new-account"])
def test_a_second_writer_waits_for_the_first(journal, existing):
    if existing:
        with journal.locked_account("M"):
            pass

    def second():
        with journal.locked_account("M") as acct:
            return f"b saw debited={acct.totals.debited}"

    events = run_holding_the_lock(journal, "M", "A-1", second, record_first=False)
    assert events == ["a committed", "b saw debited=10"]


def test_the_same_order_for_two_members_is_recorded_once(journal):
    def second():
        try:
            with journal.locked_account("OTHER") as acct:
                acct.record("debit", "OTHER", "SHARED", 10, {})
            return "b recorded"
        except OrderRecordedConcurrently:
            return "b lost the race"

    # B's member is not locked by A, but B's insert of the same order waits for A's commit.
    events = run_holding_the_lock(journal, "M", "SHARED", second, record_first=True)
    assert events == ["a committed", "b lost the race"]
    assert journal.totals("OTHER") == Totals()
    assert journal.count() == 1


def test_totals_and_operations(journal):
    with journal.locked_account("M") as acct:
        acct.record("debit", "m-unique", "O-1", 125_000, {"order_id": "O-1"})
        acct.record("refund", "m-unique", "O-1", 5_000, {"order_id": "O-1"})
        acct.record("credit", "m-unique", "C-1", 10_000, {"order_id": "C-1"})
    assert journal.totals("M") == Totals(debited=125_000, refunded=5_000, credited=10_000)
    ops = list(journal.operations())
    assert [(o.kind, o.amount, o.unique_id) for o in ops] == [
        ("debit", 125_000, "m-unique"),
        ("refund", 5_000, "m-unique"),
        ("credit", 10_000, "m-unique"),
    ]
    assert ops[0].created_at.tzinfo is not None
    assert ops[0].answer == {"order_id": "O-1"}


def test_a_failed_transaction_leaves_nothing(journal):
    with pytest.raises(RuntimeError), journal.locked_account("M") as acct:
        acct.record("debit", "M", "O-1", 10, {})
        raise RuntimeError("the service refused after writing")
    assert journal.count() == 0
    assert journal.totals("M") == Totals()


def test_sqlite_is_durable_and_in_wal_mode(tmp_path):
    j = Journal(f"sqlite:///{tmp_path / 'sub' / 'j.db'}")
    j.create_schema()  # creates the missing folder too
    with j.writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    j.dispose()
