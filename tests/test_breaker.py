"""The circuit breaker with real threads: opens, fails fast, one trial, never serialises; a
probe (the gateway's status lookups) goes through an open one at once, one at a time."""

from __future__ import annotations

import threading

import pytest

from connectors.base import UpstreamUnavailable
from connectors.breaker import BreakerOpen, CircuitBreaker, probing


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def boom():
    raise UpstreamUnavailable("down")


def outage(exc: BaseException) -> bool:
    return isinstance(exc, UpstreamUnavailable)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def breaker(clock):
    return CircuitBreaker("hr", failure_threshold=3, reset_seconds=10, timer=clock)


def fail(breaker, times):
    for _ in range(times):
        with pytest.raises(UpstreamUnavailable):
            breaker.call(boom, outage)


def test_opens_after_the_threshold_and_fails_fast(breaker):
    fail(breaker, 2)
    assert breaker.state == "closed"
    fail(breaker, 1)
    assert breaker.state == "open"
    called = []
    with pytest.raises(BreakerOpen):
        breaker.call(lambda: called.append(1), outage)
    assert called == []


def test_a_success_resets_the_count(breaker):
    fail(breaker, 2)
    assert breaker.call(lambda: "ok", outage) == "ok"
    fail(breaker, 2)
    assert breaker.state == "closed"


def test_answers_that_are_not_outages_do_not_count(breaker):
    for _ in range(5):
        with pytest.raises(KeyError):
            breaker.call(lambda: {}["missing"], outage)
    assert breaker.state == "closed"


def test_after_the_reset_time_one_trial_closes_or_reopens(breaker, clock):
    fail(breaker, 3)
    clock.now = 10
    fail(breaker, 1)  # the trial failed: open again, for another reset period
    assert breaker.state == "open"
    with pytest.raises(BreakerOpen):
        breaker.call(lambda: "ok", outage)
    clock.now = 20
    assert breaker.call(lambda: "ok", outage) == "ok"
    assert breaker.state == "closed"


def test_only_one_trial_runs_at_a_time(breaker, clock):
    fail(breaker, 3)
    clock.now = 10
    entered, release, results = threading.Event(), threading.Event(), []

    def trial():
        entered.set()
        release.wait(5)
        return "ok"

    t = threading.Thread(target=lambda: results.append(breaker.call(trial, outage)))
    t.start()
    assert entered.wait(5)
    with pytest.raises(BreakerOpen):  # another caller while the trial runs: fail fast
        breaker.call(lambda: "second", outage)
    release.set()
    t.join(5)
    assert results == ["ok"] and breaker.state == "closed"


def test_calls_are_not_serialised_behind_the_breaker(breaker):
    """Eight calls must be inside the breaker at once to pass the barrier; a breaker that held
    its lock during the call would time the barrier out."""
    barrier = threading.Barrier(8, timeout=5)
    errors = []

    def call():
        try:
            breaker.call(barrier.wait, outage)
        except threading.BrokenBarrierError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []


def test_a_probe_goes_through_an_open_breaker_at_once_and_its_success_closes_it(breaker):
    fail(breaker, 3)
    with pytest.raises(BreakerOpen):  # long before reset_seconds: a plain call fails fast
        breaker.call(lambda: "ok", outage)
    with probing():
        assert breaker.call(lambda: "found", outage) == "found"
    assert breaker.state == "closed"
    assert breaker.call(lambda: "ok", outage) == "ok"  # for everyone


def test_a_failed_probe_keeps_it_open_and_probes_go_one_at_a_time(breaker):
    fail(breaker, 3)
    with probing():
        fail(breaker, 1)
    assert breaker.state == "open"
    with pytest.raises(BreakerOpen):
        breaker.call(lambda: "ok", outage)
    entered, release, results = threading.Event(), threading.Event(), []

    def probe():
        entered.set()
        release.wait(5)
        return "found"

    def first():
        with probing():
            results.append(breaker.call(probe, outage))

    t = threading.Thread(target=first)
    t.start()
    assert entered.wait(5)
    with probing(), pytest.raises(BreakerOpen):  # another probe while one runs: fail fast
        breaker.call(lambda: "second", outage)
    release.set()
    t.join(5)
    assert results == ["found"] and breaker.state == "closed"
