"""The directory index of one source, shared by every process of a host.

A connector that must index a whole dataset to answer lookups (a CSV; a whole-dataset read of
an HR system) hands it to a DirectoryIndex as rows with a version (what identifies that data:
a file's size, mtime and inode, say). The index:

- answers from `<path>`, a SQLite file (store.py), read by every worker;
- builds a new version while holding `<path>.lock` (flock: one process of the host at a time),
  in a private folder `<path>.build-<random>` (0700, every file in it 0600 from its first
  byte), renamed over `<path>` only when complete, so readers keep the old version meanwhile
  and a build killed half way leaves it serving (the next one starts over);
- reuses `<path>` when its version is the source's (a restart does not rebuild);
- remembers a version it could not index in `<path>.refused`, so no other process parses a
  malformed source again; the last good version keeps serving;
- keeps the last good version serving when the host cannot write a new one (a full disk, an I/O
  error), leaving nothing of the build behind: a process starting meanwhile (a worker gunicorn
  restarts) answers from the version on disk rather than failing to start. The build is tried
  again once more room is free where the index lives, or after RETRY_SECONDS, not on every
  lookup (each try would fill the disk the journal shares for a moment).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from connectors.directory.parts import Child
from connectors.directory.progress import Progress
from connectors.directory.store import Dataset, IndexUnwritable, MalformedSource, Reader, write

log = logging.getLogger(__name__)

#: The data of a version, read when it must be indexed.
Rows = Callable[[], Dataset]
#: After a build the host could not write, the next waits until this much more is free where
#: the index lives than the failed one left, or RETRY_SECONDS have passed.
ROOM_BYTES = 1 << 20
RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class Unwritten:
    """A version the host could not write: when, and how much room that left."""

    version: str
    at: float  # time.monotonic()
    free: int


class DirectoryIndex:
    def __init__(
        self, path: Path, names: dict[str, str], label: str = "", big: Callable[[], bool] = bool
    ) -> None:
        """`path`: where the index lives; `names`: the source's own name of each identity
        field (employee_id, email, mobile), for the messages about duplicates. A build's lines
        name the source `label` (else the index), at once when `big()` (progress.py)."""
        self.path = path
        self.names = names
        self.label = label or str(path)
        self.big = big
        self._lock = threading.Lock()  # one build at a time within this process
        self._reader: Reader | None = None
        self._reader_inode = 0
        self._refused: str | None = None  # the version last refused, known in this process
        self._unwritten: Unwritten | None = None  # the last build the host could not write

    @property
    def reader(self) -> Reader | None:
        """The version this process answers from now (None before the first one)."""
        return self._reader

    def current(self, version: str, rows: Rows, wait: bool = False) -> Reader | None:
        """The index of `version`: this process's, the one on disk, or one built now.

        While another process builds, the version already served keeps serving (`wait`:
        block for the build instead; with nothing served yet, it always waits). A source
        refused before is not indexed again: the last good version answers, and None when
        there is none. Raises MalformedSource (or IndexUnwritable, when the host cannot write
        it) only when nothing could be served at all."""
        reader = self._reader
        if reader is not None and (
            reader.version == version or self._refused == version or self._no_room_yet(version)
        ):
            return reader
        with self._lock:
            found = self._adopt(version)
            if found is not None:
                return found
            if self.refusal(version) is not None:
                self._refused = version
                return self._refused_or_raise(version)
            if self._reader is not None and self._no_room_yet(version):
                return self._reader  # another thread has just failed to write it
            with self._host_lock(wait or self._reader is None) as held:
                if not held:
                    return self._reader  # another process is building: old data meanwhile
                found = self._adopt(version)  # built by the holder before us
                if found is not None:
                    return found
                return self._build(version, rows)

    def close(self) -> None:
        """Let go of the version served; the next lookup opens the one on disk again."""
        with self._lock:
            if self._reader is not None:
                self._reader.close()
            self._reader, self._reader_inode = None, 0

    def refusal(self, version: str) -> str | None:
        """Why `version` could not be indexed, if it could not."""
        try:
            marker = json.loads((self._sibling(".refused")).read_text())
        except (OSError, ValueError):
            return None
        return str(marker["reason"]) if marker.get("version") == version else None

    # -- internals ---------------------------------------------------------------------------
    def _adopt(self, version: str | None) -> Reader | None:
        """Open the index on disk if it is `version` (None: whichever it is), and not the one
        open already."""
        try:
            inode = self.path.stat().st_ino
        except FileNotFoundError:
            return None
        if inode != self._reader_inode:
            try:
                reader = Reader(self.path)
            except Exception:  # a torn or foreign file: the build below replaces it
                log.warning("directory index %s unreadable; it will be rebuilt", self.path)
                return None
            if version is None or reader.version == version:
                self._reader, self._reader_inode = reader, inode
                return reader
        served = self._reader
        return served if served and version in (None, served.version) else None

    def _refused_or_raise(self, version: str) -> Reader | None:
        reason = self.refusal(version) or "refused"
        if self._reader is None:
            raise MalformedSource(reason)
        return self._reader

    def _build(self, version: str, rows: Rows) -> Reader | None:
        self._remove_leftovers()
        try:
            # Everything a build writes (the new index, the parts, a refusal) is made in a
            # folder of its own, 0700 from the start and named at random: every employee's row
            # is never readable by others, whatever the umask, and no link planted beside the
            # source can redirect a write. Only the finished file is renamed out of it.
            folder = tempfile.mkdtemp(prefix=self.path.name + BUILDING, dir=self.path.parent)
        except OSError as exc:
            return self._unwritable(version, exc)
        try:
            return self._build_in(Path(folder), version, rows)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _build_in(self, building: Path, version: str, rows: Rows) -> Reader | None:
        tmp = private_file(building / "index")
        try:
            with Progress(self.label, self.big()) as progress:
                data = rows()
                others = [
                    Child(private_file(building / f"part{i}"), p, i, progress)
                    for i, p in enumerate(data.parts, 1)
                ]
                try:
                    count = write(tmp, version, data, self.names, others, progress)
                finally:
                    for child in others:
                        child.stop()
                    _give_memory_back()
            os.replace(tmp, self.path)
        except MalformedSource as exc:
            self._write_refusal(building, version, str(exc))
            self._refused = version
            log.error("directory %s refused, serving the last good data: %s", self.path, exc)
            return self._refused_or_raise(version)
        except (OSError, sqlite3.OperationalError, IndexUnwritable) as exc:  # the host's
            return self._unwritable(version, exc)
        self._unwritten = None
        self._sibling(".refused").unlink(missing_ok=True)
        progress.done(count)
        adopted = self._adopt(version)
        assert adopted is not None  # just written with this version
        return adopted

    def _unwritable(self, version: str, exc: Exception) -> Reader:
        """The last version, this process's or (starting now) the one on disk, with one line
        logged; IndexUnwritable when there is none at all."""
        self._unwritten = Unwritten(version, time.monotonic(), _free_bytes(self.path.parent))
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        served = self._reader or self._adopt(None)
        if served is None:
            raise IndexUnwritable(f"cannot write the directory index {self.path}: {reason}")
        log.error(
            "directory %s: cannot write the new version (%s); the last one serves until there "
            "is room",
            self.path,
            reason,
        )
        return served

    def _no_room_yet(self, version: str) -> bool:
        """Whether `version` failed to be written and nothing suggests it would fit now."""
        failed = self._unwritten
        if failed is None or failed.version != version:
            return False
        if time.monotonic() - failed.at >= RETRY_SECONDS:
            return False
        return _free_bytes(self.path.parent) < failed.free + ROOM_BYTES

    def _write_refusal(self, building: Path, version: str, reason: str) -> None:
        marker = building / "refused"
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps({"version": version, "reason": reason}))
        os.replace(marker, self._sibling(".refused"))

    def _remove_leftovers(self) -> None:
        """Files of builds that died half way (only the lock holder writes them)."""
        for folder in self.path.parent.glob(self.path.name + BUILDING + "*"):
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
        # An earlier release built beside the index itself.
        for leftover in [
            *self.path.parent.glob(self.path.name + ".tmp-*"),
            *self.path.parent.glob(self.path.name + ".part*-*"),
        ]:
            with contextlib.suppress(OSError):
                leftover.unlink()

    @contextmanager
    def _host_lock(self, wait: bool) -> Iterator[bool]:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW  # never through a planted link
        fd = os.open(self._sibling(".lock"), flags, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _sibling(self, suffix: str) -> Path:
        return self.path.with_name(self.path.name + suffix)


def _free_bytes(folder: Path) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def _give_memory_back() -> None:
    """Return the build's freed heap to the system. Reading a million rows frees all it
    allocates, but glibc keeps most of it mapped (RSS after a build: 77 MB, not 30; the
    scale issue wants a replacement not to double a worker's size). Elsewhere: nothing."""
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


#: Where a build writes, beside the index: `<index name>.build-<random>/`.
BUILDING = ".build-"


def private_file(path: Path) -> Path:
    """Create `path` empty and 0600 (whatever the umask), refusing one that exists or a link,
    before SQLite opens it: no connection is on a file that did not exist."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a umask may take bits away from what os.open asked for
    finally:
        os.close(fd)
    return path
