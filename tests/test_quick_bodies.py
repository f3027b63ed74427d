"""The hot calls' quick readers (gateway/api/quick.py) against their marshmallow schemas: on
any body, a reader either declines (None) or gives exactly what the schema loads; and on the
bodies Xoxoday sends it does not decline, or it would save nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from gateway.api.body import DECODER
from gateway.api.quick import READERS, redeem_body, token_body
from gateway.api.schemas import BalanceRequest, ProfileByTokenRequest, RedeemRequest

# Values near each rule's edges: ids with spaces, control characters, dots, 128 and 129
# characters, negative and huge integers, booleans; amounts as text, with signs, exponents,
# other scripts' digits, NaN; and the wrong types.
IDS = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["U1", " U1 ", ".", "..", " ", "a\x00b", "a\x85", "x" * 128, "x" * 129]),
    st.integers(min_value=-5, max_value=5),
    st.sampled_from([10**127, 10**128, -1]),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=1),
)
AMOUNTS = st.one_of(
    st.sampled_from(["1", " 1 ", "1.50", "-1", "1e3", "\u0661", "1.", ".5", "", "abc", "0", "0.0"]),
    st.decimals(allow_nan=True, allow_infinity=True, places=3),
    st.integers(min_value=-3, max_value=10**20),
    st.booleans(),
    st.none(),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
ANY = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4), IDS)
LINES = st.one_of(
    st.none(),
    st.text(max_size=2),
    st.lists(
        st.one_of(
            st.dictionaries(
                st.sampled_from(["quantity", "orderAmount", "product", "other"]),
                st.one_of(ANY, st.dictionaries(st.text(max_size=2), ANY, max_size=2)),
                max_size=4,
            ),
            ANY,
        ),
        max_size=3,
    ),
)


#: A good body: the generated ones change a few of its fields and drop a few. One odd field in
#: an otherwise good body is the case a quick reader must decline; bodies of odd values only
#: would rarely get that far.
GOOD = {"unique_id": "U1", "auth_token": "t", "order_id": "O1", "total_points_redeemed": "1"}


def bodies(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """GOOD's `fields` with any of them changed or dropped, sometimes with a key more."""
    good = {name: GOOD[name] for name in fields if name in GOOD}
    return st.builds(
        lambda changed, dropped, more: {
            **more,
            **{k: v for k, v in {**good, **changed}.items() if k not in dropped},
        },
        st.lists(
            st.one_of([st.fixed_dictionaries({name: value}) for name, value in fields.items()]),
            max_size=2,
        ).map(lambda changes: {k: v for change in changes for k, v in change.items()}),
        st.sets(st.sampled_from(sorted(fields)), max_size=2),
        st.dictionaries(st.sampled_from(["other", "status"]), ANY, max_size=1),
    )


def agrees(schema: Any, reader: Any, body: dict[str, Any]) -> None:
    quick = reader(body)
    try:
        loaded = schema.load(body)
    except ValidationError:
        assert quick is None, f"{body!r}: the schema refuses it, the quick reader gave {quick!r}"
        return
    if quick is not None:
        assert quick == loaded
        assert [type(v) for v in quick.values()] == [type(loaded[k]) for k in quick]


TOKEN = {"unique_id": IDS, "auth_token": ANY}
REDEEM = {
    **TOKEN,
    "order_id": IDS,
    "total_points_redeemed": AMOUNTS,
    "total_points_added": AMOUNTS,
    "order_date": ANY,
    "comments": ANY,
    "orderData": LINES,
}
CHECKS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@CHECKS
@given(bodies(**TOKEN))
def test_the_token_bodies_read_as_their_schemas_read_them(body):
    agrees(BalanceRequest(), token_body, body)
    agrees(ProfileByTokenRequest(), token_body, body)


def good_with(**changed: Any) -> dict[str, Any]:
    return {**GOOD, **changed}


@CHECKS
@given(bodies(**REDEEM))
@example(good_with(orderData=[{"quantity": None}]))
@example(good_with(orderData=[{"product": "a voucher"}]))
@example(good_with(orderData=[{"product": None, "orderAmount": 1}]))
@example(good_with(orderData=[{"product": {"id": 1}}, 7]))
@example(good_with(orderData="lines"))
@example(good_with(orderData=None, comments=None, order_date=None))
@example(good_with(total_points_redeemed=Decimal("NaN")))
@example(good_with(total_points_redeemed=Decimal("-Infinity")))
@example(good_with(total_points_redeemed="5", total_points_added=Decimal("2")))
@example(good_with(total_points_redeemed=0, total_points_added="3"))
def test_a_redemption_reads_as_its_schema_reads_it(body):
    agrees(RedeemRequest(), redeem_body, body)


SEED_REDEEM = """{
  "unique_id": "DB123", "auth_token": "t", "order_id": 12345,
  "total_points_redeemed": 348.5, "order_date": 1693995688,
  "orderData": [{"product": {"id": 1, "name": "Voucher"}, "quantity": 1, "orderAmount": 348.5}]
}"""


@pytest.mark.parametrize(
    ("schema", "text"),
    [
        (BalanceRequest, '{"unique_id": "DB123", "auth_token": "t"}'),
        (RedeemRequest, SEED_REDEEM),
        (RedeemRequest, '{"unique_id":"DB123","auth_token":"t","order_id":"O1",'
         '"total_points_redeemed":"129","order_date":1693995688}'),
        (RedeemRequest, '{"unique_id":"DB123","auth_token":"t","order_id":"O1",'
         '"total_points_redeemed":0,"total_points_added":25}'),
    ],
)  # fmt: skip
def test_what_xoxoday_sends_takes_the_quick_path(schema, text):
    body = DECODER.decode(text)
    read = READERS[schema](body)
    assert read is not None and read == schema().load(body)
    amounts = [v for k, v in read.items() if k.startswith("total_") and v is not None]
    assert all(isinstance(v, Decimal) for v in amounts)


def test_a_bad_field_is_still_refused_in_the_schema_s_words(client, token, journal_count):
    answer = client.post(
        "/v1/points/redeem",
        data=json.dumps(
            {"unique_id": "DB123", "auth_token": token("DB123"), "order_id": "O1",
             "total_points_redeemed": "1e3"}
        ),
        content_type="application/json",
    )  # fmt: skip
    assert answer.status_code == 400
    assert answer.get_json()["error_code"] == "invalid_amount"
    assert answer.get_json()["message"].startswith("total_points_redeemed: must be a number")
    assert journal_count() == 0
