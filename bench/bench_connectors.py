"""Connector resilience: cold-key amplification, and latency once a dead backend's breaker opens.

cold key: 100 threads look up one uncached employee at once through the profile cache, the
backend a real local HTTP server answering in 50 ms; backend calls per process are counted
(target 1), against the same lookups with no cache.
dead backend: the backend's port refuses connections; after the breaker opens, lookups fail
fast. p99 over 2000 lookups (target <= 50 ms), against the first failing lookup's latency.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from connectors.base import ConnectorError
from connectors.cache import CachedProfiles
from connectors.darwinbox import DarwinboxConnector

THREADS = 100
LOOKUPS_DEAD = 2000


class FakeDarwinbox(BaseHTTPRequestHandler):
    calls = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        with FakeDarwinbox.lock:
            FakeDarwinbox.calls += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(0.05)
        row = {"employee_id": "E1", "first_name": "A", "last_name": "B", "company_email_id": "a@b"}
        body = json.dumps({"status": 1, "message": "ok", "employee_data": [row]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def connector(port: int) -> DarwinboxConnector:
    return DarwinboxConnector(
        tenant_url=f"http://127.0.0.1:{port}",
        username="u",
        password="p",
        api_key="k",
        dataset_key="d",
        http={"budget_seconds": 1.0, "attempts": 2, "breaker_failures": 5},
    )


class Server(ThreadingHTTPServer):
    request_queue_size = 2 * THREADS  # the default backlog of 5 would refuse the burst


def burst(find) -> tuple[float, int]:
    """Seconds for THREADS simultaneous lookups of one key, and how many failed."""
    barrier = threading.Barrier(THREADS)
    failed = []

    def one() -> None:
        barrier.wait()
        try:
            find("employee_id", "E1")
        except ConnectorError as exc:
            failed.append(exc)

    threads = [threading.Thread(target=one) for _ in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, len(failed)


def cold_key() -> dict[str, object]:
    server = Server(("127.0.0.1", 0), FakeDarwinbox)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        FakeDarwinbox.calls = 0
        bare = connector(port)
        bare.client.session.mount("http://", _pool(THREADS))
        uncached_seconds, uncached_failed = burst(bare.find)
        uncached = FakeDarwinbox.calls
        FakeDarwinbox.calls = 0
        cached_seconds, cached_failed = burst(CachedProfiles(connector(port)).find)
        return {
            "benchmark": "cold key, 100 threads",
            "baseline": f"no cache: {uncached} calls, {uncached_seconds * 1000:.0f} ms, "
            f"{uncached_failed} failed",
            "measured": f"{FakeDarwinbox.calls} call, {cached_seconds * 1000:.0f} ms",
            "target": "1 call",
            "met": FakeDarwinbox.calls == 1 and cached_failed == 0,
        }
    finally:
        server.shutdown()


def dead_backend() -> dict[str, object]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when this block ends: connections are refused
    dead = connector(port)
    latencies = []
    for _ in range(LOOKUPS_DEAD):
        started = time.perf_counter()
        with contextlib.suppress(ConnectorError):
            dead.find("employee_id", "E1")
        latencies.append((time.perf_counter() - started) * 1000)
    first = latencies[0]
    p99 = statistics.quantiles(latencies[10:], n=100)[98]
    return {
        "benchmark": "dead backend, breaker open",
        "baseline": f"first lookup {first:.1f} ms (retries, then fails)",
        "measured": f"p99 {p99:.3f} ms over {LOOKUPS_DEAD - 10}",
        "target": "p99 <= 50 ms",
        "met": p99 <= 50,
    }


def _pool(size: int):
    from requests.adapters import HTTPAdapter

    return HTTPAdapter(pool_connections=size, pool_maxsize=size)


def main() -> list[dict[str, object]]:
    logging.getLogger("connectors").setLevel(logging.ERROR)  # retries and breaker are expected
    return [cold_key(), dead_backend()]


def summary(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Lines of `make bench`'s one table."""
    return [
        {
            "benchmark": f"connectors: {r['benchmark']}",
            "baseline": r["baseline"],
            "measured": r["measured"],
            "target": r["target"],
            "verdict": "ok" if r["met"] else "MISS",
        }
        for r in rows
    ]


def print_table(rows: list[dict[str, object]]) -> None:
    for r in rows:
        verdict = "ok" if r["met"] else "MISS"
        print(
            f"{r['benchmark']:<28} {r['measured']:<28} target {r['target']:<14} "
            f"{verdict}  (baseline: {r['baseline']})"
        )


if __name__ == "__main__":
    print_table(main())
