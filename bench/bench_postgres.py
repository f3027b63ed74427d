"""The PostgreSQL journal (several hosts share one): the gateway against bare Flask, same run.

redeem (durable, distinct order ids): gateway /v1/points/redeem on a PostgreSQL journal vs a
bare Flask endpoint doing one committed INSERT on the same database. balance: gateway
/v1/points/balance vs one indexed SELECT. Same gunicorn settings as bench_gateway (2 gthread
workers of 16 threads, as `serve`), paired rounds. Targets: both >= 0.7x. Needs
GATEWAY_TEST_DATABASE_URL (skipped, saying so, without it); its tables are dropped and made
again.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_gateway import (  # noqa: E402
    ROUNDS,
    SECRET,
    USERS,
    gateway_files,
    measured,
    median,
    redeem_bodies,
    serve,
)

TARGET = 0.7


def _fresh_database(url: str) -> str:
    """The gateway's journal made anew, the bare app's tables too; a psycopg URL."""
    from sqlalchemy import create_engine, text

    from gateway.config import resolve_database_url
    from gateway.journal.tables import metadata

    resolved = resolve_database_url(url, Path.cwd())
    engine = create_engine(resolved)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(text("DROP TABLE IF EXISTS bench_orders, bench_accounts"))
        conn.execute(text("CREATE TABLE bench_orders (order_id TEXT PRIMARY KEY, body TEXT)"))
        conn.execute(
            text(
                "CREATE TABLE bench_accounts (member TEXT PRIMARY KEY, debited BIGINT, "
                "refunded BIGINT, credited BIGINT)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO bench_accounts SELECT 'U' || i, 0, 0, 0 FROM generate_series(0, :n) i"
            ),
            {"n": USERS - 1},
        )
    engine.dispose()
    from gateway.journal import Journal

    journal = Journal(resolved)  # what `points-gateway db upgrade` does, once
    journal.create_schema()
    journal.dispose()
    return resolved.replace("postgresql+psycopg://", "postgresql://")


def main() -> list[dict[str, object]]:
    url = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if not url:
        print("  skipped: GATEWAY_TEST_DATABASE_URL is not set (a PostgreSQL to measure on)")
        return []
    from gateway.auth import TokenAuthority

    plain = _fresh_database(url)
    tokens = TokenAuthority([SECRET], 86400)
    token_of = {f"U{i}": tokens.issue(f"U{i}") for i in range(USERS)}

    def balance_body(client: str, n: int) -> bytes:
        user = f"U{n % USERS}"
        return json.dumps({"unique_id": user, "auth_token": token_of[user]}).encode()

    redeem_body = redeem_bodies(token_of)

    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        config = gateway_files(Path(tmpdir), plain)
        servers: dict[str, object] = {}
        try:
            servers["bare"] = serve("bare_app:app", {"BENCH_PG_URL": plain}, REPO / "bench")
            servers["gateway"] = serve("wsgi:app", {"GATEWAY_CONFIG": str(config)}, REPO)
            for name, bare_path, gw_path, body in (
                ("redeem (durable)", "/pg-insert", "/v1/points/redeem", redeem_body),
                ("balance", "/pg-balance", "/v1/points/balance", balance_body),
            ):
                bare, gw = [], []
                for _ in range(ROUNDS):
                    bare.append(measured(servers["bare"], bare_path, body))  # type: ignore[arg-type]
                    gw.append(measured(servers["gateway"], gw_path, body))  # type: ignore[arg-type]
                ratios = sorted(g[0] / b[0] for b, g in zip(bare, gw, strict=True))
                ratio, quarter = median(ratios), len(ratios) // 4
                spread = f"{ratios[quarter]:.2f}-{ratios[-1 - quarter]:.2f}"
                errors = sum(r[2] for r in bare + gw)
                rows.append(
                    {
                        "benchmark": f"postgres journal: {name}",
                        "baseline": f"bare Flask {median([b[0] for b in bare]):.0f} req/s, "
                        f"{median([b[1] for b in bare]):.0f} µs CPU/req",
                        "measured": f"{median([g[0] for g in gw]):.0f} req/s, "
                        f"{median([g[1] for g in gw]):.0f} µs CPU/req; ratio {ratio:.2f} "
                        f"(mid half {spread})",
                        "target": f"ratio >= {TARGET}",
                        "verdict": "ok" if ratio >= TARGET and not errors else "MISS",
                    }
                )
        finally:
            for proc, _ in servers.values():  # type: ignore[misc]
                proc.terminate()
                proc.wait(timeout=15)
    return rows


def summary(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Lines of `make bench`'s one table: the rows are in its shape already."""
    return rows


if __name__ == "__main__":
    for line in main():
        print(line["benchmark"], "|", line["baseline"], "|", line["measured"], "|", line["verdict"])
