"""Many programs in one deployment: 50 programs of 10,000 employees under one serve.

Each program has its own CSV and so its own directory index; one real `points-gateway serve
--workers 2` (the default 16 threads) serves them all on a SQLite journal (PostgreSQL when
BENCH_DATABASE_URL names a server: a database test_bench_programs is made on it). Measures:
start time (launch to every program answering a balance; cold, then a restart with the
indexes on disk); RSS of the master and each worker after touching every program, and again
after load at full concurrency; and balance throughput, random program and random employee on
/p/<name>/v1/points/balance, against the same serve with one program of the same size, in
turn (BENCH_ROUNDS rounds, order alternating), median ratio and its spread. Prints figures,
never asserts. Targets: RSS <= 300 MB per process, throughput >= 0.9x.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import load_paths  # noqa: E402
from bench.bench_directory import HEADER, Gateway  # noqa: E402
from bench.bench_gateway import SECRET, cpu_seconds, median  # noqa: E402
from bench.load_paths import WARMUP, Call  # noqa: E402

PROGRAMS = int(os.environ.get("BENCH_PROGRAMS", "50"))
EMPLOYEES = int(os.environ.get("BENCH_EMPLOYEES", "10000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
BODIES = 5000  # distinct pre-rendered requests per side: as many tokens to verify on each
RSS_TARGET_MB, RATIO_TARGET = 300, 0.9
KEY = "bench-profile-key-0123456789-abcdefghijklmnop"
START_LIMIT = 600  # seconds from launch to every program answering, before giving up


def names(count: int) -> list[str]:
    return [f"p{i:02d}" for i in range(count)]


def write_people(path: Path, program: str, count: int) -> None:
    with open(path, "w") as out:
        out.write(HEADER)
        for i in range(count):
            out.write(f"E{i},{program}-{i}@example.com,F{i},L{i},,Dev,Eng,{program},1000\n")


def write_config(folder: Path, programs: list[str], database_url: str) -> Path:
    """`programs` as [programs.<name>] tables, each over its own CSV, beside a one-row default
    program (`serve` cannot yet start without one: it builds the default program's connectors
    even when the configuration has none)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "default.csv").write_text(HEADER + "E0,d@example.com,D,D,,,,,1\n")
    lines = [
        "[gateway]",
        f'secret_key = "{SECRET}"',
        f'profile_api_keys = ["{KEY}"]',
        f"database_url = {json.dumps(database_url)}",
        'log_level = "WARNING"',
        "[profile]",
        'connector = "csv"',
        'options = { path = "default.csv" }',
        "[points]",
        'connector = "csv"',
        'options = { path = "default.csv" }',
    ]
    for name in programs:
        if not (folder / f"{name}.csv").exists():
            write_people(folder / f"{name}.csv", name, EMPLOYEES)
        lines += [f"[programs.{name}]", f'secret_key = "{SECRET}"', f'profile_api_keys = ["{KEY}"]']
        for role in ("profile", "points"):
            lines += [f"[programs.{name}.{role}]", 'connector = "csv"']
            lines += [f'options = {{ path = "{name}.csv" }}']
    path = folder / "gateway.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Calls:
    """Pre-rendered balance calls, random program and random employee, each program's token
    signed as the gateway signs it (a salt per program)."""

    def __init__(self, programs: list[str], seed: int) -> None:
        from gateway.auth import TOKEN_SALT, TokenAuthority

        self.tokens = {
            p: TokenAuthority([SECRET], 86400, salt=f"{TOKEN_SALT}/{p}") for p in programs
        }
        rng = random.Random(seed)
        self.calls = [
            self.call(rng.choice(programs), rng.randrange(EMPLOYEES)) for _ in range(BODIES)
        ]

    def call(self, program: str, employee: int) -> Call:
        who = f"E{employee}"
        body = {"unique_id": who, "auth_token": self.tokens[program].issue(who)}
        return f"/p/{program}/v1/points/balance", json.dumps(body).encode()


def answers(port: int, call: Call) -> bool:
    try:
        r = requests.post(
            f"http://127.0.0.1:{port}{call[0]}",
            data=call[1],
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
    except requests.RequestException:
        return False
    return r.status_code == 200 and r.json()["points_info"]["points_received"] == "1000"


class Server(Gateway):
    """Gateway's serve, stopped for sure: SIGKILL for the master and its workers when SIGTERM
    has not ended them in 30 s."""

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            for pid in map(int, kids):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def started(config: Path, calls: Calls, servers: list[Server]) -> tuple[Server, float]:
    """A serve of `config` (added to `servers` at once, for the caller to stop), and the seconds
    from its launch to every program answering a balance."""
    begun = time.monotonic()
    server = Server(config)
    servers.append(server)
    for program in calls.tokens:
        while not answers(server.port, calls.call(program, 1)):
            if time.monotonic() - begun > START_LIMIT:
                raise RuntimeError(f"{program} did not answer in {START_LIMIT} s")
            time.sleep(0.05)
    return server, time.monotonic() - begun


def measured(gateway: Gateway, calls: list[Call]) -> tuple[float, float, int]:
    """(requests/s, server CPU µs per request, failed requests) of one round."""
    before = cpu_seconds(gateway.proc)
    result = load_paths.run(gateway.port, calls, SECONDS)
    cpu = cpu_seconds(gateway.proc) - before
    done = (result.requests + result.errors) * (SECONDS + WARMUP) / SECONDS
    return result.rps, cpu / done * 1e6, result.errors


def rss_text(sizes: list[float]) -> str:
    return f"master {sizes[0]:.0f} MB, workers " + ", ".join(f"{s:.0f}" for s in sizes[1:])


def database(folder: Path, label: str) -> str:
    """A SQLite journal in `folder`; or, when BENCH_DATABASE_URL names a PostgreSQL server, its
    database test_bench_programs made anew (the server's other databases are left alone, and
    drop_database() removes this one)."""
    if not os.environ.get("BENCH_DATABASE_URL"):
        return f"sqlite:///{folder / f'journal-{label}.db'}"
    from gateway.journal import Journal

    server = postgres_admin("CREATE DATABASE test_bench_programs")
    url = server.set(database="test_bench_programs").render_as_string(hide_password=False)
    journal = Journal(url.replace("postgresql://", "postgresql+psycopg://"))
    journal.create_schema()  # what `points-gateway db upgrade` does, once
    journal.dispose()
    return url


def drop_database() -> None:
    postgres_admin()


def postgres_admin(then: str | None = None) -> Any:
    """Drop test_bench_programs on BENCH_DATABASE_URL's server, then run `then`; the server's
    URL (a SQLAlchemy URL)."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(os.environ["BENCH_DATABASE_URL"]).set(drivername="postgresql")
    admin = server.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS test_bench_programs")
        if then:
            conn.execute(then)
    return server


def main() -> list[dict[str, Any]]:
    every = names(PROGRAMS)
    many_calls, one_calls = Calls(every, 1), Calls(every[:1], 2)
    fig: dict[str, Any] = {"programs": PROGRAMS, "employees": EMPLOYEES}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        made = time.monotonic()
        many_url = database(tmp, "many")
        one_url = database(tmp, "one") if many_url.startswith("sqlite") else many_url
        fig["journal"] = many_url.split(":", 1)[0]
        many_config = write_config(tmp / "many", every, many_url)
        one_config = write_config(tmp / "one", every[:1], one_url)
        print(f"  generated {PROGRAMS + 1} CSVs in {time.monotonic() - made:.1f} s", flush=True)
        started_: list[Server] = []  # every serve launched, stopped in the finally
        servers: dict[str, Server] = {}
        try:
            servers["many"], fig["cold_start"] = started(many_config, many_calls, started_)
            servers["one"], fig["one_cold_start"] = started(one_config, one_calls, started_)
            print(f"  cold start {fig['cold_start']:.1f} s", flush=True)
            servers["many"].stop()
            servers["many"], fig["warm_start"] = started(many_config, many_calls, started_)
            print(f"  restart {fig['warm_start']:.1f} s", flush=True)
            for _ in range(4):  # every program, on both workers (most likely)
                for program in many_calls.tokens:
                    answers(servers["many"].port, many_calls.call(program, 7))
            fig["rss_warm"] = servers["many"].rss_mb()
            fig["one_rss_warm"] = servers["one"].rss_mb()
            print(f"  RSS after touching every program: {rss_text(fig['rss_warm'])}", flush=True)
            # Every thread of both workers busy at once, over every program: the worst case.
            for side in ("many", "one"):
                calls = many_calls if side == "many" else one_calls
                load_paths.run(servers[side].port, calls.calls, 4.0, processes=2, threads=24)
            fig["rss_loaded"] = servers["many"].rss_mb()
            fig["one_rss_loaded"] = servers["one"].rss_mb()
            print(f"  RSS after load at 48 clients: {rss_text(fig['rss_loaded'])}", flush=True)
            rounds: dict[str, list[tuple[float, float, int]]] = {"many": [], "one": []}
            for i in range(ROUNDS):
                order = ("one", "many") if i % 2 == 0 else ("many", "one")
                for side in order:
                    calls = many_calls if side == "many" else one_calls
                    rounds[side].append(measured(servers[side], calls.calls))
                print(f"  round {i + 1}: {rounds['many'][-1][0] / rounds['one'][-1][0]:.2f}")
            fig["rss_after"] = servers["many"].rss_mb()
        finally:
            for server in started_:
                server.stop()
            if not many_url.startswith("sqlite"):
                drop_database()
        argv = [sys.executable, "-m", "bench.programs_worst", str(tmp / "many")]
        argv += [",".join(every), str(EMPLOYEES)]
        worst = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=True)
        fig["worst"] = json.loads(worst.stdout)
        print(f"  one process, worst case: {fig['worst']}", flush=True)
    ratios = sorted(m[0] / o[0] for m, o in zip(rounds["many"], rounds["one"], strict=True))
    fig.update(
        ratio=median(ratios),
        spread=f"{ratios[0]:.2f}-{ratios[-1]:.2f}",
        many_rps=median([r[0] for r in rounds["many"]]),
        one_rps=median([r[0] for r in rounds["one"]]),
        many_cpu_us=median([r[1] for r in rounds["many"]]),
        one_cpu_us=median([r[1] for r in rounds["one"]]),
        errors=sum(r[2] for r in rounds["many"] + rounds["one"]),
    )
    return [fig]


def summary(figures: list[dict[str, Any]]) -> list[dict[str, object]]:
    """Lines of `make bench`'s one table."""
    if not figures:
        return []
    f = figures[0]
    n = f"{f['programs']} programs x {f['employees']:,} ({f['journal']})"
    loaded = max(*f["rss_loaded"], *f["rss_after"])
    w = f["worst"]
    ok_ratio = f["ratio"] >= RATIO_TARGET and not f["errors"]
    return [
        line(
            f"{n}: launch to every program answering",
            f"one program: {f['one_cold_start']:.1f} s cold",
            f"{f['cold_start']:.1f} s cold, {f['warm_start']:.1f} s restart",
            "reported",
            "-",
        ),
        line(
            f"{n}: RSS after touching every program",
            f"one program: {rss_text(f['one_rss_warm'])}",
            rss_text(f["rss_warm"]),
            f"<= {RSS_TARGET_MB} MB each",
            "ok" if max(f["rss_warm"]) <= RSS_TARGET_MB else "MISS",
        ),
        line(
            f"{n}: RSS after load (48 clients), and after the rounds",
            f"one program: {rss_text(f['one_rss_loaded'])}",
            f"{rss_text(f['rss_loaded'])}; {rss_text(f['rss_after'])}",
            f"<= {RSS_TARGET_MB} MB each",
            "ok" if loaded <= RSS_TARGET_MB else "MISS",
        ),
        line(
            f"{n}: one process's worst case: readers, then token caches",
            f"{w['rss_built']:.0f} MB with every program's CSV connector",
            f"{w['rss_readers']:.0f} MB after {w['lookups']:,} lookups by 16 threads "
            f"({w['us_per_lookup']:.0f} µs each); {w['rss_tokens']:.0f} MB with 10,000 "
            "verified tokens per program",
            f"<= {RSS_TARGET_MB} MB",
            "ok" if max(w["rss_readers"], w["rss_tokens"]) <= RSS_TARGET_MB else "MISS",
        ),
        line(
            f"{n}: balance, random program and employee",
            f"one program: {f['one_rps']:.0f} req/s, {f['one_cpu_us']:.0f} µs CPU/req",
            f"{f['many_rps']:.0f} req/s, {f['many_cpu_us']:.0f} µs CPU/req; ratio "
            f"{f['ratio']:.2f} (range {f['spread']}, {ROUNDS} rounds), {f['errors']} failed",
            f"ratio >= {RATIO_TARGET}",
            "ok" if ok_ratio else "MISS",
        ),
    ]


def line(name: str, baseline: str, measured: str, target: str, verdict: str) -> dict[str, object]:
    return {
        "benchmark": f"programs: {name}",
        "baseline": baseline,
        "measured": measured,
        "target": target,
        "verdict": verdict,
    }


if __name__ == "__main__":
    for row in summary(main()):
        print(
            " | ".join(str(row[k]) for k in ("benchmark", "baseline", "measured", "target")), end=""
        )
        print(f" | {row['verdict']}")
