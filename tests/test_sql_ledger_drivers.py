"""The SQL ledger's URL and driver: a bare URL gets a driver that installs as a wheel, and a
driver that is not installed is one line naming the extra, never a traceback or the URL's
password. SQL Server has no server here: its URL, driver and missing-driver line are tested."""

from __future__ import annotations

import subprocess
import sys

import pytest

from connectors.base import ConnectorConfigError, UpstreamUnavailable
from connectors.sql_engine import ledger_url
from connectors.sql_ledger import SqlLedgerConnector
from tests.servers import REPO
from tests.test_sql_ledger import ledger_config

PASSWORD = "s3cret-db-password"


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("mysql://u:p@db/hr", "mysql+pymysql"),
        ("mariadb://u:p@db/hr", "mariadb+pymysql"),
        ("mssql://u:p@db:1433/hr", "mssql+pymssql"),
        ("postgres://u:p@db/hr", "postgresql+psycopg"),
        ("postgresql://u:p@db/hr", "postgresql+psycopg"),
        ("sqlite:///ledger.db", "sqlite"),
        # A URL that names its driver keeps it.
        ("mysql+mysqldb://u:p@db/hr", "mysql+mysqldb"),
        ("mssql+pyodbc://u:p@db/hr?driver=ODBC+Driver+18+for+SQL+Server", "mssql+pyodbc"),
    ],
)
def test_a_bare_url_gets_a_driver_that_installs_as_a_wheel(url, driver):
    assert ledger_url(url).drivername == driver


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        (f"mysql://points:{PASSWORD}@db/hr", "pymysql", "mysql"),
        (f"mariadb://points:{PASSWORD}@db/hr", "pymysql", "mysql"),
        (f"mssql://points:{PASSWORD}@db:1433/hr", "pymssql", "mssql"),
    ],
)
def test_a_missing_driver_is_one_line_naming_the_extra(url, module, extra, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    with pytest.raises(ConnectorConfigError) as missing:
        SqlLedgerConnector(url=url)
    dialect = url.split(":")[0]
    assert str(missing.value) == (
        f"points.options.url: the {dialect} driver is not installed: "
        f"pip install 'points-gateway[{extra}]'"
    )


def test_a_driver_the_url_names_says_how_to_do_without_it():
    """mysqlclient (MySQLdb) is not installed here: a real missing module, nothing simulated."""
    with pytest.raises(ConnectorConfigError) as missing:
        SqlLedgerConnector(url=f"mysql+mysqldb://points:{PASSWORD}@db/hr")
    assert str(missing.value) == (
        "points.options.url: the mysql driver mysqldb cannot be loaded (MySQLdb): install it, "
        "or write mysql:// for pymysql (pip install 'points-gateway[mysql]')"
    )


@pytest.mark.parametrize(
    ("url", "line"),
    [
        (f"no url at all {PASSWORD}", "points.options.url: not a database URL"),
        (
            f"nosuchdb://points:{PASSWORD}@db/hr",
            "points.options.url: SQLAlchemy knows no 'nosuchdb'",
        ),
        (
            f"oracle+nosuchdriver://points:{PASSWORD}@db/hr",
            "points.options.url: SQLAlchemy knows no 'oracle+nosuchdriver'",
        ),
    ],
)
def test_a_url_that_names_no_usable_database_is_one_line(url, line):
    with pytest.raises(ConnectorConfigError) as bad:
        SqlLedgerConnector(url=url)
    assert str(bad.value) == line


def test_sql_server_is_reached_through_pymssql():
    """No SQL Server here: the driver loads, and a server that does not answer is
    'unavailable', with the password in no message."""
    ledger = SqlLedgerConnector(url=f"mssql://points:{PASSWORD}@127.0.0.1:9/hr")
    assert (ledger.engine.dialect.name, ledger.engine.dialect.driver) == ("mssql", "pymssql")
    with pytest.raises(UpstreamUnavailable) as down:
        ledger.check()
    assert PASSWORD not in str(down.value)


@pytest.mark.parametrize("command", [["check"], ["journal", "pending"]])
def test_the_cli_says_it_in_one_line_and_exits_2(command, tmp_path):
    """The command line as an operator runs it, on a host where PyMySQL is not installed."""
    config = ledger_config(tmp_path, f"mysql://points:{PASSWORD}@127.0.0.1:3306/hr")
    without_pymysql = (
        "import sys; sys.modules['pymysql'] = None; from gateway.cli import main; "
        f"sys.argv = ['points-gateway', *{command!r}, '--config', {str(config)!r}]; main()"
    )
    out = subprocess.run(
        [sys.executable, "-c", without_pymysql],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines() == [
        "points-gateway: error: points.options.url: the mysql driver is not installed: "
        "pip install 'points-gateway[mysql]'"
    ]
    assert PASSWORD not in out.stdout + out.stderr
