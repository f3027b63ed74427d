"""What deploy/ ships: the alert rules (checked and unit-tested by promtool), the Grafana
dashboard and the alerts over metrics the gateway really exports, and the systemd unit."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask.testing import FlaskClient

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "points-gateway.json"
UNIT = DEPLOY / "points-gateway.service"
METRIC = re.compile(r"\bpoints_gateway_[a-z_]+")
NO_PROMTOOL = "promtool is absent (Debian: apt-get install prometheus)"


def exported(client: FlaskClient) -> set[str]:
    """Every series name GET /metrics can show, from its # TYPE lines."""
    text = client.get("/metrics").get_data(as_text=True)
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names.add(name)
        if kind == "histogram":
            names.update(f"{name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        if kind == "counter" and not name.endswith("_total"):
            names.add(f"{name}_total")
    return names


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    queries += [v["definition"] for v in board["templating"]["list"] if "definition" in v]
    return queries


def test_the_dashboard_and_the_alerts_use_only_metrics_the_gateway_exports(client: FlaskClient):
    names = exported(client)
    used = {m for q in dashboard_queries() for m in METRIC.findall(q)}
    assert used - names == set()
    assert len(used) >= 10  # the dashboard covers requests, connectors, the journal, tokens
    in_alerts = set(METRIC.findall(ALERTS.read_text()))
    assert in_alerts - names == set()


def test_the_dashboard_is_importable_json():
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "points-gateway" and board["panels"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason=NO_PROMTOOL)
def test_the_alert_rules_are_valid_and_their_unit_tests_pass():
    checked = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        ["promtool", "test", "rules", "alerts.test.yml"],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    # Every alert has a unit test.
    alerts = set(re.findall(r"^\s+- alert: (\S+)$", ALERTS.read_text(), re.M))
    tests = (ALERTS.parent / "alerts.test.yml").read_text()
    assert alerts == set(re.findall(r"alertname: (\S+)$", tests, re.M))


def test_the_systemd_unit_is_hardened():
    unit = UNIT.read_text()
    for setting in (
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "StateDirectory=points-gateway",
        "UMask=0077",
        "CapabilityBoundingSet=",
    ):
        assert re.search(rf"^{re.escape(setting)}$", unit, re.M), setting
    assert re.search(r"^ExecStart=\S+/points-gateway serve$", unit, re.M)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is absent")
def test_systemd_accepts_the_unit(tmp_path: Path):
    """systemd-analyze verify finds nothing wrong but the missing install (its ExecStart is
    pointed at a program that exists here)."""
    copy = tmp_path / "points-gateway.service"
    program = shutil.which("true")
    copy.write_text(re.sub(r"^ExecStart=\S+", f"ExecStart={program}", UNIT.read_text(), flags=re.M))
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line
        for line in (verified.stdout + verified.stderr).splitlines()
        if "points-gateway.service" in line and "mkdir" not in line
    ]
    assert complaints == []
