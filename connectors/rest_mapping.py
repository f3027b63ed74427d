"""Configured, not coded: request templates, dotted answer paths and answer rules for REST ledgers.

A template is a path (`/members/{member}/points`) or a JSON body (a TOML table) whose strings
may hold `{member}`, `{reference}`, `{amount}`, `{kind}` and `{order_id}`. A body value that is
exactly "{amount}" becomes a JSON number written from the Decimal, never through a float.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

PLACEHOLDER = re.compile(r"\{(\w+)\}")
NAMES = frozenset({"member", "reference", "amount", "amount_text", "kind", "order_id"})


def placeholders(template: Any) -> set[str]:
    """Every `{name}` a path or body template uses."""
    if isinstance(template, str):
        return set(PLACEHOLDER.findall(template))
    if isinstance(template, Mapping):
        return set().union(*(placeholders(v) for v in template.values()), set())
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template), set())
    return set()


def check_template(template: Any, allowed: frozenset[str] = NAMES) -> None:
    unknown = placeholders(template) - allowed
    if unknown:
        names = ", ".join("{" + n + "}" for n in sorted(unknown))
        raise ValidationError(f"unknown placeholder {names}; known: {sorted(allowed)}")


class UnsafePath(ValueError):
    """A value would change which path is called: a whole segment "", "." or ".."."""


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with its placeholders replaced by the values as they are (one pass: a value
    that looks like a placeholder stays text)."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def fill_path(template: str, values: Mapping[str, str]) -> str:
    """A path template filled with URL-escaped values. A segment a value makes empty, "." or
    ".." is refused: HTTP clients collapse dot segments, escaped or not (requests unescapes
    %2E), so order ".." would call the parent path."""
    segments = []
    for segment in template.split("/"):
        filled = PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), segment)
        if filled in ("", ".", "..") and PLACEHOLDER.search(segment):
            raise UnsafePath(
                f"a value of {segment!r} cannot be sent as the URL path segment {filled!r}"
            )
        segments.append(filled)
    return "/".join(segments)


def render_body(template: Any, values: Mapping[str, str]) -> str:
    """The JSON text of a body template; an exact "{amount}" is written as a number. Written
    node by node, so no value's text can be taken for the amount or for JSON."""
    if isinstance(template, str):
        return values["amount"] if template == "{amount}" else json.dumps(fill(template, values))
    if isinstance(template, Mapping):
        members = (f"{json.dumps(k)}: {render_body(v, values)}" for k, v in template.items())
        return "{" + ", ".join(members) + "}"
    if isinstance(template, list):
        return "[" + ", ".join(render_body(v, values) for v in template) + "]"
    return json.dumps(template)


def dig(answer: Any, path: str) -> Any:
    """The value at a dotted path (`data.balance`, `items.0.id`); None when it is not there.
    A key that holds dots itself (OData's `@odata.nextLink`) is found whole first."""
    if not path:
        return answer
    if isinstance(answer, Mapping) and path in answer:
        return answer[path]
    part, _, rest = path.partition(".")
    if isinstance(answer, Mapping):
        node = answer.get(part)
    elif isinstance(answer, list) and part.isdigit() and int(part) < len(answer):
        node = answer[int(part)]
    else:
        return None
    return dig(node, rest) if rest else node


def as_decimal(value: Any) -> Decimal | None:
    """A JSON number (read as Decimal) or a numeric string; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


class AnswerRule(Schema):
    """Which answers mean something: any of `statuses`, and when `field` is given, its value is
    one of `values` (compared as text, case-insensitively). Both given: both must hold."""

    statuses = fields.List(
        fields.Integer(validate=validate.Range(min=100, max=599)), load_default=list
    )
    field = fields.String(load_default=None)
    values = fields.List(fields.Raw(), load_default=list)

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("statuses") and not data.get("field"):
            raise ValidationError("give `statuses`, or `field` with `values`, or both")
        if data.get("field") and not data.get("values"):
            raise ValidationError("`field` needs `values`", "values")


def matches(rule: Mapping[str, Any] | None, status: int, answer: Any) -> bool:
    if not rule:
        return False
    if rule.get("statuses") and status not in rule["statuses"]:
        return False
    if rule.get("field"):
        value = dig(answer, rule["field"])
        wanted = {str(v).strip().lower() for v in rule["values"]}
        return value is not None and str(value).strip().lower() in wanted
    return True


def rule_field(statuses: list[int]) -> fields.Nested:
    """An optional answer rule whose default is a list of HTTP statuses."""
    return fields.Nested(
        AnswerRule, load_default=lambda: AnswerRule().load({"statuses": statuses}), allow_none=True
    )
