"""The four StoreFront endpoints, in the dialect the config names for each.

legacy: the seed documents, answered exactly as seeded. current: Xoxoday's newer shapes
(balance as `data.points`, profile by unique_id + auth_token as `user_data`, refund by order_id).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from gateway.api.body import load
from gateway.api.programs import current_gateway
from gateway.api.schemas import (
    BalanceRequest,
    ProfileByTokenRequest,
    ProfileRequest,
    RedeemRequest,
    RefundRequest,
)
from gateway.service.money import format_points

bp = Blueprint("points", __name__, url_prefix="/v1")

# A refund or credit the points ledger could not take yet is durably owed and will be applied
# by the worker: it succeeded as far as Xoxoday is concerned (see README, "Points ledgers").
PENDING = "Accepted; the points will be added to the ledger shortly"
QUEUED = {"state": "pending"}

# marshmallow schemas keep no state between loads: build each once, not per request.
BALANCE = BalanceRequest()
PROFILE = ProfileRequest()
PROFILE_BY_TOKEN = ProfileByTokenRequest()
REDEEM = RedeemRequest()
REFUND = RefundRequest()


def _gateway() -> Any:
    return current_gateway()


def _current(endpoint: str) -> bool:
    return bool(_gateway().settings.dialect_for(endpoint) == "current")


@bp.post("/points/balance")
def balance() -> dict[str, Any]:
    req = load(BALANCE)
    gw = _gateway()
    gw.tokens.verify(req["auth_token"], req["unique_id"])
    result = gw.service.balance(req["unique_id"])
    if _current("balance"):
        points = format_points(result.available)
        return {"status": 1, "data": {"unique_id": req["unique_id"], "points": points}}
    return {
        "status": "1",
        "points_info": {
            "points_received": format_points(result.received),
            "points_redeemed": format_points(result.redeemed),
            "points_available": format_points(result.available),
        },
    }


@bp.post("/profile")
def profile() -> dict[str, Any]:
    gw = _gateway()
    if _current("profile"):
        req = load(PROFILE_BY_TOKEN)
        gw.tokens.verify(req["auth_token"], req["unique_id"])
        p = gw.service.profile(req["unique_id"])
        return {
            "status": 1,
            "message": "Successfully loaded user's data",
            "user_data": {
                "unique_id": req["unique_id"],
                "company_email_id": p.email,
                "first_name": p.first_name,
                "last_name": p.last_name,
                "mobile_number": p.mobile,
            },
        }
    req = load(PROFILE)
    if req["api_key"] is not None:
        gw.api_keys.verify(req["api_key"])
    else:  # the employee's own token: it opens that employee's profile only
        gw.tokens.verify(req["auth_token"], req["employee_id"])
    p = gw.service.profile(req["employee_id"])
    return {
        "status": 1,
        "message": "Successfully loaded employee's data",
        "employee_data": {
            "employee_id": p.employee_id,
            "company_email_id": p.email,
            "first_name": p.first_name,
            "last_name": p.last_name,
            "primary_mobile_number": p.mobile,
            "designation_name": p.designation,
            "department": p.department,
            "group_company": p.company,
        },
    }


@bp.post("/points/redeem")
def redeem() -> dict[str, Any]:
    req = load(REDEEM)
    gw = _gateway()
    gw.tokens.verify(req["auth_token"], req["unique_id"])
    added = req["total_points_added"]
    if added is not None and added > 0:
        result = gw.service.credit(req["unique_id"], req["order_id"], added)
    else:
        result = gw.service.redeem(req["unique_id"], req["order_id"], req["total_points_redeemed"])
    return _updated({"order_id": result.order_id}, result.pending)


@bp.post("/points/refund")
def refund() -> dict[str, Any]:
    req = load(REFUND)
    gw = _gateway()
    gw.tokens.verify(req["auth_token"], req["unique_id"])
    order_id = req["transactionid"] or req["order_id"]
    comments = req.get("comments") or ""
    result = gw.service.refund(req["unique_id"], order_id, req["redemption_amount"], comments)
    key = "order_id" if _current("refund") else "transaction_id"
    data = {key: result.order_id, "points": format_points(result.amount)}
    return _updated(data, result.pending)


def _updated(data: dict[str, Any], pending: bool) -> dict[str, Any]:
    """The seed's success answer; one the points ledger has yet to apply says so."""
    if pending:
        return {"status": "1", "message": PENDING, "data": {**data, **QUEUED}}
    return {"status": "1", "message": "Successfully updated", "data": data}
