"""The directory index's readers (connectors/directory/store.py) in a many-program worker:
threads share a pool of connections per file, so a process holds about as many as lookups ran
at once, not one per thread per file, and each keeps a small page cache."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from connectors.csv_source import CsvConnector
from connectors.directory import store
from tests.conftest import write_csv
from tests.test_directory import people


def connector(tmp_path: Path, count: int = 300) -> CsvConnector:
    return CsvConnector(str(write_csv(tmp_path / "employees.csv", people(count))))


def opened(csv: CsvConnector) -> int:
    reader = csv.index.reader
    assert reader is not None
    return len(reader._opened)


def test_threads_taking_turns_share_one_connection(tmp_path: Path):
    csv = connector(tmp_path)
    for i in range(16):  # gthread's pool: each request on another thread, one at a time
        t = threading.Thread(target=csv.find, args=("employee_id", f"E{i}"))
        t.start()
        t.join()
    assert opened(csv) == 1


def test_threads_at_once_each_find_their_own_person(tmp_path: Path):
    csv = connector(tmp_path)
    wrong: list[str] = []

    def lookups(offset: int) -> None:
        for i in range(offset, 300, 8):
            found = csv.find("employee_id", f"E{i}")
            if found is None or found.last_name != f"Last{i}" or csv.granted(found) is None:
                wrong.append(f"E{i}")

    threads = [threading.Thread(target=lookups, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    assert 1 <= opened(csv) <= 8


def test_each_connection_keeps_a_small_page_cache(tmp_path: Path):
    csv = connector(tmp_path)
    reader = csv.index.reader
    assert reader is not None
    (kib,) = reader._idle[0].execute("PRAGMA cache_size").fetchone()
    assert kib == -store.READ_CACHE_KIB and store.READ_CACHE_KIB <= 256


def test_a_closed_reader_answers_again_on_fresh_connections(tmp_path: Path):
    csv = connector(tmp_path)
    reader = csv.index.reader
    assert reader is not None
    before, idle = list(reader._opened), reader._idle
    reader.close()
    for conn in before:  # every one closed: none is handed to a forked child
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    assert idle == []  # a lookup that had read the old list takes a fresh connection, too
    assert reader.find("employee_id", "E7") is not None
    assert reader._opened and not set(map(id, reader._opened)) & set(map(id, before))
