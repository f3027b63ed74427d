"""Ledger references: no two operations ever share one, whatever their order ids hold.

The attacks are the ones a hostile review found (issue 12, item 1): an order id spelled like
another operation's reference got a debit answered "success" that the ledger never took (a free
order), or a refund the ledger never credited (a lost refund). They run end to end, through the
Flask app, on both configurable ledgers: the SQL ledger with a unique transactions table and the
REST ledger whose system answers 409 for a reference it has.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from connectors.base import Profile, Reference
from gateway.app import create_app
from gateway.config import load_settings
from gateway.journal import Journal
from gateway.service.ledger_ops import reference_of
from tests.conftest import EMPLOYEES, write_config, write_csv
from tests.fakes import rest_ledger as fake
from tests.test_sql_ledger import company_database, ledger_config, make

START = Decimal(1000)
KINDS = st.sampled_from(["debit", "credit", "refund"])
# Order ids made of the pieces references are made of, so collisions are likely if possible.
TRICKY_IDS = st.text(alphabet=":0123456789refundcbitO", min_size=1, max_size=24)


@given(KINDS, TRICKY_IDS, st.integers(1, 10**6), KINDS, TRICKY_IDS, st.integers(1, 10**6))
def test_no_two_distinct_operations_share_a_reference(kind_a, order_a, n_a, kind_b, order_b, n_b):
    a = (kind_a, order_a, n_a if kind_a == "refund" else 0)
    b = (kind_b, order_b, n_b if kind_b == "refund" else 0)
    if a != b:
        assert Reference.of(*a) != Reference.of(*b)
    assert Reference.of(*a).order_id == order_a


@given(KINDS, st.text(min_size=1, max_size=128), st.integers(1, 10**6))
def test_a_reference_carries_its_order_exactly(kind, order_id, n):
    reference = Reference.of(kind, order_id, n)
    assert (reference.operation, reference.order_id) == (kind, order_id)
    assert reference.endswith(order_id)


def test_an_operation_journaled_by_an_earlier_release_keeps_its_reference(tmp_path):
    journal = Journal(f"sqlite:///{tmp_path / 'journal.db'}")
    journal.create_schema()
    old, _ = journal.open_order("credit", "DB123", "DB123", "Z:credit", 5_0000, "Z:credit:credit")
    debit, _ = journal.open_order("debit", "DB123", "DB123", "D1", 5_0000, None)  # type: ignore[arg-type]
    assert reference_of(old) == "Z:credit:credit" and reference_of(old).order_id == "Z:credit"
    assert reference_of(debit) == "D1" and reference_of(debit).order_id == "D1"
    journal.dispose()


# -- end to end, on both ledgers --------------------------------------------------------------


@contextmanager
def sql_gateway(folder: Path, extra: str = "") -> Iterator[tuple[Any, Callable[[], Decimal]]]:
    url = company_database(f"sqlite:///{folder / 'company.db'}", points=str(START))
    config = ledger_config(folder, url)
    config.write_text(config.read_text() + extra)
    app = create_app(load_settings(config))
    ledger = make(url)
    pam = Profile("DB123", "pam@example.com", "Pam", "B")
    try:
        yield app, lambda: ledger.balance(pam).available
    finally:
        ledger.close()
        app.extensions["points_gateway"].close()


@contextmanager
def rest_gateway(
    folder: Path, api: fake.LedgerApi | None = None, extra: str = ""
) -> Iterator[tuple[Any, Callable[[], Decimal]]]:
    api = api or fake.LedgerApi(idempotent=True)  # a known reference answers 409 "duplicate"
    api.accounts["DB123"] = START
    write_csv(folder / "employees.csv", EMPLOYEES)
    config = write_config(folder, f"sqlite:///{folder / 'journal.db'}")
    csv_points = '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }'
    config.write_text(config.read_text().replace(csv_points, fake.POINTS_TOML + extra))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.on_responses(mock, api)
        app = create_app(load_settings(config))
        try:
            yield app, lambda: api.accounts["DB123"]
        finally:
            app.extensions["points_gateway"].close()


GATEWAYS = {"sql_ledger": sql_gateway, "rest_ledger": rest_gateway}


class Client:
    def __init__(self, app: Any) -> None:
        self.client = app.test_client()
        self.auth = {
            "unique_id": "DB123",
            "auth_token": app.extensions["points_gateway"].tokens.issue("DB123"),
        }

    def redeem(self, order_id: str, amount: int) -> Any:
        body = {**self.auth, "order_id": order_id, "total_points_redeemed": amount}
        return self.client.post("/v1/points/redeem", json=body).get_json()

    def credit(self, order_id: str, amount: int) -> Any:
        body = {**self.auth, "order_id": order_id, "total_points_added": amount}
        return self.client.post("/v1/points/redeem", json=body).get_json()

    def refund(self, order_id: str, amount: int) -> Any:
        body = {**self.auth, "transactionid": order_id, "redemption_amount": amount}
        return self.client.post("/v1/points/refund", json=body).get_json()


def applied_moves(app: Any) -> Decimal:
    """What the journal says the ledger was moved by: credits and refunds minus debits."""
    total = Decimal(0)
    for op in app.extensions["points_gateway"].journal.operations():
        if op.state == "applied":
            sign = -1 if op.kind == "debit" else 1
            total += sign * Decimal(op.amount) / 10_000
    return total


@pytest.mark.parametrize("ledger", GATEWAYS)
def test_an_order_named_like_a_refund_is_not_free(ledger, tmp_path):
    with GATEWAYS[ledger](tmp_path) as (app, balance):
        xo = Client(app)
        assert xo.redeem("O1", 100)["status"] == "1"
        assert xo.refund("O1", 100)["status"] == "1"
        assert xo.redeem("O1:refund:1", 100)["status"] == "1"
        assert balance() == START - 100 + 100 - 100
        assert balance() == START + applied_moves(app)


@pytest.mark.parametrize("ledger", GATEWAYS)
def test_a_refund_is_not_lost_behind_an_order_named_like_it(ledger, tmp_path):
    with GATEWAYS[ledger](tmp_path) as (app, balance):
        xo = Client(app)
        assert xo.redeem("P1:refund:1", 50)["status"] == "1"
        assert xo.redeem("P1", 200)["status"] == "1"
        assert xo.refund("P1", 200)["status"] == "1"
        assert balance() == START - 50 - 200 + 200
        assert balance() == START + applied_moves(app)


def test_order_id_in_a_template_is_the_order_itself(tmp_path):
    with rest_gateway(tmp_path) as (app, _):
        xo = Client(app)
        assert xo.credit("Z:credit", 5)["status"] == "1"
        assert xo.redeem("Z:credit", 5)["status"] == "1"
        ledger = app.extensions["points_gateway"].service.ledger
        values = ledger._values(Profile("DB123", "", "", ""), Reference.of("credit", "Z:credit"))
        assert values["order_id"] == "Z:credit"
        assert values["reference"] == "credit:Z:credit"


SEQUENCE = st.lists(
    st.tuples(
        st.sampled_from(["redeem", "refund", "credit"]),
        st.sampled_from(
            ["O1", "O1:refund:1", "O1:refund:2", "O1:credit", "refund:1:O1", "debit:O1"]
        ),
        st.sampled_from([10, 50, 100]),
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.parametrize("ledger", GATEWAYS)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=SEQUENCE)
def test_after_any_sequence_the_ledger_agrees_with_what_was_answered(ledger, steps):
    with tempfile.TemporaryDirectory() as folder, GATEWAYS[ledger](Path(folder)) as (app, balance):
        xo = Client(app)
        for action, order_id, amount in steps:
            getattr(xo, action)(order_id, amount)
        assert balance() == START + applied_moves(app)


# -- references an earlier release wrote to the same ledger -----------------------------------
# 0.1.0 sent each debit under the bare order id. Its order "debit:Z1" left a write under the
# text this release uses for order Z1's debit, and its order "refund:1:O1" one under the text of
# O1's first refund. A reference the ledger knows counts as this write only if the ledger's
# record is it: the same kind, amount and member.


def planted(ledger: str, folder: Path, reference: str, kind: str, amount: int) -> Any:
    """A gateway whose ledger already holds 0.1.0's write under `reference`."""
    if ledger == "rest_ledger":
        api = fake.LedgerApi(idempotent=True)
        api.transactions[reference] = {"member": "DB123", "kind": kind, "amount": Decimal(amount)}
        return rest_gateway(folder, api)

    @contextmanager
    def sql() -> Iterator[tuple[Any, Callable[[], Decimal]]]:
        with sql_gateway(folder) as (app, balance):
            engine = create_engine(f"sqlite:///{folder / 'company.db'}")
            with engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO points_tx VALUES (:r, 'DB123', :k, :a, NULL)"),
                    {"r": reference, "k": kind, "a": amount},
                )
            engine.dispose()
            yield app, balance

    return sql()


def operation_of(app: Any, kind: str, order_id: str) -> Any:
    journal = app.extensions["points_gateway"].journal
    return next(op for op in journal.operations() if (op.kind, op.order_id) == (kind, order_id))


@pytest.mark.parametrize("ledger", GATEWAYS)
def test_an_order_whose_reference_an_earlier_release_used_is_never_answered_1(ledger, tmp_path):
    with planted(ledger, tmp_path, "debit:Z1", "debit", 100) as (app, balance):
        xo = Client(app)
        for _ in range(2):  # and a redelivery is answered the same
            answer = xo.redeem("Z1", 40)
            assert answer["status"] == "0" and answer["error_code"] == "ledger_conflict", answer
        assert balance() == START  # never charged, and never answered as if it were
        op = operation_of(app, "debit", "Z1")
        assert op.state == "conflict" and "100 points, not 40" in op.detail
        journal = app.extensions["points_gateway"].journal
        assert [o.id for o in journal.unfinished()] == [op.id]  # journal pending lists it
        metrics = app.test_client().get("/metrics").get_data(as_text=True)
        assert 'points_gateway_journal_unfinished{kind="debit"} 1.0' in metrics


@pytest.mark.parametrize("ledger", GATEWAYS)
def test_a_refund_behind_an_earlier_release_s_order_is_a_conflict_not_a_credit(ledger, tmp_path):
    with planted(ledger, tmp_path, "refund:1:O1", "debit", 30) as (app, balance):
        xo = Client(app)
        assert xo.redeem("O1", 100)["status"] == "1"
        assert xo.refund("O1", 100)["status"] == "1"  # accepted and owed, as every refund is
        refund = operation_of(app, "refund", "O1")
        assert refund.state == "conflict" and "a debit, not a credit" in refund.detail
        # The worker leaves it to an operator: trying again cannot settle it.
        from gateway.service.worker import Worker

        Worker(app.extensions["points_gateway"].service, threads=1).run_once()
        assert operation_of(app, "refund", "O1").state == "conflict"
        assert balance() == START - 100  # not credited, and not said to be


@pytest.mark.parametrize("ledger", GATEWAYS)
def test_a_reference_prefix_keeps_an_installation_s_writes_apart(ledger, tmp_path):
    extra = '\n[ledger]\nreference_prefix = "r2:"\n'
    maker = (lambda: sql_gateway(tmp_path, extra)) if ledger == "sql_ledger" else None
    if ledger == "rest_ledger":
        api = fake.LedgerApi(idempotent=True)
        api.transactions["debit:Z1"] = {"member": "DB123", "kind": "debit", "amount": Decimal(9)}
        maker = lambda: rest_gateway(tmp_path, api, extra)  # noqa: E731
    assert maker is not None
    with maker() as (app, balance):
        assert Client(app).redeem("Z1", 40)["status"] == "1"
        assert balance() == START - 40
        assert operation_of(app, "debit", "Z1").reference == "r2:debit:Z1"
