"""What the Factorial, Deel, Sage HR, Gusto and ADP Workforce Now presets do beyond what every
preset is put through (tests/test_hr_presets.py), and the system no preset can describe: HROne
(no public API document), whose hand-written page must stay in the site and must not be
overwritten by the page generator."""

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
HAND_WRITTEN = {"hrone": "HROne"}


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


def adp(mock: Any, staff: list[Person]) -> Any:
    api = systems()["adp_workforce_now"].fake(staff)
    api.mount(mock)
    return api


def test_adp_refuses_a_connector_without_its_client_certificate(mock, tmp_path):
    """ADP takes no call, not even the token request, without the certificate it signed."""
    api = adp(mock, people(3))
    connector = build(systems()["adp_workforce_now"], tmp_path, http={"budget_seconds": 2})
    with pytest.raises(UpstreamAuthFailed, match="certificate was not presented"):
        connector.find("email", "person.1@example.com")
    assert api.without_cert >= 1 and api.token_calls == 0


def test_adp_is_called_with_the_certificate_the_token_request_included(mock, tmp_path):
    api = adp(mock, people(3))
    found = build(systems()["adp_workforce_now"], tmp_path).find("employee_id", "E0002")
    assert found is not None and (found.email, found.active) == ("person.2@example.com", True)
    assert api.without_cert == 0 and api.token_calls == 1


def test_adp_reads_its_list_to_the_204_past_the_last_worker(mock, tmp_path):
    """250 workers, 100 a page: three pages, then 204 No Content past the last ends the list."""
    api = adp(mock, people(250))
    assert build(systems()["adp_workforce_now"], tmp_path).find("employee_id", "E0249")
    skips = [re.search(r"%24skip=(\d+)", c).group(1) for c in api.calls]
    assert skips == ["0", "100", "200", "250"]  # the offset advances by the workers read
    assert all("%24top=100" in c for c in api.calls)


def test_adp_people_on_leave_are_inactive_unless_the_company_lets_them_redeem(mock, tmp_path):
    on_leave = {"workerStatus": {"statusCode": {"codeValue": "Inactive"}}}
    adp(mock, [Person("E1", "a@x.com", "A", "B", extra=on_leave)])
    assert build(systems()["adp_workforce_now"], tmp_path).find("email", "a@x.com").active is False
    (tmp_path / "lets").mkdir()
    lets = {"values": ["Active", "Inactive"]}
    found = build(systems()["adp_workforce_now"], tmp_path / "lets", active=lets).find(
        "email", "a@x.com"
    )
    assert found.active is True


def test_adp_s_page_is_generated_from_its_preset_now_that_a_certificate_can_be_configured():
    """The hand-written page said no connector could present a client certificate; the `http`
    table now takes one, so the page is the preset's, and says how to give it."""
    from connectors.hr import catalog
    from connectors.http import HttpOptions

    assert {"client_cert", "client_key", "ca_file"} <= set(HttpOptions().fields)
    page = (REPO / "docs" / "connectors" / "hr" / "adp_workforce_now.md").read_text()
    assert page == catalog.render("adp_workforce_now")
    assert "http.client_cert" in page and "client_cert = " in page
    nav = (REPO / "mkdocs.yml").read_text()
    assert "ADP Workforce Now: connectors/hr/adp_workforce_now.md" in nav
