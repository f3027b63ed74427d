"""Metrics and request logs: in-process, and across a real `serve --workers 2`."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import requests
from prometheus_client import REGISTRY

from gateway.api.observe import RequestIds
from gateway.auth import TokenAuthority
from gateway.logs import JsonFormatter
from tests.conftest import EMPLOYEES, PROFILE_KEY, SECRET, write_config, write_csv


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_request_is_one_json_line_with_its_ids_and_no_secret(app, caplog):
    client = app.test_client()
    token = app.extensions["points_gateway"].tokens.issue("DB123")
    body = {
        "unique_id": "DB123",
        "auth_token": token,
        "order_id": "LOG-1",
        "total_points_redeemed": 5,
    }
    with caplog.at_level(logging.INFO):
        ok = client.post("/v1/points/redeem", json=body, headers={"X-Request-ID": "req-42"})
        bad = client.post(
            "/v1/profile", json={"api_key": "wrong-" + PROFILE_KEY, "employee_id": "DB123"}
        )
        client.post("/v1/profile", json={"api_key": PROFILE_KEY, "employee_id": "DB123"})
    assert ok.headers["X-Request-ID"] == "req-42"
    assert len(bad.headers["X-Request-ID"]) == 32  # made up when none was given
    lines = [
        json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "gateway.request"
    ]
    assert len(lines) == 3
    first = lines[0]
    assert first["request_id"] == "req-42" and first["endpoint"] == "points.redeem"
    assert (first["unique_id"], first["order_id"], first["status"], first["outcome"]) == (
        "DB123",
        "LOG-1",
        200,
        "ok",
    )
    assert first["duration_ms"] >= 0
    assert lines[1]["outcome"] == "unauthorized" and lines[1]["status"] == 401
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for secret in (token, PROFILE_KEY, SECRET):
        assert secret not in everything


def test_made_up_request_ids_differ_within_a_process_and_across_a_fork():
    ids = RequestIds()
    mine = {ids.new() for _ in range(1000)}
    assert len(mine) == 1000 and all(len(i) == 32 and int(i, 16) >= 0 for i in mine)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # a gunicorn worker forked from a master that had made ids already
        os.write(write, ids.new().encode())
        os._exit(0)
    os.waitpid(child, 0)
    theirs = os.read(read, 64).decode()
    assert theirs not in mine and theirs[:20] != next(iter(mine))[:20]


def test_request_and_cache_metrics_count(app):
    client = app.test_client()
    token = app.extensions["points_gateway"].tokens.issue("DB123")
    before = sample(
        "points_gateway_requests_total", endpoint="points.balance", outcome="ok", program="default"
    )
    refused = sample(
        "points_gateway_requests_total",
        endpoint="points.balance",
        outcome="unauthorized",
        program="default",
    )
    client.post("/v1/points/balance", json={"unique_id": "DB123", "auth_token": token})
    client.post("/v1/points/balance", json={"unique_id": "DB123", "auth_token": "forged"})
    assert (
        sample(
            "points_gateway_requests_total",
            endpoint="points.balance",
            outcome="ok",
            program="default",
        )
        == before + 1
    )
    assert (
        sample(
            "points_gateway_requests_total",
            endpoint="points.balance",
            outcome="unauthorized",
            program="default",
        )
        == refused + 1
    )
    text = client.get("/metrics").get_data(as_text=True)
    assert "points_gateway_request_seconds_bucket" in text
    assert 'points_gateway_journal_unfinished{kind="refund"} 0.0' in text
    assert 'points_gateway_points_total{kind="debited"}' in text


@pytest.mark.slow
def test_metrics_add_up_across_gunicorn_workers(tmp_path):
    from tests.servers import clean_env, serving

    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    log = tmp_path / "gateway.log"
    with serving(config, "--workers", "2", env=clean_env("PROMETHEUS_"), log=log) as server:
        token = TokenAuthority([SECRET], 3600).issue("DB123")
        for i in range(20):
            body = {
                "unique_id": "DB123",
                "auth_token": token,
                "order_id": f"M-{i}",
                "total_points_redeemed": "2.5",
            }
            r = requests.post(f"{server.base}/v1/points/redeem", json=body, timeout=10)
            assert r.status_code == 200
        text = requests.get(f"{server.base}/metrics", timeout=10).text
    assert (
        'points_gateway_requests_total{endpoint="points.redeem",outcome="ok",program="default"} 20.0'
        in text
    )
    assert 'points_gateway_points_total{kind="debited"} 50.0' in text
    request_lines = [
        json.loads(line) for line in log.read_text().splitlines() if '"gateway.request"' in line
    ]
    assert len([r for r in request_lines if r["endpoint"] == "points.redeem"]) == 20
    assert token not in log.read_text()


def test_connector_calls_retries_and_breaker_are_counted():
    import responses as mocked

    from connectors.base import UpstreamUnavailable
    from connectors.http import HttpClient, HttpPolicy
    from gateway import metrics

    metrics.install()
    name = "metrics-probe"
    policy = HttpPolicy(attempts=2, breaker_failures=1, budget_seconds=1)
    client = HttpClient(name, policy, sleep=lambda _: None)
    with mocked.RequestsMock() as mock:
        mock.add(mocked.GET, "https://probe.example/x", status=503)
        mock.add(mocked.GET, "https://probe.example/x", status=503)
        with pytest.raises(UpstreamUnavailable):
            client.request("GET", "https://probe.example/x", idempotent=True)
    assert (
        sample(
            "points_gateway_connector_calls_total", connector=name, outcome="upstream_unavailable"
        )
        == 1
    )
    assert sample("points_gateway_connector_retries_total", connector=name) == 1
    assert sample("points_gateway_breaker_open", connector=name) == 1


@pytest.mark.slow
def test_a_metrics_folder_that_does_not_exist_yet_is_made(tmp_path):
    """Found running the container: PROMETHEUS_MULTIPROC_DIR naming a folder nobody had made
    turned every request into a 500 (each counter's file could not be opened)."""
    from tests.servers import clean_env, serving

    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    folder = tmp_path / "state" / "metrics"
    env = clean_env("PROMETHEUS_", PROMETHEUS_MULTIPROC_DIR=str(folder))
    with serving(config, "--workers", "1", env=env) as server:
        assert requests.get(f"{server.base}/healthz", timeout=10).status_code == 200
        assert requests.get(f"{server.base}/metrics", timeout=10).status_code == 200
    assert folder.is_dir() and oct(folder.stat().st_mode & 0o777) == "0o700"


def test_serve_s_own_metrics_folder_is_in_memory_and_a_dead_server_s_is_removed(
    tmp_path, monkeypatch
):
    """The metrics files are mapped into memory: on the journal's full disk a worker growing
    them was killed (SIGBUS). serve's own folder goes to shared memory, named by its pid, and
    the folder of a server killed outright (no exit handler ran) goes at the next start."""
    from gateway.cli import serve

    monkeypatch.setattr(serve, "SHARED_MEMORY", tmp_path)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    dead = tmp_path / f"{serve.METRICS_PREFIX}999999999-abc"  # above any pid_max
    alive = tmp_path / f"{serve.METRICS_PREFIX}{os.getppid()}-def"
    for folder in (dead, alive):
        folder.mkdir()
    try:
        serve._metrics_directory()
    finally:
        # Popped, not monkeypatch.delenv: that would restore the value at teardown, and every
        # later test in the process would read its metrics from this (removed) folder.
        made = os.environ.pop("PROMETHEUS_MULTIPROC_DIR", "")
    assert Path(made).parent == tmp_path and f"-{os.getpid()}-" in Path(made).name
    assert not dead.exists() and alive.exists()
