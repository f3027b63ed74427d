"""Reading a request: its JSON body, exactly, and a marshmallow load of it.

Every body is bounded before it costs anything: its size (413 past `max_body_bytes`, chunked or
not), the time it takes to arrive (408 past `body_timeout_seconds`), its depth, the length of
its numbers, and what its strings hold (no lone surrogates, which no database or log line can
store). The only leniency is the one Xoxoday's own Refund sample needs, a trailing comma, and it
is a single linear pass, not a second parser.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from flask import current_app, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import ClientDisconnected

from gateway.api.observe import note_ids
from gateway.api.quick import READERS
from gateway.api.schemas import AMOUNT_FIELDS
from gateway.errors import GatewayError, InvalidAmount, InvalidRequest


class InvalidJson(GatewayError):
    error_code = "invalid_json"


class BodyTooLarge(GatewayError):
    error_code = "payload_too_large"


class BodyTimeout(GatewayError):
    error_code = "request_timeout"


# Numbers become Decimal at once, so 348.5 is never the float 348.49999...; NaN and Infinity
# become Decimal too, and the money rules refuse them with a clear message. Built once: json.loads
# with these arguments would build a new decoder on every call.
DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=Decimal)
#: Deeper than any contract body (an order line's product is three levels down).
MAX_DEPTH = 16
# One linear pass that keeps everything but a comma before a closing bracket. A string runs to
# its closing quote or to the end of the text, so its match cannot fail and be tried again from
# a later quote (a pattern that could took O(n^2) on "\"\"\"...,]"); the alternatives start
# with different characters and the quantifiers are possessive, so nothing backtracks; and all
# that is kept is one match, so the matches are as few as the commas dropped.
STRING = r'"(?:[^"\\]++|\\[\s\S]?)*+(?:"|$)'
TRAILING_COMMA = re.compile(rf'((?:{STRING}|[^",]++|,(?!\s*[\]}}]))++)|,(\s*[\]}}])')
COMMA_BEFORE_CLOSE = re.compile(r",\s*[\]}]")
#: More trailing commas than this is no near-JSON of Xoxoday's (its sample has one): refused.
MAX_TRAILING_COMMAS = 16
# A \u escape of a surrogate: only these can make a string that is not valid Unicode.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
SURROGATE = re.compile("[\ud800-\udfff]")


def _decode(text: str) -> Any:
    try:
        return DECODER.decode(text)
    except RecursionError:
        raise InvalidJson(f"the body is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer past Python's digit limit
        raise InvalidJson("the body holds a number with too many digits") from None


def _loads(text: str) -> Any:
    try:
        return _decode(text)
    except json.JSONDecodeError as strict_error:
        # Xoxoday's own Refund sample has a trailing comma: drop such commas and read it again.
        lenient = _without_trailing_commas(text)
        if lenient != text:
            try:
                return _decode(lenient)
            except json.JSONDecodeError:
                pass
        raise InvalidJson(f"the body is not valid JSON: {strict_error}") from None


def _without_trailing_commas(text: str) -> str:
    """`text` less its commas before `]` or `}` (outside strings), if it has a few."""
    first_few = itertools.islice(COMMA_BEFORE_CLOSE.finditer(text), MAX_TRAILING_COMMAS + 1)
    if not 0 < sum(1 for _ in first_few) <= MAX_TRAILING_COMMAS:
        return text
    # A template, not a function: the pass stays in C (an unmatched group is "").
    return TRAILING_COMMA.sub(r"\1\2", text)


def _walk(node: Any, depth: int = 1) -> Iterator[tuple[Any, int]]:
    """Every value in the body with its depth, without recursion."""
    stack = [(node, depth)]
    while stack:
        value, level = stack.pop()
        yield value, level
        if isinstance(value, dict):
            stack.extend((k, level) for k in value)
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, level + 1) for v in value)


def _check_shape(body: Any, text: str) -> None:
    """Refuse a body too deep, or with a string that is not valid Unicode. Only bodies that
    could be either are walked: a normal call pays two scans of its text in C."""
    deep = text.count("[") + text.count("{") > MAX_DEPTH
    surrogates = SURROGATE_ESCAPE.search(text) is not None
    if not (deep or surrogates):
        return
    for value, depth in _walk(body):
        if depth > MAX_DEPTH:
            raise InvalidJson(f"the body is nested more than {MAX_DEPTH} levels deep")
        if surrogates and isinstance(value, str) and SURROGATE.search(value):
            raise InvalidJson(
                "the body holds a string that is not valid Unicode (a lone \\u escape)"
            )


def _raw_body() -> bytes:
    """The body, never more than max_body_bytes, and never waited for longer than
    body_timeout_seconds in all: a client that sends headers and then a byte now and then
    must not hold a worker thread. A chunked body has no Content-Length for Flask to refuse up
    front, so one byte past the limit is read and refused."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    stream = request.stream  # over MAX_CONTENT_LENGTH by Content-Length, this raises a 413
    # gunicorn hands the WSGI app its client socket: a deadline on each read bounds the total.
    sock = request.environ.get("gunicorn.socket")
    deadline = time.monotonic() + current_app.config["BODY_TIMEOUT_SECONDS"]
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= limit:
            if sock is not None:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = stream.read(min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (ClientDisconnected, TimeoutError):
        if time.monotonic() < deadline:
            raise  # the client went away: nobody reads the answer
        seconds = current_app.config["BODY_TIMEOUT_SECONDS"]
        raise BodyTimeout(f"the body did not arrive within {seconds:g} s") from None
    finally:
        if sock is not None:
            sock.settimeout(None)
    if size > limit:
        raise BodyTooLarge(f"the body is larger than {limit} bytes")
    return b"".join(chunks)


def json_body() -> dict[str, Any]:
    raw = _raw_body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidJson("the body is not UTF-8 text") from None
    if not text.strip():
        raise InvalidJson("the body is empty; send a JSON object")
    body = _loads(text)
    if not isinstance(body, dict):
        raise InvalidJson("the body must be a JSON object")
    _check_shape(body, text)
    note_ids(body)
    return body


def load(schema: Schema) -> dict[str, Any]:
    """The request's body loaded by `schema` (by its quick reader when it has one and the body
    is plainly good: gateway/api/quick.py); a bad field answers 400 naming it."""
    body = json_body()
    quick = READERS.get(type(schema))
    read = quick(body) if quick is not None else None
    if read is not None:
        return read
    try:
        return schema.load(body)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        field, problems = next(iter(sorted(messages.items())))
        problem = problems[0] if isinstance(problems, list) else problems
        text = f"{field}: {problem}" if field != "_schema" else str(problem)
        error = InvalidAmount if set(messages) & AMOUNT_FIELDS else InvalidRequest
        raise error(text) from None
