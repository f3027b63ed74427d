"""The hot calls' bodies read without marshmallow, when they are what Xoxoday sends.

A balance or a redemption spent ~10% of its CPU in marshmallow's machinery (hooks, field
dispatch, error collection) for two to five fields (docs/BENCHMARKS.md). These readers apply
the same rules as the schemas in gateway/api/schemas.py and give the same result; anything
they do not plainly accept (a missing field, a wrong type, a value a rule refuses) returns
None, and the schema then reads the body and words the error. tests/test_quick_bodies.py
checks, on generated bodies, that a reader's answer is always the schema's.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from gateway.api.schemas import (
    CONTROL,
    DOT_SEGMENTS,
    MAX_ID_LENGTH,
    NUMERIC_TEXT,
    BalanceRequest,
    ProfileByTokenRequest,
    RedeemRequest,
)

#: A read body, or None: let the schema read it.
Reader = Callable[[dict[str, Any]], dict[str, Any] | None]
ORDER_LINE_FIELDS = ("quantity", "orderAmount", "product")


def identifier(value: Any) -> str | None:
    """schemas.Identifier's rules; None where it would refuse."""
    kind = type(value)
    if kind is int:
        if not 0 <= value < 10**MAX_ID_LENGTH:
            return None
        value = str(value)
    elif kind is not str:
        return None
    text: str = value.strip()
    if not text or len(text) > MAX_ID_LENGTH or text in DOT_SEGMENTS or CONTROL.search(text):
        return None
    return text


def amount(value: Any) -> Decimal | None:
    """schemas.Amount's rules for the values JSON gives (a number becomes a Decimal or an int
    when read); None where it would refuse."""
    kind = type(value)
    if kind is Decimal or kind is int:
        number = Decimal(value)
    elif kind is str and NUMERIC_TEXT.fullmatch(stripped := value.strip(" ")):
        number = Decimal(stripped)
    else:
        return None
    return number if number.is_finite() else None


def token_body(body: dict[str, Any]) -> dict[str, Any] | None:
    """unique_id and auth_token: a balance, or the current dialect's profile."""
    unique_id = identifier(body.get("unique_id"))
    token = body.get("auth_token")
    if unique_id is None or type(token) is not str:
        return None
    return {"unique_id": unique_id, "auth_token": token}


def _order_lines(lines: Any) -> list[dict[str, Any]] | None:
    if type(lines) is not list:
        return None
    read = []
    for line in lines:
        if type(line) is not dict:
            return None
        kept = {name: line[name] for name in ORDER_LINE_FIELDS if name in line}
        if any(value is None for value in kept.values()):
            return None
        if "product" in kept:
            if type(kept["product"]) is not dict:
                return None
            kept["product"] = dict(kept["product"])
        read.append(kept)
    return read


def redeem_body(body: dict[str, Any]) -> dict[str, Any] | None:
    """A redemption (or the older variant's credit), as RedeemRequest reads it."""
    read = token_body(body)
    order_id = identifier(body.get("order_id"))
    if read is None or order_id is None:
        return None
    read["order_id"] = order_id
    for name in ("total_points_redeemed", "total_points_added"):
        value = body.get(name)
        read[name] = None if value is None else amount(value)
        if value is not None and read[name] is None:
            return None
    if "order_date" in body:
        read["order_date"] = body["order_date"]
    if "comments" in body:
        if body["comments"] is not None and type(body["comments"]) is not str:
            return None
        read["comments"] = body["comments"]
    if "orderData" in body:
        lines = body["orderData"]
        read["orderData"] = None if lines is None else _order_lines(lines)
        if lines is not None and read["orderData"] is None:
            return None
    # RedeemRequest._one_amount: a positive total_points_added, or total_points_redeemed.
    redeemed, added = read["total_points_redeemed"], read["total_points_added"]
    if added is not None and added > 0:
        if redeemed is not None and redeemed != 0:
            return None
    elif redeemed is None:
        return None
    return read


READERS: dict[type, Reader] = {
    BalanceRequest: token_body,
    ProfileByTokenRequest: token_body,
    RedeemRequest: redeem_body,
}
