"""Network hygiene: who may call the StoreFront endpoints, and trusting a TLS-terminating proxy.

The allowlist is defence in depth beside the auth_token: Xoxoday documents the addresses its
calls come from (../shared/CONTRACT.md). Behind a proxy, ProxyFix makes request.remote_addr
the caller's address from X-Forwarded-For, trusting only as many hops as configured.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Flask, Request
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.errors import GatewayError

PRESETS = {
    "xoxoday-staging": (
        "50.112.248.135",
        "54.184.56.156",
        "52.24.158.163",
        "34.217.113.26",
        "54.185.176.191",
    ),
    "xoxoday-production": ("52.76.120.90", "52.74.39.101", "52.221.42.47", "46.137.196.217"),
}
#: The endpoints Xoxoday's servers call: the ones the allowlist guards (each program's own).
GUARDED_BLUEPRINTS = frozenset({"points", "program_points"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Forbidden(GatewayError):
    error_code = "ip_not_allowed"


def _entry(value: str) -> None:
    if value in PRESETS:
        return
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValidationError(
            f"{value!r} is neither a CIDR nor a preset ({', '.join(PRESETS)})"
        ) from None


class ProxyFixOptions(Schema):
    x_for = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5))
    x_proto = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5))
    x_host = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5))
    x_port = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5))
    x_prefix = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5))


class NetworkSection(Schema):
    # Empty: anyone may call (the auth_token still decides). Presets and CIDRs.
    allowlist = fields.List(fields.String(validate=_entry), load_default=list)
    proxy_fix = fields.Nested(ProxyFixOptions, load_default=lambda: ProxyFixOptions().load({}))


def networks(entries: list[str]) -> tuple[Network, ...]:
    found: list[Network] = []
    for entry in entries:
        for value in PRESETS.get(entry, (entry,)):
            found.append(ipaddress.ip_network(value, strict=False))
    return tuple(found)


def install(app: Flask, section: dict[str, Any]) -> None:
    """The proxies in front (the deployment's: the top-level [network]). Each program's
    allowlist is checked by check_allowlist, once the request's program is known."""
    proxy = section["proxy_fix"]
    if any(proxy.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **proxy)  # type: ignore[method-assign]


def check_allowlist(req: Request, ctx: Any) -> None:
    """Refuse a caller outside the request's program's allowlist (run once its program is
    known: gateway/api/__init__.py)."""
    if req.blueprint not in GUARDED_BLUEPRINTS:
        return
    gateway = ctx.get("gateway")
    allowed = gateway.allowed if gateway is not None else ()
    if not allowed:
        return
    try:
        caller = ipaddress.ip_address(req.remote_addr or "")
    except ValueError:
        caller = None
    if caller is None or not any(caller in net for net in allowed):
        raise Forbidden(f"calls from {req.remote_addr} are not allowed here")
