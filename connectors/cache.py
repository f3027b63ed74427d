"""Cached profile lookups: per process, thread-safe, one backend call per cold key.

cachetools' `cached` with a lock and a condition makes concurrent lookups of a key that is
being fetched wait for that fetch instead of calling the backend too (single-flight). Unknown
users are remembered for a shorter time. When the backend fails, a profile fetched less than
`max_stale_seconds` ago keeps serving (stale-if-error), and the backend is tried again soon.

Only profiles are cached: nothing here decides money.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachetools import TLRUCache, TTLCache, cached
from marshmallow import Schema, fields, validate

from connectors import telemetry
from connectors.base import (
    IdentityField,
    Profile,
    ProfileSource,
    UpstreamError,
    UpstreamUnavailable,
)

log = logging.getLogger(__name__)


class CacheOptions(Schema):
    """`[profile] cache = {...}`; on by default for connectors that reach a remote system."""

    enabled = fields.Boolean(load_default=None)  # None: the connector's `remote` decides
    size = fields.Integer(load_default=10_000, validate=validate.Range(min=1))
    ttl_seconds = fields.Float(load_default=300.0, validate=validate.Range(min=0.001))
    negative_ttl_seconds = fields.Float(load_default=30.0, validate=validate.Range(min=0.001))
    max_stale_seconds = fields.Float(load_default=3600.0, validate=validate.Range(min=0))


@dataclass(frozen=True)
class _Entry:
    profile: Profile | None
    fetched_at: float
    stale: bool = False


class CachedProfiles(ProfileSource):
    """Wraps any ProfileSource with the cache described above."""

    options_schema = CacheOptions

    def __init__(
        self,
        source: ProfileSource,
        size: int = 10_000,
        ttl_seconds: float = 300.0,
        negative_ttl_seconds: float = 30.0,
        max_stale_seconds: float = 3600.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.ttl = ttl_seconds
        self.negative_ttl = negative_ttl_seconds
        self._timer = timer
        lock = threading.Lock()
        self._fresh: TLRUCache[tuple[str, str], _Entry] = TLRUCache(
            maxsize=size, ttu=self._expires, timer=timer
        )
        self._lookup = cached(
            self._fresh, key=_key, lock=lock, condition=threading.Condition(lock), info=True
        )(self._fetch)
        # The last good answer per key, for stale-if-error; guarded by its own lock.
        self._last_good: TTLCache[tuple[str, str], _Entry] = TTLCache(
            maxsize=size, ttl=max(max_stale_seconds, 0.001), timer=timer
        )
        self._last_good_lock = threading.Lock()
        self._stale_served = 0
        self._calls = threading.local()  # what this thread's lookup did: "miss", "stale"

    def find(self, by: IdentityField, value: str) -> Profile | None:
        self._calls.fetched = None
        entry = self._lookup(by, value)
        telemetry.telemetry.cache(self._calls.fetched or "hit")
        return entry.profile

    def check(self) -> None:
        self.source.check()

    def close(self) -> None:
        self.source.close()

    def stats(self) -> dict[str, Any]:
        """Counts for this process: hits, misses (backend calls), stale answers, size."""
        info = self._lookup.cache_info()
        with self._last_good_lock:
            stale = self._stale_served
        return {"hits": info.hits, "misses": info.misses, "stale": stale, "size": info.currsize}

    def _expires(self, _key: Any, entry: _Entry, now: float) -> float:
        if entry.stale or entry.profile is None:
            return now + self.negative_ttl  # try the backend again soon
        return now + self.ttl

    def _fetch(self, by: IdentityField, value: str) -> _Entry:
        key = _key(by, value)
        self._calls.fetched = "miss"
        try:
            entry = _Entry(self.source.find(by, value), self._timer())
        except (UpstreamUnavailable, UpstreamError) as exc:
            with self._last_good_lock:
                good = self._last_good.get(key)
                if good is None:
                    raise
                self._stale_served += 1
            self._calls.fetched = "stale"
            age = self._timer() - good.fetched_at
            log.warning("profile %s=%s: %s; serving the copy from %.0f s ago", by, value, exc, age)
            return _Entry(good.profile, good.fetched_at, stale=True)
        if entry.profile is not None:
            with self._last_good_lock:
                self._last_good[key] = entry
        return entry


def _key(by: str, value: str) -> tuple[str, str]:
    return (by, value.strip().lower() if by == "email" else value)
