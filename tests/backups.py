"""What the backup, restore and migration tests share (tests/test_backup*.py): gateways' folders,
the endpoints as Xoxoday calls them, the CLI in this process or another, PostgreSQL scratch."""

from __future__ import annotations

import builtins
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from gateway.auth import TokenAuthority
from gateway.cli import main
from gateway.journal import Journal
from tests.conftest import EMPLOYEES, PG_SKIP, PG_URL, SECRET, write_config, write_csv
from tests.servers import clean_env

CLI = [sys.executable, "-m", "gateway"]
TOKENS = TokenAuthority([SECRET], 3600)


def post(to: str | FlaskClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """An endpoint's answer, from a real server (its base URL) or the Flask test client."""
    body = {**body, "auth_token": TOKENS.issue(body["unique_id"])}
    if isinstance(to, str):
        return requests.post(f"{to}/v1/points/{path}", json=body, timeout=30).json()
    return to.post(f"/v1/points/{path}", json=body).get_json()


def redeem(to: str | FlaskClient, member: str, order: str, points: str) -> dict[str, Any]:
    body = {"unique_id": member, "order_id": order, "total_points_redeemed": points}
    return post(to, "redeem", body)


def available(to: str | FlaskClient, member: str) -> str:
    return post(to, "balance", {"unique_id": member})["points_info"]["points_available"]


def folder(tmp_path: Path, name: str, database_url: str | None = None, **gateway: Any) -> Path:
    """A gateway's folder: employees.csv and a config over `database_url` (default: a SQLite
    journal there); the config's path."""
    place = tmp_path / name
    place.mkdir()
    write_csv(place / "employees.csv", EMPLOYEES)
    return write_config(place, database_url or f"sqlite:///{place / 'journal.db'}", **gateway)


def run(*argv: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """A program, its output captured; by default without this process's GATEWAY_*."""
    options.setdefault("env", clean_env())
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **options)


def cli(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
    return run(*CLI, *args, **options)


def invoke(*args: str) -> Result:
    """The command in this process (faster than a new one), without this process's GATEWAY_*."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("GATEWAY_")}
    return CliRunner(env=unset).invoke(main, list(args))


def one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("points-gateway: error: "), stderr
    return lines[0]


def libpq(url: str) -> str:
    """`url` as pg_dump and pg_restore take it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def require_postgres() -> str:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    return PG_URL


def drop_schema(url: str, name: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


@contextmanager
def journal_opened() -> Iterator[list[str]]:
    """Each journal file this process opens meanwhile other than through SQLite: closing any
    descriptor of a file drops every POSIX lock the process holds on it, SQLite's included."""
    names = {"journal.db", "journal.db-wal", "journal.db-shm"}
    found: list[str] = []
    real = {"os": os.open, "io": io.open, "builtins": builtins.open}

    def watching(opener: Any) -> Any:
        def opening(file: Any, *args: Any, **kwargs: Any) -> Any:
            opened = opener(file, *args, **kwargs)
            # Making a file that was not there (O_EXCL) is no journal's: nobody has it open.
            made = opener is real["os"] and bool(args and args[0] & os.O_EXCL)
            if isinstance(file, str | os.PathLike) and Path(file).name in names and not made:
                found.append(str(file))
            return opened

        return opening

    with pytest.MonkeyPatch.context() as patch:
        for module, opener in zip((os, io, builtins), real.values(), strict=True):
            patch.setattr(module, "open", watching(opener))
        yield found


def fill(journal: Journal, count: int, prefix: str = "F") -> None:
    """`count` applied debits of one point each for DB123, as the journal writes them."""
    for i in range(count):
        order = f"{prefix}{i}"
        journal.debit("DB123", "DB123", order, 10_000, 10**12, {"order_id": order})
