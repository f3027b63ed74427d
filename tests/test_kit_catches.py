"""The ledger kit fails a connector for each dangerous mistake, with a message that says what
is wrong. Each mistake is planted in the guide's Vault example (docs/writing-a-connector.md),
whose own kit test (from the guide too) is then run by pytest, in-process."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from tests.guide_examples import as_module, guide_blocks

pytest_plugins = ["pytester"]

LEDGER_CODE, LEDGER_TEST_CODE = guide_blocks("example-ledger")
CALL = (
    "        answer = self.client.request(method, self.base + path, idempotent=not write, **kw)\n"
)


@dataclass(frozen=True)
class Mistake:
    name: str
    old: str  # what the guide's connector says...
    new: str  # ...and what the mistaken one says instead
    tests: str  # the kit's tests to run (-k)
    says: tuple[str, ...]  # what the kit's failure says (fnmatch patterns)
    imports: str = ""

    def planted(self) -> str:
        assert LEDGER_CODE.count(self.old) == 1, f"the guide's example no longer has {self.old!r}"
        return self.imports + LEDGER_CODE.replace(self.old, self.new)


def catching(what: str, exc: str, raised: str, when: str = "True") -> str:
    """`CALL`, with `what` it raises turned into `raised` (when `when`)."""
    return (
        "        try:\n    " + CALL + f"        except {exc} as exc:  # the mistake: {what}\n"
        f"            if {when}:\n"
        f"                raise {raised}(str(exc)) from None\n"
        "            raise\n"
    )


MAY_HAVE_ARRIVED = "*It may have been applied: raise OutcomeUnknown whenever the request may*"
MISTAKES = [
    Mistake(
        "outcome unknown (a 5xx after applying) told as never arrived",
        CALL,
        catching("may have arrived -> never arrived", "OutcomeUnknown", "UpstreamUnavailable"),
        "what_may_have_happened and applied_then_5xx and debit",
        ("*HTTP 500; the connector raised UpstreamUnavailable*", MAY_HAVE_ARRIVED),
        "from connectors.base import UpstreamUnavailable\n",
    ),
    Mistake(
        "outcome unknown (a timeout after applying) told as never arrived",
        CALL,
        catching("may have arrived -> never arrived", "OutcomeUnknown", "UpstreamUnavailable"),
        "what_may_have_happened and applied_then_timeout and credit",
        ("*never came (a read timeout); the connector raised UpstreamUnavailable*",),
        "from connectors.base import UpstreamUnavailable\n",
    ),
    Mistake(
        "a refused connection told as may have arrived",
        CALL,
        catching("never arrived -> may have arrived", "UpstreamUnavailable", "OutcomeUnknown"),
        "what_may_have_happened and refused and debit",
        ("*connection was refused*raised OutcomeUnknown*Raise UpstreamUnavailable*",),
        "from connectors.base import UpstreamUnavailable\n",
    ),
    Mistake(
        "writes sent as idempotent: retried after a 503",
        "idempotent=not write",
        "idempotent=True",
        "what_may_have_happened and unavailable and debit",
        ("*HTTP 503*the connector sent it again*idempotent=False) for every write*",),
    ),
    Mistake(
        "amounts through a float",
        "str(int(amount.scaleb(2)))",
        "str(int(float(amount) * 100))",
        "amounts_a_float",
        ("*after a credit of 0.29 the balance is 251.03, not 251.04: *binary float*",),
    ),
    Mistake(
        "the balance read through a float",
        "Decimal(int(hundredths)).scaleb(-2)",
        "Decimal(int(hundredths) / 100)",
        "amounts_a_float",
        ("*after a credit of 0.3 the balance is 251.05000000000001*binary float*",),
    ),
    Mistake(
        "no decimals said: amounts cut to hundredths",
        "    decimals = 2  # Vault keeps hundredths of a point\n",
        "",
        "amounts_a_float",
        ("*after a credit of 1.005 the balance is*cut to fewer places than `decimals`*",),
    ),
    Mistake(
        "the key logged at DEBUG while building the connector",
        '        self.base = base_url.rstrip("/")\n',
        '        logging.getLogger("acme_vault").debug("vault %s key %s", base_url, api_key)\n'
        '        self.base = base_url.rstrip("/")\n',
        "no_secret",
        ("*secret #1 of the `secrets` fixture is in a log record: logger 'acme_vault' at DEBUG*",),
        "import logging\n",
    ),
    Mistake(
        "the key in an error message",
        'f"vault: key refused (HTTP {answer.status_code})"',
        "f\"vault: key {answer.request.headers['X-Vault-Key']} refused\"",
        "no_secret",
        (
            "*secret #1*in the message of the UpstreamAuthFailed raised by a debit (the ledger "
            "answered HTTP 401*",
        ),
    ),
    Mistake(
        "a 401 on a write told as a refusal",
        "        if answer.status_code in (401, 403):\n",
        "        if not write and answer.status_code in (401, 403):\n",
        "what_may_have_happened and unauthorized and credit",
        ("*HTTP 401*raised LedgerRefused*Raise UpstreamAuthFailed*",),
    ),
    Mistake(
        "a 409 for another write taken as a replay of this one",
        "return replace(_receipt(_xml(answer, 409), reference), replayed=True)",
        "return Receipt(reference, amount, replayed=True)",
        "reference_it_holds",
        ("*a debit of 9.00 under kit-reused-1*replay whose amount is 9.00*never the amount just*",),
    ),
    Mistake(
        "the lookup leaves the record's amount unsaid",
        "        return _receipt(_xml(answer, 200), reference)\n",
        "        return Receipt(reference, _xml(answer, 200) and None)\n",
        "lookup_says_what",
        ("*lookup of a debit of 3.50 for 'DB123' says*fill Receipt.amount from the ledger's*",),
    ),
    Mistake(
        "the lookup leaves the record's member and kind unsaid",
        '        member=entry.findtext("member"),\n        kind=entry.findtext("kind"),\n',
        "",
        "lookup_says_what",
        ("*fill Receipt.member from the record*",),
    ),
]


def run_kit(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, code: str, *args: str):
    """The guide's kit test run by pytest on `code` as acme_vault.connector."""
    package = as_module("acme_vault", "", "acme_vault")
    package.__path__ = []
    monkeypatch.setitem(sys.modules, "acme_vault", package)
    connector = as_module("acme_vault.connector", code, "acme_vault/connector.py")
    monkeypatch.setitem(sys.modules, "acme_vault.connector", connector)
    pytester.makepyfile(test_vault=LEDGER_TEST_CODE)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "--tb=short", *args)


def test_the_guide_s_ledger_passes_the_kit(pytester, monkeypatch):
    result = run_kit(pytester, monkeypatch, LEDGER_CODE, "-k", "not entry_point")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes["passed"] >= 25, outcomes


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_the_kit_fails_the_mistake_saying_what_is_wrong(pytester, monkeypatch, mistake):
    result = run_kit(pytester, monkeypatch, mistake.planted(), "-k", mistake.tests)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1, (outcomes, result.stdout.str()[-2000:])
    for says in mistake.says:  # each anywhere in the kit's failure message
        result.stdout.fnmatch_lines([f"E *{says}"])
