"""What every program's journal on one database shares, and a journal bound to one program.

A deployment of fifty programs opens one journal: one writer and one reader engine (their
pools), one host write lock, one hot path. Journal.for_program binds another program's name to
the same Connections; binding one costs an object, never a connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from gateway.journal.engines import (
    HostWriteLock,
    postgres_engine,
    postgres_reader,
    sqlite_engine,
)
from gateway.journal.hot import HotPath
from gateway.journal.scope import program_name


class Connections:
    """The journal database's engines, opened lazily (a forked worker makes its own)."""

    def __init__(self, url: str, namespace: str | None = None) -> None:
        """`namespace`: the PostgreSQL schema of the journal's tables (default: the search
        path's first, normally `public`)."""
        self.url = url
        self.namespace = namespace or None
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self._lock = threading.Lock()
        self._writer: Engine | None = None
        self._reader: Engine | None = None
        self._hot_path: HotPath | None = None
        database = make_url(url).database if self.is_sqlite else None
        self.host_lock = (
            HostWriteLock(Path(database + ".writelock"))
            if database and database != ":memory:"
            else None
        )

    @property
    def writer(self) -> Engine:
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = (
                        sqlite_engine(self.url, writer=True)
                        if self.is_sqlite
                        else postgres_engine(self.url, self.namespace)
                    )
        return self._writer

    @property
    def reader(self) -> Engine:
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    self._reader = (
                        sqlite_engine(self.url, writer=False)
                        if self.is_sqlite
                        else postgres_reader(self.url, self.namespace)
                    )
        return self._reader

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: commits on leaving, rolls back on an exception."""
        engine = self.writer  # first: it creates the database's folder, where the lock file goes
        if self.host_lock is None:
            with engine.begin() as conn:
                yield conn
            return
        with self.host_lock.held(), engine.begin() as conn:
            yield conn

    def hot(self) -> HotPath:
        if self._hot_path is None:
            writer, reader = self.writer, self.reader  # before the lock: each takes it too
            with self._lock:
                if self._hot_path is None:
                    self._hot_path = HotPath(writer, reader, self.host_lock)
        return self._hot_path

    def dispose(self) -> None:
        for engine in (self._writer, self._reader):
            if engine is not None:
                engine.dispose()
        self._writer = self._reader = None
        self._hot_path = None
        if self.host_lock is not None:
            self.host_lock.close()


class Bound:
    """A journal bound to one program: the shared Connections, and the program's name, which
    every statement on the program's rows names (see scope.py)."""

    def __init__(self, connections: Connections, program: str) -> None:
        self._db = connections
        self.program = program_name(program)

    @property
    def url(self) -> str:
        return self._db.url

    @url.setter
    def url(self, url: str) -> None:
        """Another database of the same kind, for every program (after dispose: its engines
        open on it when next used)."""
        self._db.url = url

    @property
    def namespace(self) -> str | None:
        return self._db.namespace

    @property
    def is_sqlite(self) -> bool:
        return self._db.is_sqlite

    @property
    def writer(self) -> Engine:
        return self._db.writer

    @property
    def reader(self) -> Engine:
        return self._db.reader

    def _write(self) -> AbstractContextManager[Connection]:
        """A write transaction of the journal's (every program's write queues on one lock)."""
        return self._db.write()

    def _hot(self) -> HotPath:
        return self._db.hot()
