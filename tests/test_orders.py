"""Idempotency by order id, credits through the redeem endpoint, and refunds against orders."""

from __future__ import annotations

from tests.conftest import assert_failure


def test_same_order_again_answers_the_same_and_debits_once(api, journal_count):
    first = api.redeem("U1000", "AB-1", 100)
    again = api.redeem("U1000", "AB-1", "100.00")
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    assert journal_count() == 1
    assert api.balance("U1000")["points_redeemed"] == "100"


def test_integer_and_string_order_ids_are_the_same_order(api, journal_count):
    assert api.redeem("U1000", 1890082790, 50).get_json()["data"] == {"order_id": "1890082790"}
    assert api.redeem("U1000", "1890082790", 50).status_code == 200
    assert journal_count() == 1


def test_same_order_other_amount_is_a_conflict(api, journal_count):
    assert api.redeem("U1000", "AB-1", 100).status_code == 200
    assert_failure(api.redeem("U1000", "AB-1", 101), 409, "order_conflict")
    assert journal_count() == 1
    assert api.balance("U1000")["points_redeemed"] == "100"


def test_same_order_other_user_is_a_conflict(api, journal_count):
    assert api.redeem("U1000", "AB-1", 100).status_code == 200
    assert_failure(api.redeem("DB123", "AB-1", 100), 409, "order_conflict")
    assert journal_count() == 1
    assert api.balance("DB123")["points_redeemed"] == "0"


def test_replay_is_answered_even_when_the_balance_is_now_too_low(api):
    assert api.redeem("U1000", "AB-1", 1000).status_code == 200
    assert api.redeem("U1000", "AB-1", 1000).status_code == 200


def test_points_added_credits_once(api, journal_count):
    body = {"total_points_redeemed": None, "total_points_added": 250, "comments": "goodwill"}
    r = api.post("/v1/points/redeem", {"unique_id": "U1000", "order_id": "C-1", **body})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"] == {"order_id": "C-1"}
    again = api.post("/v1/points/redeem", {"unique_id": "U1000", "order_id": "C-1", **body})
    assert again.get_json() == r.get_json()
    assert journal_count() == 1
    assert api.balance("U1000") == {
        "points_received": "1250",
        "points_redeemed": "0",
        "points_available": "1250",
    }


def test_points_added_and_redeemed_together_is_refused(api, journal_count):
    body = {
        "unique_id": "U1000",
        "order_id": "C-1",
        "total_points_redeemed": 5,
        "total_points_added": 5,
    }
    assert_failure(api.post("/v1/points/redeem", body), 400, "invalid_amount")
    assert journal_count() == 0


def test_zero_points_added_means_a_debit(api):
    r = api.redeem("U1000", "O-1", "129", total_points_added=0)
    assert r.status_code == 200
    assert api.balance("U1000")["points_redeemed"] == "129"


def test_missing_amount_is_refused(api):
    r = api.post("/v1/points/redeem", {"unique_id": "U1000", "order_id": "O-1"})
    assert_failure(r, 400, "invalid_amount")


def test_partial_refunds_up_to_the_order(api, journal_count):
    assert api.redeem("U1000", "O-1", 300).status_code == 200
    r = api.refund("U1000", "O-1", 100)
    assert r.status_code == 200
    assert r.get_json()["data"] == {"transaction_id": "O-1", "points": "100"}
    assert api.refund("U1000", "O-1", "150.5").status_code == 200
    assert api.balance("U1000")["points_redeemed"] == "49.5"
    body = assert_failure(api.refund("U1000", "O-1", 50), 409, "refund_exceeds_order")
    assert "already refunded" in body["message"]
    assert api.refund("U1000", "O-1", "49.5").status_code == 200
    assert api.balance("U1000")["points_available"] == "1000"
    assert journal_count() == 4


def test_identical_refund_past_the_cap_is_a_replay(api, journal_count):
    assert api.redeem("U1000", "O-1", 200).status_code == 200
    first = api.refund("U1000", "O-1", 200)
    again = api.refund("U1000", "O-1", 200)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert journal_count() == 2
    assert api.balance("U1000")["points_redeemed"] == "0"


def test_repeated_partial_refund_within_the_cap_is_applied(api):
    # Two refunds of 100 on a 300 order are two refunds: partial refunds carry no refund id.
    assert api.redeem("U1000", "O-1", 300).status_code == 200
    assert api.refund("U1000", "O-1", 100).status_code == 200
    assert api.refund("U1000", "O-1", 100).status_code == 200
    assert api.balance("U1000")["points_redeemed"] == "100"


def test_refund_without_redemption(api, journal_count):
    assert_failure(api.refund("U1000", "NO-SUCH-ORDER", 10), 404, "order_not_found")
    assert journal_count() == 0


def test_refund_of_another_users_order(api, journal_count):
    assert api.redeem("DB123", "O-1", 100).status_code == 200
    assert_failure(api.refund("U1000", "O-1", 10), 409, "order_conflict")
    assert journal_count() == 1


def test_refund_cannot_target_a_credit(api):
    body = {"unique_id": "U1000", "order_id": "C-1", "total_points_added": 100}
    assert api.post("/v1/points/redeem", body).status_code == 200
    assert_failure(api.refund("U1000", "C-1", 10), 404, "order_not_found")


def test_refund_by_order_id_alias(api):
    assert api.redeem("U1000", "O-1", 100).status_code == 200
    body = {"unique_id": "U1000", "order_id": "O-1", "redemption_amount": "40"}
    r = api.post("/v1/points/refund", body)
    assert r.status_code == 200, r.get_json()
    assert api.balance("U1000")["points_redeemed"] == "60"


def test_refund_naming_two_orders_is_refused(api, journal_count):
    assert api.redeem("U1000", "O-1", 100).status_code == 200
    r = api.refund("U1000", "O-1", 10, order_id="O-2")
    assert_failure(r, 400, "invalid_request")
    assert journal_count() == 1


def test_refund_without_order(api):
    r = api.post("/v1/points/refund", {"unique_id": "U1000", "redemption_amount": "40"})
    body = assert_failure(r, 400, "invalid_request")
    assert "transactionid" in body["message"]
