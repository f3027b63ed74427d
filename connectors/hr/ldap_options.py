"""The ldap connector's options: where the directory is, how to bind, the filter per identity,
the attribute per profile field, and who has left."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors.base import IDENTITY_FIELDS, PROFILE_FIELDS, FilePath, Secret


def plaintext_bind_refused(url: str, start_tls: bool, allowed: bool) -> str | None:
    """Why a simple bind to `url` would be refused: over ldap:// without StartTLS it sends the
    service account's password in clear, which takes `allow_plaintext_bind = true` to say."""
    if url.lower().startswith("ldap://") and not start_tls and not allowed:
        return (
            "a bind over ldap:// without start_tls sends the password in clear: use ldaps://, "
            "or start_tls = true, or (a trusted network only) allow_plaintext_bind = true"
        )
    return None


def _filter_template(text: str) -> None:
    if not (text.startswith("(") and text.endswith(")")):
        raise ValidationError("a filter is parenthesised, as (mail={value})")


class DisabledRule(Schema):
    """Who has left: `attribute` holds one of `values`, or (Active Directory's
    userAccountControl) has any of the bits of `bits` set (2 is ACCOUNTDISABLE)."""

    attribute = fields.String(required=True)
    values = fields.List(fields.String(), load_default=list)
    bits = fields.Integer(load_default=None, validate=validate.Range(min=1))

    @validates_schema
    def _one(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data["values"]) == (data["bits"] is not None):
            raise ValidationError("give `values` or `bits`")


class LdapOptions(Schema):
    url = fields.String(required=True, validate=validate.Regexp(r"^ldaps?://[^/]+/?$"))
    start_tls = fields.Boolean(load_default=False)
    allow_plaintext_bind = fields.Boolean(load_default=False)
    ca_file = FilePath(load_default=None)  # the CA that signed the server's certificate
    verify_certificate = fields.Boolean(load_default=True)
    bind_dn = fields.String(required=True)
    bind_password = Secret(required=True)
    base_dn = fields.String(required=True)
    # Per identity, e.g. (&(objectClass=user)(mail={value})): {value} is escaped (RFC 4515).
    filters = fields.Dict(
        keys=fields.String(validate=validate.OneOf(IDENTITY_FIELDS)),
        values=fields.String(validate=_filter_template),
        load_default=dict,
    )
    # Everyone, for the index that answers the identities without a filter.
    list_filter = fields.String(load_default=None, validate=_filter_template)
    page_size = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))
    # Our profile field -> the entry's attribute.
    attributes = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    disabled = fields.Nested(DisabledRule, load_default=None)
    connect_timeout = fields.Float(load_default=3.0, validate=validate.Range(min=0.1))
    receive_timeout = fields.Float(load_default=5.0, validate=validate.Range(min=0.1))
    breaker_failures = fields.Integer(load_default=5, validate=validate.Range(min=1))
    breaker_reset_seconds = fields.Float(load_default=30.0, validate=validate.Range(min=0.1))
    directory_ttl_seconds = fields.Float(load_default=900.0, validate=validate.Range(min=1))
    index_path = FilePath(load_default=None)

    @validates_schema
    def _complete(self, data: dict[str, Any], **_: Any) -> None:
        unknown = set(data["attributes"]) - set(PROFILE_FIELDS)
        if unknown:
            raise ValidationError(f"unknown profile fields {sorted(unknown)}", "attributes")
        missing = {"employee_id", "email"} - set(data["attributes"])
        if missing:
            raise ValidationError(f"map {sorted(missing)} to attributes", "attributes")
        for ours in data["filters"]:
            if "{value}" not in data["filters"][ours]:
                raise ValidationError(f"the {ours} filter has no {{value}}", "filters")
        if not data["filters"] and not data.get("list_filter"):
            raise ValidationError("give a filter per identity, or list_filter, or both")
        refused = plaintext_bind_refused(
            data["url"], data["start_tls"], data["allow_plaintext_bind"]
        )
        if refused:
            raise ValidationError(refused, "allow_plaintext_bind")
