"""rest_directory: an HR system's REST API as the profile source by configuration, run through the
Microsoft Graph and Keka presets against their vendors' fakes (tests/fakes/hr/; the conformance
kit runs every preset in test_hr_presets.py), and the engine's parts: lookups, escaping, paging
styles, 429 with Retry-After, refused credentials, presets overridden, points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConnectorError, UpstreamAuthFailed
from connectors.hr.rest_directory import RestDirectoryConnector
from connectors.registry import BadOptions, validate_options
from tests.fakes.hr import Person, people
from tests.fakes.hr.graph import GraphApi
from tests.fakes.hr.keka import KekaApi

CLIENT_ID = "5e1f-client"
CLIENT_SECRET = "graph-client-secret-9f8e7d"
KEKA_SECRET = "keka-client-secret-1a2b3c"
KEKA_API_KEY = "keka-api-key-4d5e6f"


def build(options: dict[str, Any]) -> RestDirectoryConnector:
    return RestDirectoryConnector(**validate_options(RestDirectoryConnector, options))


def graph_options(tmp_path: Path, **more: Any) -> dict[str, Any]:
    return {
        "preset": "microsoft_graph",
        "tenant": GraphApi.tenant,
        "auth": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        "index_path": str(tmp_path / "graph.index"),
        "http": {"attempts": 3, "budget_seconds": 2},
        **more,
    }


def keka_options(tmp_path: Path, **more: Any) -> dict[str, Any]:
    return {
        "preset": "keka",
        "tenant": KekaApi.company,
        "auth": {
            "client_id": CLIENT_ID,
            "client_secret": KEKA_SECRET,
            "token_secrets": {"api_key": KEKA_API_KEY},
        },
        "index_path": str(tmp_path / "keka.index"),
        "http": {"attempts": 3, "budget_seconds": 2},
        **more,
    }


STAFF = [
    Person("E1001", "Pam.Beesly@Example.com", "Pam", "Beesly", "+919800000001"),
    Person("E1002", "jim@example.com", "Jim", "Halpert", "+919800000002"),
    Person("E1003", "o'brien@example.com", "Conan", "O'Brien"),
    Person("E1004", "gone@example.com", "Toby", "Flenderson", active=False),
    *people(5),
]


@pytest.fixture
def graph(mock) -> GraphApi:
    api = GraphApi(list(STAFF), CLIENT_ID, CLIENT_SECRET)
    api.mount(mock)
    return api


@pytest.fixture
def keka(mock) -> KekaApi:
    api = KekaApi(list(STAFF), CLIENT_ID, KEKA_SECRET, KEKA_API_KEY)
    api.mount(mock)
    return api


def test_graph_lookups_are_one_filtered_call_each_with_the_preset_s_fields(graph, tmp_path):
    connector = build(graph_options(tmp_path))
    pam = connector.find("email", "pam.beesly@example.com")
    assert (pam.employee_id, pam.first_name, pam.designation, pam.company) == (
        "E1001",
        "Pam",
        "Engineer",
        "Contoso",
    )
    assert graph.calls == [
        "GET /users?%24filter=mail+eq+%27pam.beesly%40example.com%27&%24select="
        + "id%2CemployeeId%2Cmail%2CuserPrincipalName%2CgivenName%2Csurname%2CmobilePhone"
        + "%2CjobTitle%2Cdepartment%2CcompanyName%2CaccountEnabled"
    ]
    assert connector.find("mobile", "+919800000002").employee_id == "E1002"


def test_a_quote_in_a_value_is_escaped_and_cannot_widen_the_filter(graph, tmp_path):
    connector = build(graph_options(tmp_path))
    assert connector.find("email", "o'brien@example.com").employee_id == "E1003"
    hostile = "nobody@example.com' or mail eq 'jim@example.com"
    assert connector.find("email", hostile) is None
    assert connector.find("employee_id", "E1002' or employeeId ne '") is None
    assert connector.find("employee_id", "../users/E1002") is None


def test_people_who_left_are_found_inactive(graph, keka, tmp_path):
    assert build(graph_options(tmp_path)).find("employee_id", "E1004").active is False
    assert build(keka_options(tmp_path)).find("employee_id", "E1004").active is False
    assert build(keka_options(tmp_path)).find("employee_id", "E1001").active is True


def test_a_list_is_read_across_pages_into_the_directory_index(graph, keka, tmp_path):
    keka.people = people(250)
    connector = build(keka_options(tmp_path))
    assert connector.find("email", "PERSON.249@example.com").employee_id == "E0249"
    pages = [c for c in keka.calls if "/hris/employees" in c]
    assert len(pages) == 3, pages
    assert connector.find("mobile", "+919700000007").employee_id == "E0007"
    assert len([c for c in keka.calls if "/hris/employees" in c]) == 3  # answered from the index

    graph.people = people(7)
    no_lookups = {"employee_id": False, "email": False, "mobile": False}
    listing = build(graph_options(tmp_path, lookup=no_lookups, list={"query": {"$top": "3"}}))
    assert listing.find("employee_id", "E0006").email == "person.6@example.com"
    assert len(graph.calls) == 3  # 3 + 3 + 1, each by @odata.nextLink


def test_429_is_waited_out_as_retry_after_says(graph, tmp_path):
    connector = build(graph_options(tmp_path))
    graph.throttle(2)
    assert connector.find("employee_id", "E1002").email == "jim@example.com"
    assert graph.throttled == 0


def test_refused_credentials_are_an_auth_failure_that_names_no_secret(graph, tmp_path):
    options = graph_options(tmp_path)
    options["auth"]["client_secret"] = "wrong-secret-123"
    with pytest.raises(UpstreamAuthFailed) as refused:
        build(options).find("employee_id", "E1001")
    assert "wrong-secret-123" not in str(refused.value)


def test_preset_options_are_overridden_table_by_table(graph, tmp_path):
    graph.people[0].extra = {"employeeType": "Contractor", "mailNickname": "pambeesly"}
    connector = build(graph_options(tmp_path, fields={"designation": "employeeType"}))
    pam = connector.find("employee_id", "E1001")
    assert pam.designation == "Contractor" and pam.first_name == "Pam"  # the rest as preset


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"preset": "peoplesoft"}, "unknown preset"),
        ({"tenant": None}, "needs `tenant`"),
        ({"fields": {"points_balance": "x"}}, "unknown profile fields"),
        ({"lookup": {"email": {"path": "/users/{member}"}}}, "unknown placeholder"),
        ({"auth": {"client_secret": None}}, "needs client_secret"),
    ],
)
def test_bad_options_are_named(tmp_path, change, complaint):
    options = graph_options(tmp_path)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(options.get(key), dict):
            options[key] = {**options[key], **value}
        else:
            options[key] = value
    with pytest.raises(BadOptions) as bad:
        validate_options(RestDirectoryConnector, options)
    assert complaint in str(bad.value.messages)


def test_a_system_that_cannot_search_by_an_identity_says_so(graph, tmp_path):
    connector = build(graph_options(tmp_path, lookup={"mobile": False}, list=False))
    assert connector.identities == ("employee_id", "email")
    with pytest.raises(ConnectorError, match="cannot find people by mobile"):
        connector.find("mobile", "+919800000001")


def test_a_system_that_keeps_points_is_a_grants_source(keka, tmp_path):
    from decimal import Decimal

    keka.people[0].extra = {"rewardPoints": "120.50"}
    connector = build(keka_options(tmp_path, points="rewardPoints"))
    pam = connector.find("employee_id", "E1001")
    assert connector.granted(pam) == Decimal("120.50")
    jim = connector.find("employee_id", "E1002")
    assert connector.granted(jim) is None


def test_every_credential_is_known_as_a_secret_for_redaction(tmp_path):
    from connectors.registry import secret_values

    loaded = validate_options(RestDirectoryConnector, keka_options(tmp_path))
    assert {KEKA_SECRET, KEKA_API_KEY} <= set(secret_values(RestDirectoryConnector, loaded))


class PagedApi:
    """A directory API paging its list one of the ways the systems this market runs do, 2
    people a page: a cursor in the answer sent back in the query or in a POSTed body
    (cursor APIs such as HiBob's tables or Slack's), the next page's URL in an RFC 8288 Link
    header (GitHub-style), or OData v2's `d.__next` (SAP SuccessFactors)."""

    base = "https://hr.example.com/api"

    def __init__(self, style: str, count: int = 7) -> None:
        self.style = style
        self.people = [
            {"id": f"P{i}", "mail": f"p{i}@example.com", "first": f"F{i}", "active": True}
            for i in range(count)
        ]
        self.calls = 0

    def mount(self, mock: Any) -> None:
        import re

        for method in ("GET", "POST"):
            mock.add_callback(method, re.compile(re.escape(self.base) + ".*"), callback=self)

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        import json
        from urllib.parse import parse_qs, urlsplit

        self.calls += 1
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        body = json.loads(request.body) if request.body else {}
        at = int(query.get("cursor") or body.get("cursor") or query.get("skip") or 0)
        page, after = self.people[at : at + 2], at + 2
        more = after < len(self.people)
        headers: dict[str, str] = {}
        if self.style in ("cursor", "cursor_body"):
            answer: dict[str, Any] = {"items": page, "meta": {"next": str(after) if more else None}}
        elif self.style == "link":
            answer = {"items": page}
            if more:
                headers["Link"] = f'<{self.base}/people?skip={after}>; rel="next"'
        else:  # odata v2
            answer = {
                "d": {
                    "results": page,
                    **({"__next": f"{self.base}/people?skip={after}"} if more else {}),
                }
            }
        return 200, headers, json.dumps(answer)


@pytest.mark.parametrize(
    ("style", "paging", "results"),
    [
        ("cursor", {"style": "cursor", "param": "cursor", "cursor_path": "meta.next"}, "items"),
        (
            "cursor_body",
            {"style": "cursor", "param": "cursor", "cursor_path": "meta.next", "cursor_in": "body"},
            "items",
        ),
        ("link", {"style": "link"}, "items"),
        ("odata", {"style": "next_url", "next_path": "d.__next"}, "d.results"),
    ],
)
def test_every_paging_style_reads_the_whole_list(mock, tmp_path, style, paging, results):
    api = PagedApi(style)
    api.mount(mock)
    listing = {"path": "/people", "results": results, "paging": paging}
    if style == "cursor_body":
        listing |= {"method": "POST", "body": {"fields": ["id", "mail"]}}
    connector = build(
        {
            "base_url": PagedApi.base,
            "fields": {"employee_id": "id", "email": "mail", "first_name": "first"},
            "list": listing,
            "index_path": str(tmp_path / f"{style}.index"),
        }
    )
    assert connector.find("email", "P6@example.com".lower()).employee_id == "P6"
    assert api.calls == 4  # 2 + 2 + 2 + 1


def test_a_next_page_on_another_host_is_not_followed(mock, tmp_path):
    import json
    import re

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        page = {"items": [{"id": "P0", "mail": "p0@example.com"}]}
        return 200, {}, json.dumps({**page, "next": "https://attacker.example.net/steal"})

    mock.add_callback("GET", re.compile(r"https://hr\.example\.com/.*"), callback=answer)
    connector = build(
        {
            "base_url": "https://hr.example.com/api",
            "fields": {"employee_id": "id", "email": "mail"},
            "list": {
                "path": "/people",
                "results": "items",
                "paging": {"style": "next_url", "next_path": "next"},
            },
            "index_path": str(tmp_path / "x.index"),
            "http": {"attempts": 1},
        }
    )
    with pytest.raises(ConnectorError, match="another host"):
        connector.find("email", "p0@example.com")


def test_points_are_read_exactly_never_through_a_float(mock, tmp_path):
    from decimal import Decimal

    body = '{"items": [{"id": "P1", "mail": "p1@example.com", "points": 12345678901234.5678}]}'
    mock.add("GET", "https://hr.example.com/api/people", body=body)
    connector = build(
        {
            "base_url": "https://hr.example.com/api",
            "fields": {"employee_id": "id", "email": "mail"},
            "points": "points",
            "lookup": {"employee_id": {"path": "/people", "results": "items"}},
        }
    )
    person = connector.find("employee_id", "P1")
    assert connector.granted(person) == Decimal("12345678901234.5678")
