"""The company databases the SQL ledger's tests run on: SQLite always, PostgreSQL and MariaDB
(or MySQL) when their URLs are given, each with the tables exactly as the documentation's DDL
for that database creates them."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from connectors.sql_engine import ledger_url
from connectors.sql_ledger import SqlLedgerConnector
from tests.conftest import PG_SKIP, PG_URL

DOCS = Path(__file__).resolve().parent.parent / "docs" / "connectors" / "ledgers.md"
MYSQL_URL = os.environ.get("GATEWAY_TEST_MYSQL_URL")
MYSQL_SKIP = (
    "GATEWAY_TEST_MYSQL_URL is not set: the SQL ledger's MariaDB/MySQL tests need a real server "
    "(GATEWAY_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test_sqlledger; .ci/run sets it)"
)
#: The documentation's name for each database's DDL block (its first line, `-- <name>`).
DOCUMENTED = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL, MariaDB"}
DOCUMENTED_TOO = {"mssql": "SQL Server"}  # written to the same rules; no server to run it on


def documented_ddl(database: str) -> list[str]:
    """The statements of the documentation's DDL for `database` ("SQLite", ...), verbatim."""
    blocks = re.findall(r"^```sql\n-- ([^\n]+)\n(.*?)^```", DOCS.read_text(), re.M | re.S)
    found = {name: body for name, body in blocks}
    assert database in found, f"docs/connectors/ledgers.md has no DDL block for {database}"
    return [s.strip() for s in found[database].split(";") if s.strip()]


def dialect_of(url: str) -> str:
    backend = ledger_url(url).get_backend_name()
    return "mysql" if backend == "mariadb" else backend


def company_database(url: str, points: str = "250.75") -> str:
    """The company's own points tables, made afresh from the documented DDL, with Pam's account."""
    engine = create_engine(ledger_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS points_tx"))
        conn.execute(text("DROP TABLE IF EXISTS points_accounts"))
        for statement in documented_ddl(DOCUMENTED[dialect_of(url)]):
            conn.execute(text(statement))
        points = str(Decimal(points))  # a literal: SQLite's driver binds no Decimal
        conn.execute(text(f"INSERT INTO points_accounts VALUES ('DB123', {points}, {points}, 0)"))
    engine.dispose()
    return url


def mysql_database(url: str) -> str:
    """`url`'s database, created on the server if it is not there yet (never dropped)."""
    parsed = ledger_url(url)
    assert parsed.database, "GATEWAY_TEST_MYSQL_URL must name a database of the tests' own"
    server = create_engine(parsed.set(database=""))
    with server.begin() as conn:
        conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{parsed.database}`"))
    server.dispose()
    return url


def database_url(name: str, tmp_path: Path) -> str:
    """An empty company database of kind `name` (sqlite, postgres, mariadb), or a skip."""
    if name == "postgres":
        if not PG_URL:
            pytest.skip(PG_SKIP)
        return PG_URL
    if name == "mariadb":
        if not MYSQL_URL:
            pytest.skip(MYSQL_SKIP)
        return mysql_database(MYSQL_URL)
    return f"sqlite:///{tmp_path / 'company.db'}"


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mariadb"]


def unreachable(url: str) -> str:
    """A URL of the same database kind that nothing answers (its password a secret)."""
    if dialect_of(url) == "sqlite":
        return "sqlite:////nonexistent-folder/no/company.db"
    return (
        make_url(url)
        .set(username="nobody", password="s3cret-db-password", host="127.0.0.1", port=9)
        .render_as_string(hide_password=False)
    )


def make(url: str, **options: object) -> SqlLedgerConnector:
    """The connector on the documented tables."""
    return SqlLedgerConnector(
        url=url,
        table="points_accounts",
        received_column="earned",
        redeemed_column="spent",
        transactions_table="points_tx",
        **options,  # type: ignore[arg-type]
    )
