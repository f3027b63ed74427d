"""The directory index's files hold every employee's row: no other user may read them at any
moment, whatever the umask, and no link planted beside the source may redirect a write.

Found from outside: under a 022 umask the index was built world-readable (`.tmp-<pid>`,
`.part*`), the refusal file (0644) quoted a duplicated email, and a symlink planted at the
name the refusal was written to made the gateway overwrite the link's target.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.base import ConnectorConfigError
from connectors.csv_source import CsvConnector
from connectors.directory import csv_rows, index
from tests.test_directory import people, replace


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_every_file_a_build_writes_is_private_from_its_first_byte(
    tmp_path: Path, umask_022: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_rows, "SPLIT_AT_BYTES", 1024)  # a second part, by a child process
    seen: dict[str, int] = {}
    folders: dict[str, int] = {}
    real_write = index.write

    def watching(path: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        others = args[3] if len(args) > 3 else kwargs.get("others", [])
        for file in [path, *(child.path for child in others)]:
            seen[str(file)] = mode(file) if file.exists() else -1  # before SQLite writes a byte
            folders[str(file.parent)] = mode(file.parent)
        return real_write(path, *args, **kwargs)

    monkeypatch.setattr(index, "write", watching)
    path = write_csv_rows(tmp_path, people(200))
    connector = CsvConnector(str(path))
    assert len(seen) >= 2, seen  # the index and at least one part were watched
    assert all(m == 0o600 for m in seen.values()), {k: oct(v) for k, v in seen.items()}
    # ... in a folder of the build's own, closed to others, and gone afterwards
    assert str(tmp_path) not in folders and set(folders.values()) == {0o700}, folders
    assert mode(connector.index.path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if ".build-" in p.name) == []
    connector.close()


def test_a_refusal_is_private_and_names_the_line_and_column_not_the_value(
    tmp_path: Path, umask_022: None
) -> None:
    path = write_csv_rows(tmp_path, people(20))
    connector = CsvConnector(str(path))
    rows = people(20)
    rows[15] = "E15,person.3@example.com" + rows[15][len("E15,Person.15@Example.com") :]
    replace(path, rows)
    assert connector.find("employee_id", "E1") is not None  # the last good version serves
    refused = path.with_name(f".{path.name}.index.refused")
    assert mode(refused) == 0o600
    reason = json.loads(refused.read_text())["reason"]
    assert reason == "line 17: duplicate email, the same as on line 5"
    assert "person.3" not in refused.read_text().lower()
    connector.close()


def test_links_planted_beside_the_source_redirect_no_write(tmp_path: Path) -> None:
    """A folder others can write to: every name the gateway writes under is planted with a
    link to a file of the victim's. Nothing the links point to changes."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "shared"
    folder.mkdir()
    path = write_csv_rows(folder, people(20))
    index_name = f".{path.name}.index"
    for suffix in [".refused.tmp-", ".tmp-", ".part1-"]:
        (folder / f"{index_name}{suffix}{os.getpid()}").symlink_to(victim)
    connector = CsvConnector(str(path))
    rows = people(20)
    rows[10] = rows[2]  # a malformed replacement: a refusal is written
    replace(path, rows)
    assert connector.find("employee_id", "E1") is not None
    assert victim.read_text() == "precious\n"
    assert (folder / f"{index_name}.refused").is_file()
    assert not (folder / f"{index_name}.refused").is_symlink()
    connector.close()


def test_a_lock_file_planted_as_a_link_is_refused_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim-lock"  # a link to a file that does not exist yet: O_CREAT
    path = write_csv_rows(tmp_path, people(5))
    path.with_name(f".{path.name}.index.lock").symlink_to(victim)
    with pytest.raises(ConnectorConfigError):
        CsvConnector(str(path))
    assert not victim.exists()


def write_csv_rows(folder: Path, rows: list[str]) -> Path:
    from tests.conftest import write_csv

    return write_csv(folder / "people.csv", rows)
