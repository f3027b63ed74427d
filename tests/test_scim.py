"""The scim connector (connectors/hr/scim.py) through the conformance kit and beyond it, against a
SCIM 2.0 service provider written from RFC 7643 and RFC 7644 (tests/fakes/hr/scim.py): its
filters and how a value is written into them, the enterprise extension's employeeNumber, paging
by startIndex and count, people who left, throttling, token renewal, loose providers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConnectorError, UpstreamAuthFailed, UpstreamError
from connectors.hr.scim import ScimConnector
from connectors.registry import validate_options
from connectors.testing import ProfileSourceContract
from tests.fakes.hr import Person, found_at_once, people
from tests.fakes.hr.registry import ID, SECRET
from tests.fakes.hr.scim import SCIM_TOKEN, ScimProvider

STAFF = [
    Person("E1001", "Pam.Beesly@Example.com", "Pam", "Beesly", "+919800000001"),
    Person("E1002", "jim@example.com", "Jim", "Halpert", "+919800000002"),
    Person("E1004", "gone@example.com", "Toby", "Flenderson", "+919800000004", active=False),
    *people(4),
]
KNOWN = {"employee_id": "E1001", "email": "Pam.Beesly@Example.com", "mobile": "+919800000001"}
OAUTH = {
    "type": "oauth2_client_credentials",
    "token_url": ScimProvider.token_url,
    "client_id": ID,
    "client_secret": SECRET,
}


def build(tmp_path: Path, **options: Any) -> ScimConnector:
    given = {
        "base_url": ScimProvider.base,
        "auth": {"type": "bearer", "token": SCIM_TOKEN},
        "index_path": str(tmp_path / "scim.index"),
        "http": {"attempts": 3, "budget_seconds": 2},
        **options,
    }
    return ScimConnector(**validate_options(ScimConnector, given))


@pytest.fixture
def fake(mock: Any) -> ScimProvider:
    provider = ScimProvider(list(STAFF), ID, SECRET)
    provider.mount(mock)
    return provider


class TestScim(ProfileSourceContract):
    @pytest.fixture
    def connector(self, fake, tmp_path):
        return build(tmp_path)

    @pytest.fixture
    def known(self):
        return KNOWN

    @pytest.fixture
    def backend_down(self, fake):
        return lambda: setattr(fake, "down", True)

    @pytest.fixture
    def secrets(self):
        return [SCIM_TOKEN]


def test_the_filters_are_the_rfc_s(fake, tmp_path):
    connector = build(tmp_path)
    urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
    assert connector.filter_for("employee_id", "E1001") == f'{urn} eq "E1001"'
    assert connector.filter_for("email", "a@b.com") == 'emails[value eq "a@b.com"]'
    by_name = build(tmp_path, email="userName", employee_id="externalId")
    assert by_name.filter_for("email", "a@b.com") == 'userName eq "a@b.com"'
    assert by_name.filter_for("employee_id", "x") == 'externalId eq "x"'


def test_the_employee_number_is_the_enterprise_extension_s(fake, tmp_path):
    """Its key holds dots ("2.0"): read as the extension's own object, not a dotted path."""
    found = build(tmp_path).find("employee_id", "E1002")
    assert found is not None and found.email == "jim@example.com"
    assert found.department == "Platform" and found.company == "Example Corp"
    assert fake.filters[-1] == ("employeeNumber", "eq", "E1002")


def test_the_profile_takes_the_primary_email_and_the_mobile_typed_number(fake, tmp_path):
    found = build(tmp_path).find("email", "jim@example.com")
    assert found is not None
    assert (found.email, found.mobile) == ("jim@example.com", "+919800000002")
    assert (found.first_name, found.last_name, found.designation) == ("Jim", "Halpert", "Engineer")


def test_an_address_that_is_not_the_profile_s_finds_nobody(fake, tmp_path):
    """The provider finds Jim by his home address; the profile's address is his work one."""
    assert build(tmp_path).find("email", "jim.home@personal.example") is None
    assert fake.filters[-1] == ("emails.value", "eq", "jim.home@personal.example")


def test_a_work_number_is_no_mobile(fake, tmp_path):
    connector = build(tmp_path)
    assert connector.find("mobile", "+1 555 010 0001") is None
    assert connector.find("mobile", "+919800000002").employee_id == "E1002"


def test_people_who_left_are_found_inactive(fake, tmp_path):
    connector = build(tmp_path)
    by_lookup = connector.find("email", "gone@example.com")
    assert by_lookup is not None and by_lookup.active is False
    by_index = connector.find("mobile", "+919800000004")
    assert by_index is not None and by_index.active is False


def test_a_user_without_active_is_inactive_unless_told(fake, tmp_path):
    fake.without_active = True
    assert build(tmp_path).find("employee_id", "E1002").active is False
    told = build(tmp_path, active_when_missing="active")
    assert told.find("employee_id", "E1002").active is True


@pytest.mark.parametrize(
    "hostile",
    [
        'jim@example.com" or userName eq "pam.beesly@example.com',
        'jim@example.com"] or emails[value co "@',
        "jim@example.com\\",
        'jim@example.com\\"',
        '"',
        "\\",
        "jim@example.com\u0000",
        "jim@example.com\nx",
        "*",
        "%",
    ],
)
@pytest.mark.parametrize("by", ["email", "employee_id"])
def test_a_value_stays_one_string_in_the_filter(fake, tmp_path, hostile, by):
    """RFC 7644 section 3.4.2.2: compValue is a JSON string; the provider reads back exactly
    the value asked, one comparison, whatever quotes or backslashes it holds."""
    assert build(tmp_path).find(by, hostile) is None
    attribute = "emails.value" if by == "email" else "employeeNumber"
    assert fake.filters == [(attribute, "eq", hostile.strip())]


def test_a_lone_surrogate_is_nobody_and_never_sent(fake, tmp_path):
    assert build(tmp_path).find("email", "jim\ud800@example.com") is None
    assert fake.calls == []


def test_a_list_is_read_by_start_index_across_pages_the_provider_cuts(fake, tmp_path):
    """count=100 asked, 40 given (the provider may return fewer): the next page starts after
    what came, and totalResults ends the read without an empty page."""
    fake.people = people(250)
    connector = build(tmp_path, lookup=[])
    assert connector.find("employee_id", "E0249").email == "person.249@example.com"
    starts = [call.split("startIndex=")[1].split("&")[0] for call in fake.calls]
    assert starts == ["1", "41", "81", "121", "161", "201", "241"]
    before = len(fake.calls)
    assert connector.find("email", "PERSON.3@example.com").employee_id == "E0003"
    assert len(fake.calls) == before  # answered from the index


def test_throttling_is_waited_out(fake, tmp_path):
    fake.throttle(2)
    assert build(tmp_path).find("email", "jim@example.com").employee_id == "E1002"
    assert fake.throttled == 0


def test_an_expired_token_is_renewed_once_under_16_threads(fake, tmp_path):
    connector = build(tmp_path, auth=OAUTH)
    assert connector.find("email", "jim@example.com") is not None
    assert fake.token_calls == 1
    fake.expire_tokens()
    found = found_at_once(connector)
    assert len(found) == 16 and all(p is not None for p in found)
    assert fake.token_calls == 2


def near(values: list[str]) -> list[Person]:
    return [Person(f"N{i}", v, f"N{i}", "Near", f"+91977000000{i}") for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        (["jo@x.com.au", "ajo@x.com", "jo@x.com"], "N2"),
        (["jo@x.com.au", "ajo@x.com"], None),
        (["Jo@X.com", "jo@x.com"], "refused"),
    ],
)
def test_a_loose_provider_s_matches_are_kept_only_when_exact(fake, tmp_path, held, expected):
    fake.people, fake.loose = near(held), True
    connector = build(tmp_path)
    if expected == "refused":
        with pytest.raises(UpstreamError, match="2 people have that email"):
            connector.find("email", "jo@x.com")
        return
    found = connector.find("email", "jo@x.com")
    assert (found.first_name if found else None) == expected


def test_a_folding_provider_does_not_make_ss_of_sharp_s(fake, tmp_path):
    fake.people, fake.loose = near(["hans.weiss@x.com"]), True
    assert build(tmp_path).find("email", "hans.weiß@x.com") is None


def test_an_answer_cut_short_is_refused_not_guessed_from(fake, tmp_path):
    fake.people, fake.loose = near([f"p{i}@x.com" for i in range(60)]), True
    fake.max_count = 100
    with pytest.raises(UpstreamError, match="60 users match that email and 50 came back"):
        build(tmp_path).find("email", "x.com")


def test_an_identity_the_provider_cannot_filter_by_says_what_to_do(fake, tmp_path):
    fake.ATTRIBUTES = {k: v for k, v in fake.ATTRIBUTES.items() if v[0] != "employeeNumber"}
    with pytest.raises(UpstreamError, match=r"invalidFilter.*left out of `lookup`"):
        build(tmp_path).find("employee_id", "E1002")
    assert build(tmp_path, lookup=["email"]).find("employee_id", "E1002").first_name == "Jim"


def test_check_refuses_a_wrong_token_and_fails_when_down(fake, tmp_path):
    build(tmp_path).check()
    with pytest.raises(UpstreamAuthFailed):
        build(tmp_path, auth={"type": "bearer", "token": "not-the-token"}).check()
    fake.down = True
    with pytest.raises(ConnectorError):
        build(tmp_path, lookup=[]).check()


def test_points_gateway_check_reads_a_person(fake, tmp_path, employees_csv):
    from click.testing import CliRunner

    from gateway.cli import main
    from tests.conftest import toml, write_config

    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}", identity="email")
    options = {
        "base_url": ScimProvider.base,
        "auth": {"type": "bearer", "token": SCIM_TOKEN},
        "index_path": str(tmp_path / "check.index"),
    }
    section = "\n".join(f"{k} = {toml(v)}" for k, v in options.items())
    path.write_text(
        path.read_text().replace(
            '[profile]\nconnector = "csv"\noptions = { path = "employees.csv" }',
            f'[profile]\nconnector = "scim"\n[profile.options]\n{section}\n',
        )
    )
    done = CliRunner().invoke(main, ["check", "--config", str(path), "--person", "jim@example.com"])
    assert done.exit_code == 0, done.output
    assert "profile  ok" in done.output and "lookup   found E1002 (active)" in done.output
    assert SCIM_TOKEN not in done.output
