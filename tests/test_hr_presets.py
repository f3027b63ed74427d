"""Every rest_directory preset through the conformance kit against a fake of its vendor's
documented API (tests/fakes/hr/), and what issue 16 asks of each beyond the kit: people who
left, paging across at least three pages, throttling with Retry-After, an expired OAuth2 token
renewed once under 16 threads, values a system's own syntax would misread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.hr.rest_directory import RestDirectoryConnector
from connectors.registry import validate_options
from connectors.testing import ProfileSourceContract
from tests.fakes.hr import HrApi, Person, found_at_once, people
from tests.fakes.hr.registry import System, systems

STAFF = [
    Person("E1001", "Pam.Beesly@Example.com", "Pam", "Beesly", "+919800000001"),
    Person("E1002", "jim@example.com", "Jim", "Halpert", "+919800000002"),
    Person("E1004", "gone@example.com", "Toby", "Flenderson", "+919800000004", active=False),
    *people(4),
]
KNOWN = {"employee_id": "E1001", "email": "Pam.Beesly@Example.com", "mobile": "+919800000001"}


SYSTEMS = systems()


def build(system: System, tmp_path: Path, **more: Any) -> RestDirectoryConnector:
    options = {
        "preset": system.preset,
        "index_path": str(tmp_path / f"{system.preset}.index"),
        "http": {"attempts": 3, "budget_seconds": 2},
        **system.options,
        **more,
    }
    return RestDirectoryConnector(**validate_options(RestDirectoryConnector, options))


@pytest.fixture(params=sorted(SYSTEMS))
def system(request: pytest.FixtureRequest) -> System:
    return SYSTEMS[request.param]


@pytest.fixture
def fake(system: System, mock: Any) -> HrApi:
    api = system.fake(list(STAFF))
    api.mount(mock)
    return api


class TestEveryPreset(ProfileSourceContract):
    @pytest.fixture
    def connector(self, system, fake, tmp_path):
        return build(system, tmp_path)

    @pytest.fixture
    def known(self, system):
        return KNOWN if "mobile" in build_fields(system) else {**KNOWN, "mobile": ""}

    @pytest.fixture
    def backend_down(self, fake):
        return lambda: setattr(fake, "down", True)

    @pytest.fixture
    def secrets(self, system):
        return system.secrets


def build_fields(system: System) -> dict[str, str]:
    from connectors.hr.presets import presets

    return presets()[system.preset]["fields"]


def auth_type(system: System) -> str:
    from connectors.hr.presets import presets

    return str(presets()[system.preset].get("auth", {}).get("type", "none"))


def test_people_who_left_are_found_inactive(system, fake, tmp_path):
    gone = build(system, tmp_path).find("email", "gone@example.com")
    if system.keeps_leavers:
        assert gone is not None and gone.active is False
    else:
        assert gone is None  # documented in the preset: current workers only


def test_a_list_is_read_across_at_least_three_pages(system, fake, tmp_path):
    if not system.pages:
        pytest.skip(f"{system.preset} answers a list in one call (no paging, as documented)")
    fake.people = people(450 if system.preset == "zoho_people" else 250)
    smaller = {"list": {"query": {"$top": "100"}}} if system.preset == "microsoft_graph" else {}
    connector = build(system, tmp_path, **smaller)
    connector.lookups.clear()  # every identity from the index, to count the list's pages
    assert connector.find("employee_id", "E0249").email == "person.249@example.com"
    assert len(fake.calls) >= 3, fake.calls
    before = len(fake.calls)
    assert connector.find("email", "person.3@example.com").employee_id == "E0003"
    assert len(fake.calls) == before  # answered from the index


def test_throttling_is_waited_out(system, fake, tmp_path):
    connector = build(system, tmp_path)
    fake.throttle(2)
    assert connector.find("email", "jim@example.com").employee_id == "E1002"
    assert fake.throttled == 0


def test_an_expired_token_is_renewed_once_under_16_threads(system, fake, tmp_path):
    if not system.oauth2:
        pytest.skip(f"{system.preset} authenticates each call with Basic credentials")
    connector = build(system, tmp_path, directory_ttl_seconds=3600)
    assert connector.find("email", "jim@example.com") is not None
    assert fake.token_calls == 1
    fake.expire_tokens()
    if connector.directory is not None:  # a fresh index: its list read carries the token too
        from connectors.directory import DirectoryIndex

        connector.directory = DirectoryIndex(tmp_path / "again.index", connector.directory.names)
    found = found_at_once(connector)
    assert len(found) == 16 and all(p is not None for p in found)
    assert fake.token_calls == 2


@pytest.mark.parametrize(
    "hostile",
    [
        "jim@example.com', searchOperator: 'Contains', searchText: '",
        "jim@example.com' or mail eq 'pam.beesly@example.com",
        "*",
        "%",
        "../people",
        "jim@example.com\u0000",
    ],
)
def test_a_value_never_widens_a_search(system, fake, tmp_path, hostile):
    assert build(system, tmp_path).find("email", hostile) is None


def test_check_proves_the_credentials_and_one_lookup_and_names_empty_fields(
    system, fake, tmp_path, employees_csv
):
    from click.testing import CliRunner

    from connectors.base import PROFILE_FIELDS
    from gateway.cli import main
    from tests.conftest import toml, write_config

    def config(**auth: Any) -> Path:
        options = {"preset": system.preset, "index_path": str(tmp_path / "check.index")}
        options |= {**system.options, "auth": {**system.options["auth"], **auth}}
        path = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}", identity="email")
        section = "\n".join(f"{k} = {toml(v)}" for k, v in options.items())
        text = path.read_text().replace(
            '[profile]\nconnector = "csv"\noptions = { path = "employees.csv" }',
            f'[profile]\nconnector = "rest_directory"\n[profile.options]\n{section}\n',
        )
        path.write_text(text)
        return path

    runner = CliRunner()
    done = runner.invoke(main, ["check", "--config", str(config()), "--person", "jim@example.com"])
    assert done.exit_code == 0, done.output
    assert "profile  ok" in done.output and "lookup   found E1002 (active)" in done.output
    unmapped = [f for f in PROFILE_FIELDS if f not in build_fields(system)]
    if unmapped:
        assert f"empty: {', '.join(unmapped)}" in done.output
    nobody = runner.invoke(main, ["check", "--config", str(config()), "--person", "x@example.com"])
    assert nobody.exit_code == 1 and "lookup   nobody has email 'x@example.com'" in nobody.output
    wrong = "client_secret" if system.oauth2 else "password"
    # A key or token sent as it is (x-api-key, X-Auth-Token, Bearer): that key is the wrong one.
    wrong = {"api_key": "api_key", "bearer": "token"}.get(auth_type(system), wrong)
    if system.preset == "bamboohr":
        wrong = "username"
    refused = runner.invoke(main, ["check", "--config", str(config(**{wrong: "wrong-one"}))])
    assert refused.exit_code == 1 and "profile  upstream_auth_failed" in refused.output
    for secret in system.secrets:
        assert secret not in done.output + refused.output
