"""How a CSV file becomes the directory's rows (connectors/directory/csv_rows.py): read a column
at a time in batches, a large plain file in two halves by two processes, and every malformed
value still reported at its own line, whichever half or batch it falls in."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from connectors.base import ConnectorConfigError
from connectors.csv_source import DEFAULT_COLUMNS, CsvConnector
from connectors.directory import csv_rows
from tests.conftest import EMPLOYEES_HEADER, write_csv


def people(count: int, start: int = 0) -> list[str]:
    return [
        f"E{i},P{i}@Example.com,First{i},Last{i},9{i:09d},Dev,Eng,Acme,{100 + i}"
        for i in range(start, start + count)
    ]


@pytest.fixture
def small_batches_and_halves(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 7 rows, and any file over 1 KB read in two halves: the boundaries a million
    rows cross, on a file a test can write in a millisecond."""
    monkeypatch.setattr(csv_rows, "BATCH", 7)
    monkeypatch.setattr(csv_rows, "SPLIT_AT_BYTES", 1024)


def refusal(path: Path) -> str:
    with pytest.raises(ConnectorConfigError) as caught:
        CsvConnector(str(path))
    return str(caught.value)


@pytest.mark.usefixtures("small_batches_and_halves")
def test_a_file_read_in_two_halves_answers_every_row_from_each(tmp_path: Path):
    path = write_csv(tmp_path / "people.csv", people(500))
    assert len(csv_rows.read(path, DEFAULT_COLUMNS, "utf-8", ",").parts) == 1
    c = CsvConnector(str(path))
    for i in (0, 6, 7, 248, 249, 250, 251, 499):
        found = c.find("employee_id", f"E{i}")
        assert found is not None, i
        assert (found.email, found.first_name, found.mobile) == (
            f"P{i}@Example.com",
            f"First{i}",
            f"9{i:09d}",
        )
        assert c.find("email", f"p{i}@example.COM").employee_id == f"E{i}"
        assert c.granted(found) == Decimal(100 + i)
        assert found.raw["designation"] == "Dev"


@pytest.mark.usefixtures("small_batches_and_halves")
@pytest.mark.parametrize("at", [3, 260, 499])  # first half, second half, last row
def test_each_malformed_value_is_reported_at_its_line_in_either_half(tmp_path: Path, at: int):
    rows = people(500)
    rows[at] = rows[at].rsplit(",", 1)[0] + ",12abc"
    assert f"line {at + 2}: points '12abc' is not a number" in refusal(
        write_csv(tmp_path / "bad-points.csv", rows)
    )
    rows = people(500)
    rows[at] = "," + rows[at].split(",", 1)[1]
    assert f"line {at + 2}: empty employee_id" in refusal(write_csv(tmp_path / "no-id.csv", rows))


@pytest.mark.usefixtures("small_batches_and_halves")
def test_a_duplicate_across_the_halves_is_refused(tmp_path: Path):
    rows = people(500)
    rows[400] = "E10" + rows[400][len("E400") :]
    refused = refusal(write_csv(tmp_path / "d.csv", rows))
    assert "line 402: duplicate employee_id, the same as on line 12" in refused


@pytest.mark.usefixtures("small_batches_and_halves")
def test_a_file_with_quotes_is_read_whole_and_counts_lines_of_quoted_line_breaks(tmp_path: Path):
    """A quoted value may hold a line break: such a file cannot be cut at one, and each record
    after it is still reported at the line it starts on."""
    rows = people(40)
    rows[2] = 'E2,p2@example.com,"Two\nLines",Last2,,Dev,Eng,Acme,5'
    rows[5] = 'E5,p5@example.com,"Three\r\nLines\nHere",Last5,,Dev,Eng,Acme,5'
    rows[30] = "E30,p30@example.com,F,L,,Dev,Eng,Acme,-1"
    path = write_csv(tmp_path / "quoted.csv", rows)
    assert csv_rows.read(path, DEFAULT_COLUMNS, "utf-8", ",").parts == []
    # rows[2] takes 2 lines and rows[5] 3: row 30 starts 3 lines further down than its index.
    assert "line 35: points '-1' must be a finite number >= 0" in refusal(path)
    rows[30] = "E31,p30@example.com,F,L,,Dev,Eng,Acme,1"
    assert "line 36: duplicate employee_id, the same as on line 35" in refusal(
        write_csv(path, rows)
    )
    rows[30] = "E30,p30@example.com,F,L,,Dev,Eng,Acme,1"
    c = CsvConnector(str(write_csv(path, rows)))
    assert c.find("employee_id", "E5").first_name == "Three\r\nLines\nHere"
    assert c.find("employee_id", "E39").last_name == "Last39"


@pytest.mark.usefixtures("small_batches_and_halves")
def test_short_and_long_records_are_fitted_to_the_header(tmp_path: Path):
    rows = people(30)
    rows[8] = "E8,p8@example.com,Short,Row"  # no mobile and onwards: empty, points 0
    rows[20] = rows[20] + ",extra,values"
    c = CsvConnector(str(write_csv(tmp_path / "ragged.csv", rows)))
    short = c.find("employee_id", "E8")
    assert (short.last_name, short.mobile, c.granted(short)) == ("Row", "", Decimal(0))
    long = c.find("employee_id", "E20")
    assert (long.company, c.granted(long)) == ("Acme", Decimal(120))
    assert list(long.raw) == EMPLOYEES_HEADER.split(",")  # the extra values are dropped


def test_a_malformed_second_half_is_refused_and_leaves_no_part_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(csv_rows, "SPLIT_AT_BYTES", 1024)
    path = write_csv(tmp_path / "people.csv", people(500))
    path.write_bytes(path.read_bytes().replace(b"First400", b"First\xff\xfe"))
    assert "not utf-8-sig text: invalid start byte" in refusal(path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "tmp") == [
        ".people.csv.index.lock",
        ".people.csv.index.refused",
        "people.csv",
    ]
