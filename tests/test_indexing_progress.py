"""Long work says what it is doing: a big CSV's build is announced, its rows counted every few
seconds while it is read (the child's half too), and its end logged with rows and time;
`check` shows those lines before and while it waits, and nothing for a small file."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors import csv_source
from connectors.csv_source import CsvConnector
from connectors.directory import csv_rows, progress
from gateway.cli import main
from tests.conftest import write_config, write_csv
from tests.test_directory import people

ROWS = 60_000  # three batches of store.BATCH, about half of them read by the child


def lines_of(caplog: pytest.LogCaptureFixture, path: Path) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"indexing {path}")]


def counts(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := re.search(r": (\d+) rows so far", line))]


def test_a_big_file_is_announced_counted_in_both_halves_while_it_runs_and_timed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    path = write_csv(tmp_path / "employees.csv", people(ROWS))
    monkeypatch.setattr(csv_source, "ANNOUNCE_BYTES", 1024)  # a "big" file
    monkeypatch.setattr(csv_rows, "SPLIT_AT_BYTES", 1024)  # the second half read by a child
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.0)  # a line at every count
    with caplog.at_level(logging.INFO, logger="connectors"):
        CsvConnector(str(path)).close()
    lines = lines_of(caplog, path)
    assert lines[0] == f"indexing {path}: started", lines
    assert re.fullmatch(rf"indexing {re.escape(str(path))}: {ROWS} rows in \d+\.\d s", lines[-1])
    seen = counts(lines)
    assert len(seen) >= 3 and seen == sorted(seen), lines
    # This process reads half the rows: only the child's own reports, relayed while it runs,
    # bring the running count to all of them.
    assert max(seen) == ROWS, lines


def test_a_small_file_logs_its_closing_line_alone(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    path = write_csv(tmp_path / "employees.csv", people(3000))
    with caplog.at_level(logging.INFO, logger="connectors"):
        CsvConnector(str(path)).close()
    assert progress.EVERY_SECONDS <= 5  # "every few seconds"
    [line] = lines_of(caplog, path)
    assert re.fullmatch(r"indexing .*: 3000 rows in \d+\.\d s", line)


def check(config: Path) -> tuple[int, str, str]:
    out = CliRunner().invoke(main, ["check", "--config", str(config), "--person", "E5"])
    return out.exit_code, out.stdout, out.stderr


def test_check_says_it_is_indexing_a_big_file_before_it_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = write_csv(tmp_path / "employees.csv", people(ROWS))
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    monkeypatch.setattr(csv_source, "ANNOUNCE_BYTES", 1024)
    monkeypatch.setattr(progress, "EVERY_SECONDS", 0.0)
    code, stdout, stderr = check(config)
    assert code == 0, stdout + stderr
    said = stderr.splitlines()
    assert said[0] == f"points-gateway: indexing {path}: started", stderr
    assert any(" rows so far " in line for line in said), stderr
    assert re.fullmatch(rf"points-gateway: indexing .*: {ROWS} rows in \d+\.\d s", said[-1])
    assert "lookup   found E5 (active)" in stdout
    # Indexed once: the next check reuses it and says nothing about indexing.
    code, _, stderr = check(config)
    assert code == 0 and stderr == "", stderr


def test_check_on_a_small_file_says_nothing_about_indexing(tmp_path: Path):
    write_csv(tmp_path / "employees.csv", people(3000))
    code, stdout, stderr = check(write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}"))
    assert code == 0, stdout + stderr
    assert stderr == ""
