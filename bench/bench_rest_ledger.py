"""Redemptions through the REST ledger (20 ms per call) against bare Flask calling it directly.

The same fake ledger process (tests/fakes/rest_ledger.py, 20 ms per call) serves both. The
gateway journals each order durably before and after the call; the bare app only forwards it.
Both run under gunicorn with 2 gthread workers of 8 threads. No target: the ratio and p99 are
what the durable journal costs in front of a slow ledger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import load
from bench.bench_gateway import (
    REPO,
    SECRET,
    USERS,
    cpu_seconds,
    free_port,
    gateway_files,
    median,
    print_rows,
    start,
)

SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))
ROUNDS = int(os.environ.get("BENCH_LEDGER_ROUNDS", "5"))
LATENCY = 0.020
GUNICORN = [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "8"]
GUNICORN += ["--worker-class", "gthread", "--log-level", "warning"]


def main() -> list[dict[str, object]]:
    sys.path.insert(0, str(REPO))
    from gateway.auth import TokenAuthority
    from tests.fakes.rest_ledger import BASE, POINTS_TOML, TOKEN

    tokens = TokenAuthority([SECRET], 86400)
    token_of = {f"U{i}": tokens.issue(f"U{i}") for i in range(USERS)}

    def redeem_body(client: str, n: int) -> bytes:
        user = f"U{n % USERS}"
        body = {
            "unique_id": user,
            "auth_token": token_of[user],
            "total_points_redeemed": "1",
            "order_id": f"{client}-{n}-{time.monotonic_ns()}",
        }
        return json.dumps(body).encode()

    rows = []
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        try:
            ledger_port = free_port()
            ledger_url = f"http://127.0.0.1:{ledger_port}"
            argv = [sys.executable, "-m", "tests.fakes.rest_ledger", "--port", str(ledger_port)]
            procs.append(start(argv, {}, REPO, f"{ledger_url}/healthz"))
            accounts = {f"U{i}": "100000000" for i in range(USERS)}
            for path, body in (("_accounts", accounts), ("_control", {"latency_seconds": LATENCY})):
                urllib.request.urlopen(
                    urllib.request.Request(f"{ledger_url}/{path}", json.dumps(body).encode()),
                    timeout=10,
                )
            config = gateway_files(tmp)
            points = POINTS_TOML.replace(BASE, f"{ledger_url}/api")
            text = config.read_text()
            config.write_text(
                text[: text.index("[points]")] + points + "[ledger]\nworker_in_serve = false\n"
            )
            ports = {"bare": free_port(), "gateway": free_port()}
            bare_env = {
                "BENCH_DB": str(tmp / "bare.db"),
                "BENCH_LEDGER_URL": f"{ledger_url}/api",
                "BENCH_LEDGER_TOKEN": TOKEN,
            }
            for name, app, env, cwd in (
                ("bare", "bare_app:app", bare_env, REPO / "bench"),
                ("gateway", "wsgi:app", {"GATEWAY_CONFIG": str(config)}, REPO),
            ):
                argv = [*GUNICORN, "--bind", f"127.0.0.1:{ports[name]}", app]
                procs.append(start(argv, env, cwd, f"http://127.0.0.1:{ports[name]}/"))
            paths = {"bare": "/redeem-ledger", "gateway": "/v1/points/redeem"}
            servers = dict(zip(("bare", "gateway"), procs[1:], strict=True))
            results: dict[str, list[load.Result]] = {"bare": [], "gateway": []}
            cpu: dict[str, list[float]] = {"bare": [], "gateway": []}
            for _ in range(ROUNDS):  # in turn, paired, as bench_gateway does
                for name in ("bare", "gateway"):
                    before = cpu_seconds(servers[name])
                    results[name].append(
                        load.run(
                            "127.0.0.1",
                            ports[name],
                            paths[name],
                            redeem_body,
                            seconds=SECONDS,
                            warmup=0.5,
                            processes=2,
                            threads=8,
                        )
                    )
                    done = results[name][-1].requests * (SECONDS + 0.5) / SECONDS
                    cpu[name].append((cpu_seconds(servers[name]) - before) / done * 1e6)
            pairs = zip(results["bare"], results["gateway"], strict=True)
            ratios = [(g.rps / b.rps, g.percentile(99) / b.percentile(99)) for b, g in pairs]
            rows.append(
                {
                    "benchmark": "redeem via REST ledger",
                    "bare_rps": median([r.rps for r in results["bare"]]),
                    "gateway_rps": median([r.rps for r in results["gateway"]]),
                    "ratio": median([r[0] for r in ratios]),
                    "bare_p99": median([r.percentile(99) for r in results["bare"]]),
                    "gateway_p99": median([r.percentile(99) for r in results["gateway"]]),
                    "p99_ratio": median([r[1] for r in ratios]),
                    "bare_cpu_us": median(cpu["bare"]),
                    "gateway_cpu_us": median(cpu["gateway"]),
                    "errors": sum(r.errors for rs in results.values() for r in rs),
                }
            )
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=15)
    return rows


COLUMNS = [
    ("benchmark             ", "{:<22}", "benchmark"),
    ("bare req/s", "{:>10.0f}", "bare_rps"),
    ("gateway req/s", "{:>13.0f}", "gateway_rps"),
    ("ratio", "{:>5.2f}", "ratio"),
    ("bare p99 ms", "{:>11.1f}", "bare_p99"),
    ("gw p99 ms", "{:>9.1f}", "gateway_p99"),
    ("p99 ratio", "{:>9.2f}", "p99_ratio"),
    ("bare µs/req", "{:>11.0f}", "bare_cpu_us"),
    ("gw µs/req", "{:>9.0f}", "gateway_cpu_us"),
    ("errors", "{:>6}", "errors"),
]


def summary(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Lines of `make bench`'s one table."""
    return [
        {
            "benchmark": "rest ledger: redeem, 20 ms ledger",
            "baseline": f"bare Flask forwarding: {r['bare_rps']:.0f} req/s, "
            f"p99 {r['bare_p99']:.0f} ms",
            "measured": f"{r['gateway_rps']:.0f} req/s, p99 {r['gateway_p99']:.0f} ms; ratio "
            f"{r['ratio']:.2f}, p99 x{r['p99_ratio']:.2f}",
            "target": "none (reported)",
            "verdict": "ok" if not r["errors"] else "MISS",
        }
        for r in rows
    ]


def print_table(rows: list[dict[str, object]]) -> None:
    """ratio: median of paired per-round throughput ratios (gateway / bare); p99 ratio: the
    same for the 99th percentile latency (above 1: the gateway is slower); µs/req: server CPU
    (gunicorn master and workers) per request."""
    print_rows(COLUMNS, rows)


if __name__ == "__main__":  # python -m bench.bench_rest_ledger
    print_table(main())
