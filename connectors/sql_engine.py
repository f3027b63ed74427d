"""The SQL ledger's connection to the company's database: an engine from its URL.

A bare `mysql://`, `mariadb://` or `mssql://` URL gets a driver that installs as a wheel
(SQLAlchemy's own defaults, mysqlclient and pyodbc, need C client libraries on the host); a
driver that is not installed is one line naming the extra that installs it. Nothing here ever
puts the URL, which may hold a password, into a message.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from connectors.base import ConnectorConfigError

#: The option a bad URL is reported under (the SQL ledger serves [points] only).
OPTION = "points.options.url"
#: The driver a URL without one gets, by dialect.
DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "mariadb": "pymysql", "mssql": "pymssql"}
#: The points-gateway extra that installs a driver: pip install 'points-gateway[extra]'.
EXTRAS = {"pymysql": "mysql", "pymssql": "mssql"}
#: MySQL and MariaDB storage engines that have transactions (MyISAM and Aria have none).
TRANSACTIONAL = {"INNODB", "ROCKSDB", "NDBCLUSTER"}


def ledger_url(url: str) -> URL:
    """`url` parsed, with our driver where it names none; one line if it is no URL."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConnectorConfigError(f"{OPTION}: not a database URL") from None
    dialect = "postgresql" if parsed.drivername == "postgres" else parsed.drivername
    if dialect in DRIVERS:
        parsed = parsed.set(drivername=f"{dialect}+{DRIVERS[dialect]}")
    return parsed


def ledger_engine(url: str) -> Engine:
    """An engine for the ledger's database; ConnectorConfigError (one line) if it cannot be."""
    parsed = ledger_url(url)
    dialect, _, driver = parsed.drivername.partition("+")
    try:
        if parsed.get_backend_name() != "sqlite":
            return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
        engine = create_engine(parsed, connect_args={"timeout": 15}, hide_parameters=True)
    except NoSuchModuleError:
        raise ConnectorConfigError(f"{OPTION}: SQLAlchemy knows no {parsed.drivername!r}") from None
    except ImportError as exc:  # the dialect imports its driver when the engine is made
        raise ConnectorConfigError(f"{OPTION}: {_missing(dialect, driver, exc)}") from None
    _begin_immediate(engine)
    return engine


def _missing(dialect: str, driver: str, exc: ImportError) -> str:
    if driver in EXTRAS:
        return f"the {dialect} driver is not installed: {_pip(driver)}"
    why = f"the {dialect} driver {driver} cannot be loaded ({exc.name or exc}): install it"
    ours = DRIVERS.get(dialect)
    return f"{why}, or write {dialect}:// for {ours} ({_pip(ours)})" if ours in EXTRAS else why


def _pip(driver: str | None) -> str:
    return f"pip install 'points-gateway[{EXTRAS.get(driver or '', '')}]'"


def _begin_immediate(engine: Engine) -> None:
    """SQLAlchemy's recipe for SQLite: take the write lock when the transaction begins, so a
    read-then-write transaction never fails to upgrade its lock."""

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def without_transactions(conn: Connection, tables: list[str]) -> list[str]:
    """Those of `tables` that MySQL or MariaDB keeps in an engine without transactions
    (MyISAM, Aria...), as "name (ENGINE)": a ROLLBACK there undoes nothing."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        return []
    query = text(
        "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN :names"
    ).bindparams(bindparam("names", expanding=True))
    rows = conn.execute(query, {"names": tables}).all()
    return [f"{name} ({kind})" for name, kind in rows if kind and kind.upper() not in TRANSACTIONAL]


def reason(exc: DBAPIError) -> str:
    """The driver's one-line reason, never the statement or its parameters."""
    return " ".join(str(exc.orig).split())[:200]
