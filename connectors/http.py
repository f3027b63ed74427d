"""HTTP for connectors: a pooled requests Session, timeouts, safe retries, a circuit breaker.

`budget_seconds` is a deadline for the whole call: every try, every sleep between tries, and
the reading of each answer to its last byte (connectors/http_deadline.py). Retries (tenacity)
stay within it, back off exponentially with jitter and honour Retry-After when it fits. Only
what is safe is retried: any failure of an idempotent call (a lookup), but for a call that moves
points only a failure to connect, because anything later may mean the system received it.
Redirects are followed only within the origin called (connectors/http_redirects.py); a client
certificate, when given, is presented on every connection (connectors/http_tls.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
from marshmallow import Schema, fields, validate, validates_schema
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
    wait_random,
)
from urllib3.exceptions import NewConnectionError

from connectors import telemetry
from connectors.base import (
    ConnectorError,
    OutcomeUnknown,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamUnavailable,
)
from connectors.breaker import CircuitBreaker
from connectors.http_deadline import (
    Deadline,
    DeadlineAdapter,
    DeadlineBeforeSending,
    DeadlinePassed,
)
from connectors.http_redirects import RedirectRefused, send_within_origin
from connectors.http_tls import check_tls_options, tls_fields, use_tls, why_not

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts, retry budget and breaker of one connector; the defaults are the options'."""

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    # All tries of one call, sleeps included: keep it below Xoxoday's own timeout.
    budget_seconds: float = 5.0
    attempts: int = 3
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0
    # Mutual TLS and a private CA (connectors/http_tls.py): absolute paths of PEM files.
    client_cert: str | None = None
    client_key: str | None = None
    ca_file: str | None = None


class HttpOptions(Schema):
    """The `http` table of a remote connector's options."""

    connect_timeout = fields.Float(
        load_default=HttpPolicy.connect_timeout, validate=validate.Range(min=0.01)
    )
    read_timeout = fields.Float(
        load_default=HttpPolicy.read_timeout, validate=validate.Range(min=0.01)
    )
    budget_seconds = fields.Float(
        load_default=HttpPolicy.budget_seconds, validate=validate.Range(min=0.1, max=60)
    )
    attempts = fields.Integer(
        load_default=HttpPolicy.attempts, validate=validate.Range(min=1, max=10)
    )
    breaker_failures = fields.Integer(
        load_default=HttpPolicy.breaker_failures, validate=validate.Range(min=1)
    )
    breaker_reset_seconds = fields.Float(
        load_default=HttpPolicy.breaker_reset_seconds, validate=validate.Range(min=0.1)
    )
    client_cert, client_key, ca_file = tls_fields()
    _tls = validates_schema(check_tls_options)


def http_options_field() -> fields.Nested:
    return fields.Nested(HttpOptions, load_default=lambda: HttpOptions().load({}))


class RetryableAnswer(Exception):
    """An answer worth another try (429, 5xx); the last one is mapped to our errors."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def certainly_not_sent(exc: BaseException) -> bool:
    """The request never reached the server: it failed while connecting."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return isinstance(reason, NewConnectionError)
    return False


def short_text(text: str, limit: int = 200) -> str:
    """A system's answer text on one line, cut short, for an error message."""
    return " ".join(text.split())[:limit]


def json_of(response: requests.Response) -> Any:
    """The answer's JSON with its numbers as exact Decimals (points are never floats), or None
    when the body is not JSON."""
    try:
        return response.json(parse_float=Decimal)
    except ValueError:
        return None


def retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


class HttpClient:
    """One connector's way to its system. `name` appears in logs and errors."""

    def __init__(
        self,
        name: str,
        policy: HttpPolicy,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.policy = policy
        self.session = session or requests.Session()
        for prefix in ("https://", "http://"):  # the deadline's watch on every connection
            self.session.mount(prefix, DeadlineAdapter())
        self.tls = use_tls(self.session, policy.client_cert, policy.client_key, policy.ca_file)
        self.breaker = CircuitBreaker(name, policy.breaker_failures, policy.breaker_reset_seconds)
        self._sleep = sleep

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        refused: Callable[[requests.Response], bool] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """The answer (any status but a retryable one); transport failures, exhausted retries
        and an open breaker raise UpstreamUnavailable. A call that is not `idempotent` (one
        that moves points) raises OutcomeUnknown instead once the request may have arrived:
        a timeout or reset after connecting, or a 5xx answer. `refused`: an answer that says
        our credentials are refused (a token endpoint's 401), raised as CredentialsRefused,
        which the breaker counts: it will keep refusing until someone fixes them."""

        kwargs = {**self.tls, **kwargs}

        def call() -> requests.Response:
            response = self._with_retries(method, url, idempotent, kwargs)
            if refused is not None and refused(response):
                raise CredentialsRefused(
                    f"{self.name}: credentials refused (HTTP {response.status_code}): "
                    f"{short_text(response.text)}"
                )
            return response

        return self.breaker.measured(call, is_failure=_is_outage)

    def close(self) -> None:
        self.session.close()

    def _with_retries(
        self, method: str, url: str, idempotent: bool, kwargs: dict[str, Any]
    ) -> requests.Response:
        with Deadline(self.policy.budget_seconds) as deadline:
            try:
                return self._tries(method, url, idempotent, kwargs, deadline)
            except RedirectRefused as exc:  # the first system answered: a write may be done
                refusal = UpstreamError if idempotent else OutcomeUnknown
                raise refusal(f"{self.name}: {exc}") from None
            except RetryableAnswer as exc:
                status = exc.response.status_code
                if not idempotent and status != 429:  # a 5xx may come after the write was done
                    raise OutcomeUnknown(f"{self.name}: HTTP {status} after sending") from None
                raise self._exhausted(exc.response) from None
            except requests.RequestException as exc:
                timed_out = isinstance(exc, requests.Timeout) or deadline.expired
                what = "timed out" if timed_out else "cannot reach it"
                why = (
                    f"its {deadline.seconds:g} s budget ran out"
                    if deadline.expired
                    else why_not(exc, self.policy.client_cert)
                )
                if not idempotent and not certainly_not_sent(exc):
                    raise OutcomeUnknown(f"{self.name}: {what} after sending ({why})") from None
                raise UpstreamUnavailable(f"{self.name}: {what} ({why})") from None

    def _tries(
        self,
        method: str,
        url: str,
        idempotent: bool,
        kwargs: dict[str, Any],
        deadline: Deadline,
    ) -> requests.Response:
        def timeouts() -> tuple[float, float]:
            left = max(deadline.left(), 0.01)
            return min(self.policy.connect_timeout, left), min(self.policy.read_timeout, left)

        def attempt() -> requests.Response:
            if deadline.expired:
                raise DeadlineBeforeSending()
            try:
                response = send_within_origin(self.session, method, url, timeouts, kwargs)
            except requests.RequestException as exc:
                if deadline.expired and not certainly_not_sent(exc):
                    raise DeadlinePassed() from None
                raise
            if deadline.cut:  # its connection was shut mid-answer: the body may be cut short
                raise DeadlinePassed()
            if response.status_code in RETRYABLE_STATUS:
                raise RetryableAnswer(response)
            return response

        def safe_to_retry(exc: BaseException) -> bool:
            if deadline.expired:
                return False
            if idempotent:
                return isinstance(exc, RetryableAnswer | requests.RequestException)
            return certainly_not_sent(exc)

        retrying = Retrying(
            stop=stop_after_attempt(self.policy.attempts)
            | stop_before_delay(self.policy.budget_seconds),
            wait=self._wait,
            retry=retry_if_exception(safe_to_retry),
            before_sleep=self._log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(attempt)

    _backoff = wait_exponential(multiplier=0.1, max=2.0) + wait_random(0, 0.1)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableAnswer) and (seconds := retry_after(exc.response)) is not None:
            return seconds  # past the budget, stop_before_delay gives up instead of sleeping
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        telemetry.telemetry.retry(self.name)
        exc = state.outcome.exception() if state.outcome else None
        what = (
            f"HTTP {exc.response.status_code}"
            if isinstance(exc, RetryableAnswer)
            else type(exc).__name__
        )
        log.warning(
            "%s: try %d failed (%s); retrying in %.2f s",
            self.name,
            state.attempt_number,
            what,
            state.upcoming_sleep,
        )

    def _exhausted(self, response: requests.Response) -> ConnectorError:
        status = response.status_code
        if status == 429:
            wait = retry_after(response)
            hint = f"; it asks to wait {wait:.0f} s" if wait is not None else ""
            return UpstreamUnavailable(f"{self.name}: throttled (HTTP 429){hint}")
        if status == 503:
            return UpstreamUnavailable(f"{self.name}: unavailable (HTTP 503, maintenance?)")
        return UpstreamError(f"{self.name}: HTTP {status}")


class CredentialsRefused(UpstreamAuthFailed):
    """A token endpoint refused our credentials: every call would be refused the same way."""


def _is_outage(exc: BaseException) -> bool:
    """What the breaker counts: the system not answering usefully, or refusing the
    credentials every call needs; not a refusal of one call of ours."""
    if isinstance(exc, CredentialsRefused):
        return True
    return isinstance(exc, UpstreamUnavailable | UpstreamError | OutcomeUnknown) and not isinstance(
        exc, UpstreamAuthFailed
    )
