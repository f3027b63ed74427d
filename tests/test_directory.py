"""The host's directory index (connectors/directory) under the CSV connector, on real files and
real processes: lookups by each identity, one build per version for every process of a host,
a malformed replacement refused once for all, a build killed half way."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.base import ConnectorConfigError
from connectors.csv_source import CsvConnector
from tests.conftest import EMPLOYEES_HEADER, write_csv

REPO = Path(__file__).resolve().parent.parent


def people(count: int, points: int = 100, start: int = 0) -> list[str]:
    return [
        f"E{i},Person.{i}@Example.com,First{i},Last{i},9{i:09d},Dev,Eng,Acme,{points + i % 7}"
        for i in range(start, start + count)
    ]


def replace(path: Path, rows: list[str]) -> None:
    tmp = path.with_suffix(".new")
    write_csv(tmp, rows)
    os.replace(tmp, path)


class Counting(CsvConnector):
    """Counts how often the file is read to be indexed."""

    reads = 0

    def _rows(self):  # type: ignore[no-untyped-def]
        type(self).reads += 1
        return super()._rows()


@pytest.fixture
def big(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "employees.csv", people(3000))


def test_lookups_by_each_identity(big: Path):
    c = CsvConnector(str(big))
    assert c.find("employee_id", "E2999").last_name == "Last2999"
    assert c.find("email", "  PERSON.1234@example.COM ").employee_id == "E1234"
    assert c.find("mobile", "9000000042").employee_id == "E42"
    assert c.find("employee_id", "e42") is None  # ids are exact
    assert c.find("email", "nobody@example.com") is None
    assert c.granted(c.find("employee_id", "E10")) == Decimal(103)
    assert c.index.reader.count == 3000
    assert oct(c.index.path.stat().st_mode & 0o777) == "0o600"


def test_a_restart_with_the_same_file_reuses_the_index(big: Path):
    Counting.reads = 0
    first = Counting(str(big))
    inode = first.index.path.stat().st_ino
    second = Counting(str(big))
    assert Counting.reads == 1 and second.index.path.stat().st_ino == inode
    assert second.find("employee_id", "E7").first_name == "First7"


def test_another_column_mapping_is_another_index(tmp_path: Path):
    path = tmp_path / "hr.csv"
    path.write_text("id,mail,given,family\nX1,a@x.com,Ann,Lee\n", "utf-8")
    columns = {"employee_id": "id", "email": "mail", "first_name": "given", "last_name": "family"}
    assert CsvConnector(str(path), columns=columns).find("email", "a@x.com").first_name == "Ann"
    swapped = {**columns, "first_name": "family", "last_name": "given"}
    assert CsvConnector(str(path), columns=swapped).find("email", "a@x.com").first_name == "Lee"


def test_a_malformed_replacement_is_refused_once_for_every_process(big: Path, caplog):
    Counting.reads = 0
    one, other = Counting(str(big)), Counting(str(big))  # two workers of one host
    replace(big, [*people(3000), "E5,dup@example.com,A,B,,,,,1"])
    assert one.find("employee_id", "E5").email == "Person.5@Example.com"  # the last good data
    assert "duplicate employee_id, the same as on line 7" in caplog.text
    assert other.find("employee_id", "E5").email == "Person.5@Example.com"
    assert Counting.reads == 2  # the first index, and the one refused read: not one per worker
    replace(big, people(3001))
    assert other.find("employee_id", "E3000") is not None
    assert not big.with_name(".employees.csv.index.refused").exists()


def test_duplicate_mobiles_and_case_folded_emails_are_refused(tmp_path: Path):
    for extra in ("Z1,z1@example.com,A,B,9000000001,,,,1", "Z1,PERSON.1@example.com,A,B,,,,,1"):
        path = write_csv(tmp_path / "e.csv", [*people(5), extra])
        with pytest.raises(ConnectorConfigError, match="duplicate"):
            CsvConnector(str(path))


def test_a_build_by_another_process_leaves_the_old_version_serving(big: Path):
    c = CsvConnector(str(big))
    replace(big, people(3001))
    lock = os.open(c.index.path.with_name(c.index.path.name + ".lock"), os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as another worker's build would
        started = time.monotonic()
        assert c.find("employee_id", "E3000") is None  # the old version, at once
        assert time.monotonic() - started < 5
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    assert c.find("employee_id", "E3000") is not None  # the lock is free: indexed now


LOOKUP = """
import sys
from connectors.csv_source import CsvConnector
c = CsvConnector(sys.argv[1])
print(c.find("employee_id", sys.argv[2]) is not None, c.index.path.stat().st_ino, flush=True)
"""


def test_workers_starting_together_build_once(big: Path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", LOOKUP, str(big), "E2999"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    answers = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(answers) == 1 and answers.pop().startswith("True ")  # one index, for all


BUILD = """
import sys
from connectors.csv_source import CsvConnector
CsvConnector(sys.argv[1])
"""


@pytest.mark.slow
def test_a_build_killed_half_way_leaves_the_old_index_and_the_next_start_rebuilds(
    tmp_path: Path,
):
    path = write_csv(tmp_path / "employees.csv", people(50))
    serving = CsvConnector(str(path))
    replace(path, people(400_000))  # big enough to be caught building
    builder = subprocess.Popen([sys.executable, "-c", BUILD, str(path)], cwd=REPO)
    building = list[Path]()
    try:
        deadline = time.monotonic() + 60
        while not (building := list(tmp_path.glob(".employees.csv.index.build-*/index"))):
            assert builder.poll() is None and time.monotonic() < deadline, "no build seen"
            time.sleep(0.01)
        time.sleep(0.2)
        builder.send_signal(signal.SIGKILL)
        builder.wait(timeout=10)
    finally:
        if builder.poll() is None:
            builder.kill()
    assert building[0].exists()  # the half-written file: never renamed into place
    assert serving.index.reader.count == 50
    fresh = CsvConnector(str(path))  # the next start builds anew, and tidies up
    assert fresh.index.reader.count == 400_000 and not building[0].parent.exists()
    assert fresh.find("employee_id", "E399999") is not None
    assert serving.find("employee_id", "E399999") is not None  # adopted, not rebuilt


def test_no_points_column_is_still_refused_as_today(tmp_path: Path):
    path = write_csv(
        tmp_path / "p.csv", ["1,a@x.com,A,B"], header=EMPLOYEES_HEADER.rsplit(",", 5)[0]
    )
    c = CsvConnector(str(path))
    with pytest.raises(ConnectorConfigError, match="points"):
        c.granted(c.find("employee_id", "1"))


def test_values_holding_the_separators_are_kept_exactly(tmp_path: Path):
    odd, other = "X\x1fY", "L\x1eM"  # the separators the index joins values with
    path = write_csv(
        tmp_path / "e.csv",
        [f'S1,s1@example.com,"{odd}",{other},,,,,1', f"S2,s2@example.com,F{other},L,,,,,2"],
    )
    c = CsvConnector(str(path))
    one = c.find("employee_id", "S1")
    assert (one.first_name, one.last_name, one.raw["first_name"]) == (odd, other, odd)
    assert c.find("employee_id", "S2").first_name == f"F{other}"


def test_any_source_can_index_profiles_through_the_directory(tmp_path: Path):
    """Not CSV-only: a connector holding Profiles (a whole-dataset read of an HR system) hands
    them over with `row_of` in `batched` lists; each raw record is kept as the provider's own
    JSON object."""
    from connectors.base import Profile
    from connectors.directory import Dataset, DirectoryIndex, batched, row_of

    people_of_hr = [
        Profile("H1", "Ann@Example.com", "Ann", "Lee", "911", raw={"nested": {"grade": 7}}),
        Profile("H2", "bo@example.com", "Bo", "Ek", active=False, raw={"id": "H2"}),
    ]

    def rows():
        people = (row_of(i, p, None) for i, p in enumerate(people_of_hr, start=1))
        return Dataset(batched(people, size=1))

    index = DirectoryIndex(
        tmp_path / "hr.index", {"employee_id": "id", "email": "mail", "mobile": "tel"}
    )
    reader = index.current("snapshot-1", rows, wait=True)
    ann = reader.find("email", "ann@EXAMPLE.com")
    assert ann.profile == people_of_hr[0] and ann.profile.raw == {"nested": {"grade": 7}}
    assert ann.points is None
    assert reader.find("employee_id", "H2").profile.active is False
    assert index.current("snapshot-1", rows) is reader  # the same version: no rebuild
