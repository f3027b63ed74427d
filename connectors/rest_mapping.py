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
_NUMBER = "\x00amount\x00"  # stands in for the amount until the JSON text is written


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


def fill(text: str, values: Mapping[str, str], escape: bool = False) -> str:
    """`text` with its placeholders replaced; `escape` quotes each value for a URL path."""

    def one(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return quote(value, safe="") if escape else value

    return PLACEHOLDER.sub(one, text)


def render_body(template: Any, values: Mapping[str, str]) -> str:
    """The JSON text of a body template; an exact "{amount}" is written as a number."""

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return _NUMBER if node == "{amount}" else fill(node, values)
        if isinstance(node, Mapping):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return json.dumps(walk(template)).replace(json.dumps(_NUMBER), values["amount"])


def dig(answer: Any, path: str) -> Any:
    """The value at a dotted path (`data.balance`, `items.0.id`); None when it is not there."""
    node = answer
    for part in path.split(".") if path else ():
        if isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


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
