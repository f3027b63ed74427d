"""Hostile bodies: the CPU a malformed 64 KB body costs, against a well-formed balance call.

Each malformed body (deep brackets, a long run of escapes, near-JSON with trailing commas, an
unterminated string) is posted to /v1/points/balance through the Flask test client, in this
process, and timed per request; the baseline is the same client posting a normal balance body,
in the same run. The json5 fallback this replaced spent ~2.6 s on one of them. Target: each
refused in <= 10 ms.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import EMPLOYEES, write_config, write_csv  # noqa: E402

SIZE = 65_000
TARGET_MS = 10.0
BODIES = {
    "brackets": "[" * SIZE,
    "objects": ('{"a": ' * (SIZE // 6))[:SIZE],
    "escapes": '{"a": "' + "\\" * (SIZE - 8),
    "trailing commas": ("[1," * (SIZE // 3))[:SIZE],
    "quotes": '"\\"' * (SIZE // 3),
    "quotes, then a trailing comma": '"\\"' * (SIZE // 3 - 1) + ",]",
    "escaped quotes, then a trailing comma": '\\"' * (SIZE // 2 - 1) + ",]",
}


def _time(client: Any, text: str, rounds: int) -> float:
    """Median milliseconds per request."""
    data = text.encode()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.post("/v1/points/balance", data=data, content_type="application/json")
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> list[dict[str, object]]:
    import logging

    from gateway.app import create_app
    from gateway.config import load_settings

    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as folder:
        write_csv(Path(folder) / "employees.csv", EMPLOYEES)
        config = write_config(Path(folder), f"sqlite:///{folder}/journal.db")
        app = create_app(load_settings(config))
        client = app.test_client()
        token = app.extensions["points_gateway"].tokens.issue("U1000")
        normal = json.dumps({"unique_id": "U1000", "auth_token": token})
        baseline = _time(client, normal, 200)
        rows = []
        for name, text in BODIES.items():
            ms = _time(client, text, 20)
            rows.append(
                {
                    "benchmark": f"malformed 64 KB: {name}",
                    "baseline": f"{baseline:.2f} ms (normal balance)",
                    "measured": f"{ms:.2f} ms",
                    "target": f"<= {TARGET_MS:.0f} ms",
                    "verdict": "ok" if ms <= TARGET_MS else "MISS",
                }
            )
        app.extensions["points_gateway"].close()
    return rows


def summary(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Lines of `make bench`'s one table: the rows are in its shape already."""
    return [{**r, "benchmark": f"hostile: {r['benchmark']}"} for r in rows]


if __name__ == "__main__":
    for row in summary(main()):
        print(row["benchmark"], row["measured"], "target", row["target"], row["verdict"])
