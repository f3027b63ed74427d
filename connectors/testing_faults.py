"""What a network does to a write, for the ledger kit (connectors.testing.PointsLedgerContract).

The kit sends a debit or credit under each fault and checks what the connector made of it:

- `refused`: every connection is refused while the write is made; nothing reaches the system.
  The connector must raise UpstreamUnavailable (it certainly never arrived).
- `unauthorized`: the write is answered 401 and not applied: UpstreamAuthFailed.
- `unavailable`: the write is answered 503 and not applied. The connector cannot know that:
  OutcomeUnknown, and the write is never sent again by the connector itself.
- `applied_then_5xx`: the system applies the write, then answers 500: OutcomeUnknown.
- `applied_then_timeout`: the system applies the write, and its answer never comes (a read
  timeout): OutcomeUnknown.

`HttpFaults`, the kit's default, does this for any connector that talks HTTP through
`requests` (with or without connectors.http.HttpClient): it sits in `requests.Session.send`,
above the transport, so the connector's own fake (`responses`, a local server) is untouched.
A write is a request whose method is not GET, HEAD or OPTIONS (`is_write` says otherwise).
A connector that talks anything else gives the kit its own `faults` fixture: any object with
`kinds` (the faults it can make) and `during(kind)`, a context manager yielding a `Tally`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Protocol

import pytest
import requests
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NewConnectionError

from connectors.base import (
    ConnectorError,
    LedgerRefused,
    OutcomeUnknown,
    PointsLedger,
    Profile,
    Receipt,
    UpstreamAuthFailed,
    UpstreamUnavailable,
)
from connectors.testing_common import (
    UNKNOWN_EMAIL,
    UNKNOWN_ID,
    Errors,
    assert_no_secret,
    attempt,
    available_of,
    fit,
)

FAULTS = ("refused", "unauthorized", "unavailable", "applied_then_5xx", "applied_then_timeout")
#: What each fault did, as the kit's messages say it.
SAID = {
    "refused": "the connection was refused (nothing was sent)",
    "unauthorized": "the ledger answered HTTP 401 and applied nothing",
    "unavailable": "the ledger answered HTTP 503 (it had applied nothing, but nobody can know)",
    "applied_then_5xx": "the ledger applied it, then answered HTTP 500",
    "applied_then_timeout": "the ledger applied it, and its answer never came (a read timeout)",
}
APPLIED = frozenset({"applied_then_5xx", "applied_then_timeout"})


@dataclass
class Tally:
    """What happened while a fault was armed: `hit` once the fault met a write; `sent` counts
    the writes that reached the system (the faulty one included, when it did)."""

    hit: bool = False
    sent: int = 0


class LedgerFaults(Protocol):
    kinds: frozenset[str]

    def during(self, kind: str) -> Any:  # a context manager yielding a Tally
        ...


def is_write(request: requests.PreparedRequest) -> bool:
    return (request.method or "GET").upper() not in ("GET", "HEAD", "OPTIONS")


class HttpFaults:
    """The kit's faults for connectors on `requests`; installed for one test by `monkeypatch`."""

    kinds = frozenset(FAULTS)

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        is_write: Callable[[requests.PreparedRequest], bool] = is_write,
    ) -> None:
        self.is_write = is_write
        self._armed: str | None = None
        self._tally = Tally()
        send = requests.Session.send
        faults = self

        def faulty_send(session: requests.Session, request: Any, **kwargs: Any) -> Any:
            return faults._send(send, session, request, kwargs)

        monkeypatch.setattr(requests.Session, "send", faulty_send)

    @contextmanager
    def during(self, kind: str) -> Iterator[Tally]:
        """The next write (every connection, for `refused`) meets the fault `kind`."""
        assert kind in FAULTS, kind
        self._armed, self._tally = kind, Tally()
        try:
            yield self._tally
        finally:
            self._armed = None

    def _send(
        self, send: Callable[..., Any], session: Any, request: Any, kwargs: dict[str, Any]
    ) -> Any:
        fault, tally = self._armed, self._tally
        if fault is None:
            return send(session, request, **kwargs)
        if fault == "refused":  # the system is down: whatever the call sends first fails
            tally.hit = True
            reason = NewConnectionError(None, "[Errno 111] Connection refused (the kit's fault)")  # type: ignore[arg-type]
            cause = MaxRetryError(None, request.url, reason)  # type: ignore[arg-type]
            raise requests.ConnectionError(cause, request=request)
        if not self.is_write(request):
            return send(session, request, **kwargs)
        first = not tally.hit
        tally.hit = True
        if first and fault in ("unauthorized", "unavailable"):
            return _answer(request, 401 if fault == "unauthorized" else 503)
        tally.sent += 1
        response = send(session, request, **kwargs)
        if not first:
            return response
        response.close()
        if fault == "applied_then_5xx":
            return _answer(request, 500)
        raise requests.ReadTimeout("read timed out (the kit's fault)", request=request)


def _answer(request: requests.PreparedRequest, status: int) -> requests.Response:
    """An answer the system never gave, as requests would have built it."""
    body = f"{status} {HTTPStatus(status).phrase} (the kit's fault)".encode()
    response = requests.Response()
    response.status_code = status
    response.reason = HTTPStatus(status).phrase
    response.headers = CaseInsensitiveDict(
        {"Content-Type": "text/plain", "Content-Length": str(len(body))}
    )
    response._content = body
    response._content_consumed = True  # type: ignore[attr-defined]
    response.encoding = "utf-8"
    response.url = request.url or ""
    response.request = request
    return response


#: What the gateway does on each error from a write, for the kit's messages.
MEANS = {
    UpstreamUnavailable: "'it certainly never arrived': the gateway rejects the debit (or "
    "sends the credit again) at once",
    UpstreamAuthFailed: "'our credentials were refused, nothing was applied'",
    LedgerRefused: "'the ledger said no, nothing was applied'",
    OutcomeUnknown: "'it may have arrived': the gateway settles it with the lookup",
}


class FaultChecks:
    """The ledger kit's checks of what a connector makes of each fault, and of its errors'
    messages (a mixin of connectors.testing.PointsLedgerContract)."""

    @pytest.fixture
    def faults(self, monkeypatch: pytest.MonkeyPatch) -> LedgerFaults | None:
        return HttpFaults(monkeypatch)

    @pytest.mark.parametrize("kind", ["debit", "credit"])
    @pytest.mark.parametrize("fault", FAULTS)
    def test_a_write_is_reported_as_what_may_have_happened(
        self,
        connector: PointsLedger,
        funded: tuple[Profile, Decimal],
        faults: LedgerFaults | None,
        fault: str,
        kind: str,
    ) -> None:
        """Under each fault, exactly the error that says what may have happened, the write
        sent once at most, the balance and the lookup as the ledger left them."""
        if faults is None or fault not in faults.kinds:
            pytest.skip(f"the faults fixture does not make {fault!r}")
        profile, points = funded
        amount, reference = fit(connector, "4.35"), f"kit-{fault}-{kind}"
        write = connector.debit if kind == "debit" else connector.credit
        with faults.during(fault) as tally:
            try:
                outcome: Receipt | ConnectorError = write(profile, reference, amount)
            except ConnectorError as exc:
                outcome = exc
        _met(tally, kind)
        applied = fault in APPLIED
        what = f"{kind} {reference}: {SAID[fault]}"
        assert tally.sent <= int(applied), (
            f"{what}; the connector sent it again ({tally.sent} applied in all). A write that "
            "may have arrived is never retried: connectors.http.HttpClient.request(..., "
            "idempotent=False) for every write, whatever the ledger promises"
        )
        expected = {"refused": UpstreamUnavailable, "unauthorized": UpstreamAuthFailed}
        wanted = expected.get(fault, OutcomeUnknown)
        assert not isinstance(outcome, Receipt), (
            f"{what}; the connector returned {outcome}, as if applied: raise {wanted.__name__}"
        )
        means = next((m for t, m in MEANS.items() if isinstance(outcome, t)), "nothing")
        raised = f"{what}; the connector raised {type(outcome).__name__} ({outcome}), which says"
        if wanted is OutcomeUnknown:
            assert isinstance(outcome, OutcomeUnknown), (
                f"{raised} {means}. It may have been applied: raise OutcomeUnknown whenever the "
                "request may have arrived (a 5xx, a timeout or a reset after sending); the "
                "gateway then settles it with the lookup"
            )
        else:
            assert isinstance(outcome, wanted) and not isinstance(outcome, OutcomeUnknown), (
                f"{raised} {means}. Raise {wanted.__name__}, which says {MEANS[wanted]}"
            )
        sign = -1 if kind == "debit" else 1
        after = points + sign * amount if applied else points
        now = available_of(connector, profile)
        assert now == after, f"{what}; the balance is then {now}, not {after}"
        if connector.can_lookup:
            found = connector.lookup(reference)
            if applied:
                assert found is not None and found.amount is not None, (
                    f"{what}; the lookup of {reference} then says {found}: it must find the "
                    "write, with its amount, so the gateway can settle it"
                )
                assert abs(found.amount) == amount, f"{what}; the lookup says {found}"
            else:
                assert found is None, f"{what}; the lookup then says {found}, not None"

    def test_no_secret_reaches_a_log_record_or_an_error(
        self,
        connector: PointsLedger,
        funded: tuple[Profile, Decimal],
        backend_down: Callable[[], None] | None,
        faults: LedgerFaults | None,
        secrets: Iterable[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Every way a call can go: answered, refused by the ledger, under each fault, and
        with the system down."""
        profile, points = funded
        nobody = Profile(employee_id=UNKNOWN_ID, email=UNKNOWN_EMAIL, first_name="", last_name="")
        errors: Errors = []
        connector.balance(profile)
        connector.debit(profile, "kit-secret-1", Decimal(1))
        connector.check()
        attempt(errors, "balance of an unknown member", connector.balance, nobody)
        attempt(errors, "debit of nobody", connector.debit, nobody, "kit-s-2", Decimal(1))
        attempt(errors, "overdraft", connector.debit, profile, "kit-s-3", points * 2)
        if connector.can_lookup:
            attempt(errors, "lookup", connector.lookup, "kit-secret-never-sent")
        for fault in sorted(faults.kinds) if faults is not None else ():
            assert faults is not None
            with faults.during(fault):
                what = f"a debit ({SAID.get(fault, fault)})"
                attempt(errors, what, connector.debit, profile, f"kit-s-{fault}", Decimal(1))
        if backend_down is not None:
            backend_down()
            for name, call, args in (
                ("balance", connector.balance, (profile,)),
                ("debit", connector.debit, (profile, "kit-s-down", Decimal(1))),
                ("credit", connector.credit, (profile, "kit-s-down-c", Decimal(1))),
                ("check", connector.check, ()),
            ):
                attempt(errors, f"{name}, the system down", call, *args)
            if connector.can_lookup:
                attempt(errors, "lookup, the system down", connector.lookup, "kit-s-down")
        assert_no_secret(caplog, secrets, errors)


def _met(tally: Tally, kind: str) -> None:
    if not tally.hit:
        pytest.skip(
            f"the {kind} sent nothing the `faults` fixture could fault (the kit's own faults "
            "are in `requests`): give the kit a `faults` fixture (connectors/testing_faults.py)"
        )
