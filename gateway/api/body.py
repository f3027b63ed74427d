"""Reading a request: its JSON body, exactly, and a marshmallow load of it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import json5
from flask import request
from marshmallow import Schema, ValidationError

from gateway.api.observe import note_ids
from gateway.api.schemas import AMOUNT_FIELDS
from gateway.errors import GatewayError, InvalidAmount, InvalidRequest


class InvalidJson(GatewayError):
    error_code = "invalid_json"


# Numbers become Decimal at once, so 348.5 is never the float 348.49999...; NaN and Infinity
# become Decimal too, and the money rules refuse them with a clear message. Built once: json.loads
# with these arguments would build a new decoder on every call.
DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=Decimal)


def _loads(text: str) -> Any:
    try:
        return DECODER.decode(text)
    except json.JSONDecodeError as strict_error:
        # Xoxoday's own Refund sample has a trailing comma; json5 reads such near-JSON.
        try:
            return json5.loads(text, parse_float=Decimal, parse_constant=Decimal)
        except ValueError:
            raise InvalidJson(f"the body is not valid JSON: {strict_error}") from None


def json_body() -> dict[str, Any]:
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH this raises a 413
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidJson("the body is not UTF-8 text") from None
    if not text.strip():
        raise InvalidJson("the body is empty; send a JSON object")
    body = _loads(text)
    if not isinstance(body, dict):
        raise InvalidJson("the body must be a JSON object")
    note_ids(body)
    return body


def load(schema: Schema) -> dict[str, Any]:
    """The request's body loaded by `schema`; a bad field answers 400 naming it."""
    try:
        return schema.load(json_body())
    except ValidationError as exc:
        messages = exc.normalized_messages()
        field, problems = next(iter(sorted(messages.items())))  # type: ignore[union-attr]
        problem = problems[0] if isinstance(problems, list) else problems
        text = f"{field}: {problem}" if field != "_schema" else str(problem)
        error = InvalidAmount if set(messages) & AMOUNT_FIELDS else InvalidRequest  # type: ignore[arg-type]
        raise error(text) from None
