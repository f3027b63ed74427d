"""GET /openapi.json describes what the endpoints really take and answer, in either dialect."""

from __future__ import annotations

import pytest

from gateway.api import answers
from gateway.app import create_app
from gateway.config import load_settings
from tests.conftest import EMPLOYEES, PROFILE_KEY, write_config, write_csv


@pytest.fixture(params=["legacy", "current"])
def served(request, tmp_path):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}", dialect=request.param)
    app = create_app(load_settings(config))
    yield app, request.param
    app.extensions["points_gateway"].close()


def answer_schema(spec, path, status="200"):
    ref = spec["paths"][path]["post"]["responses"][status]["content"]["application/json"]["schema"]
    return getattr(answers, ref["$ref"].rsplit("/", 1)[-1])


def test_the_document_names_the_four_endpoints_and_their_required_fields(served):
    app, dialect = served
    spec = app.test_client().get("/openapi.json").get_json()
    assert spec["openapi"] == "3.0.3"
    assert set(spec["paths"]) == {
        "/v1/points/balance",
        "/v1/profile",
        "/v1/points/redeem",
        "/v1/points/refund",
    }
    schemas = spec["components"]["schemas"]
    profile = "ProfileByTokenRequest" if dialect == "current" else "ProfileRequest"
    assert set(schemas[profile]["required"]) == (
        {"unique_id", "auth_token"} if dialect == "current" else {"employee_id"}
    )
    if dialect == "legacy":  # api_key, or the employee's own auth_token
        assert "auth_token" in schemas[profile]["properties"]["api_key"]["description"]
    assert set(schemas["RedeemRequest"]["required"]) == {"unique_id", "auth_token", "order_id"}
    responses = spec["paths"]["/v1/points/redeem"]["post"]["responses"]
    assert {"200", "400", "401", "409", "422", "503"} <= set(responses)


def test_real_answers_match_the_document(served):
    app, dialect = served
    client = app.test_client()
    spec = client.get("/openapi.json").get_json()
    token = app.extensions["points_gateway"].tokens.issue("DB123")
    auth = {"unique_id": "DB123", "auth_token": token}
    profile = auth if dialect == "current" else {"api_key": PROFILE_KEY, "employee_id": "DB123"}
    calls = [
        ("/v1/points/balance", auth),
        ("/v1/profile", profile),
        ("/v1/points/redeem", {**auth, "order_id": "OA-1", "total_points_redeemed": "12.5"}),
        ("/v1/points/refund", {**auth, "transactionid": "OA-1", "redemption_amount": 2}),
    ]
    for path, body in calls:
        answer = client.post(path, json=body)
        assert answer.status_code == 200, answer.get_json()
        assert answer_schema(spec, path)().validate(answer.get_json()) == {}, path
    failures = [
        ("/v1/points/balance", {"unique_id": "DB123", "auth_token": "forged"}, "401"),
        ("/v1/points/redeem", {**auth, "order_id": "OA-2", "total_points_redeemed": 9999}, "422"),
        ("/v1/points/refund", {**auth, "transactionid": "OA-1", "redemption_amount": 100}, "409"),
    ]
    for path, body, status in failures:
        answer = client.post(path, json=body)
        assert str(answer.status_code) == status, answer.get_json()
        assert answer_schema(spec, path, status)().validate(answer.get_json()) == {}, path
