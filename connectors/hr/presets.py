"""Named presets for rest_directory: a TOML file per system in presets/, each written from that
system's public API documentation (cited in the file), filling in everything but the tenant's
URL and the credentials. The options a configuration gives override the preset's, table by
table (a `[profile.options.fields]` table changes only the fields it names); `false` in place
of one of the preset's tables removes it (`lookup = { mobile = false }`, `list = false`)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from marshmallow import ValidationError

#: A preset's tables that describe it (its page, and where each fact was read) rather than
#: configure the connector.
DESCRIBING = frozenset({"about", "sources"})


@cache
def presets() -> dict[str, dict[str, Any]]:
    """Every shipped preset by name: its options and its `about` table."""
    found = {}
    for entry in resources.files("connectors.hr").joinpath("presets").iterdir():
        if entry.name.endswith(".toml"):
            found[entry.name.removesuffix(".toml")] = tomllib.loads(entry.read_text("utf-8"))
    return found


def about(name: str) -> dict[str, Any]:
    return dict(presets()[name].get("about", {}))


def identities_of(name: str) -> list[str]:
    """What a preset finds people by: each identity it maps, by a lookup call or, with a list
    call, from the host's index."""
    preset = presets()[name]
    mapped = [f for f in ("employee_id", "email", "mobile") if f in preset.get("fields", {})]
    if "list" in preset:
        return mapped
    return [f for f in mapped if f in preset.get("lookup", {})]


def apply_preset(data: Any) -> Any:
    """The options with their preset's filled in beneath them, and `{tenant}` filled in (in
    base_url, auth.token_url and the headers)."""
    if not isinstance(data, dict):
        return data
    name = data.get("preset")
    if name is not None:
        if name not in presets():
            known = ", ".join(sorted(presets()))
            raise ValidationError(f"unknown preset {name!r} (known: {known})", "preset")
        base = {k: v for k, v in presets()[name].items() if k not in DESCRIBING}
        data = merged(base, data)
    data = merged({}, data)  # a copy: the configuration's own tables stay as they were
    tenant = data.get("tenant")
    places = [(data, "base_url"), (data.get("auth") or {}, "token_url")]
    places += [(data.get("headers") or {}, name) for name in (data.get("headers") or {})]
    for holder, key in places:
        value = holder.get(key)
        if isinstance(value, str) and "{tenant}" in value:
            if not tenant:
                raise ValidationError("this preset needs `tenant`", "tenant")
            holder[key] = value.replace("{tenant}", str(tenant))
    return data


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`: tables merged key by key, anything else replaced."""
    out = dict(base)
    for key, value in over.items():
        if value is False and isinstance(out.get(key), dict):
            del out[key]
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out
