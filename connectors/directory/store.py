"""One version of a directory on disk: a SQLite file of people, indexed by each identity.

Written once by `write` into a file nobody reads yet, then only read: readers open it
`immutable`, so a lookup takes no lock and reads no change counter. A new version is a new
file renamed over the old one (see index.py); a reader holding the old one keeps reading it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from queue import Queue
from typing import Any
from urllib.parse import quote

from connectors.base import IdentityField, Profile

#: Rows inserted per executemany: large enough to amortise, small enough to stay flat in memory.
BATCH = 20_000
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE people (
    line INTEGER NOT NULL,          -- where the source had it, for error messages
    employee_id TEXT NOT NULL,
    email_key TEXT NOT NULL,        -- the email case-folded: emails match whatever their case
    mobile TEXT NOT NULL,
    active INTEGER NOT NULL,
    points TEXT,                    -- exact decimal text, NULL when the source grants none
    fields TEXT NOT NULL,           -- the other profile fields (FIELDS), as joined_values
    raw TEXT NOT NULL               -- the source's own record: JSON, or joined_values
);
"""
#: The profile fields kept together in `fields` (what is not looked up by needs no column of
#: its own, and fewer columns is a faster build).
FIELDS = ("email", "first_name", "last_name", "designation", "department", "company")
# Each identity must name one person, or a redemption could land on the wrong one.
UNIQUE = {
    "employee_id": "CREATE UNIQUE INDEX ux_id ON people (employee_id)",
    "email": "CREATE UNIQUE INDEX ux_email ON people (email_key) WHERE email_key <> ''",
    "mobile": "CREATE UNIQUE INDEX ux_mobile ON people (mobile) WHERE mobile <> ''",
}
# The partial indexes serve a query only when its WHERE implies theirs (SQLite cannot know a
# bound value is not ''), so the lookups say it too.
SELECT = "SELECT employee_id, mobile, active, points, fields, raw FROM people WHERE "
LOOKUP = {
    "employee_id": SELECT + "employee_id = ?",
    "email": SELECT + "email_key = ? AND email_key <> ''",
    "mobile": SELECT + "mobile = ? AND mobile <> ''",
}
INSERT = f"INSERT INTO people VALUES ({', '.join('?' * 8)})"


class MalformedSource(ValueError):
    """The source cannot be indexed as it is (a duplicate id, a bad value): say where."""


@dataclass(frozen=True)
class Person:
    """A directory entry: the profile, and the points the source grants (None: it grants none)."""

    profile: Profile
    points: Decimal | None


def row_of(line: int, profile: Profile, points: Decimal | None) -> tuple[Any, ...]:
    """The stored row of one person (`profile.raw` kept as a JSON object). A source with many
    rows of one shape may build the same tuple itself, with `raw` its values as
    `joined_values` writes them and their keys given once to `write` (see csv_source.py)."""
    return (
        line,
        profile.employee_id,
        profile.email.lower(),
        profile.mobile,
        int(profile.active),
        None if points is None else format(points, "f"),
        joined_values([getattr(profile, f) for f in FIELDS]),
        json.dumps(dict(profile.raw), separators=(",", ":"), default=str),
    )


def write(
    path: Path,
    version: str,
    rows: Iterable[tuple[Any, ...]],
    names: dict[str, str],
    raw_keys: list[str] | None = None,
) -> int:
    """Write every row (see `row_of`) into a new file at `path`, index it and record `version`.

    Raises MalformedSource when two rows share an identity; `names` gives the source's own
    name of each identity field for the message. `raw_keys`: each row's raw record is the values
    of these keys (`joined_values`). Answers how many people it holds."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        # A file nobody reads until it is complete and renamed: no journal, no fsync per page.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MB while indexing
        conn.execute("PRAGMA threads = 2")  # the index sorts, on this host's second core
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        count = _insert(conn, rows)
        for field, statement in UNIQUE.items():
            try:
                conn.execute(statement)
            except sqlite3.IntegrityError:
                raise MalformedSource(_first_duplicate(conn, field, names[field])) from None
        conn.execute(
            "INSERT INTO meta VALUES ('version', ?), ('count', ?), ('raw_keys', ?)",
            (version, count, json.dumps(raw_keys)),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
    return count


def _insert(conn: sqlite3.Connection, rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert the rows in batches, in a second thread: SQLite works without the GIL while this
    one reads the source, so reading and writing overlap."""
    batches: Queue[list[tuple[Any, ...]] | None] = Queue(maxsize=4)
    failed: list[BaseException] = []

    def writer() -> None:
        while (batch := batches.get()) is not None:
            if not failed:
                try:
                    conn.executemany(INSERT, batch)
                except BaseException as exc:  # handed to the reading thread below
                    failed.append(exc)

    thread = threading.Thread(target=writer, name="directory-writer")
    thread.start()
    count = 0
    try:
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                batches.put(batch)
                count += len(batch)
                batch = []
        batches.put(batch)
        count += len(batch)
    finally:
        batches.put(None)
        thread.join()
    if failed:
        raise failed[0]
    return count


def _first_duplicate(conn: sqlite3.Connection, field: str, name: str) -> str:
    key = {"email": "email_key"}.get(field, field)
    row = conn.execute(
        f"SELECT {key}, MAX(line) FROM people WHERE {key} <> '' GROUP BY {key} "
        "HAVING COUNT(*) > 1 ORDER BY 2 LIMIT 1"
    ).fetchone()
    return f"line {row[1]}: duplicate {name} {row[0]!r}"


#: A row's raw values joined by the unit separator (one C call each way); a row that holds the
#: separator itself is kept as JSON after the record separator instead.
UNIT, RECORD = "\x1f", "\x1e"


def joined_values(values: list[str]) -> str:
    text = UNIT.join(values)
    if text.count(UNIT) == len(values) - 1 and not text.startswith(RECORD):
        return text
    return RECORD + json.dumps(values)


def split_values(text: str) -> list[str]:
    return json.loads(text[1:]) if text.startswith(RECORD) else text.split(UNIT)


class Reader:
    """Lookups in one version's file; a connection per thread, opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        conn = self._connection()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        self.version: str = meta["version"]
        self.count = int(meta["count"])
        self.raw_keys: list[str] | None = json.loads(meta["raw_keys"])

    def find(self, by: IdentityField, value: str) -> Person | None:
        if by == "email":
            value = value.lower()
        row = self._connection().execute(LOOKUP[by], (value,)).fetchone()
        if row is None:
            return None
        employee_id, mobile, active, points, fields, raw = row
        if self.raw_keys is None:
            record = json.loads(raw)
        else:
            record = dict(zip(self.raw_keys, split_values(raw), strict=False))
        named = dict(zip(FIELDS, split_values(fields), strict=True))
        profile = Profile(
            employee_id=employee_id, mobile=mobile, **named, active=bool(active), raw=record
        )
        return Person(profile, None if points is None else Decimal(points))

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # immutable: the file never changes once renamed into place (a new version is a new
            # file), so SQLite need not lock it or look for changes on each query.
            uri = f"file:{quote(str(self.path))}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn
