"""The gateway against bare Flask, same gunicorn settings, same load, one run.

balance (warm): gateway /v1/points/balance vs a bare Flask JSON endpoint.
redeem (durable): gateway /v1/points/redeem vs a bare Flask endpoint doing one durable
SQLite insert. Targets: balance >= 0.85x, redeem >= 0.80x.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import load

REPO = Path(__file__).resolve().parent.parent
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
USERS = 1000
SECRET = "bench-secret-key-0123456789"
GUNICORN = [
    sys.executable,
    "-m",
    "gunicorn",
    "--workers",
    str(WORKERS),
    "--worker-class",
    "sync",
    "--log-level",
    "warning",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app: str, env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [*GUNICORN, "--bind", f"127.0.0.1:{port}", app],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def gateway_files(tmp: Path) -> Path:
    rows = [f"U{i},u{i}@example.com,First{i},Last{i},,,,,10000000" for i in range(USERS)]
    (tmp / "employees.csv").write_text(
        "employee_id,email,first_name,last_name,mobile,designation,department,company,points\n"
        + "\n".join(rows)
    )
    config = tmp / "gateway.toml"
    config.write_text(f"""[gateway]
secret_key = "{SECRET}"
profile_api_keys = ["bench-profile-key"]
database_url = "sqlite:///journal.db"
log_level = "WARNING"
[profile]
connector = "csv"
options = {{ path = "employees.csv" }}
[points]
connector = "csv"
options = {{ path = "employees.csv" }}
""")
    return config


def median_run(runs: list[load.Result]) -> load.Result:
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


def main() -> list[dict[str, object]]:
    sys.path.insert(0, str(REPO))
    from gateway.auth import TokenAuthority

    tokens = TokenAuthority([SECRET], 86400)
    token_of = {f"U{i}": tokens.issue(f"U{i}") for i in range(USERS)}

    def balance_body(client: str, n: int) -> bytes:
        user = f"U{n % 50}"  # warm: a few users, over and over
        return json.dumps({"unique_id": user, "auth_token": token_of[user]}).encode()

    def redeem_body(client: str, n: int) -> bytes:
        user = f"U{n % USERS}"
        return json.dumps(
            {
                "unique_id": user,
                "auth_token": token_of[user],
                "total_points_redeemed": "1",
                "order_id": f"{client}-{n}",
                "order_date": 1693995688,
            }
        ).encode()

    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        config = gateway_files(tmp)
        servers = {
            "bare": serve("bare_app:app", {"BENCH_DB": str(tmp / "bare.db")}, REPO / "bench"),
            "gateway": serve("wsgi:app", {"GATEWAY_CONFIG": str(config)}, REPO),
        }
        try:
            cases = [
                ("balance (warm)", "/balance", "/v1/points/balance", balance_body, 0.85),
                ("redeem (durable)", "/insert", "/v1/points/redeem", redeem_body, 0.80),
            ]
            for name, bare_path, gw_path, body, target in cases:
                # This machine's speed drifts from second to second: alternate the two servers
                # over several rounds and compare medians, so drift hits both alike.
                bare_runs, gw_runs = [], []
                for _ in range(ROUNDS):
                    bare_runs.append(
                        load.run("127.0.0.1", servers["bare"][1], bare_path, body, seconds=SECONDS)
                    )
                    gw_runs.append(
                        load.run("127.0.0.1", servers["gateway"][1], gw_path, body, seconds=SECONDS)
                    )
                bare, gw = median_run(bare_runs), median_run(gw_runs)
                rows.append(
                    {
                        "benchmark": name,
                        "bare_rps": bare.rps,
                        "gateway_rps": gw.rps,
                        "ratio": gw.rps / bare.rps,
                        "target": target,
                        "bare_p99_ms": bare.percentile(99),
                        "gateway_p99_ms": gw.percentile(99),
                        "errors": sum(r.errors for r in bare_runs + gw_runs),
                    }
                )
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=15)
    return rows


COLUMNS = [
    ("benchmark", "{:<18}"),
    ("bare req/s", "{:>10.0f}"),
    ("gateway req/s", "{:>13.0f}"),
    ("ratio", "{:>6.2f}"),
    ("target", ">={:<5}"),
    ("bare p99 ms", "{:>11.1f}"),
    ("gw p99 ms", "{:>9.1f}"),
    ("errors", "{:>6}"),
]
KEYS = [
    "benchmark",
    "bare_rps",
    "gateway_rps",
    "ratio",
    "target",
    "bare_p99_ms",
    "gateway_p99_ms",
    "errors",
]


def print_table(rows: list[dict[str, object]]) -> None:
    print(
        "  ".join(f"{name:>{len(fmt.format(0) if 'f' in fmt else name)}}" for name, fmt in COLUMNS)
    )
    for r in rows:
        cells = [fmt.format(r[key]) for (_, fmt), key in zip(COLUMNS, KEYS, strict=True)]
        verdict = "ok" if r["ratio"] >= r["target"] else "MISS"  # type: ignore[operator]
        print("  ".join(cells), verdict)


if __name__ == "__main__":
    print_table(main())
