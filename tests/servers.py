"""Real servers for the tests: started, waited for, and always stopped, with their files.

`running(argv, base)` starts a process in a session of its own (a gunicorn master and its
workers, or a fake's process), waits until its health URL answers, and on leaving, however the
test went (a failed start included), stops the whole process group and removes the log file it
made. Its stderr goes to that file: a pipe nobody reads would stall a server that logs every
request.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(*drop: str, **extra: str) -> dict[str, str]:
    """This process's environment without GATEWAY_* (and any other `drop` prefixes)."""
    prefixes = ("GATEWAY_", *drop)
    return {**{k: v for k, v in os.environ.items() if not k.startswith(prefixes)}, **extra}


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def running(
    argv: list[str],
    base: str,
    env: Mapping[str, str] | None = None,
    health: str = "/healthz",
    log: Path | None = None,
    timeout: float = 30,
    verify: str | bool = True,
) -> Iterator[Server]:
    """A server process while the block runs, once `base + health` answers 200 (`verify`:
    the CA file for an https `base`)."""
    own_log = log is None
    if log is None:
        handle, name = tempfile.mkstemp(prefix="server-", suffix=".log")
        os.close(handle)
        log = Path(name)
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=dict(env if env is not None else clean_env()),
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,  # its own process group: the workers go with the master
        )
    server = Server(proc, base, log)
    try:
        wait_until_healthy(server, health, timeout, verify)
        yield server
    finally:
        stop_group(proc)
        if own_log:
            log.unlink(missing_ok=True)


def gateway_argv(config: Path, port: int, *options: str) -> list[str]:
    """`points-gateway serve` on 127.0.0.1:`port` with `config`."""
    return [
        sys.executable,
        "-m",
        "gateway",
        "serve",
        "--config",
        str(config),
        "--bind",
        f"127.0.0.1:{port}",
        *options,
    ]


@contextmanager
def serving(
    config: Path,
    *options: str,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[Server]:
    """A real `points-gateway serve` of `config` on a free port."""
    port = free_port()
    argv = gateway_argv(config, port, *options)
    with running(argv, f"http://127.0.0.1:{port}", env, log=log) as server:
        yield server


def wait_until_healthy(server: Server, health: str, timeout: float, verify: str | bool) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited: {server.log_text()[-2000:]}")
        try:
            if requests.get(server.base + health, timeout=1, verify=verify).status_code == 200:
                return
        except requests.RequestException:  # refused, reset, or not answering yet
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer in {timeout:.0f} s: {server.log_text()[-2000:]}")


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group, then SIGKILL to whatever is left of it."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            # The master is gone; a worker it could not reap must not outlive the test.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        break
