"""How a CSV file becomes the directory's rows: fast, because a million of them must index in
seconds, and exact about where a malformed file is wrong."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from itertools import islice, repeat
from pathlib import Path
from typing import Any

from connectors.directory.parts import Part
from connectors.directory.store import (
    BATCH,
    FIELDS,
    RECORD,
    UNIT,
    Dataset,
    MalformedSource,
    joined_values,
)

REQUIRED_COLUMNS = ("employee_id", "email", "first_name", "last_name")
NUMBER = r"[0-9]{1,15}(?:\.[0-9]{1,10})?"
PLAIN_NUMBER = re.compile(NUMBER)


def read(path: Path, columns: dict[str, str], encoding: str, delimiter: str) -> Dataset:
    """The file's rows as the directory stores them, in batches; MalformedSource says what
    is wrong. No Profile, no dict: a million rows must index in seconds. A large file is
    read in two halves at once, the second by another process (connectors.directory.parts)."""
    fh = open(path, newline="", encoding=encoding)  # noqa: SIM115 - closed below
    try:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, [])
        half = _second_half(fh.fileno(), encoding)
    except UnicodeDecodeError as exc:
        fh.close()
        raise MalformedSource(f"not {encoding} text: {exc.reason}") from exc
    except csv.Error as exc:
        fh.close()
        raise MalformedSource(f"line 1: {exc}") from exc
    except BaseException:
        fh.close()
        raise
    layout = Layout(header, columns, encoding)
    # A field the file lacks is the empty value after the record's last.
    fields_at = [layout.at.get(columns[f], len(header)) for f in FIELDS]
    if half is None:
        return Dataset(_records(fh, reader, 0, layout), header, fields_at)
    start, line = half
    first = csv.reader(islice(fh, line - 1 - reader.line_num), delimiter=delimiter)
    part = Part(
        "connectors.directory.csv_rows:second_half",
        {"path": str(path), "start": start, "line": line, "delimiter": delimiter}
        | {"header": header, "columns": columns, "encoding": encoding},
    )
    return Dataset(_records(fh, first, 1, layout), header, fields_at, [part])


def second_half(
    path: str,
    start: int,
    line: int,
    header: list[str],
    columns: dict[str, str],
    encoding: str,
    delimiter: str,
) -> Dataset:
    """The rows from byte `start` (line `line`) on: the part another process reads."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by _records, with fh
    raw.seek(start)
    fh = io.TextIOWrapper(raw, encoding=encoding, newline="")
    reader = csv.reader(fh, delimiter=delimiter)
    return Dataset(_records(fh, reader, line - 1, Layout(header, columns, encoding)))


#: A file smaller than this is read by one process: starting another costs more than it saves.
SPLIT_AT_BYTES = 16 << 20
#: Encodings in which the bytes of a line break or a quote stand for nothing else.
ASCII_SAFE = {"utf-8", "utf-8-sig", "ascii", "latin-1", "iso8859-1", "cp1252"}


def _second_half(fd: int, encoding: str) -> tuple[int, int] | None:
    """Where the file's second half starts (byte, line), when it can be cut there: only a file
    without quotes and lone carriage returns, in which each line is one record. Read a block
    at a time (not mapped: a mapped file counts in the process's RSS while it is looked at)."""
    size = os.fstat(fd).st_size
    if size < SPLIT_AT_BYTES or codecs.lookup(encoding).name not in ASCII_SAFE:
        return None
    start = _line_after(fd, size // 2)
    if start is None:
        return None
    breaks = 0
    for at in range(0, size, SCAN):
        block = os.pread(fd, SCAN + 1, at)  # one byte more: a \r\n across two blocks
        if b'"' in block or LONE_CR.search(block):
            return None
        if at < start:
            breaks += block.count(b"\n", 0, min(SCAN, start - at))
    return start, breaks + 1


def _line_after(fd: int, at: int) -> int | None:
    """The offset of the first line that starts after byte `at` (None: there is none)."""
    while block := os.pread(fd, SCAN, at):
        found = block.find(b"\n")
        if found != -1:
            start = at + found + 1
            return start if os.pread(fd, 1, start) else None
        at += len(block)
    return None


SCAN = 1 << 22
LONE_CR = re.compile(rb"\r(?!\n)")


@dataclass(frozen=True)
class Layout:
    """What it takes to turn records into rows: the header and our field -> column mapping."""

    header: list[str]
    columns: dict[str, str]
    encoding: str

    @cached_property
    def at(self) -> dict[str, int]:
        """Each column's position (the first, where a name repeats)."""
        return {name: self.header.index(name) for name in self.header[::-1]}


def _records(fh: Any, reader: Any, offset: int, layout: Layout) -> Iterator[Iterator[Row]]:
    """Batches of rows, built a column at a time: `map` and `zip` run the per-row work in C,
    where a Python loop over a million rows would take most of the build. The other profile
    fields are read back from the raw record (Dataset.fields_at). `offset`: lines before the
    reader's first."""
    col, header = layout.columns, layout.header
    with fh:
        missing = [col[f] for f in REQUIRED_COLUMNS if col[f] not in header]
        if missing:
            raise MalformedSource(f"missing column(s) {', '.join(missing)}")
        width, at = len(header), layout.at
        id_at, email_at = at[col["employee_id"]], at[col["email"]]
        mobile_at = at.get(col["mobile"])
        points_at = at.get(col["points"])
        before = reader.line_num
        try:
            while chunk := list(islice(reader, BATCH)):
                lines = _lines(chunk, offset + before, offset + reader.line_num)
                before = reader.line_num
                _fit(chunk, width)
                columns = list(zip(*chunk, strict=True))
                eid = list(map(str.strip, columns[id_at]))
                if "" in eid:
                    line = lines[eid.index("")]
                    raise MalformedSource(f"line {line}: empty {col['employee_id']}")
                keys = map(str.lower, map(str.strip, columns[email_at]))
                mobile: Iterable[str] = repeat("")
                if mobile_at is not None:
                    mobile = map(str.strip, columns[mobile_at])
                points: Iterable[str | None] = repeat(None)
                if points_at is not None:
                    points = _points(columns[points_at], lines, col["points"])
                raw = _plain_raws(chunk, width) or map(joined_values, chunk)
                yield zip(
                    lines, eid, keys, mobile, repeat(1), points, repeat(None), raw, strict=False
                )
        except UnicodeDecodeError as exc:
            raise MalformedSource(f"not {layout.encoding} text: {exc.reason}") from exc
        except csv.Error as exc:
            raise MalformedSource(f"line {offset + reader.line_num}: {exc}") from exc


Row = tuple[Any, ...]


def _lines(chunk: list[list[str]], before: int, after: int) -> Sequence[int]:
    """Each record's line number, from the reader's line count before and after the chunk."""
    if after - before == len(chunk):
        return range(before + 1, after + 1)
    # Some record spans lines (a quoted line break): count each one's breaks.
    starts: list[int] = []
    line = after
    for values in reversed(chunk):
        text = "".join(values)
        line -= text.count("\n") + text.count("\r") - text.count("\r\n")
        starts.append(line)
        line -= 1
    return starts[::-1]


def _fit(chunk: list[list[str]], width: int) -> None:
    """Pad short records with empty values and cut long ones to the header's width."""
    if set(map(len, chunk)) == {width}:
        return
    for values in chunk:
        if len(values) < width:
            values += [""] * (width - len(values))
        del values[width:]


def _plain_raws(chunk: list[list[str]], width: int) -> list[str] | None:
    """Each record joined by the unit separator, when no value holds a separator itself
    (None: join them one by one with joined_values)."""
    raws = list(map(UNIT.join, chunk))
    text = RECORD.join(raws)
    if text.count(UNIT) == len(chunk) * (width - 1) and text.count(RECORD) == len(chunk) - 1:
        return raws
    return None


#: A column of plain numbers, one per line: the common case, checked in one match.
PLAIN_NUMBERS = re.compile(f"(?:{NUMBER})?(?:\n(?:{NUMBER})?)*")


def _points(column: Sequence[str], lines: Sequence[int], name: str) -> list[str]:
    """The points as exact decimal text (empty: 0), checked."""
    values = list(map(str.strip, column))
    text = "\n".join(values)
    if text.count("\n") != len(values) - 1 or not PLAIN_NUMBERS.fullmatch(text):
        for value, line in zip(values, lines, strict=True):
            _check_points(value, line, name)
    if "" in values:
        values = [value or "0" for value in values]
    return values


def _check_points(text: str, line: int, column: str) -> None:
    if not text or PLAIN_NUMBER.fullmatch(text):
        return
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise MalformedSource(f"line {line}: {column} {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise MalformedSource(f"line {line}: {column} {text!r} must be a finite number >= 0")
