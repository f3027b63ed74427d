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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
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
from sqlalchemy import Connection, func, select

from connectors import telemetry
from gateway.journal import JOURNAL_DOWN, Journal, why_down
from gateway.journal.records import maybe_utc
from gateway.journal.tables import UNFINISHED_ROWS, accounts, operations, xoxoday_tokens
from gateway.service.money import from_units

log = logging.getLogger(__name__)
PREFIX = "points_gateway"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter(
    f"{PREFIX}_requests_total",
    "HTTP requests by endpoint, outcome and program",
    ["endpoint", "outcome", "program"],
)
REQUEST_SECONDS = Histogram(
    f"{PREFIX}_request_seconds",
    "HTTP request latency",
    ["endpoint", "program"],
    buckets=LATENCY_BUCKETS,
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


@dataclass
class Figures:
    """One program's figures in the journal."""

    unfinished: dict[str, int] = field(default_factory=dict)  # by kind
    orphans: dict[str, int] = field(default_factory=dict)  # by handling
    points: tuple[int, int, int] = (0, 0, 0)  # debited, refunded, credited (units)
    tokens: list[tuple[str, Any, Any]] = field(default_factory=list)  # name, expiries


def journal_figures(conn: Connection, programs: Sequence[str]) -> dict[str, Figures]:
    """Each of `programs`' figures, read in one query per figure, whatever their number."""
    found = {program: Figures() for program in programs}
    o, a, t = operations.c, accounts.c, xoxoday_tokens.c
    pending = (
        select(o.program, o.kind, func.count())
        .where(o.program.in_(programs), UNFINISHED_ROWS)
        .group_by(o.program, o.kind)
    )
    for program, kind, count in conn.execute(pending):
        found[program].unfinished[kind] = count
    orphans = (
        select(o.program, o.orphan, func.count())
        .where(o.program.in_(programs), o.orphan.is_not(None))
        .group_by(o.program, o.orphan)
    )
    for program, handling, count in conn.execute(orphans):
        found[program].orphans[handling] = count
    moved = [func.coalesce(func.sum(column), 0) for column in (a.debited, a.refunded, a.credited)]
    totals = select(a.program, *moved).where(a.program.in_(programs)).group_by(a.program)
    for program, debited, refunded, credited in conn.execute(totals):
        found[program].points = (int(debited), int(refunded), int(credited))
    tokens = select(t.program, t.name, t.access_expires_at, t.refresh_expires_at)
    for program, name, access, refresh in conn.execute(tokens.where(t.program.in_(programs))):
        found[program].tokens.append((name, access, refresh))
    return found


class JournalCollector(Collector):
    """The journal's own figures, read at scrape time: of the journal's program; or, given
    `programs` (the configured ones: a bounded set), of each, labelled `program`."""

    def __init__(self, journal: Journal, programs: Sequence[str] | None = None) -> None:
        self.journal = journal
        self.programs = list(programs) if programs is not None else None

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}_journal_up", "1 when the journal could be read for this scrape, else 0"
        )
        programs = self.programs if self.programs is not None else [self.journal.program]
        try:
            with self.journal.reader.connect() as conn:
                figures = journal_figures(conn, programs)
        except JOURNAL_DOWN as exc:
            # The outage must not hide its own error counts: the rest of /metrics answers.
            log.warning("metrics: the journal could not be read: %s", why_down(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        by = ["program"] if self.programs is not None else []

        def labels(program: str, *values: str) -> list[str]:
            return [*values, program] if by else list(values)

        gauge = GaugeMetricFamily(
            f"{PREFIX}_journal_unfinished",
            "Operations not yet applied or rejected (owed refunds, unsettled debits)",
            labels=["kind", *by],
        )
        orphan_gauge = GaugeMetricFamily(
            f"{PREFIX}_journal_orphans",
            "Applied debits answered a failure and never delivered again, by what was done",
            labels=["handling", *by],
        )
        points = CounterMetricFamily(
            f"{PREFIX}_points",
            "Points moved, as the journal has them applied",
            labels=["kind", *by],
        )
        expiry = GaugeMetricFamily(
            f"{PREFIX}_xoxoday_token_expiry_timestamp_seconds",
            "When the stored Xoxoday API tokens expire (Unix time), by pair name and token",
            labels=["name", "token", *by],
        )
        for program, found in figures.items():
            for kind in ("debit", "refund", "credit"):
                gauge.add_metric(labels(program, kind), found.unfinished.get(kind, 0))
            for handling in ("refunded", "reported"):
                orphan_gauge.add_metric(labels(program, handling), found.orphans.get(handling, 0))
            for kind, units in zip(("debited", "refunded", "credited"), found.points, strict=True):
                points.add_metric(labels(program, kind), float(from_units(units)))
            for name, *expires in found.tokens:
                for token, at in zip(("access", "refresh"), expires, strict=True):
                    when = maybe_utc(at)
                    if when is not None:
                        expiry.add_metric(labels(program, name, token), when.timestamp())
        yield from (gauge, orphan_gauge, points, expiry)


def install() -> None:
    telemetry.install(PrometheusTelemetry())


def exposition(journal: Journal, programs: list[str] | None = None) -> tuple[bytes, dict[str, str]]:
    """The /metrics answer: this process's (or all workers') metrics and the journal's (with a
    `program` label when the deployment serves several: `programs`)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry: Any = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    journal_registry = CollectorRegistry()
    journal_registry.register(JournalCollector(journal, programs))
    body = generate_latest(registry) + generate_latest(journal_registry)
    return body, {"Content-Type": CONTENT_TYPE_LATEST}


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit: drop a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
