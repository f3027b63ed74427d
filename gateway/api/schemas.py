"""marshmallow shapes of the contract's requests: the seed documents' (legacy) and the newer
shapes of the current dialect, where they differ.

Unknown keys are ignored: Xoxoday configures each client by hand and may send more.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validates_schema

#: An amount given as text: ASCII digits, optionally a point and more digits, between ASCII
#: spaces. Nothing else: no sign, no exponent, no other spaces, no other script's digits (`\d`
#: would take fullwidth or Arabic-Indic digits).
NUMERIC_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?")
MAX_ID_LENGTH = 128
#: Control characters (NUL among them: PostgreSQL cannot store it, SQLite can; both journals
#: must agree) have no place in an id; nor do "." and "..", which a URL path would collapse.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
DOT_SEGMENTS = frozenset({".", ".."})


class Identifier(fields.Field):
    """A user or order id: a string, or an integer (Xoxoday sends `order_id` as either).

    Checked once, here, so that every journal, ledger, path and log line downstream can take
    it as it is: 1-128 characters, no control characters, not a dot segment."""

    default_error_messages = {  # noqa: RUF012 - marshmallow's own extension point
        "invalid": "must be a string or an integer",
        "empty": "must not be empty",
        "too_long": f"must be at most {MAX_ID_LENGTH} characters",
        "control": "must not hold control characters",
        "dots": 'must not be "." or ".."',
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.make_error("invalid")
        if isinstance(value, int) and not 0 <= value < 10**MAX_ID_LENGTH:
            raise self.make_error("too_long")
        text = str(value).strip()
        if not text:
            raise self.make_error("empty")
        if len(text) > MAX_ID_LENGTH:
            raise self.make_error("too_long")
        if CONTROL.search(text):
            raise self.make_error("control")
        if text in DOT_SEGMENTS:
            raise self.make_error("dots")
        return text


class Amount(fields.Field):
    """A points amount as a JSON number or a numeric string, read exactly as a Decimal.

    Range and precision are money rules, checked by the service; this only reads the number.
    """

    default_error_messages = {  # noqa: RUF012 - marshmallow's own extension point
        "invalid": "must be a number, or a string of digits with an optional decimal point",
        "not_finite": "must be a finite number",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, Decimal | int):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str) and NUMERIC_TEXT.fullmatch(value.strip(" ")):
            number = Decimal(value.strip(" "))
        else:
            raise self.make_error("invalid")
        if not number.is_finite():
            raise self.make_error("not_finite")
        return number


class ContractSchema(Schema):
    class Meta:
        unknown = EXCLUDE


class BalanceRequest(ContractSchema):
    unique_id = Identifier(required=True)
    auth_token = fields.String(required=True)


class ProfileRequest(ContractSchema):
    """The seed's GetProfile: the shared `api_key`; or, as Xoxoday's help center also
    documents it, the employee's own `auth_token`, checked against that `employee_id`."""

    api_key = fields.String(
        load_default=None, metadata={"description": "the shared key; or give auth_token"}
    )
    auth_token = fields.String(
        load_default=None, metadata={"description": "the employee's own token; or api_key"}
    )
    employee_id = Identifier(required=True)

    @validates_schema
    def _credentials(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("api_key") is None and data.get("auth_token") is None:
            raise ValidationError("Missing data for required field.", "api_key")


class ProfileByTokenRequest(ContractSchema):
    """The current dialect's profile call: the user's own token instead of a shared api_key."""

    unique_id = Identifier(required=True)
    auth_token = fields.String(required=True)


class OrderLine(ContractSchema):
    quantity = fields.Raw()
    orderAmount = fields.Raw()
    product = fields.Dict()


class RedeemRequest(ContractSchema):
    unique_id = Identifier(required=True)
    auth_token = fields.String(required=True)
    order_id = Identifier(required=True)
    total_points_redeemed = Amount(allow_none=True, load_default=None)
    # The older variant: a positive number here credits instead of debiting.
    total_points_added = Amount(allow_none=True, load_default=None)
    order_date = fields.Raw(allow_none=True)
    orderData = fields.List(fields.Nested(OrderLine), allow_none=True)
    comments = fields.String(allow_none=True)

    @validates_schema
    def _one_amount(self, data: dict[str, Any], **_: Any) -> None:
        redeemed = data.get("total_points_redeemed")
        added = data.get("total_points_added")
        if added is not None and added > 0:
            if redeemed is not None and redeemed != 0:
                raise ValidationError(
                    "give total_points_redeemed or a positive total_points_added, not both",
                    "total_points_added",
                )
        elif redeemed is None:
            raise ValidationError("Missing data for required field.", "total_points_redeemed")


class RefundRequest(ContractSchema):
    unique_id = Identifier(required=True)
    auth_token = fields.String(required=True)
    # The seed's name for the redeemed order's id; `order_id` is accepted as an alias.
    transactionid = Identifier(load_default=None)
    order_id = Identifier(load_default=None)
    redemption_amount = Amount(required=True)
    comments = fields.String(allow_none=True)

    @validates_schema
    def _one_order(self, data: dict[str, Any], **_: Any) -> None:
        given = {data.get("transactionid"), data.get("order_id")} - {None}
        if not given:
            raise ValidationError("Missing data for required field.", "transactionid")
        if len(given) > 1:
            raise ValidationError("transactionid and order_id name different orders", "order_id")


AMOUNT_FIELDS = frozenset({"total_points_redeemed", "total_points_added", "redemption_amount"})
