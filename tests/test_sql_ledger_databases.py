"""What each database does to the SQL ledger's money: a reference sent twice at once, a balance
read after a refusal, a connection lost before and during COMMIT, exact decimals, references
that differ in case, and (MySQL, MariaDB) collations and tables without transactions. Each
runs on SQLite, PostgreSQL and MariaDB where the behaviour exists there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, event, text

from connectors.base import (
    ConnectorConfigError,
    InsufficientBalance,
    LedgerRefused,
    OutcomeUnknown,
    Profile,
    Receipt,
    UpstreamUnavailable,
)
from connectors.sql_engine import ledger_url
from connectors.sql_ledger import SqlLedgerConnector
from tests.sql_ledgers import DATABASES, company_database, database_url, dialect_of, make
from tests.sql_ledgers import unreachable as unreachable_url

PAM = Profile(employee_id="DB123", email="pam@example.com", first_name="Pam", last_name="B")
START = Decimal("250.75")


@pytest.fixture(params=DATABASES)
def url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    return company_database(database_url(request.param, tmp_path))


def on_mysql(url: str) -> None:
    if dialect_of(url) != "mysql":
        pytest.skip("MySQL and MariaDB only")


def not_on_sqlite(url: str, why: str) -> None:
    if dialect_of(url) == "sqlite":
        pytest.skip(why)


def sql(url: str, *statements: str) -> None:
    engine = create_engine(ledger_url(url))
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def available(url: str) -> Decimal:
    balance = make(url).balance(PAM)
    assert balance is not None
    return balance.available


def before(ledger: SqlLedgerConnector, starts: str, action: Callable[[Connection], None]) -> None:
    """Run `action` (once) just before the ledger's first statement beginning with `starts`."""
    done: list[bool] = []

    @event.listens_for(ledger.engine, "before_cursor_execute")
    def hook(conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        if not done and statement.lstrip().upper().startswith(starts):
            done.append(True)
            action(conn)


def kill(url: str, conn: Connection) -> None:
    """End the server's session behind `conn` from another connection, as a crash or a
    network cut would."""
    dbapi = conn.connection.dbapi_connection
    admin = create_engine(ledger_url(url))
    with admin.begin() as other:
        if dialect_of(url) == "mysql":
            other.execute(text(f"KILL CONNECTION {dbapi.thread_id()}"))  # type: ignore[union-attr]
        else:
            pid = dbapi.info.backend_pid  # type: ignore[union-attr]
            other.execute(text(f"SELECT pg_terminate_backend({pid})"))
    admin.dispose()


def test_a_reference_sent_twice_at_once_is_applied_once(url):
    """Two gateways send one debit together; both find it unrecorded, both UPDATE (the second
    waits on the first's row lock), and the unique reference stops the second: it is rolled
    back and answered with the first's record."""
    not_on_sqlite(url, "SQLite takes the write lock at BEGIN: two writes never overlap")
    gateways = [make(url), make(url)]
    meet = threading.Barrier(2, timeout=20)
    for ledger in gateways:
        event.listen(ledger.engine, "before_cursor_execute", _wait_at_update(meet))
    receipts: list[Receipt] = []
    threads = [
        threading.Thread(target=lambda g=g: receipts.append(g.debit(PAM, "debit:T1", Decimal(25))))
        for g in gateways
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(receipts) == 2
    first, second = sorted(receipts, key=lambda r: r.replayed)
    assert not first.replayed and first.amount == 25
    assert second.replayed
    assert (second.amount, second.member, second.kind) == (Decimal(25), "DB123", "debit")
    assert available(url) == START - 25


def _wait_at_update(meet: threading.Barrier) -> Callable[..., None]:
    def hook(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            meet.wait()

    return hook


def test_a_refused_debit_reports_the_points_there_are_now(url):
    """Another gateway's debit commits between this debit's first read and its UPDATE: the
    refusal says what is left now, not what the transaction saw first (InnoDB's plain SELECT
    answers from the transaction's snapshot)."""
    not_on_sqlite(url, "SQLite takes the write lock at BEGIN: nothing commits in between")
    mine, other = make(url), make(url)
    before(mine, "UPDATE", lambda _: other.debit(PAM, "debit:other", Decimal(200)))
    with pytest.raises(InsufficientBalance) as refused:
        mine.debit(PAM, "debit:mine", Decimal(100))
    assert refused.value.available == START - 200


def test_a_connection_lost_before_commit_applied_nothing(url):
    not_on_sqlite(url, "a SQLite file has no connection to lose")
    ledger = make(url)
    before(ledger, "INSERT", lambda conn: kill(url, conn))
    with pytest.raises(UpstreamUnavailable, match="rolled back"):
        ledger.debit(PAM, "debit:cut", Decimal(10))
    assert make(url).lookup("debit:cut") is None
    assert available(url) == START


def test_a_connection_lost_at_commit_is_an_unknown_outcome(url):
    """The COMMIT may have reached the server before the link broke: never "not applied"."""
    not_on_sqlite(url, "a SQLite file has no connection to lose")
    ledger = make(url)
    event.listen(ledger.engine, "commit", lambda conn: kill(url, conn))
    with pytest.raises(OutcomeUnknown, match="COMMIT failed"):
        ledger.debit(PAM, "debit:commit-cut", Decimal(10))
    # Here the session ended before COMMIT arrived: the lookup, which the gateway asks next,
    # finds nothing, and the points are all there.
    assert make(url).lookup("debit:commit-cut") is None
    assert available(url) == START


def test_a_database_nobody_answers_is_unavailable(url):
    ledger = make(unreachable_url(url))
    with pytest.raises(UpstreamUnavailable):
        ledger.balance(PAM)
    with pytest.raises(UpstreamUnavailable):
        ledger.debit(PAM, "debit:down", Decimal(1))
    with pytest.raises(UpstreamUnavailable):
        ledger.check()


def test_amounts_are_exact_to_the_fourth_place(url):
    ledger = make(url)
    ledger.debit(PAM, "debit:tiny", Decimal("0.0001"))
    ledger.credit(PAM, "credit:big", Decimal("1234567890.1234"))
    balance = ledger.balance(PAM)
    assert balance is not None
    assert balance.available == Decimal("1234568140.8733")
    assert (balance.received, balance.redeemed) == (Decimal("1234568140.8734"), Decimal("0.0001"))
    found = ledger.lookup("debit:tiny")
    assert found is not None and isinstance(found.amount, Decimal)
    assert found.amount == Decimal("0.0001")


def test_references_that_differ_in_case_are_two_writes(url):
    ledger = make(url)
    assert not ledger.debit(PAM, "debit:A1", Decimal(10)).replayed
    assert not ledger.debit(PAM, "debit:a1", Decimal(10)).replayed
    assert available(url) == START - 20
    for reference in ("debit:A1", "debit:a1"):
        found = ledger.lookup(reference)
        assert found is not None and found.amount == 10


def test_a_case_blind_reference_column_never_passes_one_order_off_as_another(url):
    """A transactions table in the server's default collation (MariaDB's utf8mb4_general_ci
    ignores case) finds order A1's record for order a1's reference: that is not a replay."""
    on_mysql(url)
    sql(url, "ALTER TABLE points_tx MODIFY reference VARCHAR(200) COLLATE utf8mb4_general_ci")
    ledger = make(url)
    ledger.debit(PAM, "debit:A1", Decimal(10))
    with pytest.raises(LedgerRefused):  # the unique key will not take it: refused, not applied
        ledger.debit(PAM, "debit:a1", Decimal(10))
    assert ledger.lookup("debit:a1") is None
    assert available(url) == START - 10


def test_a_write_another_constraint_stops_is_not_applied(url):
    """Any constraint of the company's tables but the unique reference: rolled back, never
    taken for a replay (which the gateway would count as applied)."""
    if dialect_of(url) == "sqlite":
        sql(
            url,
            "CREATE TRIGGER cap BEFORE UPDATE ON points_accounts WHEN NEW.earned > 1000 "
            "BEGIN SELECT RAISE(ABORT, 'earned over the cap'); END",
        )
    else:
        sql(url, "ALTER TABLE points_accounts ADD CONSTRAINT cap CHECK (earned <= 1000)")
    ledger = make(url)
    with pytest.raises((LedgerRefused, UpstreamUnavailable), match="rolled back"):
        ledger.credit(PAM, "credit:over-cap", Decimal(1000))
    assert ledger.lookup("credit:over-cap") is None
    assert available(url) == START


@pytest.mark.parametrize("table", ["points_accounts", "points_tx"])
def test_no_write_goes_to_a_table_without_transactions(url, table):
    """MyISAM keeps an UPDATE that ROLLBACK was meant to undo: a refused duplicate would have
    taken the points anyway."""
    on_mysql(url)
    sql(url, f"ALTER TABLE {table} ENGINE = MyISAM")
    ledger = make(url)
    with pytest.raises(ConnectorConfigError, match=rf"{table} \(MyISAM\) cannot roll back"):
        ledger.check()
    with pytest.raises(UpstreamUnavailable, match="cannot roll back"):
        ledger.debit(PAM, "debit:myisam", Decimal(10))
    with pytest.raises(UpstreamUnavailable, match="cannot roll back"):
        ledger.credit(PAM, "credit:myisam", Decimal(10))
    assert available(url) == START
    sql(url, f"ALTER TABLE {table} ENGINE = InnoDB")  # and once it can, writes go
    ledger.debit(PAM, "debit:innodb", Decimal(10))
    assert available(url) == START - 10
