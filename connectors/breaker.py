"""A circuit breaker per connector: after repeated failures, fail fast until a trial succeeds.

The lock guards only the breaker's state, never the call itself, so a connector's calls run
in parallel (unlike pybreaker, which holds its lock while the wrapped call runs). While open,
callers fail at once; after `reset_seconds` one caller at a time is let through as a trial.

A call made under `probing()` (the gateway's status lookups) need not wait out the reset time:
while the breaker is open it is let through as the trial, one at a time. A lookup is what
settles a write that may have been applied; failing it fast while the system is back would
answer `outcome_unknown` for a debit that was taken. Its success closes the breaker for all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from connectors import telemetry
from connectors.base import ConnectorError, UpstreamUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
_probing: ContextVar[bool] = ContextVar("breaker_probing", default=False)


@contextmanager
def probing() -> Iterator[None]:
    """Calls made inside may probe an open breaker (see the module's docstring)."""
    token = _probing.set(True)
    try:
        yield
    finally:
        _probing.reset(token)


class BreakerOpen(UpstreamUnavailable):
    """Refused without calling: the system failed repeatedly and has not recovered yet."""


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_seconds = reset_seconds
        self._timer = timer
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state

    def call(self, fn: Callable[[], T], is_failure: Callable[[BaseException], bool]) -> T:
        """Run `fn` unless open; an exception for which `is_failure` holds counts against the
        system, any other outcome shows it answering."""
        trial = self._admit()
        try:
            result = fn()
        except BaseException as exc:
            if is_failure(exc):
                self._failed(trial)
            else:
                self._answered(trial)
            raise
        self._answered(trial)
        return result

    def measured(self, fn: Callable[[], T], is_failure: Callable[[BaseException], bool]) -> T:
        """`call`, with its outcome and duration reported as a call to the connector this
        breaker guards (what every remote call of a connector does)."""
        started, outcome = time.perf_counter(), "ok"
        try:
            return self.call(fn, is_failure)
        except ConnectorError as exc:
            outcome = exc.error_code
            raise
        finally:
            telemetry.telemetry.call(self.name, outcome, time.perf_counter() - started)

    def _admit(self) -> bool:
        """True when this call is the half-open trial; raises BreakerOpen to fail fast."""
        with self._lock:
            if self._state == CLOSED:
                return False
            if (
                self._state == OPEN
                and not self._trial_running
                and (_probing.get() or self._timer() - self._opened_at >= self.reset_seconds)
            ):
                self._state = HALF_OPEN
                self._trial_running = True
                return True
        raise BreakerOpen(f"{self.name}: failing fast after repeated failures; retrying later")

    def _answered(self, trial: bool) -> None:
        with self._lock:
            if trial or self._state == HALF_OPEN:
                log.warning("%s: recovered; circuit closed", self.name)
                telemetry.telemetry.breaker(self.name, is_open=False)
            self._state, self._failures = CLOSED, 0
            if trial:
                self._trial_running = False

    def _failed(self, trial: bool) -> None:
        with self._lock:
            if trial:
                self._trial_running = False
            self._failures += 1
            if trial or (self._state == CLOSED and self._failures >= self.failure_threshold):
                if self._state != OPEN:
                    log.warning(
                        "%s: %d failure(s) in a row; circuit open for %.0f s",
                        self.name,
                        self._failures,
                        self.reset_seconds,
                    )
                    telemetry.telemetry.breaker(self.name, is_open=True)
                self._state, self._opened_at = OPEN, self._timer()
