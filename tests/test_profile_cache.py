"""Cached profile lookups with real threads: single-flight, negative caching, stale-if-error."""

from __future__ import annotations

import threading
import time

import pytest

from connectors.base import Profile, ProfileSource, UpstreamUnavailable
from connectors.cache import CachedProfiles
from connectors.csv_source import CsvOptions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SlowDirectory(ProfileSource):
    """A backend double: counts calls, can be slow or down."""

    options_schema = CsvOptions

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0
        self.down = False
        self._lock = threading.Lock()
        self.people = {"E1": Profile("E1", "Ann@Example.com", "Ann", "Lee")}

    def find(self, by, value):
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        if self.down:
            raise UpstreamUnavailable("directory down")
        for p in self.people.values():
            if (by == "email" and p.email.lower() == value.lower()) or getattr(p, by) == value:
                return p
        return None


@pytest.fixture
def clock():
    return Clock()


def test_100_concurrent_lookups_of_a_cold_key_make_one_backend_call():
    backend = SlowDirectory(delay=0.2)
    cache = CachedProfiles(backend)
    start, found = threading.Barrier(100), []

    def lookup():
        start.wait()
        found.append(cache.find("employee_id", "E1"))

    threads = [threading.Thread(target=lookup) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert backend.calls == 1
    assert len(found) == 100 and all(p is backend.people["E1"] for p in found)
    assert cache.stats() == {"hits": 99, "misses": 1, "stale": 0, "size": 1}


def test_different_keys_are_fetched_in_parallel():
    backend = SlowDirectory(delay=0.3)
    cache = CachedProfiles(backend)
    threads = [
        threading.Thread(target=cache.find, args=("employee_id", key)) for key in ("E1", "X", "Y")
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert time.monotonic() - started < 0.8  # three in turn would take 0.9 s


def test_an_email_is_one_entry_whatever_its_case(clock):
    backend = SlowDirectory()
    cache = CachedProfiles(backend, timer=clock)
    assert cache.find("email", "ann@example.com").employee_id == "E1"
    assert cache.find("email", " ANN@EXAMPLE.COM").employee_id == "E1"
    assert backend.calls == 1


def test_entries_expire_and_unknown_users_sooner(clock):
    backend = SlowDirectory()
    cache = CachedProfiles(backend, ttl_seconds=300, negative_ttl_seconds=30, timer=clock)
    assert cache.find("employee_id", "NEW") is None
    cache.find("employee_id", "E1")
    backend.people["NEW"] = Profile("NEW", "new@example.com", "New", "Hire")
    clock.now += 31
    assert cache.find("employee_id", "NEW") is not None  # the miss was remembered 30 s only
    cache.find("employee_id", "E1")
    assert backend.calls == 3
    clock.now += 300
    cache.find("employee_id", "E1")
    assert backend.calls == 4


def test_a_recent_profile_serves_while_the_backend_is_down(clock):
    backend = SlowDirectory()
    cache = CachedProfiles(
        backend, ttl_seconds=60, negative_ttl_seconds=5, max_stale_seconds=600, timer=clock
    )
    ann = cache.find("employee_id", "E1")
    backend.down = True
    clock.now += 61
    assert cache.find("employee_id", "E1") is ann  # stale, from 61 s ago
    assert cache.stats()["stale"] == 1
    calls = backend.calls
    clock.now += 6  # a stale answer is kept briefly: the backend is tried again soon
    assert cache.find("employee_id", "E1") is ann
    assert backend.calls == calls + 1
    backend.down = False
    clock.now += 6
    assert cache.find("employee_id", "E1") is ann and cache.stats()["stale"] == 2


def test_too_old_a_copy_does_not_serve(clock):
    backend = SlowDirectory()
    cache = CachedProfiles(backend, ttl_seconds=60, max_stale_seconds=120, timer=clock)
    cache.find("employee_id", "E1")
    backend.down = True
    clock.now += 121
    with pytest.raises(UpstreamUnavailable):
        cache.find("employee_id", "E1")
    with pytest.raises(UpstreamUnavailable):  # and a user never seen fails as it would
        cache.find("employee_id", "E2")
