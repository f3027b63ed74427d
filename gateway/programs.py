"""The deployment's programs at run time: each one's Gateway (its connectors, keys, service and
journal, bound to its name), found for each request by its path prefix or host name, with a
bound on the requests it may hold at once, and `programs_dir` read again when it changes.

A request finds its program first (`resolve`); everything below it receives that program's
Gateway, never a global. The single-program configuration is the program "default", served on
the unprefixed paths as before.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from gateway.config import ConfigError, Settings
from gateway.programs_config import program_files, read_program_file, refuse_shared_hosts

log = logging.getLogger(__name__)

#: How often a request may look at `programs_dir` for changed files.
RELOAD_SECONDS = 2.0


class Programs:
    def __init__(self, settings: Settings, build: Callable[[Settings], Any]) -> None:
        """`build`: a program's Settings -> its Gateway (connectors, service, keys, journal)."""
        self.settings = settings
        self._build = build
        self._lock = threading.Lock()
        # Requests read these without the lock: a change builds new tables and publishes them
        # in one assignment each (_publish), never changing one a request may be reading.
        self.by_name: dict[str, Any] = {}
        self._by_host: dict[str, Any] = {}
        #: request slots, by the Gateway that gives them (id): a request admitted by a program
        #: since reloaded gives its slot back to the semaphore it took it from.
        self._limits: dict[int, threading.BoundedSemaphore] = {}
        self._workers = False  # serve runs each program's ledger worker (start_workers)
        for name, program in settings.every_program().items():
            self._add(name, program)
        self._files = self._state()
        self._tables = set(settings.programs) - set(self._files)  # [programs.<name>] tables
        self._looked = time.monotonic()

    @property
    def default(self) -> Any | None:
        return self.by_name.get("default") if self.settings.serves_default else None

    def named(self, name: str) -> Any | None:
        self._maybe_reload()
        return self.by_name.get(name)

    def for_host(self, host: str) -> Any | None:
        """The program whose `hosts` names this Host header (port and case aside)."""
        self._maybe_reload()
        bare = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return self._by_host.get(bare.lower().rstrip("."))

    def admit(self, gateway: Any) -> bool:
        """Take one of the program's request slots (True), or say it has none free."""
        limit = self._limits.get(id(gateway))
        return limit is None or limit.acquire(blocking=False)

    def release(self, gateway: Any) -> None:
        limit = self._limits.get(id(gateway))
        if limit is not None:
            limit.release()

    def start_workers(self) -> None:
        """Each program's background ledger worker, now and for programs added later."""
        with self._lock:
            self._workers = True
            for gateway in self.by_name.values():
                gateway.start_ledger_worker()

    def close(self) -> None:
        with self._lock:
            for gateway in self.by_name.values():
                gateway.close()

    # -- programs_dir ------------------------------------------------------------------------
    def _state(self) -> dict[str, tuple[int, int]]:
        state = {}
        for path, name in program_files(self.settings.programs_dir):
            try:
                st = path.stat()
            except OSError:
                continue
            state[name] = (st.st_mtime_ns, st.st_size)
        return state

    def _maybe_reload(self) -> None:
        if self.settings.programs_dir is None or time.monotonic() - self._looked < RELOAD_SECONDS:
            return
        with self._lock:
            if time.monotonic() - self._looked < RELOAD_SECONDS:
                return
            self._looked = time.monotonic()
            now = self._state()
            if now == self._files:
                return
            self._reload(now)

    def _reload(self, now: dict[str, tuple[int, int]]) -> None:
        """Rebuild what changed in the folder; a file that no longer loads keeps its last
        good program serving (one error line), as a malformed CSV keeps its last version."""
        tables = self._tables
        folder = self.settings.programs_dir
        assert folder is not None
        for name in set(self._files) - set(now):
            if name not in tables and name in self.by_name:
                log.warning("programs_dir: %s removed: program %r no longer served", folder, name)
                self._remove(name)
        for name, stamp in now.items():
            if self._files.get(name) == stamp or name in tables:
                continue
            try:
                path = folder / f"{name}.toml"
                program = read_program_file(path, name, self.settings, os.environ)
                others = {n: g.settings for n, g in self.by_name.items() if n != name}
                refuse_shared_hosts({**others, name: program})
            except ConfigError as exc:
                log.error("programs_dir: %s; program %r keeps its last good settings", exc, name)
                continue
            self._add(name, program)  # in place of its last version, if it had one
            log.info("programs_dir: program %r (re)loaded from %s", name, folder)
        self._files = now

    def _add(self, name: str, program: Settings) -> None:
        gateway = self._build(program)
        if self._workers:
            gateway.start_ledger_worker()
        if program.max_concurrent_requests:
            self._limits[id(gateway)] = threading.BoundedSemaphore(program.max_concurrent_requests)
        last = self.by_name.get(name)
        self._publish({**self.by_name, name: gateway})
        if last is not None:
            self._retire(last)

    def _remove(self, name: str) -> None:
        gone = self.by_name[name]
        self._publish({n: g for n, g in self.by_name.items() if n != name})
        self._retire(gone)

    def _publish(self, by_name: dict[str, Any]) -> None:
        """The programs, and each host name's (the first program to list it), made current."""
        by_host: dict[str, Any] = {}
        for gateway in by_name.values():
            for host in gateway.settings.hosts:
                by_host.setdefault(host, gateway)
        self.by_name, self._by_host = by_name, by_host

    def _retire(self, gone: Any) -> None:
        # Requests in flight may still hold it: its connectors close once they are done, and
        # its slots go with it (its requests give theirs back to nothing).
        def close() -> None:
            self._limits.pop(id(gone), None)
            gone.close()

        threading.Timer(30, close).start()
