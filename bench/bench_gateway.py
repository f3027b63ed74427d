"""The gateway against bare Flask, same gunicorn settings, same load, one run.

balance (warm): gateway /v1/points/balance vs a bare Flask JSON endpoint.
redeem (durable): gateway /v1/points/redeem vs a bare Flask endpoint doing one durable
SQLite insert. Targets: balance >= 0.7x, redeem >= 1.0x. Both servers as `serve` runs the
gateway: gthread, 16 threads (BENCH_THREADS), the gateway at its default log level.
balance, empty view (reported, no target): the gateway's app with bare Flask's balance view
(bench/shell_app.py), i.e. what the gateway's request handling alone leaves of the ratio.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from bench import load

REPO = Path(__file__).resolve().parent.parent
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))
ROUNDS = max(5, int(os.environ.get("BENCH_ROUNDS", "9")))
#: The gateway's own worker class (`serve`: gthread, [server] threads = 16), for both servers;
#: BENCH_THREADS=1 measures gunicorn's sync workers instead.
THREADS = int(os.environ.get("BENCH_THREADS", "16"))
WARMUP = 0.5
USERS = 1000
EMPTY_VIEW = "balance, empty view"
SECRET = "bench-secret-key-0123456789-abcdefghijklmnop"
GUNICORN = [
    sys.executable,
    "-m",
    "gunicorn",
    "--workers",
    str(WORKERS),
    "--worker-class",
    "gthread" if THREADS > 1 else "sync",
    "--threads",
    str(THREADS),
    "--log-level",
    "warning",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv: list[str], env: dict[str, str], cwd: Path, ready: str) -> subprocess.Popen[bytes]:
    """Run a server, and return once `ready` answers with any HTTP status."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # gunicorn's master listens before its workers have imported the app: wait for an answer.
    for _ in range(150):
        try:
            urllib.request.urlopen(ready, timeout=5)
        except urllib.error.HTTPError:  # any status means a worker answered
            return proc
        except OSError:
            time.sleep(0.2)
        else:
            return proc
    proc.kill()
    raise RuntimeError(f"{argv} did not start")


def serve(app: str, env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [*GUNICORN, "--bind", f"127.0.0.1:{port}", app]
    return start(argv, env, cwd, f"http://127.0.0.1:{port}/"), port


def gateway_config(
    path: Path, csv: str, database_url: str = "sqlite:///journal.db", identity: str = "employee_id"
) -> Path:
    """A gateway config at `path` over the CSV `csv`, with keys long enough to serve."""
    path.write_text(f"""[gateway]
secret_key = "{SECRET}"
profile_api_keys = ["bench-profile-key-0123456789-abcdefghijklmnop"]
database_url = {json.dumps(database_url)}
identity = "{identity}"
[profile]
connector = "csv"
options = {{ path = {json.dumps(csv)} }}
[points]
connector = "csv"
options = {{ path = {json.dumps(csv)} }}
""")
    return path


def gateway_files(tmp: Path, database_url: str = "sqlite:///journal.db") -> Path:
    rows = [f"U{i},u{i}@example.com,First{i},Last{i},,,,,10000000" for i in range(USERS)]
    (tmp / "employees.csv").write_text(
        "employee_id,email,first_name,last_name,mobile,designation,department,company,points\n"
        + "\n".join(rows)
    )
    return gateway_config(tmp / "gateway.toml", "employees.csv", database_url)


def redeem_bodies(token_of: dict[str, str]) -> load.BodyMaker:
    """Redemptions of 1 point, a distinct order id per request, spread over the users."""

    def redeem_body(client: str, n: int) -> bytes:
        user = f"U{n % len(token_of)}"
        return json.dumps(
            {
                "unique_id": user,
                "auth_token": token_of[user],
                "total_points_redeemed": "1",
                "order_id": f"{client}-{n}",
                "order_date": 1693995688,
            }
        ).encode()

    return redeem_body


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def cpu_seconds(server: subprocess.Popen[bytes]) -> float:
    """CPU time used so far by a gunicorn master and its workers (Linux /proc)."""
    kids = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    total = 0
    for pid in [server.pid, *map(int, kids)]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def measured(
    server: tuple[subprocess.Popen[bytes], int], path: str, body: load.BodyMaker
) -> tuple[float, float, int]:
    """(requests/s, server CPU µs per request, failed requests) of one round of load."""
    before = cpu_seconds(server[0])
    result = load.run("127.0.0.1", server[1], path, body, seconds=SECONDS, warmup=WARMUP)
    cpu = cpu_seconds(server[0]) - before
    done = (result.requests + result.errors) * (SECONDS + WARMUP) / SECONDS  # warm-up used CPU too
    return result.rps, cpu / done * 1e6, result.errors


def main() -> list[dict[str, object]]:
    sys.path.insert(0, str(REPO))
    from gateway.auth import TokenAuthority

    tokens = TokenAuthority([SECRET], 86400)
    token_of = {f"U{i}": tokens.issue(f"U{i}") for i in range(USERS)}

    def balance_body(client: str, n: int) -> bytes:
        user = f"U{n % 50}"  # warm: a few users, over and over
        return json.dumps({"unique_id": user, "auth_token": token_of[user]}).encode()

    redeem_body = redeem_bodies(token_of)
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        config = gateway_files(tmp)
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:  # started inside: one that fails to start must not leave the others running
            servers["bare"] = serve(
                "bare_app:app", {"BENCH_DB": str(tmp / "bare.db")}, REPO / "bench"
            )
            servers["gateway"] = serve("wsgi:app", {"GATEWAY_CONFIG": str(config)}, REPO)
            servers["shell"] = serve("bench.shell_app:app", {"GATEWAY_CONFIG": str(config)}, REPO)
            cases = [
                ("balance (warm)", "gateway", "/balance", "/v1/points/balance", balance_body, 0.7),
                ("redeem (durable)", "gateway", "/insert", "/v1/points/redeem", redeem_body, 1.0),
                (EMPTY_VIEW, "shell", "/balance", "/v1/points/balance", balance_body, None),
            ]
            for name, server, bare_path, gw_path, body, target in cases:
                # This machine's speed drifts by tens of percent from second to second: run the
                # two servers in turn, pair each gateway round with the bare round just before
                # it, and take the median of the paired ratios, so drift hits both sides alike.
                bare, gw = [], []
                for _ in range(ROUNDS):
                    bare.append(measured(servers["bare"], bare_path, body))
                    gw.append(measured(servers[server], gw_path, body))
                ratios = sorted(g[0] / b[0] for b, g in zip(bare, gw, strict=True))
                quarter = len(ratios) // 4
                rows.append(
                    {
                        "benchmark": name,
                        "bare_rps": median([b[0] for b in bare]),
                        "gateway_rps": median([g[0] for g in gw]),
                        "ratio": median(ratios),
                        "spread": f"{ratios[quarter]:.2f}-{ratios[-1 - quarter]:.2f}",
                        "target": target,
                        "target_text": "-" if target is None else f">={target}",
                        "bare_cpu_us": median([b[1] for b in bare]),
                        "gateway_cpu_us": median([g[1] for g in gw]),
                        "errors": sum(run[2] for run in bare + gw),
                    }
                )
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=15)
    return rows


COLUMNS = [  # heading, cell format (as wide as the heading), key
    ("benchmark          ", "{:<19}", "benchmark"),
    ("bare req/s", "{:>10.0f}", "bare_rps"),
    ("gateway req/s", "{:>13.0f}", "gateway_rps"),
    ("ratio", "{:>5.2f}", "ratio"),
    ("mid half ", "{:>9}", "spread"),
    ("target", "{:<6}", "target_text"),
    ("bare µs/req", "{:>11.0f}", "bare_cpu_us"),
    ("gw µs/req", "{:>9.0f}", "gateway_cpu_us"),
    ("errors", "{:>6}", "errors"),
]


def print_rows(
    columns: list[tuple[str, str, str]], rows: list[dict[str, object]], verdicts: Sequence[str] = ()
) -> None:
    """One line per row under the columns' headings; `verdicts` appended when given."""
    print("  ".join(head for head, _, _ in columns))
    for i, r in enumerate(rows):
        cells = "  ".join(fmt.format(r[key]) for _, fmt, key in columns)
        print(f"{cells} {verdicts[i]}" if verdicts else cells)


def summary(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Lines of `make bench`'s one table."""
    return [
        {
            "benchmark": f"gateway: {r['benchmark']}",
            "baseline": f"bare Flask {r['bare_rps']:.0f} req/s, {r['bare_cpu_us']:.0f} µs CPU/req",
            "measured": f"{r['gateway_rps']:.0f} req/s, {r['gateway_cpu_us']:.0f} µs CPU/req; "
            f"ratio {r['ratio']:.2f} (mid half {r['spread']})",
            "target": "none (the ceiling of balance)"
            if r["target"] is None
            else f"ratio >= {r['target']}",
            "verdict": verdict(r),
        }
        for r in rows
    ]


def verdict(row: dict[str, object]) -> str:
    if row["errors"]:
        return "MISS"
    if row["target"] is None:
        return "reported"
    return "ok" if row["ratio"] >= row["target"] else "MISS"  # type: ignore[operator]


def print_table(rows: list[dict[str, object]]) -> None:
    """ratio: median of the paired per-round ratios; mid half: their interquartile range;
    µs/req: server CPU (gunicorn master and workers) per request, median over rounds."""
    print_rows(COLUMNS, rows, [verdict(r) for r in rows])


if __name__ == "__main__":
    print_table(main())
