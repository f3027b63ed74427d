"""The overview's charts as plain geometry: rectangles, a line, dots and text, with a title for
each mark. console/charts.html draws them as inline SVG, every text autoescaped and every
colour a class of console.css: no script, no style attribute, so the console's CSP
(default-src 'self') holds. Each chart has a title and a description, and the page lists its
numbers in a table beside it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.console.history import OUTCOMES, History
from gateway.console.ledger_calls import LedgerCalls, kind_of

WIDTH = 720
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 24
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    value: float  # what the mark shows, for whoever reads the markup (data-value)


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    height: int
    width: int = WIDTH
    marks: list[Mark] = field(default_factory=list)
    dots: list[Mark] = field(default_factory=list)  # x, y: the centre
    labels: list[Label] = field(default_factory=list)
    rules: list[tuple[float, float, float, float]] = field(default_factory=list)
    line: str = ""  # a polyline's points

    @property
    def bottom(self) -> float:
        return self.height - BOTTOM


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """ "1 operation", "3 operations" (`nouns` where adding an s will not do)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def seconds(value: float) -> str:
    if math.isinf(value):
        return "longer"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.3g} s"


def nice(top: float) -> float:
    """A round number at or above `top` for the top of a scale: 1, 2, 2.5 or 5 times a power
    of ten (1 for nothing to show)."""
    if top <= 0:
        return 1
    power = 10 ** math.floor(math.log10(top))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= top)


def _frame(chart: Chart, top: float, unit: str = "") -> None:
    """The scale's top and zero, and a rule at each."""
    for value, y in ((top, TOP), (0, chart.bottom)):
        chart.rules.append((LEFT, y, chart.width - RIGHT, y))
        text = seconds(value) if unit == "s" and value else f"{value:g}"
        chart.labels.append(Label(LEFT - 6, y + 4, text, "end"))


def _hour_ticks(chart: Chart, hours: Sequence[datetime]) -> float:
    """An hour's width; a label under every sixth hour (its date at midnight)."""
    step = (chart.width - LEFT - RIGHT) / len(hours)
    for i, hour in enumerate(hours):
        if hour.hour % 6 == 0:
            text = hour.strftime("%b %d") if hour.hour == 0 else hour.strftime("%H:%M")
            chart.labels.append(Label(LEFT + i * step, chart.height - 6, text, "start"))
    return step


def received(kind: str, noun: str, found: History) -> Chart:
    """Operations of `kind` by the hour they were received, stacked by their state now; each
    kind on its own scale (its top is labelled), so a rare one is not a flat line."""
    hours = found.received.get(kind, [])
    total = found.total(kind)
    top = nice(max((sum(counts.values()) for counts in hours), default=0))
    chart = Chart(
        f"chart-{kind}",
        f"{noun.capitalize()} received per hour, by their state now",
        f"{plural(total, kind, noun)} received since {found.since:%Y-%m-%d %H:%M} UTC, one bar "
        "an hour, divided into applied, rejected, unfinished and conflict; the table below "
        "lists them.",
        height=110,
    )
    _frame(chart, top)
    step = _hour_ticks(chart, found.hours)
    scale = (chart.bottom - TOP) / top
    for i, counts in enumerate(hours):
        y = chart.bottom
        for state in [*OUTCOMES, *sorted(set(counts) - set(OUTCOMES))]:
            if not counts.get(state):
                continue
            height = counts[state] * scale
            y -= height
            title = f"{found.hours[i]:%b %d %H:00} UTC: {counts[state]} {state}"
            chart.marks.append(
                Mark(LEFT + i * step + 1, y, step - 2, height, state, title, counts[state])
            )
    return chart


def unfinished(found: History) -> Chart:
    top = nice(max(found.unfinished, default=0))
    chart = Chart(
        "chart-unfinished",
        "Unfinished operations at the end of each hour",
        f"From {found.unfinished[0]} at {found.hours[0] + HOUR:%b %d %H:%M} UTC to "
        f"{found.unfinished[-1]} now, the most {max(found.unfinished)}; the table below "
        "lists each hour.",
        height=130,
    )
    _frame(chart, top)
    step = _hour_ticks(chart, found.hours)
    scale = (chart.bottom - TOP) / top
    points = []
    for i, count in enumerate(found.unfinished):
        x, y = LEFT + (i + 1) * step - 1, chart.bottom - count * scale
        points.append(f"{x:.1f},{y:.1f}")
        last = i == len(found.unfinished) - 1
        when = "now" if last else f"{found.hours[i] + HOUR:%b %d %H:%M} UTC"
        chart.dots.append(Mark(x, y, 0, 0, "dot", f"{when}: {count} unfinished", count))
    chart.line = " ".join(points)
    return chart


def write_times(found: History) -> Chart:
    """The ledger's time for writes applied at their first attempt: the average per hour as a
    bar, the longest as a tick."""
    longest = max((w.longest for w in found.writes), default=0.0)
    top = nice(longest) if longest else 1.0
    timed = sum(w.count for w in found.writes)
    chart = Chart(
        "chart-write-times",
        "Time the ledger took per write, by hour (average bar, longest tick)",
        f"{plural(timed, 'write')} applied at their first attempt since "
        f"{found.since:%Y-%m-%d %H:%M} UTC; the longest took {seconds(longest)}. The table "
        "below lists each hour.",
        height=120,
    )
    _frame(chart, top, "s")
    step = _hour_ticks(chart, found.hours)
    scale = (chart.bottom - TOP) / top
    for i, w in enumerate(found.writes):
        if not w.count:
            continue
        x, when = LEFT + i * step + 1, f"{found.hours[i]:%b %d %H:00} UTC"
        height = max(w.average * scale, 1)
        title = f"{when}: {plural(w.count, 'write')}, {seconds(w.average)} on average"
        chart.marks.append(
            Mark(x, chart.bottom - height, step - 2, height, "took", title, w.average)
        )
        title = f"{when}: the longest {seconds(w.longest)}"
        y = chart.bottom - w.longest * scale
        chart.marks.append(Mark(x, y - 1, step - 2, 2, "longest", title, w.longest))
    return chart


def _across(chart: Chart, rows: list[tuple[str, int, str]]) -> Chart:
    """One horizontal bar a row, its label on the left and its number on the right."""
    top = max((n for _, n, _ in rows), default=0) or 1
    room = chart.width - 170 - 70
    for i, (text, n, css) in enumerate(rows):
        y = 6 + i * 22
        chart.labels.append(Label(164, y + 13, text, "end"))
        width = max(n / top * room, 1 if n else 0)
        chart.marks.append(Mark(170, y, width, 16, css, f"{text}: {n}", n))
        chart.labels.append(Label(176 + width, y + 13, f"{n}", "start"))
    return chart


def call_outcomes(calls: LedgerCalls) -> Chart:
    rows = sorted(calls.outcomes.items(), key=lambda item: (item[0] != "ok", -item[1], item[0]))
    return _across(
        Chart(
            "chart-calls",
            f"Calls to the ledger ({calls.connector}) by outcome, this host since it started",
            ", ".join(f"{outcome}: {n}" for outcome, n in rows) or "No calls yet.",
            height=12 + 22 * max(len(rows), 1),
        ),
        [(outcome, n, f"call-{kind_of(outcome)}") for outcome, n in rows],
    )


def call_times(calls: LedgerCalls) -> Chart:
    """Calls by how long they took: a bar a bucket, from the first that has calls to the
    last (each bucket holds the calls above the one before it)."""
    within = calls.within()
    held = [i for i, (_, n) in enumerate(within) if n]
    if held:
        within = within[held[0] : held[-1] + 1]
    rows = [
        (f"≤ {seconds(bound)}" if not math.isinf(bound) else "longer", n, "took")
        for bound, n in within
    ]
    return _across(
        Chart(
            "chart-call-times",
            f"How long calls to the ledger ({calls.connector}) took, this host since it started",
            ", ".join(f"{text}: {n}" for text, n, _ in rows) or "No calls yet.",
            height=12 + 22 * max(len(rows), 1),
        ),
        rows,
    )


NOUNS = {"debit": "debits", "refund": "refunds", "credit": "credits"}


@dataclass
class Charts:
    received: list[tuple[str, str, Chart | None]]  # kind, its plural, its chart (None: none)
    unfinished: Chart
    write_times: Chart | None = None  # with a points ledger
    calls: Chart | None = None  # with a ledger whose connector reports its calls
    call_times: Chart | None = None


def overview(found: History, ledger: bool, calls: LedgerCalls | None) -> Charts:
    kinds = [*NOUNS, *sorted(set(found.received) - set(NOUNS))]
    charts = Charts(
        [
            (kind, NOUNS.get(kind, kind), received(kind, NOUNS.get(kind, kind), found))
            if found.total(kind)
            else (kind, NOUNS.get(kind, kind), None)
            for kind in kinds
        ],
        unfinished(found),
    )
    if ledger:
        charts.write_times = write_times(found)
    if calls is not None and calls.total:
        charts.calls, charts.call_times = call_outcomes(calls), call_times(calls)
    return charts
