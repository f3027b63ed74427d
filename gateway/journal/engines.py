"""Engines for the journal: SQLite made durable and serialised, PostgreSQL pooled.

SQLite: WAL with synchronous=FULL, so a commit is on disk before we answer; writers start with
BEGIN IMMEDIATE, and within one host they queue on a file lock first, because SQLite's own
busy handler polls with sleeps (1, 2, 5 ms ...) and would leave the database idle between them.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, cast

from sqlalchemy import ClauseElement, Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.sql.compiler import SQLCompiler

log = logging.getLogger(__name__)


def sqlite_engine(url: str, writer: bool) -> Engine:
    """`writer`: transactions begin IMMEDIATE. Otherwise each read is one autocommit SELECT."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        private_database_file(Path(database))
    engine = create_engine(
        url,
        connect_args={"timeout": 30},
        hide_parameters=True,  # an error must not quote the tokens or ids it was writing
        # A reader never opens a transaction, so there is nothing to roll back on check-in.
        pool_reset_on_return="rollback" if writer else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # autocommit at the driver: we say BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    if writer:

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Straight to the driver: exec_driver_sql would cost more than BEGIN itself.
            conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]

    return engine


def private_database_file(path: Path) -> None:
    """The journal holds every operation and Xoxoday's tokens: its file, and the WAL and shared
    memory files beside it (SQLite gives them the database file's mode), are the gateway's
    alone (0600), and a folder the gateway creates for it is too (0700). Files an earlier
    release made readable to others are tightened.

    Only SQLite ever opens a database it uses: closing any descriptor of a file drops every
    POSIX lock this process holds on it, SQLite's included, and the next process to close its
    last connection then takes itself for the last user, checkpoints and deletes the WAL under
    a running server ("How To Corrupt An SQLite Database File", 2.2). So a missing file is
    created with O_EXCL (no connection of ours can be on a file that did not exist), and an
    existing one is only chmod-ed, by name."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except FileNotFoundError:
            pass
        except PermissionError:  # not ours to change: say so once, keep serving
            log.warning("%s is readable by others and cannot be made private", file)


def postgres_engine(url: str, namespace: str | None = None) -> Engine:
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        hide_parameters=True,
        connect_args=_search_path(namespace),
    )


def postgres_reader(url: str, namespace: str | None = None) -> Engine:
    """Reads of one statement need no transaction (BEGIN, and ROLLBACK at check-in) and no
    ping at checkout: each was a round trip as long as the read. A read on a connection that
    died meanwhile is tried once more on a new one (see hot.py), as a ping would have."""
    return create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_size=5,
        max_overflow=5,
        hide_parameters=True,
        connect_args=_search_path(namespace),
    )


def _search_path(namespace: str | None) -> dict[str, Any]:
    """The journal's tables in `namespace` (a name the configuration checked): every
    statement names them unqualified, and the search path finds them there."""
    return {"options": f"-c search_path={namespace}"} if namespace else {}


class HostWriteLock:
    """One writer at a time across this host's processes and threads (for a SQLite journal).

    flock wakes a waiter as soon as the holder lets go. The file is reopened after a fork, so
    each worker holds its own open file description, and a thread lock guards the threads
    sharing one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            # Never through a link planted at its name (its folder may be shared).
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            self._pid = os.getpid()
        return self._fd

    def close(self) -> None:
        with self._threads:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


class RawStatement:
    """A Core statement compiled once for a dialect, run straight on a DBAPI cursor.

    On the hottest paths (a balance read, a debit inside the write lock) SQLAlchemy's
    per-execution machinery costs more than the database's own work; the SQL still comes from
    Core, and each value passes through its column type's bind processor, as Core would do.
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        # A statement compiles to an SQLCompiler, whose binds and order this reads.
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self._compiled = compiled
        self.sql = compiled.string
        self._order = compiled.positiontup if compiled.positional else None
        # With no literal values in the statement, the parameters are exactly the caller's:
        # construct_params would only copy them, at a cost comparable to the query itself.
        self._only_caller_values = all(bind.required for bind in compiled.binds.values())
        self._names = tuple(compiled.binds)
        self._processors: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors[name] = processor

    def args(self, params: dict[str, Any]) -> Any:
        if self._only_caller_values:
            values = {name: params[name] for name in self._names}
        else:
            # construct_params adds the statement's own literal values (e.g. an account's zeros).
            values = dict(self._compiled.construct_params(params))
        for name, processor in self._processors.items():
            values[name] = processor(values[name])
        return tuple(values[k] for k in self._order) if self._order is not None else values

    def execute(self, cursor: Any, params: dict[str, Any]) -> Any:
        cursor.execute(self.sql, self.args(params))
        return cursor

    def fetchone(self, cursor: Any, params: dict[str, Any]) -> tuple[Any, ...] | None:
        row = self.execute(cursor, params).fetchone()
        return tuple(row) if row is not None else None


_forks = 0  # how many forks this process descends from: a child must not reuse its parent's


def _count_fork() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_count_fork)


class ThreadReaders:
    """One SQLite reading connection and cursor per thread (and process), kept open.

    A SQLite read is a few microseconds; the pool's checkout and check-in around it cost more
    than that (docs/BENCHMARKS.md). Each connection is detached from the engine's pool, so it
    was set up by the engine's connect events and is closed when its thread ends. It never
    opens a transaction, and a one-row read leaves no statement pending, so each read sees the
    latest commit and no reader holds back a WAL checkpoint.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()

    def cursor(self) -> Any:
        local = self._local
        if getattr(local, "forks", None) != _forks:  # a forked worker opens its own
            proxied = self.engine.raw_connection()
            driver = proxied.driver_connection
            assert driver is not None  # a connection just checked out of the pool
            local.cursor, local.forks = driver.cursor(), _forks
            proxied.detach()
        return local.cursor
