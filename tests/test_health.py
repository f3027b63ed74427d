"""Liveness and readiness, as a load balancer sees them."""

from __future__ import annotations


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "1", "message": "alive"}


def test_readyz_when_all_is_reachable(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json()["checks"] == {"journal": "ok", "profile": "ok", "points": "ok"}


def test_readyz_when_the_csv_is_gone(client, employees_csv):
    employees_csv.unlink()
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.get_json()
    assert body["status"] == "0" and body["error_code"] == "not_ready"
    assert "employees.csv" in body["checks"]["profile"]
    assert body["checks"]["journal"] == "ok"
