"""Hostile bodies get a 400 (413 when too large), never a 500: each answer is JSON with an
error_code, changes nothing, and costs at most one short log line.

Each case below answered 500 before, some with a 127 KB traceback: deep nesting, a trailing comma
deep down (the old json5 fallback recursed), integers past Python's 4,300-digit limit, lone
surrogates, NUL in an order id on PostgreSQL (SQLite took it: the journals disagreed).
"""

from __future__ import annotations

import io
import json
import logging

import pytest

from tests.conftest import assert_failure

REDEEM = "/v1/points/redeem"
REFUND = "/v1/points/refund"
FIELDS = ("unique_id", "auth_token", "order_id", "total_points_redeemed", "comments")


def redeem_body(token: str, **changes: object) -> dict[str, object]:
    body = {
        "unique_id": "U1000",
        "auth_token": token,
        "order_id": "H-1",
        "total_points_redeemed": "10",
        "comments": "",
    }
    return {**body, **changes}


def post_text(client, path: str, text: str):
    return client.post(
        path, data=text.encode("utf-8", "surrogatepass"), content_type="application/json"
    )


def refused(response, caplog, status: int = 400) -> dict[str, object]:
    body = assert_failure(response, status, response.get_json()["error_code"])
    lines = [r for r in caplog.records if r.name != "werkzeug"]
    assert len(lines) <= 1, [r.getMessage()[:200] for r in lines]
    assert all(len(r.getMessage()) < 1000 and not r.exc_info for r in lines)
    return body


@pytest.fixture(autouse=True)
def _capture(caplog):
    caplog.set_level(logging.DEBUG)


@pytest.mark.parametrize("depth", [100, 1000, 30_000])
def test_deep_nesting(client, token, journal_count, caplog, depth):
    body = (
        json.dumps(redeem_body(token("U1000")))[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    )
    r = refused(post_text(client, REDEEM, body), caplog)
    assert r["error_code"] == "invalid_json" and "nested" in r["message"]
    assert journal_count() == 0


def test_deep_arrays_with_a_trailing_comma(client, token, journal_count, caplog):
    body = (
        json.dumps(redeem_body(token("U1000")))[:-1] + ', "x": ' + "[" * 60 + "1," + "]" * 60 + "}"
    )
    assert refused(post_text(client, REDEEM, body), caplog)["error_code"] == "invalid_json"
    assert journal_count() == 0


@pytest.mark.parametrize("field", FIELDS)
def test_an_integer_of_5000_digits_in_any_field(client, token, journal_count, caplog, field):
    text = json.dumps(redeem_body(token("U1000"), **{field: "@@"})).replace('"@@"', "7" * 5000)
    refused(post_text(client, REDEEM, text), caplog)
    assert journal_count() == 0


@pytest.mark.parametrize("field", FIELDS)
def test_a_lone_surrogate_in_any_string_field(client, token, journal_count, caplog, field):
    text = json.dumps(redeem_body(token("U1000"), **{field: "@@"})).replace('"@@"', '"a\\ud800b"')
    r = refused(post_text(client, REDEEM, text), caplog)
    assert r["error_code"] == "invalid_json" and "Unicode" in r["message"]
    assert journal_count() == 0


def test_a_lone_surrogate_in_a_key(client, token, caplog):
    text = json.dumps(redeem_body(token("U1000")))[:-1] + ', "\\udfff": 1}'
    refused(post_text(client, REDEEM, text), caplog)


def test_a_valid_escaped_pair_is_fine(client, token, journal_count):
    text = json.dumps(redeem_body(token("U1000"), comments="@@")).replace(
        '"@@"', '"\\ud83d\\ude00"'
    )
    assert post_text(client, REDEEM, text).status_code == 200
    assert journal_count() == 1


@pytest.mark.parametrize("bad", ["A\x00B", "A\nB", "A\tB", "A\x7fB", "A\x85B", ".", ".."])
def test_ids_are_checked_once_on_both_journals(client, token, api, journal_count, caplog, bad):
    """`database_url` runs this on SQLite and PostgreSQL: the same refusal on both."""
    r = refused(client.post(REDEEM, json=redeem_body(token("U1000"), order_id=bad)), caplog)
    assert r["error_code"] == "invalid_request" and r["message"].startswith("order_id")
    assert api.redeem("U1000", "H-2", 10).status_code == 200
    refund = {"unique_id": "U1000", "auth_token": token("U1000"), "transactionid": bad}
    r = client.post(REFUND, json={**refund, "redemption_amount": 1})
    assert_failure(r, 400, "invalid_request")
    assert journal_count() == 1


def test_a_unique_id_with_a_nul_is_refused_before_any_lookup(client, token, caplog):
    r = client.post("/v1/points/balance", json={"unique_id": "U1000\x00", "auth_token": "x"})
    assert refused(r, caplog)["error_code"] == "invalid_request"


def test_malformed_bodies_of_the_maximum_size(client, token, caplog):
    """What cost the json5 fallback ~2.6 s of CPU each (bench/bench_hostile.py times it)."""
    junks = (
        "[" * 65_000,
        '{"a": ' * 10_000,
        '"' + "\\" * 65_000,
        "[1," * 21_000,
        '\\"' * 32_000 + ",]",  # made an earlier lenient pass quadratic
        '"\\"' * 21_000 + ",]",
    )
    for junk in junks:
        r = post_text(client, REDEEM, junk[:65_000])
        assert refused(r, caplog)["error_code"] == "invalid_json"
        caplog.clear()


@pytest.mark.parametrize(
    ("near_json", "read_as"),
    [
        ('{"a": [1, 2,],}', {"a": [1, 2]}),
        ('{"a": "x, ]", "b": {"c": 1 ,\n },}', {"a": "x, ]", "b": {"c": 1}}),
        ('["a\\\\", 1,]', ["a\\", 1]),
        ('["a,]", "b" ,  ]', ["a,]", "b"]),
    ],
)
def test_trailing_commas_are_dropped_outside_strings_only(near_json, read_as):
    from gateway.api.body import _loads

    assert _loads(near_json) == read_as


def test_more_trailing_commas_than_near_json_has_are_refused():
    from gateway.api.body import MAX_TRAILING_COMMAS, InvalidJson, _loads

    assert _loads("[" + "[1,]," * MAX_TRAILING_COMMAS + "1]")
    with pytest.raises(InvalidJson):
        _loads("[" + "[1,]," * (MAX_TRAILING_COMMAS + 1) + "1]")


def test_the_seed_refund_trailing_comma_is_still_read(client, token, api):
    assert api.redeem("U1000", "T-1", 10).status_code == 200
    head = json.dumps({"unique_id": "U1000", "auth_token": token("U1000"), "transactionid": "T-1"})
    text = head[:-1] + ', "redemption_amount": "4", "comments": "a, } ] ,",}'
    r = post_text(client, REFUND, text)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["points"] == "4"


@pytest.mark.parametrize("size", [70_000, 1_000_000])
def test_a_chunked_body_past_the_limit_is_413(client, token, journal_count, caplog, size):
    """No Content-Length (chunked): the server terminates the stream, as gunicorn does."""
    body = json.dumps(redeem_body(token("U1000"), comments="x" * size)).encode()
    r = client.post(
        REDEEM,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert refused(r, caplog, 413)["error_code"] == "payload_too_large"
    assert journal_count() == 0


def test_a_chunked_body_within_the_limit_is_read(client, token, journal_count):
    body = json.dumps(redeem_body(token("U1000"))).encode()
    r = client.post(
        REDEEM,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert r.status_code == 200, r.get_json()
    assert journal_count() == 1
