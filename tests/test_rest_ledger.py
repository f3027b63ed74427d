"""The REST ledger connector on `responses`: the kit in both modes, templates, answers, faults."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
import requests
import responses

from connectors.base import (
    InsufficientBalance,
    LedgerRefused,
    MemberUnknown,
    OutcomeUnknown,
    Profile,
    Reference,
    UpstreamAuthFailed,
    UpstreamUnavailable,
)
from connectors.registry import BadOptions, validate_options
from connectors.rest_ledger import RestLedgerConnector, RestLedgerOptions
from connectors.rest_mapping import render_body
from connectors.testing import PointsLedgerContract
from gateway.app import create_app
from gateway.config import load_settings
from tests.conftest import EMPLOYEES, write_config, write_csv
from tests.fakes import rest_ledger as fake

PAM = Profile(employee_id="DB123", email="pam+points@example.com", first_name="P", last_name="B")
FAST = {"connect_timeout": 0.5, "read_timeout": 0.5, "budget_seconds": 1, "attempts": 3}


def make(**changes) -> RestLedgerConnector:
    options = {**fake.OPTIONS, "http": FAST, **changes}
    return RestLedgerConnector(**RestLedgerOptions().load(options))


@pytest.fixture
def api(mock):
    ledger = fake.LedgerApi()
    ledger.accounts["DB123"] = Decimal("250.75")
    fake.on_responses(mock, ledger)
    return ledger


def down(mock):
    mock.reset()
    for method in ("GET", "POST"):
        mock.add(method, fake.BASE + "/members/DB123/points", body=requests.ConnectionError("down"))
        mock.add(method, fake.BASE + "/members/DB123/debits", body=requests.ConnectionError("x"))
        mock.add(method, fake.BASE + "/members/DB123/credits", body=requests.ConnectionError("x"))
        mock.add(method, f"{fake.BASE}/members/points-gateway-health-check/points", status=503)


class TestRestLedgerWithLookup(PointsLedgerContract):
    """A legacy system that applies whatever it is sent, but can be asked about a reference."""

    @pytest.fixture
    def connector(self, api):
        connector = make()
        yield connector
        connector.close()

    @pytest.fixture
    def funded(self, api):
        return PAM, Decimal("250.75")

    @pytest.fixture
    def backend_down(self, mock):
        return lambda: down(mock)

    @pytest.fixture
    def secrets(self):
        return (fake.TOKEN,)


class TestIdempotentRestLedger(TestRestLedgerWithLookup):
    """One that answers 409 for a reference it has, and no status lookup."""

    @pytest.fixture
    def api(self, mock):
        ledger = fake.LedgerApi(idempotent=True)
        ledger.accounts["DB123"] = Decimal("250.75")
        fake.on_responses(mock, ledger)
        return ledger

    @pytest.fixture
    def connector(self, api):
        connector = make(idempotent=True, lookup=None)
        yield connector
        connector.close()


def test_the_amount_is_a_json_number_written_exactly(api, mock):
    make().debit(PAM, "O1:debit", Decimal("12.3456789012345678901"))
    sent = mock.calls[-1].request
    assert b'"points": 12.3456789012345678901' in sent.body
    assert sent.headers["Idempotency-Key"] == "O1:debit"
    assert api.accounts["DB123"] == Decimal("250.75") - Decimal("12.3456789012345678901")


def test_templates_fill_text_and_escape_path_values(mock):
    seen = []
    mock.add_callback(
        responses.PUT,
        "https://ledger.example.com/api/v2/accounts/pam%2Bpoints%40example.com/spend",
        callback=lambda request: seen.append(request) or (200, {}, "{}"),
    )
    ledger = make(
        member="email",
        reference_header="",
        debit={
            "method": "PUT",
            "path": "/v2/accounts/{member}/spend",
            "body": {"tx": {"value": "{amount_text}", "note": "order {order_id} ({kind})"}},
        },
    )
    # An order id may hold a colon, or look like another operation's reference.
    receipt = ledger.debit(PAM, Reference.of("debit", "O-7:A"), Decimal("5.50"))
    assert receipt.amount == Decimal("5.50") and not receipt.replayed
    body = json.loads(seen[0].body)
    assert body == {"tx": {"value": "5.5", "note": "order O-7:A (debit)"}}
    ledger.debit(PAM, Reference.of("refund", "O-7:A:refund:2", 1), Decimal(1))
    assert json.loads(seen[1].body)["tx"]["note"] == "order O-7:A:refund:2 (debit)"
    ledger.debit(PAM, "plain-text-reference", Decimal(1))  # an older caller: the text itself
    assert json.loads(seen[2].body)["tx"]["note"] == "order plain-text-reference (debit)"
    assert "Idempotency-Key" not in seen[0].headers


def test_render_body_never_goes_through_a_float():
    values = {"amount": "0.1", "reference": "R", "member": "M"}
    text = render_body({"a": "{amount}", "list": ["{amount}", 3, True]}, values)
    assert text == '{"a": 0.1, "list": [0.1, 3, true]}'


def test_answer_rules_read_status_and_body(mock):
    url = fake.BASE + "/members/DB123/debits"
    mock.add(responses.POST, url, json={"ok": False, "code": "LOW_BALANCE"})
    mock.add(responses.POST, url, status=422, json={"code": "ALREADY_DONE"})
    mock.add(responses.POST, url, status=400, json={"code": "BAD_AMOUNT"})
    ledger = make(
        insufficient={"field": "code", "values": ["low_balance"]},
        duplicate={"statuses": [422], "field": "code", "values": ["ALREADY_DONE"]},
    )
    with pytest.raises(InsufficientBalance):
        ledger.debit(PAM, "R1", Decimal(1))
    assert ledger.debit(PAM, "R2", Decimal(1)).replayed
    with pytest.raises(LedgerRefused, match=r"HTTP 400.*BAD_AMOUNT"):
        ledger.debit(PAM, "R3", Decimal(1))


def test_a_write_that_may_have_arrived_is_unknown_and_not_repeated(mock):
    url = fake.BASE + "/members/DB123/debits"
    mock.add(responses.POST, url, status=502)
    mock.add(responses.POST, url, body=requests.ReadTimeout("slow"))
    ledger = make()
    with pytest.raises(OutcomeUnknown, match="HTTP 502"):
        ledger.debit(PAM, "R1", Decimal(1))
    with pytest.raises(OutcomeUnknown, match="timed out"):
        ledger.debit(PAM, "R2", Decimal(1))
    assert len(mock.calls) == 2  # never sent twice


def test_a_write_refused_before_it_arrived_is_not_applied(mock):
    url = fake.BASE + "/members/DB123/credits"
    mock.add(responses.POST, url, status=429, headers={"Retry-After": "300"})
    mock.add(responses.POST, url, status=401)
    ledger = make(http={**FAST, "attempts": 1})
    with pytest.raises(UpstreamUnavailable, match="429"):
        ledger.credit(PAM, "R1", Decimal(1))
    with pytest.raises(UpstreamAuthFailed):
        ledger.credit(PAM, "R2", Decimal(1))


def test_lookup_states(mock):
    url = fake.BASE + "/transactions/R1"
    mock.add(responses.GET, url, json={"status": "PROCESSING"})
    mock.add(responses.GET, url, json={"status": "failed"})
    mock.add(responses.GET, url, body='{"status": "Completed", "points": 2.50}')
    ledger = make()
    with pytest.raises(OutcomeUnknown, match="processing"):
        ledger.lookup("R1")
    assert ledger.lookup("R1") is None
    assert ledger.lookup("R1").amount == Decimal("2.50")


def test_an_unknown_member(api):
    nobody = Profile(employee_id="X9", email="", first_name="", last_name="")
    assert make().balance(nobody) is None
    with pytest.raises(MemberUnknown):
        make().credit(nobody, "R1", Decimal(1))


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"auth": "bearer", "token": None}, "token"),
        ({"auth": "basic", "token": None, "username": "u"}, "password"),
        ({"debit": {"body": {"x": "{points}"}}}, "unknown placeholder {points}"),
        ({"balance": {"path": "/m/{reference}"}}, "unknown placeholder {reference}"),
        ({"not_found": {"field": "code"}}, "needs `values`"),
        ({"base_url": "not a url"}, "URL"),
    ],
)
def test_bad_options_are_named(changes, complaint):
    from connectors.rest_ledger import RestLedgerConnector as cls

    with pytest.raises(BadOptions) as raised:
        validate_options(cls, {**fake.OPTIONS, **changes})
    assert complaint in str(raised.value)


def test_the_gateway_redeems_and_refunds_through_the_rest_ledger(api, tmp_path):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    config.write_text(
        config.read_text().replace(
            '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }', fake.POINTS_TOML
        )
    )
    settings = load_settings(config)
    assert fake.TOKEN in settings.secrets()
    app = create_app(settings)
    client, token = app.test_client(), app.extensions["points_gateway"].tokens.issue
    auth = {"unique_id": "DB123", "auth_token": token("DB123")}
    redeem = {**auth, "order_id": "G1", "total_points_redeemed": "200.25"}
    assert client.post("/v1/points/redeem", json=redeem).get_json()["status"] == "1"
    assert client.post("/v1/points/redeem", json=redeem).get_json()["status"] == "1"
    assert dict(api.applied) == {"debit:G1": 1}
    refund = {**auth, "transactionid": "G1", "redemption_amount": 100}
    assert client.post("/v1/points/refund", json=refund).get_json()["status"] == "1"
    points = client.post("/v1/points/balance", json=auth).get_json()["points_info"]
    assert points == {
        "points_received": "250.75",  # the ledger gives only what is available
        "points_redeemed": "100.25",
        "points_available": "150.5",
    }
    too_much = {**auth, "order_id": "G2", "total_points_redeemed": "151"}
    answer = client.post("/v1/points/redeem", json=too_much)
    assert answer.status_code == 422 and answer.get_json()["error_code"] == "insufficient_points"
    app.extensions["points_gateway"].close()


def test_the_readme_example_is_valid():
    import re
    import tomllib
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "docs" / "connectors" / "ledgers.md").read_text()
    section = readme[readme.index("## A legacy REST points system") :]
    block = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    options = tomllib.loads(block)["points"]["options"]
    loaded = validate_options(RestLedgerConnector, options)
    assert loaded["debit"]["body"]["note"] == "Xoxoday order {order_id}"
    assert loaded["lookup"]["state"] == "status"


@pytest.mark.parametrize("dots", [".", ".."])
def test_a_dot_segment_value_can_never_change_the_path(mock, dots):
    """requests (urllib3) collapses "." and ".." segments, percent-escaped or not: order
    ".." would be sent to POST /members/DB123/. Refused before anything is sent."""
    mock.add(responses.POST, re.compile(r".*"), json={})
    ledger = make(debit={"path": "/members/{member}/debits/{order_id}"}, reference_header="")
    with pytest.raises(LedgerRefused, match="path"):
        ledger.debit(PAM, Reference.of("debit", dots), Decimal(1))
    with pytest.raises(LedgerRefused, match="path"):
        ledger.debit(Profile(dots, "", "", ""), Reference.of("debit", "O1"), Decimal(1))
    assert len(mock.calls) == 0
    ledger.debit(PAM, Reference.of("debit", "..."), Decimal(1))  # not a dot segment
    assert mock.calls[0].request.url.endswith("/members/DB123/debits/...")


@pytest.mark.parametrize(
    "order_id", ["{amount}", "{member}", "\x00amount\x00", '"}, "x": {"', "{reference}"]
)
def test_an_order_id_can_never_alter_a_body_template(mock, order_id):
    seen = []
    mock.add_callback(
        responses.POST,
        re.compile(r".*"),
        callback=lambda request: seen.append(request) or (201, {}, "{}"),
    )
    body = {"note": "order {order_id}", "id": "{order_id}", "points": "{amount}"}
    ledger = make(debit={"body": body}, reference_header="")
    ledger.debit(PAM, Reference.of("debit", order_id), Decimal("7.5"))
    sent = json.loads(seen[0].body)
    assert sent == {"note": f"order {order_id}", "id": order_id, "points": Decimal("7.5")} or (
        sent == {"note": f"order {order_id}", "id": order_id, "points": 7.5}
    )
