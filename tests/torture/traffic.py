"""Xoxoday's side: threads sending distinct redemptions, replays, partial refunds (and their
replays) and balances, as fast as the gateway answers, whatever is being killed meanwhile.

A failure that says "try again" (503s, a connection refused or reset while the server is down)
is expected; anything that contradicts an earlier "1" is a violation.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import requests

from tests.torture.book import Book, Order
from tests.torture.rig import MEMBERS, POOR, Rig

#: Answers that promise nothing either way: the same delivery may be sent again.
TRANSIENT = {
    "unreachable",
    "journal_unavailable",
    "upstream_unavailable",
    "upstream_error",
    "outcome_unknown",
}
CENT = Decimal("0.01")


class Traffic:
    def __init__(self, rig: Rig, book: Book, threads: int = 6, seed: int = 1) -> None:
        self.rig = rig
        self.book = book
        self.threads = threads
        self.seed = seed
        self._ids = itertools.count(1)
        self._workers: list[threading.Thread] = []

    def start(self, stop: threading.Event) -> None:
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, args=(stop, n), daemon=True)
            worker.start()
            self._workers.append(worker)

    def join(self) -> None:
        for worker in self._workers:
            worker.join(timeout=60)

    def _run(self, stop: threading.Event, n: int) -> None:
        rng = random.Random(self.seed * 1000 + n)
        session = requests.Session()
        actions: list[tuple[float, Callable[[random.Random, requests.Session], None]]] = [
            (0.40, self.new_order),
            (0.10, self.replay_order),
            (0.15, self.refund),
            (0.07, self.replay_refund),
            (0.08, self.poor_order),
            (0.20, self.balance),
        ]
        weights = [w for w, _ in actions]
        while not stop.is_set():
            (_, action), = rng.choices(actions, weights)  # fmt: skip
            if rng.random() < 0.05:
                # Xoxoday's calls come over many connections, so every worker serves some: a
                # kept-alive connection would pin this thread to one worker for the whole run.
                session.close()
            try:
                action(rng, session)
            except Exception as exc:  # a bug in the harness must show, not hang the run
                self.book.violation(f"traffic thread: {type(exc).__name__}: {exc}")
                return

    # -- what Xoxoday sends ------------------------------------------------------------------
    def new_order(self, rng: random.Random, session: requests.Session) -> None:
        amount = Decimal(rng.randint(100, 2000)) / 100
        self._redeem(session, self._order(rng.choice(MEMBERS), amount), first=True)

    def poor_order(self, rng: random.Random, session: requests.Session) -> None:
        """Many small orders on a small grant: the journal must stop them at zero."""
        self._redeem(session, self._order(POOR, Decimal(3)), first=True)

    def replay_order(self, rng: random.Random, session: requests.Session) -> None:
        acked = rng.random() < 0.7
        found = self.book.acked_orders() if acked else self.book.unacked_orders()
        if found:
            self._redeem(session, rng.choice(found), first=False)

    def refund(self, rng: random.Random, session: requests.Session) -> None:
        found = [o for o in self.book.acked_orders() if o.unreserved() >= 2 * CENT]
        if not found:
            return
        order = rng.choice(found)
        share = Decimal(rng.randint(10, 50)) / 100
        amount = max(CENT, (order.unreserved() * share).quantize(CENT))
        with self.book.lock:
            if amount in order.refunds or amount > order.unreserved():
                return  # another thread refunded this order meanwhile
            order.refunds[amount] = None
        self._refund(session, order, amount)

    def replay_refund(self, rng: random.Random, session: requests.Session) -> None:
        found = [o for o in self.book.acked_orders() if o.refunds]
        if found:
            order = rng.choice(found)
            self._refund(session, order, rng.choice(list(order.refunds)))

    def balance(self, rng: random.Random, session: requests.Session) -> None:
        member = rng.choice([*MEMBERS, POOR])
        outcome, _ = self._post(session, "balance", self._auth(member))
        self.book.answered("balance", outcome)
        if outcome not in TRANSIENT and outcome != "ok":
            self.book.violation(f"balance of {member}: {outcome}")

    # -- one call ----------------------------------------------------------------------------
    def _order(self, member: str, amount: Decimal) -> Order:
        order = Order(f"T{self.seed}-{next(self._ids)}", member, amount)
        self.book.sent(order)
        return order

    def _redeem(self, session: requests.Session, order: Order, first: bool) -> None:
        body = {
            **self._auth(order.member),
            "order_id": order.order_id,
            "total_points_redeemed": str(order.amount),
        }
        outcome, _ = self._post(session, "redeem", body)
        self.book.answered("redeem" if first else "replay", outcome)
        if outcome == "ok":
            self.book.acked(order)
        elif outcome == "insufficient_points" and order.member == POOR:
            pass
        elif outcome not in TRANSIENT and (order.acked_at is not None or first):
            self.book.violation(f"order {order.order_id} ({order.member}): {outcome}")

    def _refund(self, session: requests.Session, order: Order, amount: Decimal) -> None:
        body = {
            **self._auth(order.member),
            "transactionid": order.order_id,
            "redemption_amount": str(amount),
        }
        outcome, _ = self._post(session, "refund", body)
        self.book.answered("refund", outcome)
        if outcome == "ok":
            self.book.acked(order, amount)
        elif outcome not in TRANSIENT:
            self.book.violation(f"refund {amount} of {order.order_id}: {outcome}")

    def _auth(self, member: str) -> dict[str, str]:
        return {"unique_id": member, "auth_token": self.rig.tokens[member]}

    def _post(
        self, session: requests.Session, what: str, body: dict[str, str]
    ) -> tuple[str, dict[str, Any]]:
        try:
            answer = session.post(f"{self.rig.base}/v1/points/{what}", json=body, timeout=60)
        except requests.RequestException:
            session.close()  # a connection the server dropped: the next call opens a new one
            time.sleep(0.05)  # the server is down for a moment: do not spin
            return "unreachable", {}
        if not answer.headers.get("Content-Type", "").startswith("application/json"):
            self.book.violation(f"{what}: HTTP {answer.status_code}, not JSON: {answer.text[:80]}")
            return "not json", {}
        data = answer.json()
        if answer.status_code == 500 or data.get("error_code") == "internal_error":
            self.book.violation(f"{what}: HTTP {answer.status_code}: {data}")
        if data.get("status") in ("1", 1):
            return "ok", data
        return str(data.get("error_code", "no error_code")), data
