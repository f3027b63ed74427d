"""Prometheus metrics: requests, connector calls, breakers, the profile cache, the journal.

Under gunicorn every worker is its own process, so `serve` sets PROMETHEUS_MULTIPROC_DIR
before any worker imports prometheus_client, and /metrics sums the workers' files. Imported
only by create_app, never by the CLI's master process, for that reason. The journal's figures
(unfinished operations, points moved) are read from the database at each scrape, so every
worker and host reports the same ones.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from connectors import telemetry
from gateway.journal import JOURNAL_DOWN, Journal, why_down
from gateway.journal.records import maybe_utc
from gateway.journal.tables import UNFINISHED_ROWS, accounts, operations, xoxoday_tokens
from gateway.service.money import from_units

log = logging.getLogger(__name__)
PREFIX = "points_gateway"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter(
    f"{PREFIX}_requests_total", "HTTP requests by endpoint and outcome", ["endpoint", "outcome"]
)
REQUEST_SECONDS = Histogram(
    f"{PREFIX}_request_seconds", "HTTP request latency", ["endpoint"], buckets=LATENCY_BUCKETS
)
CONNECTOR_CALLS = Counter(
    f"{PREFIX}_connector_calls_total",
    "Calls to HR systems, ledgers and Xoxoday by outcome",
    ["connector", "outcome"],
)
CONNECTOR_SECONDS = Histogram(
    f"{PREFIX}_connector_seconds",
    "Latency of calls to remote systems, retries included",
    ["connector"],
    buckets=LATENCY_BUCKETS,
)
CONNECTOR_RETRIES = Counter(
    f"{PREFIX}_connector_retries_total", "Retried calls to remote systems", ["connector"]
)
BREAKER_OPEN = Gauge(
    f"{PREFIX}_breaker_open",
    "1 while a connector's circuit breaker is open (in any worker)",
    ["connector"],
    multiprocess_mode="max",
)
PROFILE_CACHE = Counter(
    f"{PREFIX}_profile_cache_total", "Profile lookups by cache result", ["result"]
)


class PrometheusTelemetry(telemetry.Telemetry):
    def call(self, connector: str, outcome: str, seconds: float) -> None:
        CONNECTOR_CALLS.labels(connector, outcome).inc()
        CONNECTOR_SECONDS.labels(connector).observe(seconds)

    def retry(self, connector: str) -> None:
        CONNECTOR_RETRIES.labels(connector).inc()

    def breaker(self, connector: str, is_open: bool) -> None:
        BREAKER_OPEN.labels(connector).set(1 if is_open else 0)

    def cache(self, result: str) -> None:
        PROFILE_CACHE.labels(result).inc()


class JournalCollector(Collector):
    """The journal's own figures, read at scrape time."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def collect(self) -> Iterator[Metric]:
        unfinished = UNFINISHED_ROWS
        up = GaugeMetricFamily(
            f"{PREFIX}_journal_up", "1 when the journal could be read for this scrape, else 0"
        )
        try:
            with self.journal.reader.connect() as conn:
                pending = conn.execute(
                    select(operations.c.kind, func.count()).where(unfinished).group_by("kind")
                ).all()
                orphans = conn.execute(
                    select(operations.c.orphan, func.count())
                    .where(operations.c.orphan.is_not(None))
                    .group_by(operations.c.orphan)
                ).all()
                tokens = conn.execute(
                    select(
                        xoxoday_tokens.c.name,
                        xoxoday_tokens.c.access_expires_at,
                        xoxoday_tokens.c.refresh_expires_at,
                    )
                ).all()
                totals = conn.execute(
                    select(
                        func.coalesce(func.sum(accounts.c.debited), 0),
                        func.coalesce(func.sum(accounts.c.refunded), 0),
                        func.coalesce(func.sum(accounts.c.credited), 0),
                    )
                ).one()
        except JOURNAL_DOWN as exc:
            # The outage must not hide its own error counts: the rest of /metrics answers.
            log.warning("metrics: the journal could not be read: %s", why_down(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        gauge = GaugeMetricFamily(
            f"{PREFIX}_journal_unfinished",
            "Operations not yet applied or rejected (owed refunds, unsettled debits)",
            labels=["kind"],
        )
        counts: dict[str, int] = {kind: count for kind, count in pending}
        for kind in ("debit", "refund", "credit"):
            gauge.add_metric([kind], counts.get(kind, 0))
        yield gauge
        orphan_gauge = GaugeMetricFamily(
            f"{PREFIX}_journal_orphans",
            "Applied debits answered a failure and never delivered again, by what was done",
            labels=["handling"],
        )
        handled: dict[str, int] = {handling: count for handling, count in orphans}
        for handling in ("refunded", "reported"):
            orphan_gauge.add_metric([handling], handled.get(handling, 0))
        yield orphan_gauge
        points = CounterMetricFamily(
            f"{PREFIX}_points", "Points moved, as the journal has them applied", labels=["kind"]
        )
        for kind, units in zip(("debited", "refunded", "credited"), totals, strict=True):
            points.add_metric([kind], float(from_units(int(units))))
        yield points
        expiry = GaugeMetricFamily(
            f"{PREFIX}_xoxoday_token_expiry_timestamp_seconds",
            "When the stored Xoxoday API tokens expire (Unix time), by pair name and token",
            labels=["name", "token"],
        )
        for name, *expires in tokens:
            for token, at in zip(("access", "refresh"), expires, strict=True):
                when = maybe_utc(at)
                if when is not None:
                    expiry.add_metric([name, token], when.timestamp())
        yield expiry


def install() -> None:
    telemetry.install(PrometheusTelemetry())


def exposition(journal: Journal) -> tuple[bytes, dict[str, str]]:
    """The /metrics answer: this process's (or all workers') metrics and the journal's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry: Any = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    journal_registry = CollectorRegistry()
    journal_registry.register(JournalCollector(journal))
    body = generate_latest(registry) + generate_latest(journal_registry)
    return body, {"Content-Type": CONTENT_TYPE_LATEST}


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit: drop a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
