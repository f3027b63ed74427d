"""Many programs in one deployment: 50 small programs, each over its own CSV, load through
create_app and each answers a balance from its own file, with its own tokens.

bench/bench_programs.py measures the same at size (50 programs x 10,000 employees under a
real serve); this only shows that nothing about 50 programs fails or mixes them up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.config import load_settings
from tests.conftest import EMPLOYEES, SECRET, write_config, write_csv

PROGRAMS = [f"p{i:02d}" for i in range(50)]


def points_of(index: int) -> int:
    return 100 + index  # each program's own figure: a mix-up answers another's


@pytest.fixture
def fifty(tmp_path: Path) -> Any:
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    tables = []
    for i, name in enumerate(PROGRAMS):
        write_csv(tmp_path / f"{name}.csv", [f"E1,e1@{name}.example.com,E,One,,,,,{points_of(i)}"])
        tables += [f"[programs.{name}]", f'secret_key = "{SECRET}"']
        tables += [f'profile_api_keys = ["pk-{name}-0123456789abcdef0123456789"]']
        for role in ("profile", "points"):
            tables += [f"[programs.{name}.{role}]", 'connector = "csv"']
            tables += [f'options = {{ path = "{name}.csv" }}']
    config.write_text(config.read_text() + "\n".join(tables) + "\n")
    app = create_app(load_settings(config))
    yield app
    app.extensions["points_gateway"].close()


def test_fifty_programs_load_and_each_answers_from_its_own_file(fifty):
    programs = fifty.extensions["points_gateway_programs"]
    client = fifty.test_client()
    for i, name in enumerate(PROGRAMS):
        token = programs.named(name).tokens.issue("E1")
        answer = client.post(
            f"/p/{name}/v1/points/balance", json={"unique_id": "E1", "auth_token": token}
        )
        assert answer.status_code == 200, (name, answer.get_data(as_text=True))
        assert answer.get_json()["points_info"]["points_received"] == str(points_of(i)), name
    # a token is its own program's only, among 50 as between two
    stray = programs.named("p07").tokens.issue("E1")
    refused = client.post("/p/p08/v1/points/balance", json={"unique_id": "E1", "auth_token": stray})
    assert refused.get_json()["status"] != "1"
