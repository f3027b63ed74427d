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


def test_the_root_says_what_answers_here_in_json(client):
    """GET / of a fresh install: what this is and where to go, not Flask's HTML-minded 404."""
    from importlib.metadata import version

    r = client.get("/")
    assert r.status_code == 200 and r.is_json
    assert r.get_json() == {
        "name": "points-gateway",
        "version": version("points-gateway"),
        "links": {"health": "/healthz", "openapi": "/openapi.json"},
    }
    for link in r.get_json()["links"].values():
        assert client.get(link).status_code == 200, link


def test_the_root_links_the_console_when_it_is_enabled(tmp_path, employees_csv, database_url):
    from gateway.app import create_app
    from tests.test_console import console_config

    client = create_app(console_config(tmp_path, database_url)).test_client()
    links = client.get("/").get_json()["links"]
    assert links["console"] == "/console/"
    assert client.get(links["console"]).status_code == 302  # to its login
