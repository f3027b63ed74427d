"""`journal backup` as an operator runs it: beside a real `serve` taking redemptions, the
backup restored into a new folder and served, where the orders it holds replay as replays (the
same answer, status "1", no second debit); and each way a backup is refused or fails, in one
line, leaving nothing behind."""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from gateway.journal import Journal
from tests.backups import (
    available,
    cli,
    fill,
    folder,
    invoke,
    journal_opened,
    one_line_error,
    redeem,
)
from tests.servers import serving


@pytest.mark.slow
def test_a_backup_taken_while_serving_restores_and_replays(tmp_path):
    live = folder(tmp_path, "live")
    database = live.parent / "journal.db"
    backup = tmp_path / "backups" / "journal-backup.db"
    backup.parent.mkdir()
    answers: dict[str, dict[str, Any]] = {}
    with serving(live, "--workers", "2", "--threads", "4") as server:
        for i in range(5):
            answers[f"B{i}"] = redeem(server.base, "DB123", f"B{i}", "10")
        # Redemptions go on while the copy is taken: it holds some, and each in full.
        stop = threading.Event()

        def keep_redeeming() -> None:
            i = 0
            while not stop.is_set():
                answers[f"D{i}"] = redeem(server.base, "DB123", f"D{i}", "1")
                i += 1

        writer = threading.Thread(target=keep_redeeming)
        writer.start()
        try:
            taken = cli("journal", "backup", "--config", str(live), str(backup))
        finally:
            stop.set()
            writer.join()
        assert taken.returncode == 0, taken.stderr
        assert Path(f"{database}-wal").exists(), "the WAL was deleted under the server"
        for i in range(3):
            answers[f"A{i}"] = redeem(server.base, "DB123", f"A{i}", "7")
        assert all(a["status"] == "1" for a in answers.values()), answers
        assert available(server.base, "DB123") == str(2000 - 50 - (len(answers) - 8) - 21)

    with sqlite3.connect(backup) as copy:  # a plain file now, no gateway's journal
        held = dict(copy.execute("SELECT order_id, amount FROM operations").fetchall())
    copy.close()
    assert {f"B{i}" for i in range(5)} <= held.keys() and not {"A0", "A1", "A2"} & held.keys()
    assert held.keys() <= answers.keys()
    assert taken.stdout.strip() == (
        f"{backup}: {len(held)} operations, {backup.stat().st_size} bytes, integrity ok"
    )
    assert backup.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in backup.parent.iterdir()) == [backup.name]

    # The restore: the backup as the journal of a new folder, served.
    restored = folder(tmp_path, "restored")
    shutil.copyfile(backup, restored.parent / "journal.db")
    (restored.parent / "journal.db").chmod(0o600)
    with serving(restored) as server:
        for order in held:
            again = redeem(server.base, "DB123", order, "10" if order[0] == "B" else "1")
            assert again == answers[order] and again["status"] == "1"
        debited = sum(held.values()) // 10_000
        assert available(server.base, "DB123") == str(2000 - debited)
        # An order taken after the backup is unknown to the restored journal: Xoxoday's
        # redelivery of it is debited anew (docs/operating.md says what to do about that).
        assert redeem(server.base, "DB123", "A0", "7")["status"] == "1"
        assert available(server.base, "DB123") == str(2000 - debited - 7)


def test_a_backup_is_private_checked_and_replaces_dest_whole(tmp_path):
    config = folder(tmp_path, "live")
    journal = Journal(f"sqlite:///{config.parent / 'journal.db'}")
    journal.create_schema()
    fill(journal, 3)
    dest = tmp_path / "journal.bak"
    dest.write_text("last night's backup")
    dest.chmod(0o644)
    old = os.umask(0o022)
    try:
        with journal_opened() as opened:
            made = invoke("journal", "backup", "--config", str(config), str(dest))
    finally:
        os.umask(old)
    assert made.exit_code == 0, made.output
    assert opened == []
    assert made.stdout == f"{dest}: 3 operations, {dest.stat().st_size} bytes, integrity ok\n"
    assert dest.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.bak", "live", "tmp"]
    with sqlite3.connect(dest) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
        assert copy.execute("SELECT count(*) FROM operations").fetchone() == (3,)
    copy.close()
    journal.dispose()


@pytest.mark.parametrize(
    "dest, says",
    [
        ("missing/journal.bak", "does not exist"),
        (".", "is a folder"),
        ("live/journal.db", "is the journal itself"),
        ("live/journal.db-wal", "is the journal itself"),
    ],
)
def test_a_backup_refused_is_one_line_and_writes_nothing(tmp_path, dest, says):
    config = folder(tmp_path, "live")
    journal = Journal(f"sqlite:///{config.parent / 'journal.db'}")
    journal.create_schema()
    fill(journal, 2)
    before = sorted(p.name for p in config.parent.iterdir())
    refused = invoke("journal", "backup", "--config", str(config), str(tmp_path / dest))
    assert refused.exit_code == 2
    assert says in one_line_error(refused.stderr)
    assert sorted(p.name for p in config.parent.iterdir()) == before
    assert not (tmp_path / "missing").exists()
    assert journal.count() == 2
    journal.dispose()


def test_a_backup_of_no_journal_does_not_make_one(tmp_path):
    config = folder(tmp_path, "live")
    refused = invoke("journal", "backup", "--config", str(config), str(tmp_path / "j.bak"))
    assert refused.exit_code == 2 and "no SQLite journal at" in one_line_error(refused.stderr)
    assert sorted(p.name for p in config.parent.iterdir()) == ["employees.csv", "gateway.toml"]


def test_a_journal_that_is_no_database_is_unreachable_in_one_line(tmp_path):
    config = folder(tmp_path, "live")
    (config.parent / "journal.db").write_text("not a database, whatever its name says\n" * 200)
    refused = invoke("journal", "backup", "--config", str(config), str(tmp_path / "j.bak"))
    assert refused.exit_code == 2
    assert "journal unreachable: file is not a database" in one_line_error(refused.stderr)
    assert not (tmp_path / "j.bak").exists()


def test_a_copy_that_fails_its_integrity_check_is_never_put_in_place(tmp_path):
    config = folder(tmp_path, "live")
    database = config.parent / "journal.db"
    journal = Journal(f"sqlite:///{database}")
    journal.create_schema()
    fill(journal, 30)
    journal.dispose()  # the last connection: everything checkpointed into journal.db
    with sqlite3.connect(database) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'ix_operations_order_id'"
        ).fetchone()[0]
    conn.close()
    # One key of one index changed, as a bad sector might: every read still works, and only
    # an integrity check sees that the index no longer agrees with its table.
    with database.open("r+b") as damaged:  # a test's file, with no gateway on it
        damaged.seek(size * (root - 1))
        page = damaged.read(size)
        assert page.count(b"F15") == 1  # the index is one page: every key is in it
        damaged.seek(size * (root - 1) + page.index(b"F15"))
        damaged.write(b"Z")
    dest = tmp_path / "j.bak"
    refused = invoke("journal", "backup", "--config", str(config), str(dest))
    assert refused.exit_code == 2
    line = one_line_error(refused.stderr)
    assert "the copy failed its integrity check" in line and "nothing was written" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live", "tmp"]


def test_a_backup_the_disk_cannot_hold_fails_in_one_line_and_leaves_nothing(tmp_path):
    config = folder(tmp_path, "live")
    journal = Journal(f"sqlite:///{config.parent / 'journal.db'}")
    journal.create_schema()
    fill(journal, 3)
    journal.dispose()  # its schema alone is some thirty pages: more than 64 KiB
    out = tmp_path / "backups"
    out.mkdir()

    def small_disk() -> None:  # writes past 64 KiB fail, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (65_536, 65_536))

    failed = cli(
        "journal", "backup", "--config", str(config), str(out / "j.bak"), preexec_fn=small_disk
    )
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "nothing was written there" in one_line_error(failed.stderr)
    assert list(out.iterdir()) == []


def test_a_postgresql_journal_is_backed_up_with_pg_dump(tmp_path):
    config = folder(tmp_path, "pg", "postgresql://postgres@127.0.0.1:1/none")
    refused = invoke("journal", "backup", "--config", str(config), str(tmp_path / "j.bak"))
    assert refused.exit_code == 2
    line = one_line_error(refused.stderr)
    assert "pg_dump --format=custom" in line and "docs/operating.md" in line
    assert not (tmp_path / "j.bak").exists()


def test_a_backup_holds_every_program_s_rows(tmp_path):
    """The backup copies the journal's pages: every program's operations, accounts and all."""
    from gateway.journal.copy import backup

    journal = Journal(f"sqlite:///{tmp_path / 'journal.db'}")
    journal.create_schema()
    acme = journal.for_program("acme")
    fill(journal, 2)
    fill(acme, 3)  # the same order ids: acme's own orders
    made = backup(journal, tmp_path / "journal.bak")
    assert made.operations == 5
    restored = Journal(f"sqlite:///{tmp_path / 'journal.bak'}")
    try:
        for program, count in (("default", 2), ("acme", 3)):
            bound = restored.for_program(program)
            assert bound.count() == count
            assert bound.totals("DB123") == journal.for_program(program).totals("DB123")
            assert [o.program for o in bound.operations()] == [program] * count
    finally:
        restored.dispose()
        journal.dispose()
