"""marshmallow shapes of what the endpoints answer, for the OpenAPI document (and its tests).

The endpoints build their answers as plain dicts, exactly as the samples show; these schemas
describe those dicts, and tests validate real answers against the generated document.
"""

from __future__ import annotations

from marshmallow import Schema, fields

TEXT_POINTS = {"description": 'points as a decimal string, e.g. "348.5"', "example": "700"}


class Status(fields.Field):
    """ "1"/"0", or the numbers 1/0 where the dialect's sample uses numbers."""


class Failure(Schema):
    status = Status(required=True)
    message = fields.String(required=True)
    error_code = fields.String(required=True, metadata={"example": "insufficient_points"})
    available = fields.String(metadata={"description": "with insufficient_points, when known"})
    remaining = fields.String(metadata={"description": "with refund_exceeds_order"})


class PointsInfo(Schema):
    points_received = fields.String(required=True, metadata=TEXT_POINTS)
    points_redeemed = fields.String(required=True, metadata=TEXT_POINTS)
    points_available = fields.String(required=True, metadata=TEXT_POINTS)


class BalanceAnswer(Schema):
    status = fields.String(required=True, metadata={"enum": ["1"]})
    points_info = fields.Nested(PointsInfo, required=True)


class CurrentBalanceData(Schema):
    unique_id = fields.String(required=True)
    points = fields.String(required=True, metadata=TEXT_POINTS)


class CurrentBalanceAnswer(Schema):
    status = fields.Integer(required=True, metadata={"enum": [1]})
    data = fields.Nested(CurrentBalanceData, required=True)


class EmployeeData(Schema):
    employee_id = fields.String(required=True)
    company_email_id = fields.String(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    primary_mobile_number = fields.String(required=True)
    designation_name = fields.String(required=True)
    department = fields.String(required=True)
    group_company = fields.String(required=True)


class ProfileAnswer(Schema):
    status = fields.Integer(required=True, metadata={"enum": [1]})
    message = fields.String(required=True)
    employee_data = fields.Nested(EmployeeData, required=True)


class UserData(Schema):
    unique_id = fields.String(required=True)
    company_email_id = fields.String(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    mobile_number = fields.String(required=True)


class CurrentProfileAnswer(Schema):
    status = fields.Integer(required=True, metadata={"enum": [1]})
    message = fields.String(required=True, metadata={"example": "Successfully loaded user's data"})
    user_data = fields.Nested(UserData, required=True)


class UpdatedData(Schema):
    order_id = fields.String()
    transaction_id = fields.String()
    points = fields.String(metadata=TEXT_POINTS)
    state = fields.String(
        metadata={"enum": ["pending"], "description": "a ledger has yet to apply it"}
    )


class UpdatedAnswer(Schema):
    status = fields.String(required=True, metadata={"enum": ["1"]})
    message = fields.String(required=True)
    data = fields.Nested(UpdatedData, required=True)


class LaunchData(Schema):
    redirect_url = fields.Url(required=True)
    unique_id = fields.String(required=True)


class LaunchAnswer(Schema):
    status = fields.String(required=True, metadata={"enum": ["1"]})
    message = fields.String(required=True)
    data = fields.Nested(LaunchData, required=True)
