"""Xoxoday's own sample requests (../shared/seeds), as written: only auth_token is ours.

The samples' auth_token is Xoxoday's placeholder; a real deployment hands Xoxoday tokens
we signed, so each test puts a valid one in its place and changes nothing else.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.conftest import PROFILE_KEY, SEED_API_KEY, write_config


@pytest.fixture
def config_path(tmp_path, employees_csv, database_url):
    """The samples' api_key is public: a test (or the demo) may configure it, nothing else."""
    return write_config(tmp_path, database_url, profile_api_keys=[PROFILE_KEY, SEED_API_KEY])


BALANCE_SAMPLE = """{
"unique_id":"DB123",
"auth_token":"0fe121f67cb0b90ef39fd83380bf1e12310912c86f4d7d5bfed3f3198e531b4f8d8af179b68361da28d0bc0353ce45ac7c374aa9c51dfb54c6705571f5ab8fe8"
}"""

PROFILE_SAMPLE = """{
    "api_key": "5c720ad8bae86480c01abc0b3734dcfc9sndbjasbdjhabsjdbae",
    "employee_id": "22816281"
}"""

REDEEM_SAMPLE_OLD = """{
"unique_id":"TTEO32S99ERCL",
"auth_token":"0fe121f67cb0b90ef39fd83380bf1e12310912c86f4d7d5bfed3f3198e531b4f8d8af179b68361da28d0bc0353ce45ac7c374aa9c51dfb54c6705571f5ab8fe8",
"total_points_redeemed":"129",
"total_points_added":null,
"order_id": "AB1890082790",
"comments": ""
}"""

REDEEM_SAMPLE_NEW = """{
  "unique_id": "TTEO32S99ERCL",
  "auth_token": "0fe121f67cb0b90ef39fd83380bf1e12310912c86f4d7d5bfed3f3198e531b4f8d8af179b68361da28d0bc0353ce45ac7c374aa9c51dfb54c6705571f5ab8fe8",
  "total_points_redeemed": 348.5,
  "order_id": "AB1890082790",
  "order_date": 1693995688,
  "orderData": [
    {
      "quantity": 1,
      "orderAmount": 10,
      "product": {
        "productId": "28811",
        "name": "Sony MDR-ZX110AP Wired On-Ear Headphones with tangle free cable",
        "category": "merchandise",
        "price": 10
      }
    },
    {
      "quantity": 1,
      "orderAmount": 337.5,
      "product": {
        "productId": "28628",
        "name": "Flipkart Rs.250 Gift Card",
        "category": "giftcard",
        "price": 337.5
      }
    }
  ]
}"""

# Verbatim, trailing comma included. Note its unique_id has a zero (TTE032...), where the
# redemption samples have the letter O (TTEO32...): two different users.
REFUND_SAMPLE = """{

"unique_id" : "TTE032S99ERCL",

"auth_token" : "0fe121f67cb0b90ef39fd83380bf1e12310912c86f4d7d5bfed3f3198e531b4f8d8af179b68361da28d0bc0353ce45ac7c374aa9c51dfb54c6705571f5ab8fe8",

"transactionid" : "AB1890082790",

"redemption_amount" : "200",

"comments" : "", }"""

SAMPLE_TOKEN = "0fe121f67cb0b90ef39fd83380bf1e12310912c86f4d7d5bfed3f3198e531b4f8d8af179b68361da28d0bc0353ce45ac7c374aa9c51dfb54c6705571f5ab8fe8"


def with_token(sample: str, token: str) -> str:
    assert SAMPLE_TOKEN in sample
    return sample.replace(SAMPLE_TOKEN, token)


def post_raw(client, path, text):
    return client.post(path, data=text, content_type="application/json")


def test_balance_sample(client, token):
    r = post_raw(client, "/v1/points/balance", with_token(BALANCE_SAMPLE, token("DB123")))
    assert r.status_code == 200
    # Exactly the seed's shape: status "1" and numbers as strings.
    assert r.get_json() == {
        "status": "1",
        "points_info": {
            "points_received": "2000",
            "points_redeemed": "0",
            "points_available": "2000",
        },
    }


def test_profile_sample_verbatim(client):
    r = post_raw(client, "/v1/profile", PROFILE_SAMPLE)
    assert r.status_code == 200
    assert r.get_json() == {
        "status": 1,
        "message": "Successfully loaded employee's data",
        "employee_data": {
            "employee_id": "22816281",
            "company_email_id": "dwightschrute@dundlermifflin.com",
            "first_name": "Dwight",
            "last_name": "Schrute",
            "primary_mobile_number": "",
            "designation_name": "Assistant Regional Manager",
            "department": "Sales",
            "group_company": "Dundler Mifflin",
        },
    }
    assert json.loads(PROFILE_SAMPLE)["api_key"] == SEED_API_KEY


def test_new_redeem_sample_order_lines_need_not_add_up(client, token, api):
    r = post_raw(client, "/v1/points/redeem", with_token(REDEEM_SAMPLE_NEW, token("TTEO32S99ERCL")))
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {
        "status": "1",
        "message": "Successfully updated",
        "data": {"order_id": "AB1890082790"},
    }
    # 10 + 337.5 = 347.5 in orderData, 348.5 in the total: the total is what is debited.
    assert api.balance("TTEO32S99ERCL") == {
        "points_received": "5000",
        "points_redeemed": "348.5",
        "points_available": "4651.5",
    }


def test_old_redeem_sample_with_null_points_added(client, token, api):
    r = post_raw(client, "/v1/points/redeem", with_token(REDEEM_SAMPLE_OLD, token("TTEO32S99ERCL")))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"] == {"order_id": "AB1890082790"}
    assert api.balance("TTEO32S99ERCL")["points_redeemed"] == "129"


def test_refund_sample_verbatim_after_its_redemption(client, token, api):
    # The refund sample's user (TTE032..., with a zero) redeems order AB1890082790 first.
    redeem = json.loads(REDEEM_SAMPLE_NEW, parse_float=Decimal)
    redeem["unique_id"] = "TTE032S99ERCL"
    assert api.redeem("TTE032S99ERCL", redeem["order_id"], "348.5").status_code == 200
    r = post_raw(client, "/v1/points/refund", with_token(REFUND_SAMPLE, token("TTE032S99ERCL")))
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {
        "status": "1",
        "message": "Successfully updated",
        "data": {"transaction_id": "AB1890082790", "points": "200"},
    }
    assert api.balance("TTE032S99ERCL") == {
        "points_received": "1651.5",
        "points_redeemed": "148.5",
        "points_available": "1503",
    }


def test_refund_sample_against_the_other_users_order_changes_nothing(client, token, api):
    # As the samples stand, the redemption is TTEO32... (letter O) and the refund TTE032... (zero).
    post_raw(client, "/v1/points/redeem", with_token(REDEEM_SAMPLE_NEW, token("TTEO32S99ERCL")))
    r = post_raw(client, "/v1/points/refund", with_token(REFUND_SAMPLE, token("TTE032S99ERCL")))
    assert r.status_code == 409
    assert r.get_json()["error_code"] == "order_conflict"
    assert api.balance("TTE032S99ERCL")["points_available"] == "1651.5"
    assert api.balance("TTEO32S99ERCL")["points_redeemed"] == "348.5"
