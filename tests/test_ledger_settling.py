"""How the gateway settles a write that may have arrived, beyond the happy path: a status
lookup after a short outage opened the breaker."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import requests

from connectors.rest_ledger import RestLedgerConnector, RestLedgerOptions
from gateway.service.ledger_ops import LedgerPolicy
from tests.fakes import rest_ledger as fake
from tests.test_ledger_service import service_for

#: The defaults' backoff, as an installation has it.
REAL = LedgerPolicy(wait_seconds=2, settle_seconds=30, retry_base_seconds=5, retry_max_seconds=600)


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
