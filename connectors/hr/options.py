"""rest_directory's options: the calls (lookups per identity, the list), the field mapping, the
"active" rule, and how a value asked is escaped where it goes."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from connectors.base import IDENTITY_FIELDS, PROFILE_FIELDS, FilePath
from connectors.hr.auth import AuthOptions
from connectors.hr.paging import PagingOptions
from connectors.hr.presets import apply_preset
from connectors.http import http_options_field
from connectors.rest_mapping import check_template, rule_field

METHODS = validate.OneOf(["GET", "POST"])
VALUE = frozenset({"value"})
#: What "strict" lets through: what ids, emails and phone numbers are made of.
PLAIN = re.compile(r"[A-Za-z0-9@._+\- ]{1,254}")


class Refused(ValueError):
    """A value "strict" will not put into a template: nobody has it."""


def _strict(value: str) -> str:
    if not PLAIN.fullmatch(value):
        raise Refused(value)
    return value


#: How `{value}` is written inside a query or body string, beyond URL and JSON encoding.
ESCAPES: dict[str, Callable[[str], str]] = {
    "none": lambda v: v,
    "odata": lambda v: v.replace("'", "''"),  # OData 4.01 part 2, 5.1.1.6.1: '' is a quote
    # For a template with its own quoting and no documented escape (Zoho's searchParams):
    # a value with anything but letters, digits and @ . _ + - or space is refused.
    "strict": _strict,
}


def _value_only(template: Any) -> None:
    check_template(template, VALUE)


class Call(Schema):
    method = fields.String(load_default="GET", validate=METHODS)
    path = fields.String(required=True, validate=[validate.Regexp(r"^/"), _value_only])
    query = fields.Dict(
        keys=fields.String(), values=fields.String(), load_default=dict, validate=_value_only
    )
    # A JSON template (a TOML table), for a search sent by POST.
    body = fields.Dict(load_default=None, validate=_value_only)
    headers = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    escape = fields.String(load_default="none", validate=validate.OneOf(list(ESCAPES)))
    results = fields.String(load_default="")  # dotted path to the records ("": the answer)
    nobody = rule_field([404])  # an answer that means "no such person"


class ListCall(Call):
    paging = fields.Nested(PagingOptions, load_default=lambda: PagingOptions().load({}))


#: What a record without the active rule's field (absent, null or empty) says: "inactive"
#: (the default: the person is found, so a refund reaches them, but gets no token and no
#: balance), "active", or "refuse" (the record is an error: a lookup answering it fails, and so
#: does a list read holding it).
WHEN_MISSING = ("inactive", "active", "refuse")


class ActiveRule(Schema):
    """Who is active: `field`'s value is one of `values`, or is none of `inactive_values`
    (see `same`); a record without the field is what `when_missing` says."""

    field = fields.String(required=True)
    values = fields.List(fields.Raw(), load_default=list)
    inactive_values = fields.List(fields.Raw(), load_default=list)
    when_missing = fields.String(load_default="inactive", validate=validate.OneOf(WHEN_MISSING))

    @validates_schema
    def _one(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data["values"]) == bool(data["inactive_values"]):
            raise ValidationError("give `values` or `inactive_values`")


def rule_says(rule: dict[str, Any], value: Any) -> bool | None:
    """Whether `value` of the rule's field is an active person's; None when there is none."""
    if value is None or value in ("", [], {}) or (isinstance(value, str) and not value.strip()):
        return None
    if rule["values"]:
        return same(value) in {same(v) for v in rule["values"]}
    return same(value) not in {same(v) for v in rule["inactive_values"]}


def same(value: Any) -> str:
    """A value as the active rule compares it: a number by what it is worth (a TOML 0 is JSON's
    0 and 0.0, and the text "0"), JSON true and false as "true" and "false" (never 1 and 0),
    text without regard to case or surrounding spaces."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        if number.is_finite():
            return format(number.normalize(), "f")
    return str(value).strip().casefold()


class RestDirectoryOptions(Schema):
    preset = fields.String(load_default=None)
    tenant = fields.String(load_default=None)  # fills {tenant} in base_url and auth.token_url
    base_url = fields.Url(required=True, schemes={"https", "http"}, require_tld=False)
    auth = fields.Nested(AuthOptions, load_default=lambda: AuthOptions().load({}))
    headers = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    lookup = fields.Dict(
        keys=fields.String(validate=validate.OneOf(IDENTITY_FIELDS)),
        values=fields.Nested(Call),
        load_default=dict,
    )
    list_call = fields.Nested(ListCall, load_default=None, data_key="list")
    active = fields.Nested(ActiveRule, load_default=None)
    # Our profile field -> the dotted path of its value in a record.
    mapping = fields.Dict(
        keys=fields.String(), values=fields.String(), required=True, data_key="fields"
    )
    points = fields.String(load_default=None)  # where a record holds the points granted
    directory_ttl_seconds = fields.Float(load_default=900.0, validate=validate.Range(min=1))
    index_path = FilePath(load_default=None)
    http = http_options_field()

    @pre_load
    def _preset(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return apply_preset(data)

    @validates_schema
    def _mapping(self, data: dict[str, Any], **_: Any) -> None:
        unknown = set(data["mapping"]) - set(PROFILE_FIELDS)
        if unknown:
            raise ValidationError(f"unknown profile fields {sorted(unknown)}", "fields")
        missing = {"employee_id", "email"} - set(data["mapping"])
        if missing:
            raise ValidationError(f"map {sorted(missing)} to the answer's fields", "fields")
        if not data["lookup"] and not data.get("list_call"):
            raise ValidationError("give a lookup call per identity, or a list call, or both")
