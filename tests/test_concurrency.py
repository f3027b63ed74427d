"""Races against a real `points-gateway serve --workers 4`: no overdraft, no double debit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from gateway.auth import TokenAuthority
from tests.conftest import SECRET, write_config, write_csv

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    argv: list[str], env: dict[str, str], base: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """A server process, once its /healthz answers. Its stderr goes to a file (`log`, or a
    temporary one): a pipe nobody reads would stall a server that logs every request."""
    if log is None:
        handle, name = tempfile.mkstemp(prefix="server-", suffix=".log")
        os.close(handle)
        log = Path(name)
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb")
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start in 30 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def gateway(tmp_path: Path, database_url: str) -> Iterator[str]:
    write_csv(tmp_path / "employees.csv", ["RICH,rich@example.com,Rich,Person,,,,,1000"])
    config = write_config(tmp_path, database_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    argv = [
        sys.executable,
        "-m",
        "gateway",
        "serve",
        "--config",
        str(config),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "4",
    ]
    proc = start(argv, env, base)
    yield base
    stop(proc)


def all_at_once(count: int, call: Any) -> list[requests.Response]:
    """`count` calls released together by a barrier, each on its own connection."""
    barrier = threading.Barrier(count)

    def one(i: int) -> requests.Response:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def redeem(base: str, order_id: str, amount: int) -> requests.Response:
    token = TokenAuthority([SECRET], 3600).issue("RICH")
    body = {
        "unique_id": "RICH",
        "auth_token": token,
        "order_id": order_id,
        "total_points_redeemed": amount,
    }
    return requests.post(f"{base}/v1/points/redeem", json=body, timeout=60)


def balance(base: str) -> dict[str, str]:
    token = TokenAuthority([SECRET], 3600).issue("RICH")
    r = requests.post(
        f"{base}/v1/points/balance", json={"unique_id": "RICH", "auth_token": token}, timeout=10
    )
    return r.json()["points_info"]


def test_200_simultaneous_redeems_never_overdraw(gateway: str) -> None:
    answers = all_at_once(200, lambda i: redeem(gateway, f"ORDER-{i}", 10))
    outcomes = Counter((r.status_code, r.json().get("error_code")) for r in answers)
    assert outcomes == {(200, None): 100, (422, "insufficient_points"): 100}, outcomes
    assert balance(gateway) == {
        "points_received": "1000",
        "points_redeemed": "1000",
        "points_available": "0",
    }


def test_20_simultaneous_copies_of_one_order_debit_once(gateway: str) -> None:
    answers = all_at_once(20, lambda i: redeem(gateway, "SAME-ORDER", 30))
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    assert {r.text for r in answers} == {answers[0].text}  # every copy gets the original answer
    assert balance(gateway)["points_redeemed"] == "30"


def test_plain_gunicorn_with_gateway_config(tmp_path: Path, database_url: str) -> None:
    write_csv(tmp_path / "employees.csv", ["RICH,rich@example.com,Rich,Person,,,,,1000"])
    config = write_config(tmp_path, database_url)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        "GATEWAY_CONFIG": str(config),
    }
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "wsgi:app",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
    ]
    proc = start(argv, env, f"http://127.0.0.1:{port}")
    try:
        assert redeem(f"http://127.0.0.1:{port}", "O-1", 10).status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["status"] == "1"
    finally:
        stop(proc)
