"""The console in a real browser: Playwright for Python driving Debian's Chromium against a real
`points-gateway serve` whose points ledger is the REST ledger's fake served for real
(tests/fakes/rest_ledger.py) and made flaky on purpose.

An operator logs in, finds an order the flaky ledger left unknown, resolves it, marks another by
hand with a reason, downloads a statement and the finance export and reads them, and finds it
all in the audit; a viewer cannot resolve; wrong passwords are refused and then rate-limited; a
form without its CSRF token is refused. Each screen is saved as a PNG in var/screenshots/ (or
$GATEWAY_SCREENSHOTS), for a reviewer, not committed.

Chromium comes from Debian (`apt-get install chromium`; `.ci/run` installs it): Playwright's
own browser download cannot work on these machines. Without it, or without the playwright
package, the test skips and says why.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import write_config
from tests.fakes import rest_ledger as fake
from tests.servers import REPO, clean_env, free_port, running, serving

CHROMIUM = os.environ.get("GATEWAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"
SHOTS = Path(os.environ.get("GATEWAY_SCREENSHOTS") or REPO / "var" / "screenshots")

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is absent")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)",
    ),
]


@pytest.fixture
def ledger() -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "tests.fakes.rest_ledger", "--port", str(port)]
    with running(argv, f"http://127.0.0.1:{port}") as server:
        requests.post(f"{server.base}/_accounts", json={"DB123": "1000"}, timeout=5)
        yield server.base


@dataclass
class Gateway:
    base: str
    config: Path


@pytest.fixture
def gateway(tmp_path: Path, employees_csv: Path, ledger: str) -> Iterator[Gateway]:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    points = fake.POINTS_TOML.replace(fake.BASE, f"{ledger}/api")
    points += "http = { attempts = 1, read_timeout = 0.5, budget_seconds = 1 }\n"
    config.write_text(
        config.read_text().replace(
            '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }', points
        )
        + "[ledger]\nworker_in_serve = false\nwait_seconds = 0.2\nsettle_seconds = 0\n"
        + "[console]\nenabled = true\nsecure_cookies = false\nmax_failures = 3\n"
    )
    add = [f"--config={config}", "--password-stdin"]
    for name, role in (("alice", "operator"), ("victor", "viewer")):
        subprocess.run(
            [sys.executable, "-m", "gateway", "operator", "add", name, f"--role={role}", *add],
            input=f"{PASSWORD}\n".encode(),
            env=clean_env(),
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    with serving(config, "--workers", "1") as server:
        yield Gateway(server.base, config)


def redeem(gateway: Gateway, order_id: str, points: str = "100") -> dict[str, Any]:
    token = subprocess.run(
        [sys.executable, "-m", "gateway", "token", "--config", str(gateway.config), "DB123"],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
        cwd=REPO,
    ).stdout.strip()
    body = {"unique_id": "DB123", "auth_token": token, "order_id": order_id}
    body["total_points_redeemed"] = points
    return requests.post(f"{gateway.base}/v1/points/redeem", json=body, timeout=10).json()


def flaky(ledger: str, on: bool) -> None:
    """On: every call applies, then hangs past the gateway's timeout (status lookups too)."""
    faults = {"fail_rate": 1.0 if on else 0.0, "faults": ["apply_then_hang"], "hang_seconds": 1}
    requests.post(f"{ledger}/_control", json={**faults, "only": "/api/"}, timeout=5)


class Screens:
    def __init__(self, page: Any) -> None:
        self.page = page
        SHOTS.mkdir(parents=True, exist_ok=True)

    def shoot(self, name: str) -> None:
        self.page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def log_in(page: Any, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


@pytest.fixture
def browser() -> Iterator[Any]:
    # Chromium's singleton socket must fit in a socket path (108 bytes): not under tmp_path.
    short = tempfile.mkdtemp(prefix="pw-", dir="/tmp")
    try:
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox"],
                env={**os.environ, "TMPDIR": short},
            )
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        shutil.rmtree(short, ignore_errors=True)


def test_an_operator_settles_a_flaky_ledger_s_orders_in_the_browser(
    ledger: str, gateway: Gateway, browser: Any
):
    assert redeem(gateway, "OK-1", "50")["status"] == "1"
    flaky(ledger, True)
    assert redeem(gateway, "FLAKY-1")["error_code"] == "outcome_unknown"
    assert redeem(gateway, "FLAKY-2", "30")["error_code"] == "outcome_unknown"
    flaky(ledger, False)

    context = browser.new_context(viewport={"width": 1200, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    screens = Screens(page)
    violations = csp_violations(page)
    log_in(page, gateway.base, "alice")
    page.wait_for_selector("h1:text('Overview')")
    assert page.inner_text("#unfinished").startswith("2")
    # The charts: this hour's three debits, two of them unfinished, as the table says.
    assert page.locator("#chart-debit rect").count() == 2  # applied, unfinished
    assert page.locator("#chart-unfinished circle").last.get_attribute("data-value") == "2"
    screens.shoot("overview")

    # Search the order the flaky ledger left unknown, and resolve it now.
    page.click("nav >> text=Search")
    page.fill("input[name=q]", "FLAKY-1")
    page.click("main form button[type=submit]")
    screens.shoot("search")
    page.click("main table a >> nth=0")
    assert page.inner_text("#state") == "unknown"
    assert "timed out after sending" in page.inner_text("main")
    screens.shoot("operation")
    page.click("text=Resolve now…")
    assert "1 operation will be driven now" in page.inner_text("#preview")
    screens.shoot("resolve-preview")
    page.click("text=Resolve this one now")
    page.wait_for_selector("h1:text('Resolved now')")  # the resolve waits on the ledger
    assert "found applied by the status lookup" in page.content()
    screens.shoot("resolved")

    # The other one, marked by hand, with a reason.
    page.click("nav >> text=Unfinished")
    screens.shoot("unfinished")
    page.click("table >> text=FLAKY-2 >> xpath=.. >> a")
    page.select_option("select[name=state]", "applied")
    page.fill("input[name=reason]", "ledger team confirmed tx for FLAKY-2")
    page.click("button:text('Mark')")
    assert page.inner_text("#state") == "applied"

    # The member's statement and its CSV.
    page.click("nav >> text=Statement")
    page.fill("input[name=member]", "DB123")
    page.click("main form button[type=submit]")
    screens.shoot("statement")
    with page.expect_download() as download:
        page.click("text=Download as CSV")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {(r["order_id"], r["state"]) for r in rows} == {
        ("OK-1", "applied"),
        ("FLAKY-1", "applied"),
        ("FLAKY-2", "applied"),
    }

    # Reconciliation: the finance export, and the journal against the ledger.
    page.click("nav >> text=Reconciliation")
    screens.shoot("reconciliation")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    export = Path(download.value.path()).read_text()
    assert "debit:FLAKY-1" in export and "debit:OK-1" in export
    assert "total,,debit,applied,,,,180\n" in export, export
    page.click("a:text('Compare')")
    page.fill("textarea[name=lines]", "DB123")
    page.click("form.compare >> button")
    assert page.inner_text("#differ") == "0"
    screens.shoot("compare")

    page.click("nav >> text=Audit")
    audit = page.inner_text("main")
    for action in ("resolve now", "mark applied", "download statement", "finance export"):
        assert action in audit
    assert "ledger team confirmed tx for FLAKY-2" in audit
    screens.shoot("audit")
    context.close()
    state = requests.get(f"{ledger}/_state", timeout=5).json()
    assert state["applied"] == {"debit:OK-1": 1, "debit:FLAKY-1": 1, "debit:FLAKY-2": 1}
    assert violations == []


def csp_violations(page: Any) -> list[str]:
    """What Chromium refuses under the console's CSP (an inline style or script), as it
    reports it on the page's console; filled as the page goes."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


def seed_two_days(gateway: Gateway) -> int:
    """Two days of a busy gateway in the journal, an outage of the ledger three hours long
    among them (debits left unknown, settled when it came back, two of them still not):
    how many debits it received in the window the charts show."""
    from datetime import timedelta

    from gateway.journal import Journal
    from gateway.journal.records import utcnow
    from tests.test_console_charts import Row, put

    now = utcnow()
    hour = now.replace(minute=0, second=0, microsecond=0)
    rows, debits = [], 0
    for back in range(47, 0, -1):
        start = hour - timedelta(hours=back)
        busy = 4 + (start.hour * 7) % 9  # some hours busier than others
        outage = 8 <= back <= 10
        for n in range(busy):
            created = start + timedelta(minutes=n * 55 / busy + 1)
            took = timedelta(seconds=0.15 + (n % 5) * 0.08 + (1.2 if back in (11, 7) else 0))
            if outage:
                settled = hour - timedelta(hours=7) + timedelta(minutes=n)
                state = "unknown" if n < 2 and back == 8 else "applied"
                rows.append(Row("debit", state, created, settled, created, 2))
            else:
                state = "rejected" if n % 11 == 3 else "applied"
                rows.append(Row("debit", state, created, created + took, created, 1))
            debits += 1
            if n % 4 == 1:
                rows.append(Row("refund", "applied", created, created + took, created, 1))
            if n % 9 == 2:
                rows.append(Row("credit", "applied", created, created + took, created, 1))
    url = f"sqlite:///{gateway.config.parent / 'journal.db'}"
    journal = Journal(url)
    try:
        put(journal, rows, prefix="SEED-")
    finally:
        journal.dispose()
    return debits


def test_the_overview_s_charts_in_the_browser(ledger: str, gateway: Gateway, browser: Any):
    """Two days of history and an outage, drawn: the numbers under the charts are the
    journal's, this host's calls to the ledger are counted across its workers, and Chromium
    refuses nothing under the CSP."""
    debits = seed_two_days(gateway)
    assert redeem(gateway, "NOW-1", "10")["status"] == "1"
    flaky(ledger, True)
    assert redeem(gateway, "NOW-2", "10")["error_code"] == "outcome_unknown"
    flaky(ledger, False)
    page = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    page.set_default_timeout(10_000)
    violations = csp_violations(page)
    log_in(page, gateway.base, "alice")
    page.wait_for_selector("#chart-unfinished")
    assert page.inner_text("#hourly h3 >> nth=0") == f"Debits: {debits + 2}"
    levels = page.locator("#chart-unfinished circle")
    assert levels.count() == 48
    now = int(levels.last.get_attribute("data-value") or "-1")
    assert now == 3 and page.inner_text("#unfinished").startswith("3")  # two seeded, NOW-2
    assert max(int(v) for v in levels.evaluate_all("l => l.map(c => c.dataset.value)")) > 3
    outcomes = {
        (r.text_content() or "").split(":")[0]: r.get_attribute("class")
        for r in page.locator("#chart-calls rect").all()
    }
    assert outcomes["ok"] == "call-ok" and outcomes["outcome_unknown"] == "call-failed"
    assert page.locator("#chart-write-times rect.took").count() >= 40
    assert page.locator("#unfinished-numbers tbody tr").count() == 48  # folded, but there
    Screens(page).shoot("overview-charts")
    assert violations == []


def test_a_viewer_cannot_resolve_passwords_are_rate_limited_and_csrf_is_required(
    ledger: str, gateway: Gateway, browser: Any
):
    flaky(ledger, True)
    assert redeem(gateway, "FLAKY-3")["error_code"] == "outcome_unknown"
    flaky(ledger, False)

    viewer = browser.new_context().new_page()
    log_in(viewer, gateway.base, "victor")
    viewer.click("nav >> text=Unfinished")
    assert "FLAKY-3" in viewer.content() and "Resolve" not in viewer.inner_text("main")
    viewer.click("table >> text=FLAKY-3 >> xpath=.. >> a")
    assert "Resolve now" not in viewer.content() and "Mark it by hand" not in viewer.content()
    # Forged from the viewer's own session, with a valid token: still refused.
    token = viewer.get_attribute("input[name=csrf_token]", "value")
    op_id = viewer.url.rsplit("/", 1)[1]
    answer = viewer.request.post(
        f"{gateway.base}/console/p/default/unfinished/resolve",
        form={"csrf_token": token, "ids": op_id},
    )
    assert answer.status == 403

    # Wrong passwords: refused, then the account waits even with the right one.
    page = browser.new_context().new_page()
    Screens(page)
    for _ in range(3):
        log_in(page, gateway.base, "alice", "not the password at all")
        assert "Wrong name or password" in page.inner_text("main")
    Screens(page).shoot("login-refused")
    log_in(page, gateway.base, "alice")
    assert "Too many failed attempts" in page.inner_text("main")

    # A form whose CSRF token was taken out is refused.
    other = browser.new_context().new_page()
    other.goto(f"{gateway.base}/console/login")
    other.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    other.fill("input[name=name]", "victor")
    other.fill("input[name=password]", PASSWORD)
    other.click("button[type=submit]")
    assert "The form expired or was not sent from this page" in other.inner_text("main")
    assert "/console/login" in other.url
    still = requests.get(f"{gateway.base}/console/", allow_redirects=False, timeout=5)
    assert still.status_code == 302
