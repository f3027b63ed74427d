"""Refund retries that cannot be told apart (the contract gives a refund no id of its own).

Today's rule, kept as the default: each refund is a new one while the order covers it, so
"refund 30" delivered four times on an order of 100 gives back 90. With
`refund_replay_window_seconds`, a refund identical in order, amount and comments to one
accepted within the window is answered as a replay instead.
"""

from __future__ import annotations

import time

import pytest
from flask import Flask

from gateway.app import create_app
from gateway.config import load_settings
from tests.conftest import Api, write_config


@pytest.fixture
def windowed(tmp_path, employees_csv, database_url):
    config = write_config(tmp_path, database_url, refund_replay_window_seconds=1.0)
    app = create_app(load_settings(config))
    yield Api(app.test_client(), app.extensions["points_gateway"].tokens.issue)
    app.extensions["points_gateway"].close()


def refunds(api: Api, order: str, times: int, **extra) -> list[dict]:
    return [api.refund("U1000", order, 30, **extra).get_json() for _ in range(times)]


def test_by_default_each_retry_is_a_new_refund_up_to_the_order(api: Api, app: Flask):
    assert api.redeem("U1000", "R-1", 100).status_code == 200
    answers = refunds(api, "R-1", 4, comments="damaged")
    assert [a["status"] for a in answers] == ["1"] * 4  # the fourth is over the cap: a replay
    assert api.balance("U1000")["points_redeemed"] == "10"  # 90 given back


def test_within_the_window_an_identical_refund_is_a_replay(windowed: Api):
    assert windowed.redeem("U1000", "R-1", 100).status_code == 200
    answers = refunds(windowed, "R-1", 4, comments="damaged")
    assert [a["status"] for a in answers] == ["1"] * 4
    assert {a["data"]["points"] for a in answers} == {"30"}
    assert windowed.balance("U1000")["points_redeemed"] == "70"  # 30 given back, once


def test_a_different_comment_or_amount_is_a_new_refund(windowed: Api):
    assert windowed.redeem("U1000", "R-1", 100).status_code == 200
    refunds(windowed, "R-1", 2, comments="damaged")
    refunds(windowed, "R-1", 2, comments="late delivery")
    assert windowed.refund("U1000", "R-1", 10, comments="damaged").status_code == 200
    assert windowed.balance("U1000")["points_redeemed"] == "30"  # 30 + 30 + 10 given back


def test_after_the_window_the_same_refund_is_a_new_one(windowed: Api):
    assert windowed.redeem("U1000", "R-1", 100).status_code == 200
    refunds(windowed, "R-1", 2)
    time.sleep(1.1)
    refunds(windowed, "R-1", 2)
    assert windowed.balance("U1000")["points_redeemed"] == "40"  # 30 and 30 given back
