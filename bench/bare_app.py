"""The baseline: bare Flask JSON endpoints under the same gunicorn settings as the gateway.

/balance answers a small JSON object; /insert does one durable SQLite insert (WAL,
synchronous=FULL, as the gateway's journal) and answers. BENCH_DB names the database file.
/redeem-ledger sends the order's debit straight to a REST ledger (BENCH_LEDGER_URL).
/pg-insert and /pg-balance do one INSERT (committed) or one indexed SELECT on the PostgreSQL
database BENCH_PG_URL names (tables bench_orders, bench_accounts; bench_postgres.py makes them).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

import requests
from flask import Flask, request

app = Flask(__name__)
_local = threading.local()


def db() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(os.environ["BENCH_DB"], timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, body TEXT)")
        _local.conn = conn
    return conn


@app.post("/balance")
def balance() -> dict[str, object]:
    body = request.get_json()
    return {"status": "1", "unique_id": body["unique_id"], "points": "700"}


@app.post("/insert")
def insert() -> dict[str, object]:
    body = request.get_json()
    conn = db()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO orders VALUES (?, ?)", (body["order_id"], request.get_data(as_text=True))
    )
    conn.execute("COMMIT")
    return {
        "status": "1",
        "message": "Successfully updated",
        "data": {"order_id": body["order_id"]},
    }


_ledger = threading.local()


@app.post("/redeem-ledger")
def redeem_ledger() -> tuple[dict[str, object], int]:
    """The same debit as the gateway sends, straight to the ledger (BENCH_LEDGER_URL)."""
    session = getattr(_ledger, "session", None)
    if session is None:
        session = _ledger.session = requests.Session()
        session.headers["Authorization"] = f"Bearer {os.environ['BENCH_LEDGER_TOKEN']}"
    body = request.get_json()
    answer = session.post(
        f"{os.environ['BENCH_LEDGER_URL']}/members/{body['unique_id']}/debits",
        json={"points": body["total_points_redeemed"], "ref": body["order_id"]},
        headers={"Idempotency-Key": body["order_id"]},
        timeout=10,
    )
    if answer.status_code != 201:
        return {"status": "0", "message": answer.text}, 502
    return {"status": "1", "data": {"order_id": body["order_id"]}}, 200


def pg() -> Any:
    conn = getattr(_local, "pg", None)
    if conn is None:
        import psycopg

        conn = _local.pg = psycopg.connect(os.environ["BENCH_PG_URL"], autocommit=True)
    return conn


@app.post("/pg-insert")
def pg_insert() -> dict[str, object]:
    body = request.get_json()
    pg().execute(
        "INSERT INTO bench_orders VALUES (%s, %s)",
        (body["order_id"], request.get_data(as_text=True)),
    )
    return {
        "status": "1",
        "message": "Successfully updated",
        "data": {"order_id": body["order_id"]},
    }


@app.post("/pg-balance")
def pg_balance() -> dict[str, object]:
    body = request.get_json()
    row = (
        pg()
        .execute(
            "SELECT debited, refunded, credited FROM bench_accounts WHERE member = %s",
            (body["unique_id"],),
        )
        .fetchone()
    )
    return {"status": "1", "unique_id": body["unique_id"], "points": str(row[0] if row else 0)}
