"""A points table in the company's own database (SQLite, PostgreSQL, MySQL or MariaDB, SQL
Server: any SQLAlchemy URL) as the points ledger.

A debit is one transaction: a conditional UPDATE takes the points only while they cover the
amount, which locks the member's row (PostgreSQL and InnoDB check the condition on the newest
row; a SQLite transaction is taken IMMEDIATE), so two gateways cannot overspend. With a
transactions table whose reference column is unique, each reference is applied once and can be
looked up. Nothing is applied unless the transaction commits: a failure before COMMIT certainly
did nothing; a failure during COMMIT may have, and is reported as such. A MySQL table without
transactions (MyISAM, Aria) would keep an UPDATE that ROLLBACK was meant to undo: no write is
sent to one.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    MetaData,
    Numeric,
    String,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SAWarning

from connectors.base import (
    Balance,
    ConnectorConfigError,
    InsufficientBalance,
    LedgerRefused,
    MemberUnknown,
    OutcomeUnknown,
    PointsLedger,
    Profile,
    Receipt,
    Secret,
    UpstreamUnavailable,
)
from connectors.sql_engine import ledger_engine, reason, without_transactions

# SQLite keeps NUMERIC as floating point; amounts read from it are rounded to 4 places.
warnings.filterwarnings("ignore", r"Dialect sqlite\+\w+ does \*not\* support Decimal", SAWarning)
AMOUNT = Numeric(20, 4, asdecimal=True)


class TransactionColumns(Schema):
    reference = fields.String(load_default="reference")
    member = fields.String(load_default="member_id")
    kind = fields.String(load_default="kind")
    amount = fields.String(load_default="amount")
    created_at = fields.String(load_default="created_at")


class SqlLedgerOptions(Schema):
    url = Secret(required=True, validate=validate.Length(min=1))  # may hold a password
    table = fields.String(load_default="points_accounts")
    member_column = fields.String(load_default="member_id")
    points_column = fields.String(load_default="points")  # what is available now
    received_column = fields.String(load_default=None)  # optional running totals
    redeemed_column = fields.String(load_default=None)
    # The member's key in the table: which profile field it holds.
    member = fields.String(
        load_default="employee_id", validate=validate.OneOf(["employee_id", "email", "mobile"])
    )
    # Optional: one row per write, `reference` unique -> idempotent writes and lookups.
    transactions_table = fields.String(load_default=None)
    transaction_columns = fields.Nested(
        TransactionColumns, load_default=lambda: TransactionColumns().load({})
    )


class SqlLedgerConnector(PointsLedger):
    options_schema = SqlLedgerOptions

    def __init__(
        self,
        url: str,
        table: str = "points_accounts",
        member_column: str = "member_id",
        points_column: str = "points",
        received_column: str | None = None,
        redeemed_column: str | None = None,
        member: str = "employee_id",
        transactions_table: str | None = None,
        transaction_columns: dict[str, str] | None = None,
    ) -> None:
        self.engine = ledger_engine(url)
        self._transactional = False  # known to be, once without_transactions said so
        self.member = member
        meta = MetaData()
        columns: list[Column[Any]] = [
            Column(member_column, String, key="member"),
            Column(points_column, AMOUNT, key="points"),
        ]
        if received_column:
            columns.append(Column(received_column, AMOUNT, key="received"))
        if redeemed_column:
            columns.append(Column(redeemed_column, AMOUNT, key="redeemed"))
        self.accounts = Table(table, meta, *columns)
        self.tx: Table | None = None
        if transactions_table:
            names = transaction_columns or TransactionColumns().load({})
            self.tx = Table(
                transactions_table,
                meta,
                *(
                    Column(names[key], kind, key=key)
                    for key, kind in (
                        ("reference", String),
                        ("member", String),
                        ("kind", String),
                        ("amount", AMOUNT),
                        ("created_at", DateTime(timezone=True)),
                    )
                ),
            )
        self.idempotent = self.tx is not None  # type: ignore[misc]

    @property
    def can_lookup(self) -> bool:
        return self.tx is not None

    def balance(self, profile: Profile) -> Balance | None:
        acc = self.accounts.c
        wanted = [
            c for c in (acc.points, acc.get("received"), acc.get("redeemed")) if c is not None
        ]
        with self._reading() as conn:
            row = conn.execute(select(*wanted).where(acc.member == self._key(profile))).first()
        if row is None:
            return None
        m = row._mapping
        return Balance(m["points"], m.get("received"), m.get("redeemed"))

    def debit(self, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        return self._write("debit", profile, reference, amount)

    def credit(self, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        return self._write("credit", profile, reference, amount)

    def lookup(self, reference: str) -> Receipt | None:
        if self.tx is None:
            raise NotImplementedError
        with self._reading() as conn:
            return self._recorded(conn, reference)

    def member_of(self, profile: Profile) -> str:
        return self._key(profile)

    def check(self) -> None:
        with self._reading() as conn:
            conn.execute(select(func.count()).select_from(self.accounts).limit(1))
            if problem := self._without_transactions(conn):
                raise ConnectorConfigError(problem)

    def close(self) -> None:
        self.engine.dispose()

    # -- internals ---------------------------------------------------------------------------
    def _recorded(self, conn: Connection, reference: str) -> Receipt | None:
        """The transactions table's row for `reference`, as a receipt. Only that very text: a
        column whose collation ignores case would also find another order's reference."""
        assert self.tx is not None
        tx = self.tx.c
        query = select(tx.reference, tx.amount, tx.member, tx.kind).where(tx.reference == reference)
        row = next((r for r in conn.execute(query) if _text(r.reference) == reference), None)
        if row is None:
            return None
        kind = None if row.kind is None else _text(row.kind).strip().lower()
        member = None if row.member is None else _text(row.member)
        return Receipt(reference, row.amount, member=member, kind=kind)

    def _without_transactions(self, conn: Connection) -> str | None:
        """Why a write must not be sent (a table that cannot roll back), or None."""
        if self._transactional:
            return None
        names = [t.name for t in (self.accounts, self.tx) if t is not None]
        if bad := without_transactions(conn, names):
            return (
                f"sql ledger: {', '.join(bad)} cannot roll back a write "
                "(ALTER TABLE ... ENGINE=InnoDB): nothing is sent to it"
            )
        self._transactional = True
        return None

    def _key(self, profile: Profile) -> str:
        return str(getattr(profile, self.member))

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise UpstreamUnavailable(f"sql ledger: {reason(exc)}") from None

    def _write(self, kind: str, profile: Profile, reference: str, amount: Decimal) -> Receipt:
        member = self._key(profile)
        if not self._transactional:
            with self._reading() as conn:
                if problem := self._without_transactions(conn):
                    raise UpstreamUnavailable(problem)
        try:
            conn = self.engine.connect()
        except DBAPIError as exc:
            raise UpstreamUnavailable(f"sql ledger: {reason(exc)}") from None
        try:
            transaction = conn.begin()
            try:
                receipt = self._apply(conn, kind, member, reference, amount)
            except IntegrityError as exc:
                transaction.rollback()
                return self._duplicate(reference, exc)
            except DBAPIError as exc:
                transaction.rollback()
                raise UpstreamUnavailable(f"sql ledger: {reason(exc)} (rolled back)") from None
            if receipt.replayed:
                transaction.rollback()
                return receipt
            try:
                transaction.commit()
            except DBAPIError as exc:  # the database may have committed before the link broke
                raise OutcomeUnknown(f"sql ledger: COMMIT failed: {reason(exc)}") from None
            return receipt
        finally:
            conn.close()

    def _duplicate(self, reference: str, exc: IntegrityError) -> Receipt:
        """A write rolled back on a constraint: the same reference, committed by another
        gateway just now (a replay, which the gateway checks), or another constraint of the
        company's tables (refused: nothing was applied)."""
        if self.tx is not None:
            with self._reading() as conn:
                if (done := self._recorded(conn, reference)) is not None:
                    return replace(done, replayed=True)
        raise LedgerRefused(f"sql ledger: {reason(exc)} (rolled back)") from None

    def _apply(
        self, conn: Connection, kind: str, member: str, reference: str, amount: Decimal
    ) -> Receipt:
        acc = self.accounts.c
        if self.tx is not None and (done := self._recorded(conn, reference)) is not None:
            return replace(done, replayed=True)
        change: dict[str, Any] = {"points": acc.points + (amount if kind == "credit" else -amount)}
        condition = [acc.member == member]
        if kind == "debit":
            condition.append(acc.points >= amount)
            if "redeemed" in acc:
                change["redeemed"] = acc.redeemed + amount
        elif "received" in acc:
            change["received"] = acc.received + amount
        if conn.execute(update(self.accounts).where(*condition).values(change)).rowcount != 1:
            # A locking read: InnoDB's plain SELECT would answer from the transaction's snapshot.
            now = select(acc.points).where(acc.member == member).with_for_update()
            row = conn.execute(now).first()
            conn.rollback()
            if row is None:
                raise MemberUnknown(f"sql ledger: no account {member!r}")
            raise InsufficientBalance("sql ledger: not enough points", row[0])
        if self.tx is not None:
            conn.execute(
                insert(self.tx).values(
                    reference=reference,
                    member=member,
                    kind=kind,
                    amount=amount,
                    created_at=func.current_timestamp(),
                )
            )
        return Receipt(reference, amount)


def _text(value: Any) -> str:
    """A text column's value as text: a CHAR column's padding dropped (a reference or member
    never ends in a space), a binary column's bytes decoded."""
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return text.rstrip(" ")
