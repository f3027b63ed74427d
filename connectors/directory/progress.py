"""What a build of the directory says while it runs: that it started (at once for a source
known to be big, else once it has taken EVERY_SECONDS), how many rows it has read every few
seconds (its own and those its child processes report), and at the end how many rows it
indexed in how long. A million rows take seconds: the operator watching a command or a log
should never wonder whether it hangs, and a small source's build adds one line to the log."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType

log = logging.getLogger(__name__)

#: At most this long between two lines while a build runs.
EVERY_SECONDS = 2.0
#: How often the ticker looks whether a line is due while no rows arrive (the lookups are
#: being made, a part is being merged).
TICK_SECONDS = 0.25


class Progress:
    """The running count of one build: `add` this process's rows, `report` a part's total.

    A line is logged when a count changes and EVERY_SECONDS have passed since the last one
    (or since the start), and by a ticker thread when nothing counts meanwhile; `done` logs
    the closing line. A build that said nothing before its closing line marks it `quick`, so
    a command can leave it out of its output (gateway/cli/base.py)."""

    def __init__(self, label: str, announce: bool = False) -> None:
        self.label = label
        self.every = EVERY_SECONDS
        self.announce = announce
        self.started = time.monotonic()
        self._own = 0
        self._parts: dict[int, int] = {}
        self._lock = threading.Lock()
        self._last_line = self.started
        self._said = False
        self._doing = "so far"
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def add(self, rows: int) -> None:
        with self._lock:
            self._own += rows
        self._maybe_say()

    def report(self, part: int, rows: int) -> None:
        """Part `part` (read by another process) has written `rows` rows so far."""
        with self._lock:
            self._parts[part] = rows
        self._maybe_say()

    def making_lookups(self) -> None:
        """Every row is in: what remains is making the lookups (seconds for a million rows)."""
        self._doing = "read, making the lookups"
        self._maybe_say()

    def done(self, count: int) -> None:
        seconds = time.monotonic() - self.started
        quick = not self._said
        log.info(
            "indexing %s: %d rows in %.1f s", self.label, count, seconds, extra={"quick": quick}
        )

    def __enter__(self) -> Progress:
        if self.announce:
            self._said = True
            log.info("indexing %s: started", self.label)
        self._ticker = threading.Thread(target=self._tick, name="index-progress", daemon=True)
        self._ticker.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self._maybe_say()

    def _maybe_say(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_line < self.every:
                return
            self._last_line, self._said = now, True
            rows = self._own + sum(self._parts.values())
        log.info(
            "indexing %s: %d rows %s (%.0f s)", self.label, rows, self._doing, now - self.started
        )
