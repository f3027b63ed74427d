"""Xoxoday's access/refresh token pair, kept in the journal database and refreshed by one.

Each refresh makes a new pair (the old refresh token works six hours more; at most ten pairs
live), so every worker and host must use the same pair and only one may refresh it: a thread
lock inside a process, the journal's lease across processes and hosts. The others wait for
the new pair to appear rather than refreshing too.

Each program (a storefront of its own at Xoxoday) has its own pair and its own lease: the
store keeps the pair of its journal's program (Journal.program).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from gateway.errors import GatewayError
from gateway.journal import Journal
from gateway.journal.records import maybe_utc, utcnow
from gateway.journal.scope import add, change, scoped
from gateway.journal.tables import xoxoday_tokens
from gateway.sealed import Sealer

LEASE = "xoxoday-token-refresh"


class XoxodayAuthFailed(GatewayError):
    """Xoxoday refused our API tokens and they cannot be refreshed."""

    error_code = "xoxoday_auth_failed"


class XoxodayUnavailable(GatewayError):
    error_code = "xoxoday_unavailable"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None


class TokenStore:
    """The pair named `name` of the journal's program, in the journal database."""

    def __init__(self, journal: Journal, sealer: Sealer, name: str = "default") -> None:
        self.journal = journal
        self.sealer = sealer  # the tokens are sealed at rest (see gateway/sealed.py)
        self.name = name
        self.program = journal.program

    def get(self) -> TokenPair | None:
        t = xoxoday_tokens.c
        columns = (t.access_token, t.refresh_token, t.access_expires_at, t.refresh_expires_at)
        query = scoped(xoxoday_tokens, self.program, *columns).where(t.name == self.name)
        with self.journal.reader.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        access, refresh = (self.sealer.open(v) for v in row[:2])
        return TokenPair(access, refresh, *(maybe_utc(v) for v in row[2:]))

    def seed(self, pair: TokenPair) -> None:
        """Store `pair` unless a pair is stored already."""
        try:
            with self.journal._write() as conn:
                conn.execute(add(xoxoday_tokens, self.program).values(self._values(pair)))
        except IntegrityError:
            pass

    def put(self, pair: TokenPair) -> None:
        """Store `pair` whatever was there (an operator's `xoxoday tokens set`)."""
        with self.journal._write() as conn:
            done = conn.execute(
                change(xoxoday_tokens, self.program)
                .where(xoxoday_tokens.c.name == self.name)
                .values(self._values(pair))
            )
            if done.rowcount == 0:
                conn.execute(add(xoxoday_tokens, self.program).values(self._values(pair)))

    def replace(self, stale_access_token: str, pair: TokenPair) -> bool:
        """Store a refreshed pair, only over the one it replaces. A sealed token is different
        text each time it is sealed, so the stored one is opened and compared, then the row is
        replaced only while it still holds that very text."""
        t = xoxoday_tokens.c
        stored = scoped(xoxoday_tokens, self.program, t.access_token).where(t.name == self.name)
        with self.journal._write() as conn:
            row = conn.execute(stored).first()
            if row is None or self.sealer.open(row[0]) != stale_access_token:
                return False
            done = conn.execute(
                change(xoxoday_tokens, self.program)
                .where(t.name == self.name, t.access_token == row[0])
                .values(self._values(pair))
            )
        return done.rowcount == 1

    def _values(self, pair: TokenPair) -> dict[str, object]:
        return {
            "name": self.name,
            "access_token": self.sealer.seal(pair.access_token),
            "refresh_token": self.sealer.seal(pair.refresh_token),
            "access_expires_at": pair.access_expires_at,
            "refresh_expires_at": pair.refresh_expires_at,
            "updated_at": utcnow(),
        }


class Tokens:
    """The access token to use now; `refresh(stale)` when Xoxoday refused `stale`."""

    def __init__(
        self,
        store: TokenStore,
        refresher: Callable[[str], TokenPair],
        margin_seconds: float = 86400,
        seed: TokenPair | None = None,
        wait_seconds: float = 15.0,
    ) -> None:
        self.store = store
        self.refresher = refresher
        self.margin = timedelta(seconds=margin_seconds)
        self.seed = seed
        self.wait_seconds = wait_seconds
        # Unique per instance: two gateways in one process are two refreshers, not one.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()

    def access_token(self) -> str:
        pair = self._pair()
        expires = pair.access_expires_at
        if expires is not None and expires - self.margin <= utcnow():
            return self.refresh(pair.access_token)
        return pair.access_token

    def refresh(self, stale: str) -> str:
        """A fresh access token: made here, or by whoever was refreshing `stale` already."""
        with self._lock:
            deadline = time.monotonic() + self.wait_seconds
            while True:
                pair = self._pair()
                if pair.access_token != stale:
                    return pair.access_token  # another thread, process or host refreshed it
                if self.store.journal.hold_lease(LEASE, self.holder, self.wait_seconds * 2):
                    try:
                        pair = self._pair()
                        if pair.access_token != stale:
                            return pair.access_token
                        fresh = self.refresher(pair.refresh_token)
                        self.store.replace(stale, fresh)
                        return fresh.access_token
                    finally:
                        self.store.journal.release_lease(LEASE, self.holder)
                if time.monotonic() >= deadline:
                    raise XoxodayUnavailable("another process is refreshing Xoxoday's token")
                time.sleep(0.1)

    def _pair(self) -> TokenPair:
        pair = self.store.get()
        if pair is None and self.seed is not None:
            self.store.seed(self.seed)
            pair = self.store.get()
        if pair is None:
            raise XoxodayAuthFailed(
                "no Xoxoday API tokens: set [xoxoday] access_token and refresh_token, or run "
                "`points-gateway xoxoday tokens set`"
            )
        return pair
