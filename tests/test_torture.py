"""The torture suite's short form (the long form: `make torture`, see tests/torture/).

A real `serve` with three workers under continuous mixed traffic, beside every command that
opens the journal, console actions and online backups, while workers and the whole server are
SIGKILLed and restarted; then every invariant of tests/torture/checks.py."""

from __future__ import annotations

import pytest

from tests.conftest import PG_SKIP, PG_URL
from tests.torture.rig import Variant
from tests.torture.run import table, torture

pytestmark = pytest.mark.slow

SHORT = [
    pytest.param(Variant("sqlite", False), 20, id="sqlite-csv"),
    pytest.param(Variant("sqlite", True), 15, id="sqlite-ledger"),
    pytest.param(Variant("postgres", False), 12, id="postgres-csv", marks=pytest.mark.postgres),
    pytest.param(Variant("postgres", True), 12, id="postgres-ledger", marks=pytest.mark.postgres),
]


@pytest.mark.parametrize(("variant", "seconds"), SHORT)
def test_nothing_answered_1_is_lost(tmp_path, variant, seconds):
    if variant.database == "postgres" and not PG_URL:
        pytest.skip(PG_SKIP)
    figures = torture(variant, seconds, tmp_path, kills=4, pg_url=PG_URL)
    print("\n" + table([figures]) + f"\n{figures.answers}")
    assert figures.problems == [], "\n".join(figures.problems[:30])
    assert figures.lost == 0 and figures.duplicated == 0
    # It did what it says: traffic answered, kills made, commands and backups run.
    assert figures.debits_ok > 50 and figures.refunds_ok > 5
    assert figures.group_kills >= 3 and figures.worker_kills >= 1
    assert figures.commands >= 5 and figures.backups >= 1 and figures.console_actions >= 3
