"""GET /openapi.json: the interface as this configuration serves it, from the marshmallow schemas.

apispec's MarshmallowPlugin turns the request schemas (gateway/api/schemas.py) and the answer
schemas (gateway/api/answers.py) into OpenAPI 3; the dialect of each endpoint decides which.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app
from marshmallow import Schema, fields

from gateway.api import answers, schemas
from gateway.api.errors import HTTP_STATUS
from gateway.config import Settings

bp = Blueprint("openapi", __name__)

ID = {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 128}, {"type": "integer"}]}
AMOUNT = {
    "oneOf": [
        {"type": "number"},
        {"type": "string", "pattern": r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$"},
    ]
}
STATUS = {"oneOf": [{"type": "string", "enum": ["0", "1"]}, {"type": "integer", "enum": [0, 1]}]}

#: endpoint -> (path, summary, {dialect: (request schema, answer schema)}, error codes)
ENDPOINTS: dict[
    str, tuple[str, str, dict[str, tuple[type[Schema], type[Schema]]], tuple[str, ...]]
] = {
    "balance": (
        "/v1/points/balance",
        "Fetch Redemption Point Balance",
        {
            "legacy": (schemas.BalanceRequest, answers.BalanceAnswer),
            "current": (schemas.BalanceRequest, answers.CurrentBalanceAnswer),
        },
        ("invalid_request", "unauthorized", "user_not_found", "upstream_unavailable"),
    ),
    "profile": (
        "/v1/profile",
        "GetProfileAPI",
        {
            "legacy": (schemas.ProfileRequest, answers.ProfileAnswer),
            "current": (schemas.ProfileByTokenRequest, answers.CurrentProfileAnswer),
        },
        ("invalid_request", "unauthorized", "user_not_found", "upstream_unavailable"),
    ),
    "redeem": (
        "/v1/points/redeem",
        "Update Redemption Transaction (a debit; or a credit with total_points_added)",
        {d: (schemas.RedeemRequest, answers.UpdatedAnswer) for d in ("legacy", "current")},
        (
            "invalid_request",
            "invalid_amount",
            "unauthorized",
            "user_not_found",
            "order_conflict",
            "insufficient_points",
            "outcome_unknown",
            "upstream_unavailable",
        ),
    ),
    "refund": (
        "/v1/points/refund",
        "Refund API (part or all of a redemption)",
        {d: (schemas.RefundRequest, answers.UpdatedAnswer) for d in ("legacy", "current")},
        (
            "invalid_request",
            "invalid_amount",
            "unauthorized",
            "order_not_found",
            "refund_exceeds_order",
            "upstream_unavailable",
        ),
    ),
}


def _field_types(plugin: MarshmallowPlugin) -> None:
    converter = plugin.converter
    assert converter is not None

    def special(_converter: Any, field: fields.Field, **_: Any) -> dict[str, Any]:
        if isinstance(field, schemas.Identifier):
            return dict(ID)
        if isinstance(field, schemas.Amount):
            return dict(AMOUNT)
        if isinstance(field, answers.Status):
            return dict(STATUS)
        return {}

    converter.add_attribute_function(special)


def build(settings: Settings) -> dict[str, Any]:
    try:
        release = version("points-gateway")
    except PackageNotFoundError:
        release = "0"
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="points-gateway",
        version=release,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": "Xoxoday's StoreFront contract, served before HR and points systems."},
    )
    _field_types(plugin)
    spec.components.schema("Failure", schema=answers.Failure)
    for name, (path, summary, shapes, codes) in ENDPOINTS.items():
        request_schema, answer_schema = shapes[settings.dialect_for(name)]
        failures: dict[int, list[str]] = {}
        for code in (*codes, "invalid_json", "internal_error"):
            failures.setdefault(HTTP_STATUS.get(code, 400), []).append(code)
        responses: dict[str, Any] = {
            "200": {
                "description": "done",
                "content": {"application/json": {"schema": answer_schema}},
            }
        }
        for status, names in sorted(failures.items()):
            responses[str(status)] = {
                "description": ", ".join(names),
                "content": {"application/json": {"schema": "Failure"}},
            }
        spec.path(
            path=path,
            operations={
                "post": {
                    "summary": summary,
                    "operationId": name,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": request_schema}},
                    },
                    "responses": responses,
                }
            },
        )
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    gateway = current_app.extensions["points_gateway"]
    if "openapi" not in current_app.config:  # built once per process: the config is fixed
        current_app.config["openapi"] = build(gateway.settings)
    return current_app.config["openapi"]
