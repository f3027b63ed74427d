"""The worker: drives unfinished ledger operations to a final state, with backoff.

Owed refunds and credits are sent until the ledger applies them; debits whose outcome is
unknown are settled by the status lookup; a debit recorded but never sent (its process was
killed) is rejected; a debit that became an orphan is refunded or reported (see
gateway/journal/deliveries.py). Each operation is claimed in the journal first, so any number
of workers, requests and operators may run at once without sending anything twice. One lease
in the journal keeps the background workers of all processes and hosts to one polling at a
time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.base import ConnectorError, Profile
from gateway.journal import Operation
from gateway.journal.records import utcnow
from gateway.service.ledger import LedgerPointsService

log = logging.getLogger(__name__)
LEASE = "ledger-worker"
#: Steps an operator's resolve takes on one operation: unknown -> (lookup) received -> (sent)
#: applied, with one to spare.
MOST_STEPS = 4


@dataclass(frozen=True)
class Waiting:
    """An unfinished operation a pass left alone: why, and when it is due (None: never by
    itself, it waits for an operator)."""

    op: Operation
    why: str
    due: datetime | None


class Worker:
    def __init__(
        self, service: LedgerPointsService, interval_seconds: float = 2.0, threads: int = 4
    ) -> None:
        self.service = service
        # Operations are independent (each is claimed first): after an outage, a backlog of
        # owed refunds drains `threads` at a time instead of one slow call after another.
        self.threads = threads
        self.journal = service.journal
        self.ops = service.ops
        self.lease_seconds = service.policy.lease_seconds
        self.interval = interval_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    def run_once(self, everything: bool = False) -> list[Operation]:
        """One pass over what is due (`everything`: over all that is unfinished, backoff or
        not); answers the operations it moved."""
        self.service.settle_orphans()  # their owed refunds are due at once, in this pass
        todo = self.journal.unfinished() if everything else self.journal.due()

        def one(op: Operation) -> Operation | None:
            return self._step_or_later(op, everything)

        if self.threads > 1 and len(todo) > 1:
            with ThreadPoolExecutor(min(self.threads, len(todo))) as pool:
                after = list(pool.map(one, todo))
        else:
            after = [one(op) for op in todo]
        return [op for op in after if op is not None]

    def step(self, op: Operation, everything: bool = False) -> Operation | None:
        """One step on one operation; None when someone else holds it or it must wait."""
        lease = self.lease_seconds
        if op.kind == "debit" and op.state == "received":
            # Its request sends it a moment after recording it; only a dead one leaves it here.
            if not everything and utcnow() - op.created_at < timedelta(seconds=lease):
                return None
            claimed = self.journal.claim(op.id, ("received",), None, lease)
            return self.ops.reject_unsent_debit(claimed) if claimed else None
        profile = self.service.profile_for(op) or Profile(
            employee_id=op.member, email="", first_name="", last_name=""
        )
        if op.state == "received":
            claimed = self.journal.claim(op.id, ("received",), "sent", lease)
            return self.ops.send(claimed, profile) if claimed else None
        claimed = self.journal.claim(op.id, ("sent", "unknown"), None, lease)
        return self.ops.resolve(claimed, profile, live=False) if claimed else None

    def waiting(self, moved: list[Operation]) -> list[Waiting]:
        """Every unfinished operation but those `moved`, with why it was left and when due."""
        now, ids = utcnow(), {op.id for op in moved}
        return [self._why(op, now) for op in self.journal.unfinished() if op.id not in ids]

    def _why(self, op: Operation, now: datetime) -> Waiting:
        if op.state == "conflict":
            how = f"journal resolve --id {op.id} --as applied|rejected --reason ..."
            return Waiting(op, f"a conflict, for an operator ({how})", None)
        if op.claimed_until is not None and op.claimed_until > now:
            return Waiting(op, "held by a request or another worker", op.claimed_until)
        sending = op.created_at + timedelta(seconds=self.lease_seconds)
        if op.kind == "debit" and op.state == "received" and sending > now:
            return Waiting(op, "its request is sending it", sending)
        if op.next_attempt_at is not None and op.next_attempt_at > now:
            return Waiting(op, "backing off", op.next_attempt_at)
        return Waiting(op, "due, not moved (its member's HR record could not be read?)", now)

    def resolve_now(self, ids: list[int]) -> list[tuple[Operation, Operation | None]]:
        """Drive the operations `ids` one step now, backoff or not (an operator's "resolve
        now"): each as it was and as it is after, None when it was not moved (finished
        already, held by someone else, or the HR system could not be reached)."""
        moved: list[tuple[Operation, Operation | None]] = []
        for op_id in ids:
            op = self.journal.operation(op_id)
            if op is None:
                continue
            moved.append((op, None if op.finished else self._step_or_later(op, everything=True)))
        return moved

    def _step_or_later(self, op: Operation, everything: bool) -> Operation | None:
        """`step`, or None when the HR system (for the member's profile) cannot be reached:
        the operation is tried again later. With `everything` (an operator's resolve), it is
        driven as far as the ledger allows now: a lookup that finds a refund never arrived
        makes it owed again, and it is sent in the same pass, not at the next one."""
        moved: Operation | None = None
        for _ in range(MOST_STEPS if everything else 1):
            try:
                after = self.step(op, everything)
            except ConnectorError as exc:
                log.warning("operation %d: %s; trying again later", op.id, exc)
                break
            if after is None:
                break
            moved = after
            if after.finished or after.state == op.state:
                break
            op = after
        return moved

    def run_forever(self, stop: threading.Event) -> None:
        """Poll while holding the journal's worker lease, until `stop` is set."""
        log.info("ledger worker %s started", self.holder)
        while not stop.is_set():
            try:
                if self.journal.hold_lease(LEASE, self.holder, max(self.interval * 5, 10)):
                    self.run_once()
            except Exception:  # the worker must outlive any one bad pass
                log.exception("ledger worker pass failed")
            stop.wait(self.interval)

    def start_thread(self) -> threading.Event:
        """Run in a daemon thread of this process (`serve`); set the event to stop it."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self.run_forever, args=(stop,), name="ledger-worker", daemon=True
        )
        thread.start()
        return stop
