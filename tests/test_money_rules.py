"""Money rules at the endpoints: every bad amount is a 400 that changes nothing."""

from __future__ import annotations

import pytest

from tests.conftest import assert_failure

BAD_AMOUNTS = {
    "nan literal": "NaN",
    "infinity literal": "Infinity",
    "negative": "-5",
    "zero": "0",
    "too large": "1e309",
    "not a number": '"12abc"',
    "true": "true",
    "false": "false",
    "three decimals": "1.005",
    "three decimals as text": '"1.005"',
    "nan as text": '"NaN"',
    "empty text": '""',
    "a list": "[10]",
    "over the maximum": "10000001",
    # Exactly, never rounded: 28 significant digits would make this 10.
    "29 digits": "9.99999999999999999999999999999",
    "29 digits as text": '"9.99999999999999999999999999999"',
    "hex as text": '"0x10"',
    "plus as text": '"+5"',
    "leading point as text": '".5"',
    "trailing point as text": '"5."',
    "exponent as text": '"1e3"',
    "fullwidth digit": '"\\uff15"',
    "arabic-indic digits": '"\\u0661\\u0662"',
    "mathematical digit": '"\\ud835\\udfd3"',
    "non-breaking space": '"\\u00a05"',
    "tab": '"\\t5"',
}
NOT_JSON = {  # what json5 used to read as numbers: not JSON, so not an amount either
    "hex": "0x10",
    "plus": "+5",
    "leading point": ".5",
    "trailing point": "5.",
}


def redeem_text(token: str, amount_json: str, order: str = "O-1") -> str:
    head = f'{{"unique_id": "U1000", "auth_token": "{token}", "order_id": "{order}"'
    return head + f', "total_points_redeemed": {amount_json}}}'


@pytest.mark.parametrize("amount", BAD_AMOUNTS.values(), ids=BAD_AMOUNTS.keys())
def test_bad_redeem_amount_is_refused_and_changes_nothing(
    client, token, api, journal_count, amount
):
    r = client.post(
        "/v1/points/redeem",
        data=redeem_text(token("U1000"), amount),
        content_type="application/json",
    )
    assert_failure(r, 400, "invalid_amount")
    assert journal_count() == 0
    assert api.balance("U1000")["points_available"] == "1000"


@pytest.mark.parametrize("amount", BAD_AMOUNTS.values(), ids=BAD_AMOUNTS.keys())
def test_bad_refund_amount_is_refused_and_changes_nothing(
    client, token, api, journal_count, amount
):
    assert api.redeem("U1000", "O-1", 100).status_code == 200
    head = f'{{"unique_id": "U1000", "auth_token": "{token("U1000")}", "transactionid": "O-1"'
    text = head + f', "redemption_amount": {amount}}}'
    r = client.post("/v1/points/refund", data=text, content_type="application/json")
    assert_failure(r, 400, "invalid_amount")
    assert journal_count() == 1
    assert api.balance("U1000")["points_available"] == "900"


@pytest.mark.parametrize("amount", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_json5_numbers_are_not_json(client, token, journal_count, amount):
    r = client.post(
        "/v1/points/redeem",
        data=redeem_text(token("U1000"), amount),
        content_type="application/json",
    )
    assert_failure(r, 400, "invalid_json")
    assert journal_count() == 0


@pytest.mark.parametrize(
    ("amount", "debited"),
    [
        (129, "129"),
        ("129", "129"),
        (348.5, "348.5"),
        ("348.50", "348.5"),
        (" 10 ", "10"),
        ("0.01", "0.01"),
        (1000, "1000"),
        ("1.000", "1"),
    ],
)
def test_good_amounts_debit_exactly(api, amount, debited):
    r = api.redeem("U1000", "O-1", amount)
    assert r.status_code == 200, r.get_json()
    info = api.balance("U1000")
    assert info["points_redeemed"] == debited


def test_no_float_noise_in_balances(api):
    for i, amount in enumerate(["0.1", "0.2", "0.1", "0.3"]):
        assert api.redeem("TTE032S99ERCL", f"O-{i}", amount).status_code == 200
    assert api.balance("TTE032S99ERCL") == {
        "points_received": "1651.5",
        "points_redeemed": "0.7",
        "points_available": "1650.8",
    }


def test_insufficient_points_debits_nothing(api, journal_count):
    assert api.redeem("U1000", "O-1", 600).status_code == 200
    body = assert_failure(api.redeem("U1000", "O-2", "400.01"), 422, "insufficient_points")
    assert "399.99" in body["message"] or "400" in body["message"]
    assert journal_count() == 1
    assert api.balance("U1000")["points_available"] == "400"
    assert api.redeem("U1000", "O-3", 400).status_code == 200  # exactly all of it is fine
    assert api.balance("U1000")["points_available"] == "0"


def test_unknown_user(api):
    assert_failure(api.redeem("NOBODY", "O-1", 1), 404, "user_not_found")
