"""Find connector classes by entry point and build them from validated options.

Ours are registered exactly as an integrator's are, under
`[project.entry-points."points_gateway.connectors"]` in pyproject.toml.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields

from connectors.base import (
    Connector,
    ConnectorConfigError,
    FilePath,
    GrantsSource,
    PointsLedger,
    ProfileSource,
    Secret,
)

GROUP = "points_gateway.connectors"
log = logging.getLogger(__name__)
_told: set[str] = set()  # broken entry points already said, once per process


class UnknownConnector(LookupError):
    pass


class BadOptions(ValueError):
    """Options that fail the connector's schema; `messages` maps option name -> problems."""

    def __init__(self, messages: dict[str, Any]) -> None:
        super().__init__(messages)
        self.messages = messages


def available() -> dict[str, type[Connector]]:
    """Every installed connector class by name (loading each entry point). One that cannot be
    loaded (a typo in its target, a missing dependency) is left out, and said once, on one
    line naming its distribution and entry point, as a warning of this module's logger."""
    found = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = _load(ep)
        except UnknownConnector as exc:
            if ep.value not in _told:
                _told.add(ep.value)
                log.warning("%s; left out", exc)
    return found


def connector_class(name: str) -> type[Connector]:
    matches = entry_points(group=GROUP, name=name)
    if not matches:
        known = ", ".join(sorted(ep.name for ep in entry_points(group=GROUP))) or "none"
        raise UnknownConnector(f"unknown connector {name!r} (installed: {known})")
    return _load(next(iter(matches)))


def _load(ep: EntryPoint) -> type[Connector]:
    """The class `ep` names; UnknownConnector, in one line, when it cannot be loaded."""
    dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "an unknown distribution"
    where = f"connector {ep.name!r} (entry point {ep.name} = {ep.value}, from {dist})"
    try:
        cls = ep.load()
    except Exception as exc:  # whatever the plugin's import raises: its name, not a traceback
        why = " ".join(f"{type(exc).__name__}: {exc}".split())
        if isinstance(exc, AttributeError) and exc.name and exc.obj is not None:
            near = difflib.get_close_matches(exc.name, dir(exc.obj), 1)
            why += f" (did you mean {near[0]!r}?)" if near else ""
        raise UnknownConnector(f"{where} cannot be loaded: {why}") from None
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise UnknownConnector(f"{where} does not name a Connector class")
    return cls


def validate_options(
    cls: type[Connector], options: dict[str, Any], base: Path | None = None
) -> dict[str, Any]:
    """Options loaded by the connector's schema, FilePath options resolved against `base`."""
    schema = cls.options_schema()
    try:
        loaded = schema.load(options)
    except ValidationError as exc:
        raise BadOptions(exc.normalized_messages()) from exc
    for name, field in schema.fields.items():
        if base is not None and isinstance(field, FilePath) and loaded.get(name):
            loaded[name] = str((base / loaded[name]).resolve())
    return loaded


def secret_values(cls: type[Connector], options: dict[str, Any]) -> tuple[str, ...]:
    """The values of the options the connector's schema marks Secret, for log redaction."""
    return secrets_in(cls.options_schema(), options)


def secrets_in(schema: Schema, data: Mapping[str, Any]) -> tuple[str, ...]:
    """The values `schema` marks Secret in `data` (loaded by it), nested tables and lists too."""
    return tuple(
        secret
        for name, field in schema.fields.items()
        if data.get(name)
        for secret in _secrets_of(field, data[name])
    )


def _secrets_of(field: fields.Field, value: Any) -> list[str]:
    if isinstance(field, Secret):
        return [str(value)]
    if isinstance(field, fields.Nested) and isinstance(value, Mapping):
        return list(secrets_in(field.schema, value))
    if isinstance(field, fields.Dict) and isinstance(value, Mapping):
        inner = field.value_field
        return (
            [s for item in value.values() if item for s in _secrets_of(inner, item)]
            if inner
            else []
        )
    if isinstance(field, fields.List) and isinstance(value, list):
        return [s for item in value if item for s in _secrets_of(field.inner, item)]
    return []


ROLES: tuple[tuple[str, type[Connector]], ...] = (
    ("profile", ProfileSource),
    ("points (grants)", GrantsSource),
    ("points (ledger)", PointsLedger),
)


def roles(cls: type[Connector]) -> list[str]:
    """What the class can serve: the profile section, the points section as a grants source
    (the journal keeps redemptions) or as a ledger (it keeps them itself)."""
    return [role for role, kind in ROLES if issubclass(cls, kind)]


def describe_options(schema: Schema, prefix: str = "") -> list[str]:
    """One line per option (nested tables flattened): name, type, required or default."""
    lines = []
    for name, field in schema.fields.items():
        if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
            lines += describe_options(field.schema, f"{prefix}{name}.")
            continue
        if field.required:
            need = "required"
        elif callable(field.load_default):
            need = "optional"
        else:
            need = f"default {json.dumps(field.load_default, default=str)}"
        lines.append(f"{prefix}{name} ({type(field).__name__.lower()}, {need})")
    return lines


class ConnectorFactory:
    """Builds connectors, sharing one instance between roles configured identically.

    `[profile]` and `[points]` naming the same CSV file should read it once, not twice.
    """

    def __init__(self) -> None:
        self._built: dict[str, Connector] = {}

    def build(self, name: str, options: dict[str, Any]) -> Connector:
        """The connector `name` made from options already loaded by `validate_options`."""
        key = name + json.dumps(options, sort_keys=True, default=str)
        if key not in self._built:
            try:
                self._built[key] = connector_class(name)(**options)
            except TypeError as exc:  # the class's __init__ does not take its own schema's keys
                raise ConnectorConfigError(f"connector {name!r} cannot be built: {exc}") from exc
        return self._built[key]

    def close(self) -> None:
        for connector in self._built.values():
            connector.close()
        self._built.clear()
