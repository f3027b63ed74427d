"""CSV downloads from the console, safe to open in a spreadsheet (gateway/spreadsheet.py)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from gateway.journal import Operation
from gateway.service.money import format_points, from_units
from gateway.spreadsheet import cell

COLUMNS = ["id", "created_at", "kind", "state", "member", "unique_id", "order_id", "points"]
COLUMNS += ["reference", "detail", "answer"]


def operations_csv(found: Iterable[Operation]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for op in found:
        writer.writerow(
            cell(v)
            for v in (
                op.id,
                op.created_at.isoformat(),
                op.kind,
                op.state,
                op.member,
                op.unique_id,
                op.order_id,
                format_points(from_units(op.amount)),
                op.reference,
                op.detail,
                json.dumps(op.answer, sort_keys=True),
            )
        )
    return out.getvalue()


def finance_csv(found: Iterable[Operation]) -> str:
    """Every applied operation given, then one line per kind with its total in points."""
    applied = [op for op in found if op.state == "applied"]
    totals: dict[str, int] = {}
    for op in applied:
        totals[op.kind] = totals.get(op.kind, 0) + op.amount
    text = operations_csv(applied)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for kind in sorted(totals):
        writer.writerow(
            ["total", "", kind, "applied", "", "", "", format_points(from_units(totals[kind]))]
        )
    return text + out.getvalue()
