"""Races against a real `points-gateway serve --workers 4`: no overdraft, no double debit."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from gateway.auth import TokenAuthority
from tests.conftest import SECRET, write_config, write_csv
from tests.servers import clean_env, free_port, running, serving

pytestmark = pytest.mark.slow


@pytest.fixture
def gateway(tmp_path: Path, database_url: str) -> Iterator[str]:
    write_csv(tmp_path / "employees.csv", ["RICH,rich@example.com,Rich,Person,,,,,1000"])
    config = write_config(tmp_path, database_url)
    with serving(config, "--workers", "4") as server:
        yield server.base


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
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}"]
    with running([*argv, "--workers", "2"], base, clean_env(GATEWAY_CONFIG=str(config))):
        assert redeem(base, "O-1", 10).status_code == 200
        assert requests.get(f"{base}/readyz", timeout=5).json()["status"] == "1"
