"""The tests' server helper stops everything it started and removes its files, however it ends."""

from __future__ import annotations

import glob
import os
import sys
import tempfile

import pytest

from tests.servers import free_port, running

# A "master" that starts a child (as gunicorn starts workers), prints both pids, never serves.
NEVER_HEALTHY = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print(child.pid, file=sys.stderr, flush=True)\n"
    "time.sleep(120)\n"
)
# One that serves /healthz, and starts a child too.
HEALTHY = (
    "import http.server, subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print(child.pid, file=sys.stderr, flush=True)\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers()\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its parent is gone too
        return stat.read().split()[2] != "Z"


def logs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "server-*.log")))


def test_a_start_that_fails_leaves_no_process_and_no_file():
    before = logs()
    with (
        pytest.raises(RuntimeError, match="did not answer"),
        running(
            [sys.executable, "-c", NEVER_HEALTHY], f"http://127.0.0.1:{free_port()}", timeout=2
        ),
    ):
        pass  # pragma: no cover - never reached
    assert logs() == before


def test_a_failing_test_still_stops_the_master_and_its_children():
    port = free_port()
    before = logs()
    with (
        pytest.raises(AssertionError),
        running([sys.executable, "-c", HEALTHY, str(port)], f"http://127.0.0.1:{port}") as server,
    ):
        child = int(server.log_text().split()[0])
        master = server.proc.pid
        raise AssertionError("the test failed")
    assert not alive(master) and not alive(child)
    assert logs() == before
