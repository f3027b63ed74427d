"""A documentation page per rest_directory preset, generated from the preset itself, so the page
cannot drift from what the connector does: `python -m connectors.hr.catalog docs/connectors/hr`
writes one `<preset>.md` per preset (the test suite checks the committed pages match).

What to ask the HR admin for, the known limits and a complete configuration come from the
preset's `[about]` table; how people are found, which field each profile field comes from and
the documentation it was written from come from its calls, fields and comments.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from connectors.hr.presets import about, presets

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
        "## Written from",
        "",
        *(f"- <{url}>" for url in _sources(name)),
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
    if rule.get("values"):
        said = " or ".join(f"`{_toml(v)}`" for v in rule["values"])
        return [f"| active | `{rule['field']}` is {said} |"]
    said = ", ".join(f"`{_toml(v)}`" for v in rule["inactive_values"])
    return [f"| active | `{rule['field']}` is none of {said} |"]


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


def _sources(name: str) -> list[str]:
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
