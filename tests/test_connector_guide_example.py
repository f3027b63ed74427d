"""The example connectors of docs/writing-a-connector.md and their kit tests, run exactly as
printed, and its block of what the gateway calls, checked against connectors/base.py."""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import sys
from decimal import Decimal

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError

import connectors.base
from tests.guide_examples import GUIDE, as_module, guide_blocks, install

CONNECTOR_CODE, TEST_CODE = guide_blocks("example-connector")
LEDGER_CODE, LEDGER_TEST_CODE = guide_blocks("example-ledger")
(API_CODE,) = guide_blocks("api", 1)

# Each connector block is the module `connector` of the integrator's package.
install(
    "acme_peoplehub.connector",
    as_module("acme_peoplehub.connector", CONNECTOR_CODE, "writing-a-connector.md (connector)"),
)
install(
    "acme_vault.connector",
    as_module("acme_vault.connector", LEDGER_CODE, "writing-a-connector.md (ledger)"),
)

# The test blocks define TestPeopleHub and TestVault; they run below as TestGuide*.
guide_test: dict = {}
exec(compile(TEST_CODE, "writing-a-connector.md (test)", "exec"), guide_test)
ledger_test: dict = {}
exec(compile(LEDGER_TEST_CODE, "writing-a-connector.md (ledger test)", "exec"), ledger_test)

# The examples are not installed as packages in this repository, so they have no entry point;
# an integrator's installed package passes this check.
NOT_INSTALLED = "the guide's example is not an installed package here"


class TestReadmePeopleHub(guide_test["TestPeopleHub"]):
    @pytest.mark.skip(reason=NOT_INSTALLED)
    def test_is_found_by_its_entry_point(self, connector):
        pass


class TestGuideVault(ledger_test["TestVault"]):
    @pytest.mark.skip(reason=NOT_INSTALLED)
    def test_is_found_by_its_entry_point(self, connector):
        pass


def test_the_example_connector_is_under_60_lines():
    code = [line for line in CONNECTOR_CODE.splitlines() if line.strip()]
    assert len(code) <= 60, len(code)


def test_the_example_ledger_is_under_150_lines():
    code = [line for line in LEDGER_CODE.splitlines() if line.strip()]
    assert len(code) <= 150, len(code)


def _members(cls: ast.ClassDef) -> dict[str, str]:
    """Each method's signature and each annotated attribute's annotation and value, as text."""
    found = {}
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            returns = ast.unparse(node.returns) if node.returns else ""
            found[node.name] = f"({ast.unparse(node.args)}) -> {returns}"
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            value = ast.unparse(node.value) if node.value else ""
            found[node.target.id] = f"{ast.unparse(node.annotation)} = {value}"
    return found


def _public_methods(cls: ast.ClassDef) -> set[str]:
    return {
        node.name
        for node in cls.body
        if isinstance(node, ast.FunctionDef)
        and not node.name.startswith("_")
        and not any(ast.unparse(d) in ("property", "classmethod") for d in node.decorator_list)
    }


API_CLASSES = [node for node in ast.parse(API_CODE).body if isinstance(node, ast.ClassDef)]


@pytest.mark.parametrize("documented", API_CLASSES, ids=[c.name for c in API_CLASSES])
def test_the_guide_s_api_is_connectors_base(documented: ast.ClassDef):
    """Each signature and field the guide shows is the code's, and it shows every field and
    every method a connector writes."""
    (real,) = ast.parse(inspect.getsource(getattr(connectors.base, documented.name))).body
    assert isinstance(real, ast.ClassDef)
    shown, actual = _members(documented), _members(real)
    assert {name: actual.get(name) for name in shown} == shown
    fields = {name for name, text in actual.items() if not text.startswith("(")}
    assert fields <= set(shown), f"{documented.name}: the guide leaves out {fields - set(shown)}"
    assert _public_methods(real) <= set(shown), documented.name


# -- the guide's table of what each of Vault's methods raises, for each answer ---------------
TABLE_HEAD = "| Answer | `balance` | `debit`, `credit` | `lookup` | `check` |"
VAULT = "https://vault.acme.example/api"
PAM = connectors.base.Profile("DB123", "pam@example.com", "Pam", "B")


def _table() -> list[list[str]]:
    text = GUIDE.read_text(encoding="utf-8")
    lines = text[text.index(TABLE_HEAD) :].splitlines()[2:]
    rows = [line for line in itertools.takewhile(lambda line: line.startswith("|"), lines)]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def _refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "[Errno 111] Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, VAULT, reason))  # type: ignore[arg-type]


#: How the fake answers for each row: an exception, (status, body), or the guide's FakeVault.
ANSWERS: dict[str, object] = {
    "connection refused, DNS (retried)": _refused(),
    "timeout or reset after sending": requests.ReadTimeout("read timed out"),
    "500, 502, 503, 504": (503, "<error/>"),
    "429": (429, "<error/>"),
    "breaker open": "breaker",
    "401, 403": (401, "<error>BAD_KEY</error>"),
    "200 / 201": "vault",
    "404": (404, "<error/>"),
    "409": "vault",
    "422": (422, "<error>INSUFFICIENT_FUNDS</error>"),
    "another 4xx": (418, "<error/>"),
    "another 5xx": (501, "<error/>"),
    "not XML": "not xml",
}
TABLE = _table()


@pytest.mark.parametrize("row", TABLE, ids=[row[0] for row in TABLE])
def test_the_guide_s_table_is_what_vault_raises(row: list[str]):
    answer = ANSWERS[row[0]]
    vault = ledger_test["FakeVault"]()
    vault.entries["held"] = {"id": "E9", "member": "DB123", "kind": "debit", "amount": "700"}

    def callback(request):
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, tuple):
            return answer[0], {}, answer[1]
        if answer == "not xml":
            return (200 if request.method == "GET" else 201), {}, "oops"
        return vault(request)

    ledger = sys.modules["acme_vault.connector"].VaultLedger
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST"):
            mock.add_callback(method, re.compile(re.escape(VAULT) + "/.*"), callback)
        connector = ledger(VAULT, "vault-key-5ec7e7", {"attempts": 2, "budget_seconds": 1})
        if answer == "breaker":
            vault.down = True
            for _ in range(5):
                with pytest.raises(connectors.base.UpstreamUnavailable):
                    connector.balance(PAM)
            vault.down = False
        reference = "held" if row[0] == "409" else "new"
        calls = {
            "balance": lambda: connector.balance(PAM),
            "debit": lambda: connector.debit(PAM, reference, Decimal("10.5")),
            "lookup": lambda: connector.lookup("held"),
            "check": connector.check,
        }
        for (name, call), cell in zip(calls.items(), row[1:], strict=True):
            said = _said(row[1] if cell.startswith("as `balance`") else cell)
            if said is not None:
                assert _gives(call, name, said), (row[0], name, cell)


def _said(cell: str) -> str | None:
    """What a cell says a call gives: its first `name`, "passes", or None (not applicable)."""
    found = re.search(r"`([^`(]+)", cell)
    return found.group(1) if found else ("passes" if cell.startswith("passes") else None)


def _gives(call, name: str, said: str) -> bool:
    """Whether `call` raises the error `said` names (or a subclass), or answers it."""
    try:
        result = call()
    except connectors.base.ConnectorError as exc:
        return isinstance(exc, getattr(connectors.base, said, ()))
    if result is None:
        return said == ("passes" if name == "check" else "None")
    return type(result).__name__ == said


def test_every_answer_of_the_table_is_tried():
    assert [row[0] for row in TABLE] == list(ANSWERS)
