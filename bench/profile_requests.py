"""Where a request's CPU goes, under gunicorn: the gateway's balance and redeem, by layer.

Runs the gateway (one sync worker, its stack sampled as it uses CPU:
bench/profile_hooks.py) under load for a few seconds per path, then gives each sample to the
innermost layer on its stack. With GATEWAY_TEST_DATABASE_URL the PostgreSQL journal is
profiled too. The figures are the worker's CPU time per request, shared out by samples.

    .venv/bin/python bench/profile_requests.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import load  # noqa: E402
from bench.bench_gateway import (  # noqa: E402
    SECRET,
    USERS,
    free_port,
    gateway_files,
    redeem_bodies,
    start,
)

SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))

#: Each layer: the functions (file ending, name) whose samples are that layer's, unless a
#: layer further in on the stack claims them.
LAYERS: list[tuple[str, list[tuple[str, str]]]] = [
    ("request parsing and validation", [("gateway/api/body.py", "load")]),
    ("the token check", [("gateway/auth.py", "verify")]),
    ("the service (money rules, the answer)", [("gateway/service/points.py", "balance"),
                                               ("gateway/service/points.py", "redeem")]),
    ("the directory lookup (CSV index)", [("connectors/csv_source.py", "find"),
                                          ("connectors/csv_source.py", "granted")]),
    ("the journal statements", [("gateway/journal/store.py", "totals"),
                                ("gateway/journal/store.py", "debit")]),
    ("logging (the request's line, the debit's)", [("logging/__init__.py", "_log")]),
    ("metrics", [("prometheus_client/metrics.py", "inc"),
                 ("prometheus_client/metrics.py", "observe")]),
    ("per-request hooks (program, allowlist, request id)",
     [("gateway/api/__init__.py", "_each_request"),
      ("gateway/api/__init__.py", "_after_each_request"),
      ("gateway/api/observe.py", "_finish")]),
    ("the response (JSON, headers)", [("flask/app.py", "make_response")]),
    ("bare Flask's view (its JSON, its statement)", [("bench/bare_app.py", "balance"),
                                                      ("bench/bare_app.py", "insert"),
                                                      ("bench/bare_app.py", "pg_insert"),
                                                      ("bench/bare_app.py", "pg_balance")]),
]  # fmt: skip
APP = ("flask/app.py", "wsgi_app")
HANDLE = ("gunicorn/workers/sync.py", "handle")
FRAMEWORK = "Flask and werkzeug around them"
GUNICORN = "gunicorn: reading the request, writing the answer"
OUTSIDE = "the worker between requests"


def _matches(frame: list[str], wanted: tuple[str, str]) -> bool:
    return frame[1] == wanted[1] and frame[0].endswith(wanted[0])


def layer_of(stack: list[list[str]]) -> str:
    """The innermost layer on `stack` (innermost frame first)."""
    for frame in stack:
        for name, funcs in LAYERS:
            if any(_matches(frame, f) for f in funcs):
                return name
    if any(_matches(frame, APP) for frame in stack):
        return FRAMEWORK
    if any(_matches(frame, HANDLE) for frame in stack):
        return GUNICORN
    return OUTSIDE


def profiled(
    app: str, env: dict[str, str], cwd: Path, path: str, body: load.BodyMaker, folder: Path
) -> dict:
    """Serve `app` on one sampled sync worker, load `path`, stop it, read its samples."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-c", str(REPO / "bench" / "profile_hooks.py")]
    argv += ["--workers", "1", "--log-level", "warning", "--bind", f"127.0.0.1:{port}", app]
    server = start(
        argv, {**env, "BENCH_PROFILE_DIR": str(folder)}, cwd, f"http://127.0.0.1:{port}/"
    )
    try:
        load.run("127.0.0.1", port, path, body, seconds=SECONDS, warmup=0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    (found,) = folder.glob("*.json")
    data = json.loads(found.read_text())
    found.unlink()
    return data


def detail(data: dict, top: int) -> None:
    """The `top` costliest functions (self time) of each layer: where to look next."""
    leaves: dict[str, Counter[str]] = {}
    for each in data["stacks"]:
        file, name = each["stack"][0]
        where = f"{'/'.join(file.split('/')[-2:])}:{name}"
        leaves.setdefault(layer_of(each["stack"]), Counter())[where] += each["count"]
    total = sum(sum(c.values()) for c in leaves.values())
    for layer, counts in leaves.items():
        print(
            f"  {layer}: " + ", ".join(f"{w} {n / total:.1%}" for w, n in counts.most_common(top))
        )


def breakdown(data: dict) -> tuple[int, float, list[tuple[str, float]]]:
    """(requests, CPU µs per request, [(layer, µs per request)]), between requests left out."""
    per_layer: Counter[str] = Counter()
    for each in data["stacks"]:
        per_layer[layer_of(each["stack"])] += each["count"]
    requests = data["requests"]
    scale = data["cpu_seconds"] * 1e6 / requests / sum(per_layer.values())
    names = [name for name, _ in LAYERS] + [FRAMEWORK, GUNICORN]
    layers = [(name, per_layer[name] * scale) for name in names]
    return requests, sum(us for _, us in layers), layers


def main() -> None:
    from gateway.auth import TokenAuthority

    tokens = TokenAuthority([SECRET], 86400)
    token_of = {f"U{i}": tokens.issue(f"U{i}") for i in range(USERS)}

    def balance_body(client: str, n: int) -> bytes:
        user = f"U{n % USERS}"
        return json.dumps({"unique_id": user, "auth_token": token_of[user]}).encode()

    journals = [("SQLite", "sqlite:///journal.db", "/insert", {"BENCH_DB": "bare.db"})]
    if url := os.environ.get("GATEWAY_TEST_DATABASE_URL"):
        from bench.bench_postgres import _fresh_database

        plain = _fresh_database(url)
        journals.append(("PostgreSQL", plain, "/pg-insert", {"BENCH_PG_URL": plain}))
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for journal, url, bare_insert, bare_env in journals:
            config = gateway_files(tmp, url)
            bare_env = {**bare_env, "BENCH_DB": str(tmp / "bare.db")}
            bare_balance = "/pg-balance" if journal == "PostgreSQL" else "/balance"
            for path, bare_path, body in (
                ("/v1/points/balance", bare_balance, balance_body),
                ("/v1/points/redeem", bare_insert, redeem_bodies(token_of)),
            ):
                data = profiled("wsgi:app", {"GATEWAY_CONFIG": str(config)}, REPO, path, body, tmp)
                bare = profiled("bare_app:app", bare_env, REPO / "bench", bare_path, body, tmp)
                requests, per_request, layers = breakdown(data)
                _, bare_per_request, bare_layers = breakdown(bare)
                print(f"\n{journal} journal, {path} against bare Flask's {bare_path}: "
                      f"{requests} requests sampled")  # fmt: skip
                print("| layer | gateway µs/request | share | bare Flask µs/request |")
                print("|---|---|---|---|")
                for (name, us), (_, bare_us) in zip(layers, bare_layers, strict=True):
                    print(f"| {name} | {us:.0f} | {us / per_request:.0%} | {bare_us:.0f} |")
                print(f"| all | {per_request:.0f} | | {bare_per_request:.0f} |")
                if top := int(os.environ.get("BENCH_PROFILE_DETAIL", "0")):
                    detail(data, top)


if __name__ == "__main__":
    main()
