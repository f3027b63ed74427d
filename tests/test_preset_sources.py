"""Every preset says where each of its facts was read, in its `[sources]` table (the format:
connectors/hr/catalog.py): its base URL and authentication, each field it maps, its active
rule, its list call and paging, each lookup. Every shipped preset is checked, a preset added
later too; a key naming no fact of the preset, or a URL that is not https, is refused."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from connectors.hr import catalog
from connectors.hr.presets import presets

PRESETS = sorted(presets())


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_gives_a_source_for_each_fact(name: str):
    assert catalog.check_sources(presets()[name]) == [], f"connectors/hr/presets/{name}.toml"


@pytest.mark.parametrize("name", PRESETS)
def test_each_field_lookup_and_rule_has_a_source_by_its_own_name(name: str):
    """Read without the checker's rules: what a page's reader looks for is there."""
    preset, given = presets()[name], catalog.raw_sources(presets()[name])
    wanted = [f"fields.{field}" for field in preset["fields"]]
    wanted += [f"lookup.{identity}" for identity in preset.get("lookup", {})]
    wanted += ["active"] * ("active" in preset) + ["list"] * ("list" in preset)
    assert [fact for fact in wanted if fact not in given] == []
    for value in given.values():
        url = value if isinstance(value, str) else value["url"]
        assert url.startswith("https://"), url


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_s_page_lists_its_sources(name: str):
    page = catalog.render(name)
    assert "## Sources" in page
    for fact, source in catalog.sources(name).items():
        line = next(row for row in page.splitlines() if row.startswith(f"| `{fact}` |"))
        assert f"<{source.url}>" in line
        assert ("**not confirmed**" in line) is (not source.confirmed)


# -- the checker, on presets made up here -----------------------------------------------------------
PRESET = """
base_url = "https://hr.example.com/api"
[auth]
type = "basic"
[fields]
employee_id = "id"
email = "mail"
[active]
field = "state"
values = ["ACTIVE"]
[lookup.email]
path = "/people"
[list]
path = "/people"
paging = { style = "page" }
[sources]
base_url = "https://hr.example.com/docs/overview"
auth = "https://hr.example.com/docs/auth"
"fields.employee_id" = "https://hr.example.com/docs/person"
"fields.email" = { url = "https://hr.example.com/docs/person", kind = "openapi" }
active = { url = "https://hr.example.com/docs/person", note = "state: ACTIVE or LEFT" }
"list" = "https://hr.example.com/docs/list"
"list.paging" = "https://hr.example.com/docs/list#paging"
"lookup.email" = "https://hr.example.com/docs/list#filters"
throttling = { url = "https://hr.example.com/forum/1", confirmed = false, kind = "community" }
"""


def made_up(text: str = PRESET, /, **sources: Any) -> dict[str, Any]:
    preset = tomllib.loads(text)
    for fact, value in sources.items():
        if value is None:
            del preset["sources"][fact.replace("__", ".")]
        else:
            preset["sources"][fact.replace("__", ".")] = value
    return preset


def test_a_complete_table_passes():
    assert catalog.check_sources(made_up()) == []


@pytest.mark.parametrize(
    "fact", ["base_url", "auth", "fields.email", "active", "list", "list.paging", "lookup.email"]
)
def test_a_required_fact_without_a_source_is_named(fact: str):
    assert catalog.check_sources(made_up(**{fact.replace(".", "__"): None})) == [
        f"{fact}: no source"
    ]


def test_paging_needs_no_source_when_the_list_does_not_page():
    text = PRESET.replace('paging = { style = "page" }', "")
    assert catalog.check_sources(made_up(text, list__paging=None)) == []


@pytest.mark.parametrize("fact", ["fields.mobile", "lookup.employee_id", "ratelimit", "list.pages"])
def test_a_key_naming_no_fact_of_the_preset_is_refused(fact: str):
    problems = catalog.check_sources(made_up(**{fact.replace(".", "__"): "https://x.example"}))
    assert problems == [f"{fact}: the preset has no such fact"]


@pytest.mark.parametrize(
    "url", ["http://hr.example.com/docs", "hr.example.com/docs", "https://", "ftp://x", ""]
)
def test_a_url_that_is_not_https_is_refused(url: str):
    assert catalog.check_sources(made_up(auth=url)) == [f"auth: not an https URL: {url!r}"]
    assert catalog.check_sources(made_up(auth={"url": url})) == [f"auth: not an https URL: {url!r}"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"note": "no url"}, "not an https URL: None"),
        ({"url": "https://x.example", "kind": "blog"}, "`kind` is one of"),
        ({"url": "https://x.example", "confirmed": "no"}, "`confirmed` is true or false"),
        ({"url": "https://x.example", "seen": "2026"}, "unknown key 'seen'"),
        (["https://x.example"], "a source is a URL or a table with `url`"),
    ],
)
def test_a_malformed_source_is_refused(value: Any, problem: str):
    problems = catalog.check_sources(made_up(auth=value))
    assert len(problems) == 1 and problems[0].startswith(f"auth: {problem}"), problems


def test_a_nested_table_reads_as_dotted_keys():
    text = PRESET.replace('"fields.employee_id" = ', "fields.employee_id = ")
    assert catalog.raw_sources(tomllib.loads(text))["fields.employee_id"].endswith("/person")
    assert catalog.check_sources(tomllib.loads(text)) == []
