"""How the gateway settles a write that may have arrived, beyond the happy path: the backoff
after a request's polls, a status lookup after a short outage opened the breaker, and an
idempotent ledger with a lookup that does not find the write yet."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
import requests

from connectors.base import OutcomeUnknown
from connectors.rest_ledger import RestLedgerConnector, RestLedgerOptions
from gateway.errors import OutcomeNotKnown
from gateway.journal.records import utcnow
from gateway.service.ledger_ops import LedgerPolicy
from tests.fakes import rest_ledger as fake
from tests.fakes.ledger import MemoryLedger
from tests.test_ledger_service import service_for

#: The defaults' backoff, as an installation has it.
REAL = LedgerPolicy(wait_seconds=2, settle_seconds=30, retry_base_seconds=5, retry_max_seconds=600)


class Undecided(MemoryLedger):
    """A ledger whose status lookup cannot tell yet (a write "processing")."""

    def lookup(self, reference: str):
        raise OutcomeUnknown(f"memory ledger: {reference} is processing")


def test_a_request_s_polls_do_not_push_the_next_try_away(journal, tmp_path):
    """The request polls the lookup every 0.25 s for wait_seconds, each poll a claim: the next
    try is about as far off as the debit is old, not 2 ** polls tries away (7 min 30 s)."""
    ledger = Undecided({"DB123": Decimal(1000)}, fault=lambda kind, ref: "lost")
    ledger.idempotent = False
    service = service_for(journal, ledger, tmp_path, REAL)
    with pytest.raises(OutcomeNotKnown):
        service.redeem("DB123", "O1", Decimal(10))
    op = journal.order("debit", "O1")
    assert op.state == "unknown" and op.attempts >= 5  # polls were made, and counted
    assert op.next_attempt_at is not None
    assert op.next_attempt_at - utcnow() <= timedelta(seconds=REAL.retry_base_seconds)


def test_the_backoff_grows_with_the_operation_s_age(journal, tmp_path):
    ledger = Undecided({"DB123": Decimal(1000)})
    service = service_for(journal, ledger, tmp_path, REAL)
    op, _ = journal.open_order("debit", "DB123", "DB123", "O2", 10_0000, "debit:O2")
    claimed = journal.claim(op.id, ("received",), "sent")
    for age, at_most in ((0, 5), (60, 60), (7200, 600)):
        service.ops._now = lambda age=age: op.created_at + timedelta(seconds=age)
        retry_at = service.ops._backoff(claimed)
        waits = (retry_at - op.created_at).total_seconds() - age
        assert at_most / 2 <= waits <= at_most, (age, waits)


def lost_answer_after_outage(mock, api: fake.LedgerApi, down: list[bool], lose: list[bool]):
    """The fake ledger behind `responses`: down (connections refused) while `down`; a debit
    applied but answered 503 while `lose`."""

    def callback(request):
        if down:
            raise requests.ConnectionError("connection refused")
        path = request.path_url.split("?")[0]
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, text = api.handle(request.method, path, headers, request.body or b"")
        if request.method == "POST" and lose:
            lose.clear()
            return 503, {}, '{"error": "BUSY"}'
        return status, {"Content-Type": "application/json"}, text

    for method in ("GET", "POST"):
        mock.add_callback(method, re.compile(re.escape(fake.BASE) + r"/.*"), callback)


def test_a_debit_applied_as_a_short_outage_ends_is_found_although_the_breaker_opened(
    journal, tmp_path, mock
):
    """Four balance reads fail, then the debit is applied but answered 503: five failures,
    the breaker opens. The ledger is back: the request's status lookup goes through the open
    breaker as its probe, finds the debit, and the order is paid, not outcome_unknown."""
    api = fake.LedgerApi()
    api.accounts["DB123"] = Decimal(1000)
    down, lose = [True], [True]
    lost_answer_after_outage(mock, api, down, lose)
    http = {"attempts": 1, "breaker_failures": 5, "breaker_reset_seconds": 30}
    ledger = RestLedgerConnector(**RestLedgerOptions().load({**fake.OPTIONS, "http": http}))
    service = service_for(journal, ledger, tmp_path, REAL)
    for _ in range(4):
        with pytest.raises(Exception, match="cannot reach"):
            service.balance("DB123")
    down.clear()
    result = service.redeem("DB123", "O1", Decimal(10))
    assert not result.replayed and journal.order("debit", "O1").state == "applied"
    assert dict(api.applied) == {"debit:O1": 1} and api.accounts["DB123"] == Decimal(990)
    assert ledger.client.breaker.state == "closed"


def test_an_idempotent_ledger_with_a_lookup_is_sent_again_before_settle_seconds(journal, tmp_path):
    """A 503 that applied nothing: the lookup does not find it, and the ledger applies a
    reference once, so the waiting request sends it again at once instead of answering
    outcome_unknown for settle_seconds (30 s)."""
    fates = ["lost"]
    ledger = MemoryLedger(
        {"DB123": Decimal(1000)}, fault=lambda k, r: fates.pop(0) if fates else None
    )
    assert ledger.idempotent and ledger.can_lookup
    service = service_for(journal, ledger, tmp_path, REAL)
    result = service.redeem("DB123", "O1", Decimal(10))
    assert not result.replayed and ledger.total("debit") == Decimal(10)
    assert journal.order("debit", "O1").state == "applied"


def test_a_ledger_with_a_lookup_that_is_not_idempotent_still_waits_settle_seconds(
    journal, tmp_path
):
    fates = ["lost"]
    ledger = MemoryLedger(
        {"DB123": Decimal(1000)}, fault=lambda k, r: fates.pop(0) if fates else None
    )
    ledger.idempotent = False
    service = service_for(journal, ledger, tmp_path, replace(REAL, wait_seconds=0.6))
    with pytest.raises(OutcomeNotKnown):
        service.redeem("DB123", "O1", Decimal(10))
    assert ledger.total("debit") == 0  # never sent again blindly
