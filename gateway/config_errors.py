"""The one line a configuration problem is reported as: `key.sub: problem`, and for a key the
schema does not know, the nearest one it does (`did you mean ...?`), in every section and in a
connector's options alike."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields

#: marshmallow's message for a key its schema does not declare.
UNKNOWN = "Unknown field."


def first_problem(messages: Any, path: str = "", schema: Schema | None = None) -> str:
    """Flatten marshmallow's nested messages to `key.sub: problem` for the first problem;
    `schema`, the one that produced them, lets an unknown key be told the nearest known one."""
    if isinstance(messages, Mapping):
        key, value = next(iter(messages.items()))
        if key == "_schema":
            return first_problem(value, path, schema)
        sub = f"{path}.{key}" if path else str(key)
        if value == [UNKNOWN] and schema is not None:
            return f"{sub}: {UNKNOWN}{_nearest(str(key), schema)}"
        return first_problem(value, sub, _inner(schema, key))
    if isinstance(messages, list | tuple) and messages:
        return first_problem(messages[0], path, schema)
    return f"{path or 'config'}: {messages}"


def _nearest(key: str, schema: Schema) -> str:
    known = [f.data_key or name for name, f in schema.fields.items() if not f.dump_only]
    found = difflib.get_close_matches(key, known, n=1, cutoff=0.7)  # a typo, not a guess
    return f" Did you mean `{found[0]}`?" if found else ""


def _inner(schema: Schema | None, key: object) -> Schema | None:
    """The schema of a nested table `key` of `schema` (None: not a table it describes)."""
    if schema is None:
        return None
    field = {f.data_key or name: f for name, f in schema.fields.items()}.get(str(key))
    if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
        return field.schema
    return None
