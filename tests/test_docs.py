"""The documentation: the README's tour works as pasted, the site builds strictly, and the
configuration reference, config/example.toml and config/examples/ agree with the schemas."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.registry import available, validate_options
from gateway import reference
from gateway.config import load_settings
from tests.servers import REPO, clean_env, free_port, running

README = REPO / "README.md"
EXAMPLES = sorted((REPO / "config" / "examples").glob("*.toml"))


def test_the_reference_page_is_generated_from_the_schemas():
    page = REPO / "docs" / "reference" / "configuration.md"
    assert page.read_text() == reference.render(), (
        "run: .venv/bin/python -m gateway.reference > docs/reference/configuration.md"
    )


def test_example_toml_names_exactly_the_keys_the_schemas_know():
    missing, unknown = reference.disagreements(
        reference.gateway_keys(), reference.gateway_documented()
    )
    assert (missing, unknown) == ([], [])
    described = reference.gateway_documented()
    assert [k for k in described if not described[k]] == []


@pytest.mark.parametrize("name", sorted(available()))
def test_the_examples_name_exactly_each_connector_s_options(name: str):
    named = reference.connector_documented(name)
    missing, unknown = reference.disagreements(reference.connector_keys(name), named)
    assert (missing, unknown) == ([], []), f"config/examples/ and {name}'s options disagree"
    assert [k for k in named if not named[k]] == []


def test_the_checker_sees_a_key_the_schemas_do_not_know():
    text = "[gateway]\nsecret_key = 'x'\n# tokn_ttl_seconds = 5   # a typo\n"
    missing, unknown = reference.disagreements(reference.gateway_keys(), reference.documented(text))
    assert unknown == ["gateway.tokn_ttl_seconds"] and "gateway.token_ttl_seconds" in missing


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_loads_through_the_real_loader(path: Path):
    settings = load_settings(path, {})
    assert settings.profile.name in available() and settings.points.name in available()


def test_the_examples_cover_every_connector_and_way_of_keeping_points():
    used = set()
    for path in EXAMPLES:
        settings = load_settings(path, {})
        used |= {("profile", settings.profile.name), ("points", settings.points.name)}
    assert {name for _, name in used} == set(available())
    assert {("points", p) for p in ("csv", "successfactors", "sql_ledger", "rest_ledger")} <= used


def test_the_readme_is_short_and_its_links_resolve():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        assert (REPO / target).exists(), target


def docs_tool() -> str:
    """The program `make docs` runs from the venv ($(BIN)/NAME in its recipe)."""
    recipe = (REPO / "Makefile").read_text().split("\ndocs:", 1)[1].split("\n\n", 1)[0]
    found = re.search(r"\$\(BIN\)/([\w-]+)", recipe)
    assert found is not None, recipe
    return found.group(1)


def make_docs(
    tmp_path: Path, broken: str | None = None
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`make docs` on a copy of the site's sources (the tool builds inside its project only),
    with `broken` appended to security.md; the test's venv stands in for .venv."""
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("Makefile", "pyproject.toml", "mkdocs.yml"):
        shutil.copy(REPO / name, copy / name)
    shutil.copytree(REPO / "docs", copy / "docs")
    if broken:
        with (copy / "docs" / "security.md").open("a") as page:
            page.write(f"\n{broken}\n")
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "docs",
            "TEST_STAMP=",
            f"BIN={Path(sys.executable).parent}",
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=180,
        env=clean_env(),
    )
    return done, copy / "site"


NO_DOCS_TOOL = (
    shutil.which("make") is None or not (Path(sys.executable).parent / docs_tool()).exists()
)


@pytest.mark.skipif(
    NO_DOCS_TOOL, reason="make, or the docs tool (pip install -e '.[test]'), is absent"
)
def test_make_docs_builds_the_site_with_search_and_says_one_line(tmp_path: Path):
    """No INFO lines, no notice from the tool about its own future: one line says where."""
    done, site = make_docs(tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert done.stderr == "" and done.stdout == "docs: the site is in site/\n", done.stdout
    assert (site / "reference" / "configuration" / "index.html").exists()
    [index] = [p for p in site.rglob("search*.json")]  # the search box's index
    assert "token_ttl_seconds" in index.read_text()


@pytest.mark.skipif(
    NO_DOCS_TOOL, reason="make, or the docs tool (pip install -e '.[test]'), is absent"
)
@pytest.mark.parametrize(
    "broken", ["[nowhere](no-such-page.md)", "[no anchor](operating.md#no-such-section)"]
)
def test_make_docs_fails_on_a_broken_link_or_anchor_and_says_where(tmp_path: Path, broken: str):
    done, _ = make_docs(tmp_path, broken)
    said = done.stdout + done.stderr
    assert done.returncode != 0 and "security.md" in said, said[-3000:]


def test_every_page_is_in_the_nav():
    """A page left out of mkdocs.yml's nav is built but found by nobody."""
    import yaml

    def pages(nav: object) -> set[str]:
        if isinstance(nav, str):
            return {nav} if nav.endswith(".md") else set()
        if isinstance(nav, dict):
            return set().union(*map(pages, nav.values())) if nav else set()
        if isinstance(nav, list):
            return set().union(*map(pages, nav)) if nav else set()
        return set()

    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    on_disk = {str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md")}
    assert on_disk - pages(config["nav"]) == set()


def tour() -> list[tuple[str, str | None]]:
    """The tour's shell blocks, each with the JSON block that follows it (if any)."""
    section = README.read_text().split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(sh|json)\n(.*?)```", section, re.S)
    steps: list[tuple[str, str | None]] = []
    for kind, body in blocks:
        if kind == "sh":
            steps.append((body, None))
        else:
            steps[-1] = (steps[-1][0], body.strip())
    return steps


@pytest.mark.slow
def test_the_readme_tour_works_as_pasted(tmp_path: Path):
    port = free_port()
    env = clean_env(GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'journal.db'}")
    argv = [sys.executable, "-m", "gateway", "serve", "--config", "config/demo.toml"]
    argv += ["--bind", f"127.0.0.1:{port}", "--workers", "1"]
    steps = tour()
    assert len(steps) >= 5
    script = "set -e\n" + "\necho '@@@'\n".join(
        command.replace("localhost:8000", f"localhost:{port}") for command, _ in steps
    )
    bin_dir = Path(sys.executable).parent
    with running(argv, f"http://127.0.0.1:{port}", env=env):
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=REPO,
            env={**env, "PATH": f"{bin_dir}:{env['PATH']}"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    outputs = done.stdout.split("@@@\n")
    assert len(outputs) == len(steps)
    for (command, expected), output in zip(steps, outputs, strict=True):
        if expected is None:
            assert output.strip(), command
            continue
        if "..." in expected:  # an abridged answer: what is shown is how it begins
            shown = expected.split("...", 1)[0]
            assert output.replace(" ", "").startswith(shown.replace(" ", "")), (command, output)
        else:
            assert json.loads(output) == json.loads(expected), (command, output)


def test_each_preset_s_page_is_generated_from_it_and_its_configuration_is_valid():
    from connectors.hr import catalog
    from connectors.hr.presets import presets
    from connectors.hr.rest_directory import RestDirectoryConnector

    for name in presets():
        page = REPO / "docs" / "connectors" / "hr" / f"{name}.md"
        assert page.exists() and page.read_text() == catalog.render(name), (
            f"run: .venv/bin/python -m connectors.hr.catalog docs/connectors/hr ({name})"
        )
        loaded = validate_options(RestDirectoryConnector, catalog.example_options(name))
        assert loaded["base_url"].startswith("https://"), name
