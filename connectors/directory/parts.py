"""Parts of a dataset read by other processes while this one reads its own: the host's other
cores index them (threads cannot help: reading rows is Python work that holds the GIL).

A source that can split its data (a CSV at a line break, say) names each further part as a
`Part`: a function a fresh interpreter imports and calls to get that part's `Dataset`. Each
child writes its rows, unindexed, into a file of its own; the builder then copies them into
the index in one statement per part, all in C, and indexes the whole.
"""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.directory.store import SCHEMA, IndexUnwritable, MalformedSource, insert

if TYPE_CHECKING:
    from connectors.directory.progress import Progress

#: How a child's line of progress begins: the rows it has written so far follow.
ROWS = "rows "


@dataclass(frozen=True)
class Part:
    #: "module:function": called with `kwargs`, it answers the part's Dataset.
    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)


class Child:
    """One part being written by a child process into `path`; its running count of rows goes
    to `progress` (as part `number`) while it writes."""

    def __init__(self, path: Path, part: Part, number: int = 1, progress: Progress | None = None):
        self.path = path
        self.number = number
        self.progress = progress
        spec = json.dumps({"target": part.target, "kwargs": part.kwargs, "path": str(path)})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connectors.directory.parts"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one pipe, read as it comes: no pipe fills unread
            text=True,
            env={**os.environ, "PYTHONPATH": _import_path()},
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(spec)
        self.proc.stdin.close()
        self._said: list[str] = []  # what the child wrote besides its counts
        self._reading = threading.Thread(target=self._read, name="index-part", daemon=True)
        self._reading.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(ROWS) and self.progress is not None:
                self.progress.report(self.number, int(line[len(ROWS) :]))
            elif not line.startswith(ROWS) and line.strip():
                self._said.append(line.strip())

    def merge_into(self, conn: sqlite3.Connection) -> int:
        """Wait for the child and copy its rows into `conn`'s people; answers how many."""
        self._reading.join()
        self.proc.wait()
        lines = self._said or ["no output"]
        try:
            answer = json.loads(lines[-1])  # the child's answer is its last line
        except ValueError:
            answer = {}
        if "malformed" in answer:
            raise MalformedSource(answer["malformed"])
        if "unwritable" in answer:
            raise IndexUnwritable(answer["unwritable"])
        if self.proc.returncode != 0 or "count" not in answer:
            raise RuntimeError(f"directory part {self.path.name} failed: {lines[-1][:300]}")
        conn.execute("ATTACH DATABASE ? AS part", (str(self.path),))
        try:
            conn.execute("INSERT INTO people SELECT * FROM part.people")
        finally:
            conn.execute("DETACH DATABASE part")
        return int(answer["count"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reading.join()
        self.path.unlink(missing_ok=True)


def _import_path() -> str:
    """Where this package is imported from, so the child imports the same code."""
    here = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])])


def main() -> None:
    """The child: read the spec on stdin, write the part, answer its count (or why it is
    malformed, or could not be written) as JSON on stdout."""
    spec = json.loads(sys.stdin.read())
    try:
        count = _write_part(spec)
    except MalformedSource as exc:
        print(json.dumps({"malformed": str(exc)}))
        return
    except sqlite3.OperationalError as exc:  # SQLite's own: the part cannot be written (disk full)
        print(json.dumps({"unwritable": str(exc)}))
        return
    print(json.dumps({"count": count}))


def _write_part(spec: dict[str, Any]) -> int:
    module, _, function = spec["target"].partition(":")
    conn = sqlite3.connect(spec["path"], isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        data = getattr(importlib.import_module(module), function)(**spec["kwargs"])
        written = 0

        def counted(rows: int) -> None:  # the parent's Progress adds these to its own
            nonlocal written
            written += rows
            print(f"{ROWS}{written}", flush=True)

        count = insert(conn, data.batches, counted)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return count


if __name__ == "__main__":
    main()
