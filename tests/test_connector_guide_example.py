"""The example connectors of docs/writing-a-connector.md and their kit tests, run exactly as
printed, and its block of what the gateway calls, checked against connectors/base.py."""

from __future__ import annotations

import ast
import inspect

import pytest

import connectors.base
from tests.guide_examples import as_module, guide_blocks, install

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
