"""A full disk under the journal and the directory index: a small tmpfs this test mounts itself
(root only), filled by a file of its own (never by writing into the journal's files), always
unmounted at the end.

- a running `serve` answers JSON 503 `journal_unavailable` for what it cannot journal, keeps
  answering balances from the last indexed version of a CSV it cannot index, survives a worker's
  restart meanwhile, and recovers by itself once space returns; no redemption answered "1" is
  missing from the journal after a SIGKILL;
- a build that does not fit leaves nothing behind and is not tried again until there is room;
- commands meeting a full disk say so in one line, exit 2.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.base import ConnectorError, Profile
from connectors.csv_source import CsvConnector
from connectors.directory import Dataset, DirectoryIndex, batched, csv_rows, row_of
from gateway.auth import TokenAuthority
from gateway.journal import Journal
from gateway.service.money import to_units
from tests.conftest import EMPLOYEES, SECRET, toml, write_config, write_csv
from tests.disks import cli_at_once, fill, free_bytes, mount_tmpfs, small_disk
from tests.servers import clean_env, free_port, serving

RICH = "RICH,rich@example.com,Rich,Person,,,,,1000000"
PAM_BEFORE, PAM_AFTER = "2000", "2500"
NEWCOMER = "NEW1,new@example.com,New,Comer,,,,,77"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB file system of this test's own."""
    with small_disk(tmp_path / "disk", "1m") as where:
        yield where


def leftovers(disk: Path) -> list[str]:
    """What index builds leave when they stop half way."""
    return sorted(p.name for p in disk.iterdir() if ".tmp-" in p.name or ".part" in p.name)


def config_in(folder: Path, journal: Path, index: Path | None = None) -> Path:
    """A config over `folder`/employees.csv, with its journal (and directory index) there."""
    write_csv(folder / "employees.csv", [*EMPLOYEES, RICH])
    config = write_config(folder, f"sqlite:///{journal}")
    if index is not None:
        options = toml({"path": "employees.csv", "index_path": str(index)})
        text = config.read_text().replace(
            'options = { path = "employees.csv" }', f"options = {options}"
        )
        config.write_text(text)
    return config


class Client:
    """Redemptions and balances against a real server, every answer checked for its shape. Each
    call on a connection of its own, so either worker may take it; which one did is the prefix
    of its request id (one per process, see gateway/api/observe.py)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.tokens = TokenAuthority([SECRET], 3600)
        self.answered: dict[str, int] = {}  # order id -> units, of every redemption answered "1"
        self.seen: Counter[tuple[str, int, str]] = Counter()
        self.worker = ""  # the process that gave the last answer

    def post(self, path: str, unique_id: str, **body: Any) -> Any:
        body = {"unique_id": unique_id, "auth_token": self.tokens.issue(unique_id), **body}
        r = requests.post(self.base + path, json=body, timeout=30)
        assert r.status_code != 500 and r.headers["content-type"] == "application/json", r.text
        answer = r.json()
        self.seen[(path.rsplit("/", 1)[1], r.status_code, answer.get("error_code", "-"))] += 1
        self.worker = r.headers["X-Request-ID"][:20]
        return r.status_code, answer

    def redeem(self, order_id: str, points: int) -> int:
        status, answer = self.post(
            "/v1/points/redeem", "RICH", order_id=order_id, total_points_redeemed=points
        )
        if status == 200 and answer["status"] == "1":
            self.answered[order_id] = to_units(Decimal(points))
        else:
            assert (status, answer["error_code"]) == (503, "journal_unavailable"), answer
        return status

    def received(self, unique_id: str) -> str | None:
        """The person's points_received, or None when nobody has that id."""
        status, answer = self.post("/v1/points/balance", unique_id)
        if status == 404:
            assert answer["error_code"] == "user_not_found", answer
            return None
        assert status == 200, answer
        return str(answer["points_info"]["points_received"])

    def workers_answering(self, pam: str, newcomer: str | None, count: int) -> set[str]:
        """Balances until `count` workers have answered, each with this version of the CSV."""
        answered: set[str] = set()
        deadline = time.monotonic() + 20
        while len(answered) < count:
            assert time.monotonic() < deadline, f"only {len(answered)} workers answered"
            assert self.received("DB123") == pam, (self.worker, self.seen)
            assert self.received("NEW1") == newcomer, (self.worker, self.seen)
            answered.add(self.worker)
        return answered


def workers_of(master: int) -> set[int]:
    """The pids whose parent is `master` (gunicorn's workers)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                found.add(int(stat.parent.name))
    return found


def journaled_debits(journal: Path) -> Counter[tuple[str, int]]:
    store = Journal(f"sqlite:///{journal}")
    try:
        return Counter((op.order_id, op.amount) for op in store.operations() if op.kind == "debit")
    finally:
        store.dispose()


@pytest.mark.slow
def test_a_running_gateway_on_a_full_disk_answers_503_keeps_balances_and_recovers(
    tmp_path: Path, disk: Path
) -> None:
    mount_tmpfs(disk, "8m", remount=True)  # room for the journal and the index, then filled
    journal = disk / "journal.db"
    config = config_in(tmp_path, journal, disk / "employees.index")
    # Its temporary files on the same disk too, as the systemd unit has them: the metrics
    # files must not be there (mapped into memory, a page a full disk cannot give is a SIGBUS).
    (disk / "tmp").mkdir()
    env = clean_env(TMPDIR=str(disk / "tmp"))
    with serving(config, "--workers", "2", env=env) as server:
        client = Client(server.base)
        for i in range(3):
            assert client.redeem(f"BEFORE-{i}", 5) == 200
        both = client.workers_answering(PAM_BEFORE, None, 2)

        filler = fill(disk)
        # HR's new export arrives meanwhile: Pam has more points, and someone joined.
        pam = next(row for row in EMPLOYEES if row.startswith("DB123,"))
        newer = [r for r in EMPLOYEES if r != pam] + [pam[: -len(PAM_BEFORE)] + PAM_AFTER]
        write_csv(tmp_path / "employees.csv", [*newer, RICH, NEWCOMER])
        for i in range(8):
            client.redeem(f"FULL-{i}", 1 + i % 5)
            assert client.received("DB123") == PAM_BEFORE, client.seen  # the last version
        assert client.seen[("redeem", 503, "journal_unavailable")] >= 1, client.seen
        assert leftovers(disk) == [] and free_bytes(disk) == 0  # the builds left nothing

        # A worker restarted now cannot index the new export either: it must start, and answer
        # from the last version (gunicorn stops the whole server when a worker fails to boot).
        os.kill(min(workers_of(server.proc.pid)), signal.SIGKILL)
        deadline, orders = time.monotonic() + 20, count(8)
        while client.worker in both:
            assert time.monotonic() < deadline, "no worker took the killed one's place"
            try:
                client.redeem(f"FULL-{next(orders)}", 1)
                assert client.received("DB123") == PAM_BEFORE, client.seen
            except requests.ConnectionError:
                pytest.fail(f"the server stopped:\n{server.log_text()[-1500:]}")
        assert leftovers(disk) == [] and free_bytes(disk) == 0

        filler.unlink()  # space returns: no restart
        for i in range(6):
            assert client.redeem(f"AFTER-{i}", 2) == 200, client.seen
        client.workers_answering(PAM_AFTER, "77", 2)  # each worker now serves the new export
        os.killpg(server.proc.pid, signal.SIGKILL)  # nothing graceful: what is on disk is all
        server.proc.wait(timeout=10)
    found = journaled_debits(journal)
    missing = {o: u for o, u in client.answered.items() if found[(o, u)] != 1}
    assert missing == {}, (missing, client.seen)
    assert sum(found.values()) == len({o for o, _ in found})  # no order twice


def big_people(count: int) -> list[str]:
    return [
        f"E{i},e{i}@example.com,First{i},Last{i},9{i:09d},,,,{100 + i % 7}" for i in range(count)
    ]


def test_an_index_that_does_not_fit_keeps_the_old_version_leaves_nothing_and_waits_for_room(
    tmp_path: Path, disk: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Read in two halves (the second by a child process), as a large file is."""
    monkeypatch.setattr(csv_rows, "SPLIT_AT_BYTES", 1024)
    path = write_csv(tmp_path / "employees.csv", big_people(3))
    connector = CsvConnector(str(path), index_path=str(disk / "employees.index"))
    builds = 0
    read = connector._rows

    def counting() -> Any:
        nonlocal builds
        builds += 1
        return read()

    monkeypatch.setattr(connector, "_rows", counting)
    try:
        room = free_bytes(disk)
        write_csv(path, big_people(30_000))  # about 2 MB indexed: more than the disk holds
        for _ in range(5):
            assert connector.find("employee_id", "E2") is not None  # the last version answers
            assert connector.find("employee_id", "E29999") is None
        assert builds == 1  # not tried again on every lookup while there is no more room
        assert leftovers(disk) == [] and free_bytes(disk) == room
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and "full" in errors[0].getMessage(), errors

        mount_tmpfs(disk, "32m", remount=True)  # space returns
        assert connector.find("employee_id", "E29999") is not None
        reader = connector.index.reader
        assert builds == 2 and reader is not None and reader.count == 30_000
        assert leftovers(disk) == []
    finally:
        connector.close()


def test_a_first_index_that_cannot_be_written_is_a_503_not_a_crash(disk: Path) -> None:
    """A remote directory indexes on its first lookup, while serving: with no earlier version
    to answer from, the lookup fails as a connector error the api answers 503, and leaves
    nothing on the disk."""
    fill(disk)
    index = DirectoryIndex(
        disk / "everyone.index", {"employee_id": "id", "email": "e", "mobile": "m"}
    )
    rows = [row_of(1, Profile("E1", "e1@example.com", "E", "One"), None)]
    with pytest.raises(ConnectorError) as failed:
        index.current("v1", lambda: Dataset(batched(rows)))
    assert failed.value.error_code == "upstream_unavailable"
    assert "full" in str(failed.value) and str(disk / "everyone.index") in str(failed.value)
    assert leftovers(disk) == []


def test_commands_meeting_a_full_disk_say_so_in_one_line(tmp_path: Path, disk: Path) -> None:
    folders = {name: tmp_path / name for name in ("journal", "index", "new")}
    for folder in folders.values():
        folder.mkdir()
    # A journal made while there was room (its last connection gone, so no -wal or -shm left).
    on_disk = config_in(folders["journal"], disk / "journal.db")
    made = Journal(f"sqlite:///{disk / 'journal.db'}")
    made.create_schema()
    made.dispose()
    # A directory index that must be built on the full disk, the journal elsewhere.
    index_on_disk = config_in(folders["index"], folders["index"] / "j.db", disk / "e.index")
    # A journal that must be created on the full disk.
    new_on_disk = config_in(folders["new"], disk / "new.db")
    fill(disk)

    def serve(config: Path) -> list[str]:
        return ["serve", "--config", str(config), "--bind", f"127.0.0.1:{free_port()}"]

    cases = {
        "serve, journal on the full disk": (serve(on_disk), "journal"),
        "journal export": (["journal", "export", "--config", str(on_disk)], "journal"),
        "serve, index on the full disk": (serve(index_on_disk), "index"),
        "check, index on the full disk": (["check", "--config", str(index_on_disk)], "index"),
        "serve, new journal on the full disk": (serve(new_on_disk), "journal"),
    }
    answers = cli_at_once(*(argv for argv, _ in cases.values()))
    wrong = {}
    for (case, (_, what)), out in zip(cases.items(), answers, strict=True):
        lines = out.stderr.strip().splitlines()
        line = lines[0] if lines else ""
        if not (
            out.returncode == 2
            and len(lines) == 1
            and line.startswith("points-gateway: error: ")
            and "full" in line
            and what in line
            # the index's trouble is not the journal's
            and (what == "journal" or "journal" not in line)
        ):
            wrong[case] = (out.returncode, len(lines), line[:300])
    assert wrong == {}, "\n".join(f"{k}: {v}" for k, v in wrong.items())
