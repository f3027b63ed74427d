"""The overview's charts (gateway/console/history.py, charts.py, ledger_calls.py): the numbers
of a known journal, hour by hour, on SQLite and PostgreSQL (a session in another time zone
too); the same numbers in the SVG's marks and in the tables beside them; no inline style or
script, so the CSP holds; the ledger's section only with a points ledger, and its calls as this
host's metrics count them (across processes too)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, insert

from gateway.app import create_app
from gateway.console.charts import call_times
from gateway.console.history import history
from gateway.console.ledger_calls import LedgerCalls, kind_of, ledger_calls
from gateway.journal import Journal
from gateway.journal.operators import Operators
from gateway.journal.records import utcnow
from gateway.journal.tables import operations
from tests.conftest import write_config
from tests.fakes import rest_ledger as fake
from tests.servers import REPO, clean_env
from tests.test_console import PASSWORD, console_config, log_in
from tests.test_console_ledger import CONSOLE, Flaky, redeem, stuck

NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
HOUR, MIN = timedelta(hours=1), timedelta(minutes=1)


@dataclass
class Row:
    """An operation as the journal holds it: received at `created`, last changed at
    `changed` (None: never, as without a points ledger)."""

    kind: str
    state: str
    created: datetime
    changed: datetime | None = None
    sent: datetime | None = None
    attempts: int = 0
    orphan: str | None = None


def put(journal: Journal, rows: list[Row], prefix: str = "") -> None:
    values = [
        {
            "created_at": r.created,
            "kind": r.kind,
            "state": r.state,
            "member": f"{prefix}DB123",
            "unique_id": f"{prefix}DB123",
            "order_id": f"{prefix}O-{i}",
            "amount": 10_000,
            "fingerprint": "f",
            "answer": "{}",
            "reference": f"{r.kind}:{prefix}O-{i}" if r.changed else None,
            "attempts": r.attempts,
            "sent_at": r.sent,
            "updated_at": r.changed,
            "orphan": r.orphan,
        }
        for i, r in enumerate(rows)
    ]
    with journal._write() as conn:
        conn.execute(insert(operations), values)


def known(now: datetime) -> list[Row]:
    """One of each case the charts must tell apart, around `now` (10:30 for NOW)."""
    h = now.replace(minute=0, second=0, microsecond=0)  # 10:00
    sent = h - 2 * HOUR + timedelta(minutes=5)  # 08:05
    return [
        # Applied at the first attempt: 0.5 s and 1.5 s; one applied after 3 attempts.
        Row("debit", "applied", sent, sent + timedelta(seconds=0.5), sent, 1),
        Row("debit", "applied", sent, sent + timedelta(seconds=1.5), sent, 1),
        Row("debit", "applied", sent, sent + timedelta(minutes=30), sent, 3),
        Row("debit", "rejected", sent, sent + timedelta(seconds=1), sent, 1),
        # Without a ledger: applied when received, never unfinished.
        Row("debit", "applied", h - 3 * HOUR),
        # Received 03:20, settled 06:40: unfinished at 04:00, 05:00 and 06:00.
        Row("debit", "applied", h - 7 * HOUR + timedelta(minutes=20), h - 4 * HOUR + 40 * MIN),
        # Received and settled within 05:xx: never unfinished at the end of an hour.
        Row("refund", "applied", h - 5 * HOUR + 5 * MIN, h - 5 * HOUR + 50 * MIN),
        # Unfinished now: since 05:10 (an unknown refund), 07:15 (a credit in conflict).
        Row("refund", "unknown", h - 5 * HOUR + 10 * MIN, h - HOUR),
        Row("credit", "conflict", h - 3 * HOUR + 15 * MIN, h - 2 * HOUR),
        # Received before the window: one unfinished still, one settled within the window
        # (at 13:30 the day before), one settled before it.
        Row("refund", "received", h - 60 * HOUR, h - 60 * HOUR),
        Row("credit", "applied", h - 60 * HOUR, h - 21 * HOUR + 30 * MIN),
        Row("credit", "applied", h - 70 * HOUR, h - 50 * HOUR),
        # An orphan: marking it changed updated_at; it took no time of the ledger's that counts.
        Row("debit", "applied", sent, sent + 110 * MIN, sent, 1, orphan="reported"),
    ]


def expected_levels(rows: list[Row], ends: list[datetime]) -> list[int]:
    """The oracle, row by row: unfinished at T when received before T and, if finished, last
    changed at T or after."""
    unfinished = {"received", "sent", "unknown", "conflict"}
    return [
        sum(
            1
            for r in rows
            if r.created < at
            and (r.state in unfinished or (r.changed is not None and r.changed >= at))
        )
        for at in ends
    ]


@pytest.fixture
def kolkata(journal: Journal) -> Iterator[Journal]:
    """The same journal read by sessions in Asia/Kolkata (UTC+05:30) on PostgreSQL: hours
    must still be UTC hours."""
    if journal.is_sqlite:
        yield journal
        return

    def zone(dbapi_connection: Any, _: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'Asia/Kolkata'")
        dbapi_connection.commit()

    journal.reader.dispose()
    event.listen(journal.reader, "connect", zone)
    try:
        yield journal
    finally:
        event.remove(journal.reader, "connect", zone)


def test_a_known_journal_hour_by_hour(kolkata: Journal):
    rows = known(NOW)
    put(kolkata, rows)
    found = history(kolkata, NOW)
    assert len(found.hours) == 48 and found.hours[-1] == datetime(2026, 12, 7, 10, tzinfo=UTC)
    at = {hour: i for i, hour in enumerate(found.hours)}
    h = found.hours[-1]
    debits = found.received["debit"]
    assert debits[at[h - 2 * HOUR]] == {"applied": 4, "rejected": 1}
    assert debits[at[h - 3 * HOUR]] == {"applied": 1}
    assert debits[at[h - 7 * HOUR]] == {"applied": 1}
    assert found.received["refund"][at[h - 5 * HOUR]] == {"applied": 1, "unfinished": 1}
    assert found.received["credit"][at[h - 3 * HOUR]] == {"conflict": 1}
    assert (found.total("debit"), found.total("refund"), found.total("credit")) == (7, 2, 1)
    # The ledger's time: the two applied at their first attempt (the orphan and the one
    # applied after 3 attempts do not count), in 08:xx.
    writes = found.writes[at[h - 2 * HOUR]]
    assert (writes.count, writes.longest) == (2, pytest.approx(1.5, abs=0.01))
    assert writes.average == pytest.approx(1.0, abs=0.01)
    assert sum(w.count for w in found.writes) == 2
    # Unfinished at the end of each hour, now for the last.
    ends = [hour + HOUR for hour in found.hours[:-1]] + [NOW]
    assert found.unfinished == expected_levels(rows, ends)
    by_end = dict(zip((e.strftime("%d %H") for e in ends), found.unfinished, strict=True))
    assert by_end["06 13"] == 2  # the old refund, and the old credit settled at 13:30
    assert by_end["06 14"] == 1
    # 03:20-06:40 adds one at 04:00-06:00; the unknown refund from 06:00, the conflict from
    # 08:00, and the orphan (marked at 09:55, see the caption) at 09:00.
    assert [by_end[f"07 0{h}"] for h in range(3, 10)] == [1, 2, 2, 3, 2, 3, 4]
    assert by_end["07 10"] == found.unfinished[-1] == 3  # now: the old refund, the unknown
    # refund and the conflict


def test_an_empty_journal_draws_flat_lines(journal: Journal):
    found = history(journal, utcnow())
    assert found.unfinished == [0] * 48 and found.total("debit") == 0
    assert all(w.count == 0 for w in found.writes)


# -- the page ----------------------------------------------------------------------------------


@pytest.fixture
def console_app(tmp_path: Path, employees_csv: Path, database_url: str) -> Iterator[Flask]:
    """The console over a journal that keeps the points itself (no points ledger)."""
    app = create_app(console_config(tmp_path, database_url))
    Operators(app.extensions["points_gateway"].journal).add("alice", "operator", PASSWORD)
    yield app
    app.extensions["points_gateway"].close()


def svgs(page: str) -> dict[str, ET.Element]:
    """Every chart on the page, parsed as XML (so each is well-formed), by its id."""
    found = {}
    for markup in re.findall(r"<svg\b.*?</svg>", page, re.S):
        element = ET.fromstring(markup)
        found[element.get("id", "")] = element
    return found


def sums(chart: ET.Element, tag: str = "rect") -> dict[str, float]:
    """A chart's marks added up by their class: what its bars show."""
    found: dict[str, float] = {}
    for mark in chart.iter(tag):
        css = mark.get("class", "")
        found[css] = found.get(css, 0) + float(mark.get("data-value", "nan"))
    return found


def table(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, table_id
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]


def assert_the_csp_holds(answer: Any) -> None:
    assert answer.headers["Content-Security-Policy"] == "default-src 'self'; frame-ancestors 'none'"
    page = answer.get_data(as_text=True)
    for inline in ("style=", "<style", "<script", "javascript:", " on"):
        found = re.search(re.escape(inline) + (r"[a-z]+=" if inline == " on" else ""), page, re.I)
        assert found is None, (inline, page[max(found.start() - 80, 0) : found.end() + 80])


def test_the_overview_draws_the_journal_s_hours_and_lists_the_numbers(console_app: Flask):
    journal = console_app.extensions["points_gateway"].journal
    rows = known(utcnow())
    put(journal, rows)
    client = console_app.test_client()
    assert log_in(client) == 302
    answer = client.get("/console/")
    assert_the_csp_holds(answer)
    page = answer.get_data(as_text=True)
    charts = svgs(page)
    assert set(charts) == {"chart-debit", "chart-refund", "chart-credit", "chart-unfinished"}
    for name, chart in charts.items():  # each says what it is, to a screen reader too
        assert chart.get("role") == "img"
        labels = chart.get("aria-labelledby", "").split()
        assert labels == [f"{name}-title", f"{name}-desc"]
        assert {e.get("id") for e in chart if e.tag in ("title", "desc")} == set(labels)
    # One bar segment an hour and state: 08:xx applied and rejected, 07:xx, 03:xx.
    assert sums(charts["chart-debit"]) == {"applied": 6, "rejected": 1}
    assert len(list(charts["chart-debit"].iter("rect"))) == 4
    assert sums(charts["chart-refund"]) == {"applied": 1, "unfinished": 1}
    assert sums(charts["chart-credit"]) == {"conflict": 1}
    # The same numbers as text.
    listed: dict[tuple[str, str], int] = {}
    for _, kind, *counts in table(page, "received-numbers"):
        for state, n in zip(("applied", "rejected", "unfinished", "conflict"), counts, strict=True):
            listed[(kind, state)] = listed.get((kind, state), 0) + int(n)
    assert {k: n for k, n in listed.items() if n} == {
        ("debit", "applied"): 6,
        ("debit", "rejected"): 1,
        ("refund", "applied"): 1,
        ("refund", "unfinished"): 1,
        ("credit", "conflict"): 1,
    }
    # Unfinished at the end of each hour the table names, and now.
    levels = table(page, "unfinished-numbers")
    assert len(levels) == 48 and levels[-1][0].startswith("now, ")
    ends = [datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=UTC) for at, _ in levels[:-1]]
    dots = [
        int(float(d.get("data-value", "nan"))) for d in charts["chart-unfinished"].iter("circle")
    ]
    expected = [*expected_levels(rows, ends), 3]  # now: the two refunds and the conflict
    assert dots == [int(n) for _, n in levels] == expected
    assert max(expected) == 4 and re.search(r'id="unfinished"><a href="[^"]+">3</a>', page)
    assert 'id="ledger"' not in page  # no points ledger here


def test_what_the_journal_holds_is_escaped_in_the_charts_too(console_app: Flask):
    journal = console_app.extensions["points_gateway"].journal
    put(journal, [Row('<b id="x">k</b>', "<i>state</i>", utcnow() - HOUR)])
    client = console_app.test_client()
    assert log_in(client) == 302
    answer = client.get("/console/")
    assert_the_csp_holds(answer)
    page = answer.get_data(as_text=True)
    assert "<b " not in page and "<i>" not in page
    assert "&lt;b id=&#34;x&#34;&gt;k&lt;/b&gt;" in page
    chart = svgs(page)['chart-<b id="x">k</b>']
    assert sums(chart) == {"<i>state</i>": 1}


# -- the points ledger -------------------------------------------------------------------------


@pytest.fixture
def ledger(mock: Any) -> Flaky:
    api = fake.LedgerApi()
    api.accounts["DB123"] = Decimal("500")
    flaky = Flaky(api)
    for method in ("GET", "POST"):
        mock.add_callback(method, re.compile(re.escape(fake.BASE) + r"/.*"), callback=flaky)
    return flaky


@pytest.fixture
def ledger_app(
    tmp_path: Path, employees_csv: Path, database_url: str, ledger: Flaky
) -> Iterator[Flask]:
    """The console of a gateway whose points live in the REST ledger's fake (flaky at will)."""
    config = write_config(tmp_path, database_url)
    points = fake.POINTS_TOML + "http = { attempts = 1, read_timeout = 0.5, budget_seconds = 1 }\n"
    config.write_text(
        config.read_text().replace(
            '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }', points
        )
        + CONSOLE
    )
    app = create_app(config)
    Operators(app.extensions["points_gateway"].journal).add("alice", "operator", PASSWORD)
    yield app
    app.extensions["points_gateway"].close()


def test_with_a_ledger_the_overview_shows_its_write_times_and_this_host_s_calls(
    ledger_app: Flask, ledger: Flaky
):
    assert redeem(ledger_app, "L-1")["status"] == "1"  # applied at its first attempt
    stuck(ledger_app, ledger, "L-2")  # applied by the ledger, its answer lost: unknown
    client = ledger_app.test_client()
    assert log_in(client) == 302
    answer = client.get("/console/")
    connector = ledger_app.extensions["points_gateway"].service.points_connector
    counted = ledger_calls(connector)  # read right after the page: no call in between
    assert_the_csp_holds(answer)
    page = answer.get_data(as_text=True)
    charts = svgs(page)
    assert {"chart-write-times", "chart-calls", "chart-call-times"} <= set(charts)
    # The journal's view: one write applied at its first attempt, this hour.
    times = [r for r in charts["chart-write-times"].iter("rect") if r.get("class") == "took"]
    assert len(times) == 1 and "1 write," in (times[0].findtext("title") or "")
    (row,) = table(page, "write-numbers")
    assert row[1] == "1"
    # This host's metrics: the bars are the counts, by outcome, and ok is told from failures.
    assert counted is not None and counted.connector == "rest ledger"
    bars = {
        (r.findtext("title") or "").split(":")[0]: (r.get("class"), float(r.get("data-value", "")))
        for r in charts["chart-calls"].iter("rect")
    }
    assert bars == {o: (f"call-{kind_of(o)}", n) for o, n in counted.outcomes.items()}
    # At least L-1's debit and the page's readiness check answered; L-2's debit timed out.
    assert bars["ok"][1] >= 2 and bars["outcome_unknown"][1] >= 1
    assert bars["outcome_unknown"][0] == "call-failed"
    assert sum(sums(charts["chart-call-times"]).values()) == counted.total
    assert "(rest ledger)" in page and "this host" in page


def test_ledger_calls_are_read_by_connector_outcome_and_bucket():
    from prometheus_client import CollectorRegistry, Counter, Histogram

    registry = CollectorRegistry()
    calls = Counter(
        "points_gateway_connector_calls", "", ["connector", "outcome"], registry=registry
    )
    took = Histogram(
        "points_gateway_connector_seconds", "", ["connector"], buckets=(0.1, 1), registry=registry
    )
    for outcome, n in (("ok", 3), ("outcome_unknown", 1), ("insufficient_points", 2)):
        calls.labels("rest ledger", outcome).inc(n)
    calls.labels("another", "ok").inc(100)
    for seconds in (0.05, 0.05, 0.5, 0.5, 0.5, 5):
        took.labels("rest ledger").observe(seconds)
    took.labels("another").observe(0.01)
    connector = SimpleNamespace(client=SimpleNamespace(breaker=SimpleNamespace(name="rest ledger")))
    found = ledger_calls(connector, registry)
    assert found == LedgerCalls(
        "rest ledger",
        {"ok": 3, "outcome_unknown": 1, "insufficient_points": 2},
        [(0.1, 2), (1.0, 5), (math.inf, 6)],
    )
    assert found.within() == [(0.1, 2), (1.0, 3), (math.inf, 1)]
    assert (found.at_most(0.3), found.at_most(0.5), found.at_most(0.95)) == (0.1, 1.0, math.inf)
    drawn = [m.title for m in call_times(found).marks]
    assert drawn == ["≤ 100 ms: 2", "≤ 1 s: 3", "longer: 1"]
    quick = LedgerCalls("x", {"ok": 2}, [(0.01, 0), (0.1, 2), (1.0, 2), (math.inf, 2)])
    assert [m.title for m in call_times(quick).marks] == ["≤ 100 ms: 2"]  # no empty ends
    assert [
        kind_of(o) for o in ("ok", "insufficient_points", "user_not_found", "ledger_refused")
    ] == [
        "ok",
        "refused",
        "refused",
        "refused",
    ]
    assert kind_of("outcome_unknown") == kind_of("upstream_unavailable") == "failed"
    assert ledger_calls(SimpleNamespace(), registry) is None  # no breaker: counts nothing
    assert LedgerCalls("x").at_most(0.5) is None


COUNT = """
import sys
from gateway import metrics
from connectors import telemetry
metrics.install()
for call in sys.argv[1:]:
    outcome, seconds = call.split("=")
    telemetry.telemetry.call("rest ledger", outcome, float(seconds))
"""
READ = """
import json, types
from gateway.console.ledger_calls import ledger_calls
connector = types.SimpleNamespace(breaker=types.SimpleNamespace(name="rest ledger"))
found = ledger_calls(connector)
print(json.dumps([found.outcomes, found.within()[:3]]))
"""


def test_under_serve_the_calls_of_every_worker_of_this_host_are_summed(tmp_path: Path):
    """Each process writes its own multiprocess file, as gunicorn's workers do; the console,
    in another, reads them all."""
    env = {**clean_env(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for calls in (["ok=0.004", "outcome_unknown=0.007"], ["ok=0.02"]):
        subprocess.run([sys.executable, "-c", COUNT, *calls], env=env, cwd=REPO, check=True)
    pids = {name.rsplit("_", 1)[-1] for name in os.listdir(tmp_path) if name.endswith(".db")}
    assert len(pids) == 2
    read = subprocess.run(
        [sys.executable, "-c", READ], env=env, cwd=REPO, check=True, capture_output=True, text=True
    )
    outcomes, within = json.loads(read.stdout.strip().splitlines()[-1])
    assert outcomes == {"ok": 2, "outcome_unknown": 1}
    assert within == [[0.005, 1], [0.01, 1], [0.025, 1]]
