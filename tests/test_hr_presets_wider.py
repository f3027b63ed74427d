"""What the Factorial, Deel, Sage HR and Gusto presets do beyond what every preset is put through
(tests/test_hr_presets.py), and the two systems no preset can describe: ADP Workforce Now (a
client certificate on every call) and HROne (no public API document), whose hand-written pages
must stay in the site and must not be overwritten by the page generator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from connectors.base import UpstreamAuthFailed
from connectors.hr.presets import presets
from tests.fakes.hr import Person, people
from tests.fakes.hr.gusto import GustoApi
from tests.fakes.hr.registry import ID, REFRESH, SECRET, systems
from tests.test_hr_presets import build

REPO = Path(__file__).resolve().parent.parent
HAND_WRITTEN = {"adp_workforce_now": "ADP Workforce Now", "hrone": "HROne"}


def gusto(mock: Any, staff: list[Person], revokes_used: bool = True) -> GustoApi:
    api = GustoApi(staff, ID, SECRET, REFRESH)
    api.revokes_used = revokes_used
    api.mount(mock)
    return api


def test_gusto_renews_with_the_refresh_token_it_was_last_given(mock, tmp_path):
    """Gusto revokes a refresh token once the access token it renewed is used: the renewal
    after an expiry must send the rotated one, not the configured one."""
    from connectors.directory import DirectoryIndex

    api = gusto(mock, people(3))
    connector = build(systems()["gusto"], tmp_path, directory_ttl_seconds=3600)
    assert connector.find("email", "person.1@example.com") is not None
    assert REFRESH not in api.refresh_tokens  # its access token was used: revoked
    api.expire_tokens()
    assert connector.directory is not None  # a fresh index: the list is read again
    connector.directory = DirectoryIndex(tmp_path / "again.index", connector.directory.names)
    assert connector.find("email", "person.2@example.com").employee_id == "E0002"
    assert api.token_calls == 2


def test_gusto_after_a_restart_the_configured_refresh_token_is_refused(mock, tmp_path):
    """The limit the Gusto page states: the renewed refresh token lives in memory only."""
    api = gusto(mock, people(3))
    assert build(systems()["gusto"], tmp_path).find("email", "person.1@example.com")
    (tmp_path / "restarted").mkdir()  # its own index: the restart reads the list again
    restarted = build(systems()["gusto"], tmp_path / "restarted")
    with pytest.raises(UpstreamAuthFailed):
        restarted.find("email", "person.2@example.com")
    assert api.token_calls == 1


def test_gusto_reads_its_list_to_an_empty_page(mock, tmp_path):
    """Gusto gives a page's totals in headers only: 250 people, 100 a page, four calls."""
    api = gusto(mock, people(250), revokes_used=False)
    connector = build(systems()["gusto"], tmp_path)
    assert connector.find("employee_id", "E0249").email == "person.249@example.com"
    pages = [c for c in api.calls if c.startswith("GET /employees")]
    assert [re.search(r"page=(\d+)", c).group(1) for c in pages] == ["1", "2", "3", "4"]
    assert all("per=100" in c for c in pages)


def test_gusto_takes_the_work_email_before_the_personal_one(mock, tmp_path):
    gusto(mock, people(2), revokes_used=False)
    connector = build(systems()["gusto"], tmp_path)
    assert connector.find("email", "home.1@mail.example") is None
    assert connector.find("email", "person.1@example.com").employee_id == "E0001"


def test_factorial_asks_for_everyone_including_people_who_left(mock, tmp_path):
    fake = systems()["factorial"].fake([Person("E1", "a@x.com", "A", "B", active=False)])
    fake.mount(mock)
    found = build(systems()["factorial"], tmp_path).find("email", "a@x.com")
    assert found is not None and found.active is False
    assert all("only_active=false" in c and "only_managers=false" in c for c in fake.calls)


def test_factorial_finds_an_employee_id_by_its_filter_not_the_list(mock, tmp_path):
    fake = systems()["factorial"].fake(people(5))
    fake.mount(mock)
    assert build(systems()["factorial"], tmp_path).find("employee_id", "E0003").first_name
    assert len(fake.calls) == 1 and "company_identifier=E0003" in fake.calls[0]


def test_deel_is_waited_out_without_retry_after(mock, tmp_path):
    """Deel answers 429 without any rate-limit header: the client backs off by itself."""
    fake = systems()["deel"].fake(people(3))
    fake.mount(mock)
    fake.throttle(2)
    assert build(systems()["deel"], tmp_path).find("email", "person.2@example.com")
    assert fake.throttled == 0


def test_deel_takes_the_first_of_a_person_s_emails(mock, tmp_path):
    fake = systems()["deel"].fake(people(2))
    fake.mount(mock)
    connector = build(systems()["deel"], tmp_path)
    assert connector.find("email", "home.1@mail.example") is None  # the second entry
    assert connector.find("employee_id", "E0001").email == "person.1@example.com"


def test_sage_hr_reads_every_page_of_fifty(mock, tmp_path):
    fake = systems()["sage_hr"].fake(people(120))
    fake.mount(mock)
    assert build(systems()["sage_hr"], tmp_path).find("employee_id", "E0119")
    assert [c.split("?")[1] for c in fake.calls] == ["page=1", "page=2", "page=3"]


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_a_hand_written_page_is_in_the_site_and_no_preset_overwrites_it(name):
    page = REPO / "docs" / "connectors" / "hr" / f"{name}.md"
    assert page.exists() and page.read_text().startswith(f"# {HAND_WRITTEN[name]}")
    assert name not in presets()  # `python -m connectors.hr.catalog` writes one page per preset
    nav = (REPO / "mkdocs.yml").read_text()
    assert f"connectors/hr/{name}.md" in nav


def test_the_adp_page_s_claim_holds_no_client_certificate_can_be_configured():
    """The ADP page says no connector option presents a TLS client certificate: when one is
    added, this fails, and the page (and perhaps a preset) should change."""
    from connectors.hr.auth import AuthOptions
    from connectors.http import HttpOptions

    names = set(AuthOptions().fields) | set(HttpOptions().fields)
    assert not {n for n in names if "cert" in n or "tls" in n or "ssl" in n}
    page = (REPO / "docs" / "connectors" / "hr" / "adp_workforce_now.md").read_text()
    assert "client certificate" in page and "csv" in page.lower()
