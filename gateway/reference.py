"""The configuration reference, docs/reference/configuration.md, generated:
`python -m gateway.reference > docs/reference/configuration.md`.

Which keys exist, their types and defaults come from the schemas that load a configuration;
what each key does comes from the comment above it (or after it) in config/example.toml (the
gateway's own sections) and config/examples/*.toml (each connector's options). The test suite
regenerates the page and checks that the example files name exactly the keys the schemas know.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from marshmallow import Schema, fields

from connectors.registry import available, roles
from gateway.config import ConfigSchema
from gateway.programs_config import program_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "example.toml"
EXAMPLES = ROOT / "config" / "examples"
# A key line, commented out or not: `key = value  # what it does`.
KEY_LINE = re.compile(r"^\s*(?:#\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
SECTION_LINE = re.compile(r"^\s*(?:#\s*)?\[([A-Za-z0-9_.]+)\]\s*(?:#.*)?$")
INLINE_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=")


@dataclass(frozen=True)
class Key:
    path: str  # "server.threads", "options.http.attempts"
    kind: str
    default: str  # "required", a JSON value, or "" (computed when absent)


def schema_keys(schema: Schema, prefix: str = "") -> Iterator[Key]:
    """Every key `schema` loads, nested tables flattened with dots."""
    for name, field in schema.fields.items():
        path = f"{prefix}{field.data_key or name}"
        if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
            yield from schema_keys(field.schema, path + ".")
            continue
        if field.required:
            default = "required"
        elif callable(field.load_default):
            made = field.load_default()
            default = json.dumps(made) if made in ([], {}) else ""
        else:
            default = json.dumps(field.load_default, default=str)
        yield Key(path, type(field).__name__.lower(), default)


#: How the reference and the example name any program's table.
PROGRAM_TABLE = "programs.<name>."


def gateway_keys() -> list[Key]:
    """The gateway's own keys, a program's table's among them; a connector's `options` are its
    own (connector_keys)."""
    keys = [k for k in schema_keys(ConfigSchema()) if k.path != "programs"]
    keys += schema_keys(program_schema(), PROGRAM_TABLE)
    return [k for k in keys if not k.path.endswith(".options")]


def gateway_documented() -> dict[str, str]:
    named = documented(EXAMPLE.read_text())
    # The example's program ([programs.india]) stands for any program's table.
    return {
        re.sub(r"^programs\.[^.]+\.", PROGRAM_TABLE, k): v
        for k, v in named.items()
        if ".options" not in k
    }


def connector_keys(name: str) -> list[Key]:
    return list(schema_keys(available()[name].options_schema(), "options."))


def documented(text: str) -> dict[str, str]:
    """Each key an example file names (commented out or not, in a commented-out section too),
    with what its comments say it does."""
    found: dict[str, str] = {}
    section, block = "", ""
    notes: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            notes, block = [], ""
            continue
        if header := SECTION_LINE.match(line):
            section, notes, block = header.group(1) + ".", [], ""
            continue
        key = KEY_LINE.match(line)
        if key is None:
            notes.append(line.strip().lstrip("#").strip())
            continue
        if notes:  # a comment above a run of keys speaks for each key of the run
            block, notes = " ".join(notes), []
        value, _, after = key.group(2).partition("  #")
        path = section + key.group(1)
        found[path] = after.strip().lstrip("#").strip() or block
        if value.strip().startswith("{"):  # an inline table: its keys are documented with it
            for inner in INLINE_KEY.findall(value):
                found.setdefault(f"{path}.{inner}", f"see `{key.group(1)}`")
    return found


def disagreements(known: list[Key], named: dict[str, str]) -> tuple[list[str], list[str]]:
    """The keys the schemas know that the examples do not name, and the other way round. A
    nested table's own name, and the entries of a table-valued key (`columns = {...}`), are
    not keys of their own."""
    paths = {k.path for k in known}
    tables = {k.path for k in known if k.kind == "dict"}
    # A table-valued key written as a section of its own is named by its entries.
    missing = sorted(
        p
        for p in paths - set(named)
        if not (p in tables and any(n.startswith(p + ".") for n in named))
    )
    unknown = [
        name
        for name in sorted(named)
        if name not in paths
        and not any(p.startswith(name + ".") for p in paths)
        and not any(name.startswith(table + ".") for table in tables)
    ]
    return missing, unknown


def connector_documented(name: str) -> dict[str, str]:
    """What the examples say of connector `name`'s options, as `options.<key>`."""
    found: dict[str, str] = {}
    for path in sorted(EXAMPLES.glob("*.toml")):
        text = path.read_text()
        for role in ("profile", "points"):
            if not re.search(rf'^\[{role}\]\s*\nconnector = "{name}"', text, re.M):
                continue
            for key, what in documented(text).items():
                if key.startswith(f"{role}.options."):
                    option = key.removeprefix(f"{role}.")
                    if what or option not in found:
                        found[option] = what
    return found


def _table(keys: list[Key], notes: dict[str, str], strip: str = "") -> list[str]:
    lines = ["| key | type | default | what it does |", "|---|---|---|---|"]
    for key in keys:
        what = notes.get(key.path, "").replace("|", "\\|")
        default = f"`{key.default}`" if key.default not in ("", "required") else key.default
        name = key.path.removeprefix(strip)
        lines.append(f"| `{name}` | {key.kind} | {default} | {what} |")
    return lines


def _section(path: str) -> str:
    return PROGRAM_TABLE.rstrip(".") if path.startswith(PROGRAM_TABLE) else path.split(".")[0]


def render() -> str:
    notes = gateway_documented()
    out = [
        "# Configuration reference",
        "",
        "Generated from the schemas that load a configuration (`python -m gateway.reference`),",
        "with what each key does from the comments of `config/example.toml` and",
        "`config/examples/*.toml`; the test suite fails when they disagree. Unknown keys are",
        "errors. A default left empty is worked out when the key is absent.",
    ]
    keys = gateway_keys()
    for section in dict.fromkeys(_section(k.path) for k in keys):
        out += ["", f"## `[{section}]`", ""]
        out += _table([k for k in keys if k.path.startswith(section + ".")], notes, section + ".")
    out += ["", "## Connectors", ""]
    out.append("Each connector's `options`; `config/examples/` has a complete file for each.")
    for name, cls in sorted(available().items()):
        out += ["", f"### `{name}` ({', '.join(roles(cls))})", ""]
        out += _table(connector_keys(name), connector_documented(name), "options.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
