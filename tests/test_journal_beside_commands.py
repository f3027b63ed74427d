"""The journal as operators run it: a real `serve` on a SQLite journal, and the CLI in a second
process beside it, on the same file.

Closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's
included; a gateway that opened its own journal file outside SQLite lost its locks, and the
next command to finish took itself for the journal's last user, checkpointed and deleted the
WAL under the running server. Debits answered "1" afterwards went to a deleted file and were
gone at the next kill.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gateway.auth import TokenAuthority
from tests.conftest import EMPLOYEES, SECRET, write_config, write_csv
from tests.servers import clean_env, serving

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "gateway"]
TOKEN = TokenAuthority([SECRET], 3600).issue("DB123")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=clean_env(), timeout=120
    )


def redeem(base: str, order_id: str) -> dict[str, str]:
    body = {
        "unique_id": "DB123",
        "auth_token": TOKEN,
        "order_id": order_id,
        "total_points_redeemed": "1",
    }
    return requests.post(f"{base}/v1/points/redeem", json=body, timeout=30).json()


def exported(config: Path) -> set[str]:
    out = cli("journal", "export", "--config", str(config))
    assert out.returncode == 0, out.stderr
    return {row["order_id"] for row in csv.DictReader(io.StringIO(out.stdout))}


def test_exports_beside_a_serving_gateway_lose_nothing_at_a_kill(tmp_path):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    database = tmp_path / "journal.db"
    config = write_config(tmp_path, f"sqlite:///{database}")
    acknowledged: set[str] = set()
    with serving(config, "--workers", "2", "--threads", "4") as server:
        for batch in "ABCD":
            for i in range(5):
                answer = redeem(server.base, f"{batch}{i}")
                assert answer["status"] == "1", answer
                acknowledged.add(f"{batch}{i}")
            # A second process sees everything the server acknowledged, every time.
            assert acknowledged <= exported(config)
            assert Path(f"{database}-wal").exists(), "the WAL was deleted under the server"
        os.killpg(server.proc.pid, signal.SIGKILL)  # a crash, an OOM kill
        server.proc.wait(timeout=10)
    assert acknowledged <= exported(config)


def journal_files(pid: int, names: set[str]) -> list[str]:
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if Path(target.removesuffix(" (deleted)")).name in names:
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux's /proc")
def test_no_journal_or_index_file_crosses_gunicorn_s_fork(tmp_path):
    """gunicorn forks a new worker from its master whenever one dies: a SQLite connection the
    master holds would be shared by every worker it forks (the same SQLite page, 2.6)."""
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    names = {
        "journal.db",
        "journal.db-wal",
        "journal.db-shm",
        "journal.db.writelock",
        ".employees.csv.index",
    }
    with serving(config, "--workers", "2") as server:
        assert redeem(server.base, "F1")["status"] == "1"
        assert journal_files(server.proc.pid, names) == []
        children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text()
        for worker in map(int, children.split()):
            # Each worker opened its own, and holds no second write lock inherited beside it.
            held = journal_files(worker, names)
            assert sum(name.endswith(".writelock") for name in held) <= 1, held
