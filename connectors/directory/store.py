"""One version of a directory on disk: a SQLite file of people, indexed by each identity.

Written once by `write` into a file nobody reads yet, then only read: readers open it
`immutable`, so a lookup takes no lock and reads no change counter. A new version is a new
file renamed over the old one (see index.py); a reader holding the old one keeps reading it.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from connectors.base import IdentityField, Profile, UpstreamUnavailable

if TYPE_CHECKING:
    from connectors.directory.parts import Part
    from connectors.directory.progress import Progress

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
    fields TEXT,                    -- the other profile fields (FIELDS), as joined_values;
                                    -- NULL where they are values of raw (Dataset.fields_at)
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
#: A reader connection's page cache, in KiB (SQLite's default is 2 MB). The file is immutable
#: and the host's page cache holds it: a page missing here is one pread from memory, so a
#: lookup costs ~1-2 µs more in a 10k-row file than with every page cached (nothing in a 1M-row
#: one, whose random lookups miss either way), and 50 programs' readers stay a few MB.
READ_CACHE_KIB = 64


class MalformedSource(ValueError):
    """The source cannot be indexed as it is (a duplicate id, a bad value): say where."""


class IndexUnwritable(UpstreamUnavailable):
    """The host cannot write the index now (a full disk, an I/O error): nothing is wrong with
    the source, and the build is worth trying again once there is room. Raised only when no
    earlier version can answer instead: a lookup then answers 503, a command one line."""


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


def batched(rows: Iterable[tuple[Any, ...]], size: int = BATCH) -> Iterator[list[tuple[Any, ...]]]:
    """Rows in lists of `size`, as `write` takes them."""
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


@dataclass
class Dataset:
    """What a source hands over to be indexed: its rows (see `row_of`) in batches (see
    `batched`), and how to read them back."""

    batches: Iterable[Iterable[tuple[Any, ...]]]
    #: Each row's raw record is the values of these keys (`joined_values`); None: a JSON object.
    raw_keys: list[str] | None = None
    #: With raw_keys: the FIELDS are these raw values, stripped (len(raw_keys): no such value),
    #: so rows leave `fields` NULL and the file does not hold them twice.
    fields_at: list[int] | None = None
    #: Further parts of the same data, each read by a process of its own (see parts.py).
    parts: list[Part] = field(default_factory=list)
    #: Values nobody may be found by, as ("email", key) or ("mobile", number): those two
    #: people hold (remote.UniqueRows). Read once every row is written: it may fill meanwhile.
    shared: AbstractSet[tuple[str, str]] = field(default_factory=frozenset)


class Merge(Protocol):
    def merge_into(self, conn: sqlite3.Connection) -> int: ...


def write(
    path: Path,
    version: str,
    data: Dataset,
    names: dict[str, str],
    others: Sequence[Merge] = (),
    progress: Progress | None = None,
) -> int:
    """Write every row of `data`, and those `others` merge in, into a new file at `path`, index
    it and record `version`; `progress` counts this process's rows as they go in.

    Raises MalformedSource when two rows share an identity; `names` gives the source's own
    name of each identity field for the message. Answers how many people it holds."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        # A file nobody reads until it is complete and renamed: no journal, no fsync per page.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        # 8 MB: more made the build no faster, and a worker indexing a replacement grew by
        # all of it (64 MB took a worker from 63 MB to 163 MB while it built).
        conn.execute("PRAGMA cache_size = -8192")
        conn.execute("PRAGMA threads = 2")  # the index sorts, on this host's second core
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        count = insert(conn, data.batches, progress.add if progress else None)
        conn.execute("COMMIT")  # a part is attached, and detached, outside a transaction
        count += sum(other.merge_into(conn) for other in others)
        if progress is not None:
            progress.making_lookups()
        conn.execute("BEGIN")
        _clear_shared(conn, data.shared)
        for field, statement in UNIQUE.items():
            try:
                conn.execute(statement)
            except sqlite3.IntegrityError:
                raise MalformedSource(_first_duplicate(conn, field, names[field])) from None
        meta = {"version": version, "count": count, "raw_keys": json.dumps(data.raw_keys)}
        meta["fields_at"] = json.dumps(data.fields_at)
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
    return count


def insert(
    conn: sqlite3.Connection,
    batches: Iterable[Iterable[tuple[Any, ...]]],
    counted: Callable[[int], None] | None = None,
) -> int:
    """Insert the batches, each in one executemany (SQLite iterates it in C); `counted` is
    told each batch's number of rows.

    The cyclic garbage collector is paused meanwhile: a million rows are millions of new
    tuples and lists, none of them in a cycle, and each collection it would start walks all of
    them again (a third of the build's time). Every object is freed by its count as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        count = 0
        for batch in batches:
            added = conn.executemany(INSERT, batch).rowcount
            count += added
            if counted is not None:
                counted(added)
        return count
    finally:
        if was_enabled:
            gc.enable()


def _clear_shared(conn: sqlite3.Connection, shared: AbstractSet[tuple[str, str]]) -> None:
    """Clear each of `shared` from every row holding it: nobody is found by a value two people
    hold (their rows stay, found by what else they hold). One pass per column, however many."""
    if not shared:
        return
    conn.execute("CREATE TEMP TABLE shared (identity TEXT NOT NULL, value TEXT NOT NULL)")
    conn.executemany("INSERT INTO temp.shared VALUES (?, ?)", sorted(shared))
    for identity, column in (("email", "email_key"), ("mobile", "mobile")):
        conn.execute(
            f"UPDATE people SET {column} = '' WHERE {column} IN "
            "(SELECT value FROM temp.shared WHERE identity = ?)",
            (identity,),
        )
    conn.execute("DROP TABLE temp.shared")


def _first_duplicate(conn: sqlite3.Connection, field: str, name: str) -> str:
    """Where the first repeated value is, by line and column: never the value itself (an
    email, a mobile number), which the refusal's file and the log would otherwise keep."""
    key = {"email": "email_key"}.get(field, field)
    first, repeated = conn.execute(
        f"SELECT MIN(line), MAX(line) FROM people WHERE {key} <> '' GROUP BY {key} "
        "HAVING COUNT(*) > 1 ORDER BY 2 LIMIT 1"
    ).fetchone()
    return f"line {repeated}: duplicate {name}, the same as on line {first}"


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
    """Lookups in one version's file, on a pool of connections shared by the threads.

    A thread takes an idle connection for one lookup and puts it back (opening one when none
    is idle), so a process holds about as many as lookups of this file ever ran at once, not
    one per thread per file: with many programs in one deployment, 16 threads x 50 files of
    connections, each filling its own page cache, grew a worker past 600 MB."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._idle: list[sqlite3.Connection] = []  # list.pop and append are atomic
        self._opened: list[sqlite3.Connection] = []  # every one, for close()
        self._opened_lock = threading.Lock()
        conn = self._open()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        self._idle.append(conn)
        self.version: str = meta["version"]
        self.count = int(meta["count"])
        self.raw_keys: list[str] | None = json.loads(meta["raw_keys"])
        self.fields_at: list[int] | None = json.loads(meta.get("fields_at", "null"))

    def find(self, by: IdentityField, value: str) -> Person | None:
        if by == "email":
            value = value.lower()
        idle = self._idle
        try:
            conn = idle.pop()
        except IndexError:
            conn = self._open()
        try:
            row = conn.execute(LOOKUP[by], (value,)).fetchone()
        finally:
            idle.append(conn)  # after close(): a list nobody takes from any more
        if row is None:
            return None
        employee_id, mobile, active, points, fields, raw = row
        if self.raw_keys is None:
            record = json.loads(raw)
        else:
            values = split_values(raw)
            record = dict(zip(self.raw_keys, values, strict=False))
            if fields is None and self.fields_at is not None:
                values.append("")
                fields = joined_values([values[i].strip() for i in self.fields_at])
        named = dict(zip(FIELDS, split_values(fields), strict=True))
        profile = Profile(
            employee_id=employee_id, mobile=mobile, **named, active=bool(active), raw=record
        )
        return Person(profile, None if points is None else Decimal(points))

    def _open(self) -> sqlite3.Connection:
        # immutable: the file never changes once renamed into place (a new version is a new
        # file), so SQLite need not lock it or look for changes on each query.
        uri = f"file:{quote(str(self.path))}?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        conn.execute(f"PRAGMA cache_size = -{READ_CACHE_KIB}")
        with self._opened_lock:
            self._opened.append(conn)
        return conn

    def close(self) -> None:
        """Close every connection: a process about to fork (gunicorn's master) must not hand
        a SQLite connection to its children. A later lookup opens one again."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
            idle, self._idle = self._idle, []
            idle.clear()  # a lookup that read self._idle just before finds none of these
        for conn in opened:
            conn.close()
