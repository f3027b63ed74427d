"""A documentation page per rest_directory preset, generated from the preset itself, so the page
cannot drift from what the connector does: `python -m connectors.hr.catalog docs/connectors/hr`
writes one `<preset>.md` per preset (the test suite checks the committed pages match).

What to ask the HR admin for, the known limits and a complete configuration come from the
preset's `[about]` table; how people are found and which field each profile field comes from,
from its calls and fields; where each of those facts was read, from its `[sources]` table:

    [sources]
    # key: a fact of this preset, as a dotted path of its tables; value: where it was read.
    base_url = "https://vendor.example/docs/api-overview"
    "fields.email" = "https://..."
    active = { url = "https://...", note = "what exactly the page says" }
    throttling = { url = "https://...", confirmed = false, note = "no public page says which" }

A value is a URL, or a table with `url`, an optional `note`, `confirmed = false` for a fact
no public source confirms, and `kind` (see KINDS). `check_sources` says what a preset's table
lacks (REQUIRED facts without a source) or gets wrong (a key naming no fact of the preset, a
URL that is not https).
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connectors.hr.presets import DESCRIBING, about, presets

NAMES = {"employee_id": "employee id", "email": "email", "mobile": "mobile"}


def render(name: str) -> str:
    preset, info = presets()[name], about(name)
    lines = [
        f"# {info.get('title', name)}",
        "",
        f"The `{name}` preset of [`rest_directory`](../rest-directory.md). This page is generated "
        f"from `connectors/hr/presets/{name}.toml`.",
        "",
        "## What to ask for",
        "",
        info.get("ask_for", ""),
        "",
        "## A complete configuration",
        "",
        "```toml",
        "[profile]",
        'connector = "rest_directory"',
        "",
        "[profile.options]",
        info["example"].strip(),
        "```",
        "",
        "Everything else comes from the preset; any of it can be overridden, table by table "
        "(see [`rest_directory`](../rest-directory.md)).",
        "",
        "## How it finds people",
        "",
        *_finding(preset),
        "",
        "## Where each profile field comes from",
        "",
        "| ours | the system's field |",
        "|---|---|",
        *(f"| {ours} | {_paths(path)} |" for ours, path in preset["fields"].items()),
        *_active(preset),
        "",
        "## Credentials",
        "",
        _credentials(preset),
        "",
        "## Known limits",
        "",
        info.get("not_covered", "None known."),
        "",
        *_sources_table(name),
        "",
    ]
    return "\n".join(lines)


def _finding(preset: dict[str, Any]) -> list[str]:
    found = []
    listing = preset.get("list")
    for ours, label in NAMES.items():
        if ours not in preset["fields"]:
            found.append(f"- By {label}: not mapped.")
        elif ours in preset.get("lookup", {}):
            call = preset["lookup"][ours]
            found.append(f"- By {label}: one call, `{call.get('method', 'GET')} {call['path']}`.")
        elif listing is not None:
            found.append(f"- By {label}: from the host's directory index of the list.")
    if listing is not None:
        style = listing.get("paging", {}).get("style", "none")
        paging = "in one call" if style == "none" else f"page by page (`{style}`)"
        found.append(
            f"- The list: `{listing.get('method', 'GET')} {listing['path']}`, read {paging} every "
            "`directory_ttl_seconds` (900 by default) by one process of the host."
        )
    return found


def _paths(path: str) -> str:
    return " or ".join(f"`{p}`" for p in path.split("|"))


def _active(preset: dict[str, Any]) -> list[str]:
    rule = preset.get("active")
    if rule is None:
        return ["| active | everyone the system returns |"]
    without = f"; a record without it: {rule.get('when_missing', 'inactive')}"
    if rule.get("values"):
        said = " or ".join(f"`{_toml(v)}`" for v in rule["values"])
        return [f"| active | `{rule['field']}` is {said}{without} |"]
    said = ", ".join(f"`{_toml(v)}`" for v in rule["inactive_values"])
    return [f"| active | `{rule['field']}` is none of {said}{without} |"]


def _toml(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _credentials(preset: dict[str, Any]) -> str:
    auth = preset.get("auth", {})
    kind = auth.get("type", "none")
    if kind == "basic":
        return "HTTP Basic on every call (`auth.username`, `auth.password`)."
    if kind.startswith("oauth2"):
        grant = auth.get("grant_type") or (
            "refresh_token" if kind == "oauth2_refresh_token" else "client_credentials"
        )
        where = auth.get("token_url", "the `auth.token_url` given in the configuration")
        header = auth.get("token_header", "Authorization")
        prefix = auth.get("token_prefix", "Bearer ")
        return (
            f"OAuth 2.0, grant `{grant}`, at {where}; the token goes in `{header}: "
            f"{prefix}<token>`, kept until it expires and renewed once for all threads."
        )
    return f"`{kind}`."


#: What a source says it is, and how its page names it.
KINDS = {
    "vendor": "",
    "openapi": "OpenAPI",
    "sdk": "SDK",
    "connector": "connector",
    "community": "community",
}
#: The keys of a source given as a table.
SOURCE_KEYS = frozenset({"url", "note", "confirmed", "kind"})
#: Facts of a system every preset relies on without a table of its own.
GENERAL_FACTS = frozenset({"throttling"})


@dataclass(frozen=True)
class Source:
    url: str
    note: str = ""
    confirmed: bool = True
    kind: str = ""


def required_facts(preset: dict[str, Any]) -> list[str]:
    """The facts of `preset` that need a source: its base URL and authentication, each field
    mapped, the active rule, the list call and its paging, and each lookup."""
    facts: list[str] = [key for key in ("base_url", "auth") if key in preset]
    facts += [f"fields.{field}" for field in preset.get("fields", {})]
    facts += ["active"] if "active" in preset else []
    listing = preset.get("list")
    if isinstance(listing, dict):
        facts.append("list")
        if listing.get("paging", {}).get("style", "none") != "none":
            facts.append("list.paging")
    return facts + [f"lookup.{identity}" for identity in preset.get("lookup", {})]


def known_facts(preset: dict[str, Any]) -> set[str]:
    """Every dotted path of the preset's option tables (a source may name any), and GENERAL."""
    found: set[str] = set(GENERAL_FACTS)

    def walk(table: dict[str, Any], prefix: str) -> None:
        for key, value in table.items():
            found.add(prefix + key)
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")

    walk({k: v for k, v in preset.items() if k not in DESCRIBING}, "")
    return found


def raw_sources(preset: dict[str, Any]) -> dict[str, Any]:
    """The `[sources]` table by dotted key: `"fields.email" = ...` and a nested `[sources.fields]`
    table alike (a table without `url` is a namespace, not a source)."""
    flat: dict[str, Any] = {}

    def walk(table: dict[str, Any], prefix: str) -> None:
        for key, value in table.items():
            if isinstance(value, dict) and "url" not in value and set(value) - SOURCE_KEYS:
                walk(value, f"{prefix}{key}.")
            else:
                flat[prefix + key] = value

    walk(preset.get("sources", {}), "")
    return flat


def check_sources(preset: dict[str, Any]) -> list[str]:
    """What is wrong with a preset's `[sources]`: one line per problem, none when it is right."""
    given = raw_sources(preset)
    problems = [f"{fact}: no source" for fact in required_facts(preset) if fact not in given]
    known = known_facts(preset)
    for fact, value in given.items():
        if fact not in known:
            problems.append(f"{fact}: the preset has no such fact")
        problems += [f"{fact}: {problem}" for problem in _source_problems(value)]
    return problems


def _source_problems(value: Any) -> list[str]:
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, dict):
        return ["a source is a URL or a table with `url`"]
    problems = [f"unknown key {key!r}" for key in sorted(set(value) - SOURCE_KEYS)]
    url = value.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme != "https" or not parts.netloc or " " in str(url):
        problems.append(f"not an https URL: {url!r}")
    if not isinstance(value.get("note", ""), str):
        problems.append("`note` is text")
    if not isinstance(value.get("confirmed", True), bool):
        problems.append("`confirmed` is true or false")
    if value.get("kind", "vendor") not in KINDS:
        problems.append(f"`kind` is one of {', '.join(KINDS)}")
    return problems


def sources(name: str) -> dict[str, Source]:
    """The preset's sources by fact, in the order its table gives them."""
    found = {}
    for fact, value in raw_sources(presets()[name]).items():
        table: dict[str, Any] = {"url": value} if isinstance(value, str) else dict(value)
        found[fact] = Source(**{k: v for k, v in table.items() if k in SOURCE_KEYS})
    return found


def _sources_table(name: str) -> list[str]:
    given = sources(name)
    if not given:  # a preset still without [sources]: the pages its comments cite
        return ["## Written from", "", *(f"- <{url}>" for url in _cited(name))]
    lines = [
        "## Sources",
        "",
        "Where each fact of the preset was read (its `[sources]` table).",
        "",
        "| fact | where it was read | note |",
        "|---|---|---|",
    ]
    for fact, source in given.items():
        kind = KINDS.get(source.kind, "")
        where = f"<{source.url}>" + (f" ({kind})" if kind else "")
        note = ("**not confirmed**" + (": " if source.note else "")) if not source.confirmed else ""
        note += source.note.replace("|", "\\|")
        lines.append(f"| `{fact}` | {where} | {note} |")
    return lines


def _cited(name: str) -> list[str]:
    """The documentation pages the preset's comments cite (not the endpoints they name)."""
    text = resources.files("connectors.hr").joinpath("presets", f"{name}.toml").read_text("utf-8")
    preset = presets()[name]
    endpoints = {preset.get("base_url", ""), preset.get("auth", {}).get("token_url", "")}
    urls: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            continue
        for word in line.replace("(", " ").replace(")", " ").split():
            url = word.rstrip(".,:;")
            placeholder = "{" in url or "<" in url
            if url.startswith("https://") and not placeholder and url not in endpoints | set(urls):
                urls.append(url)
    return urls


def example_options(name: str) -> dict[str, Any]:
    """The page's configuration, as the options it gives the connector."""
    return tomllib.loads(about(name)["example"])


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    for preset_name in sorted(presets()):
        (folder / f"{preset_name}.md").write_text(render(preset_name))
