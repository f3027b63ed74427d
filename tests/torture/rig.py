"""The rig: a folder with employees, a configuration and a journal; a real `points-gateway serve`
that is killed and started again on the same port; for the ledger variant, the fake legacy
ledger (tests/fakes/rest_ledger.py) in its own process, failing on purpose.

Everything it starts is stopped, and what it wrote removed, by the ExitStack it is given.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from gateway.auth import TokenAuthority
from tests.conftest import SECRET, fresh_postgres, toml, write_config, write_csv
from tests.fakes import rest_ledger as fake
from tests.servers import (
    Server,
    clean_env,
    free_port,
    running,
    stop_group,
    wait_until_healthy,
)

MEMBERS = [f"M{i:03d}" for i in range(24)]
#: A member granted little: concurrent redemptions must stop at zero, never below.
POOR = "POOR1"
GRANT = Decimal(100_000)
POOR_GRANT = Decimal(30)
OPERATOR = "torturer"
OPERATOR_PASSWORD = "torture-operator-password-1"
HEADER = "employee_id,email,first_name,last_name,mobile,designation,department,company,points"
#: The ledger variant's faults: 5xx, hangs past the gateway's timeout (applied afterwards),
#: resets after the request was read, and debits applied whose answer never comes.
FAULTS = ["fail", "hang", "reset", "apply_then_hang"]
HANG = 0.5
LEDGER_HTTP = {
    "connect_timeout": 0.5,
    "read_timeout": 0.25,
    "budget_seconds": 0.8,
    "attempts": 3,
    "breaker_failures": 1_000_000,
}
LEDGER_SECTION = {
    "wait_seconds": 0.6,
    "settle_seconds": HANG + 1.0,
    "lease_seconds": 3,
    "retry_base_seconds": 0.05,
    "retry_max_seconds": 0.5,
    "worker_interval_seconds": 0.2,
    "worker_threads": 8,
}


@dataclass(frozen=True)
class Variant:
    database: str  # "sqlite" | "postgres"
    ledger: bool  # points in a flaky REST ledger; otherwise granted by the CSV, kept in the journal

    @property
    def name(self) -> str:
        return f"{'SQLite' if self.database == 'sqlite' else 'PostgreSQL'}, " + (
            "flaky REST ledger" if self.ledger else "CSV grants"
        )


def granted(member: str) -> Decimal:
    return POOR_GRANT if member == POOR else GRANT


class Rig:
    def __init__(
        self, folder: Path, variant: Variant, stack: ExitStack, pg_url: str | None = None
    ) -> None:
        self.folder = folder
        self.variant = variant
        self.stack = stack
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.up_since = float("inf")  # time.monotonic() the running server answered first
        rows = [f"{m},{m.lower()}@example.com,F,L,,D,D,C,{granted(m)}" for m in [*MEMBERS, POOR]]
        write_csv(folder / "employees.csv", rows, HEADER)
        if variant.database == "sqlite":
            self.database_url = f"sqlite:///{folder / 'journal.db'}"
        else:
            assert pg_url, "the PostgreSQL variant needs GATEWAY_TEST_DATABASE_URL"
            self.database_url = fresh_postgres(pg_url)
        self.ledger = self._start_ledger() if variant.ledger else None
        self.config = self._write_config()
        tokens = TokenAuthority([SECRET], 86_400)
        self.tokens = {m: tokens.issue(m) for m in [*MEMBERS, POOR]}
        added = self.cli("operator", "add", OPERATOR, "--role", "operator", "--password-stdin",
                         stdin=OPERATOR_PASSWORD + "\n")  # fmt: skip
        assert added.returncode == 0, added.stderr

    # -- the gateway -------------------------------------------------------------------------
    def start(self) -> None:
        """`serve` with three workers; returns once it answers /healthz."""
        self.starts += 1
        log = self.folder / f"gateway-{self.starts}.log"
        argv = [sys.executable, "-m", "gateway", "serve", "--config", str(self.config)]
        argv += ["--bind", f"127.0.0.1:{self.port}", "--workers", "3", "--threads", "8"]
        with log.open("wb") as sink:
            self.proc = subprocess.Popen(
                argv, env=clean_env(), stdout=subprocess.DEVNULL, stderr=sink,
                start_new_session=True,
            )  # fmt: skip
        self.stack.callback(stop_group, self.proc)
        wait_until_healthy(Server(self.proc, self.base, log), "/healthz", 60, True)
        self.up_since = time.monotonic()

    def kill_group(self) -> None:
        """SIGKILL the master and every worker at once: a crash, an OOM kill, a power cut."""
        assert self.proc is not None
        self.up_since = float("inf")
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def kill_worker(self) -> bool:
        """SIGKILL one worker; its master starts another."""
        assert self.proc is not None
        pid = self.proc.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return False
        if not children:
            return False
        try:
            os.kill(int(children[0]), signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)

    # -- operators' tools --------------------------------------------------------------------
    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A `points-gateway` command on this rig's configuration, as an operator runs it."""
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args, "--config", str(self.config)],
            input=stdin,
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=180,
        )

    def ledger_state(self) -> dict[str, Any]:
        assert self.ledger is not None
        return requests.get(f"{self.ledger}/_state", timeout=30).json()

    def ledger_faults(self, on: bool) -> None:
        assert self.ledger is not None
        faults = {"fail_rate": 0.3, "faults": FAULTS, "hang_seconds": HANG, "seed": 7}
        body = faults if on else {"fail_rate": 0}
        requests.post(f"{self.ledger}/_control", json=body, timeout=10).raise_for_status()

    # -- internals ---------------------------------------------------------------------------
    def _start_ledger(self) -> str:
        port = free_port()
        argv = [sys.executable, "-m", "tests.fakes.rest_ledger", "--port", str(port)]
        base = f"http://127.0.0.1:{port}"
        self.stack.enter_context(running(argv, base, dict(os.environ), log=self.folder / "l.log"))
        funds = {m: str(granted(m)) for m in [*MEMBERS, POOR]}
        requests.post(f"{base}/_accounts", json=funds, timeout=10).raise_for_status()
        return base

    def _write_config(self) -> Path:
        config = write_config(
            self.folder,
            self.database_url,
            # The contract gives a refund no id: a refund sent again after a lost answer is a
            # replay only within this window (otherwise it would be a second refund by design).
            refund_replay_window_seconds=3600,
            token_ttl_seconds=86_400,
        )
        text = config.read_text()
        if self.ledger is not None:
            points = fake.POINTS_TOML.replace(fake.BASE, f"{self.ledger}/api")
            points += f"http = {toml(LEDGER_HTTP)}\n"
            points += "[ledger]\n" + "".join(f"{k} = {v}\n" for k, v in LEDGER_SECTION.items())
            old = '[points]\nconnector = "csv"\noptions = { path = "employees.csv" }'
            text = text.replace(old, points)
        text += "\n[console]\nenabled = true\nsecure_cookies = false\nmax_failures = 1000\n"
        config.write_text(text)
        return config
