"""Programs: several storefronts or companies in one deployment, each its own keys, connectors,
identity and journal rows, found by its path prefix or its host name.

The hostile attempts come first: a token, an api key or an order id of one program tried on
another, with the same unique_id and the same secret text.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from gateway.app import create_app, token_authority
from gateway.config import ConfigError, load_settings
from tests.conftest import EMPLOYEES, PROFILE_KEY, SECRET, toml, write_config, write_csv

INDIA_KEY = "pk-india-6b1e2d9a7c3f4e5d8a0b1c2d3e4f5a6b"
INDIA_ROWS = [
    "DB123,pam@india.example.com,Pam,India,,,,,300",
    "IN7,seven@india.example.com,S,V,,,,,70",
]


def program_table(folder: Path, name: str, **more: Any) -> str:
    """A [programs.<name>] table over `<name>.csv` in `folder`, with the SAME secret text as
    the default program: isolation must not rest on different keys."""
    write_csv(folder / f"{name}.csv", INDIA_ROWS)
    values = {
        "secret_key": SECRET,
        "profile_api_keys": [INDIA_KEY],
        "identity": "employee_id",
        **more,
    }
    lines = [f"[programs.{name}]", *(f"{k} = {toml(v)}" for k, v in values.items())]
    for role in ("profile", "points"):
        lines += [f"[programs.{name}.{role}]", 'connector = "csv"']
        lines += [f'options = {{ path = "{name}.csv" }}']
    return "\n".join(lines) + "\n"


@pytest.fixture
def two_programs(tmp_path: Path, database_url: str) -> Path:
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, database_url)
    text = config.read_text() + program_table(tmp_path, "india", hosts=["points.india.example.com"])
    config.write_text(text)
    return config


@pytest.fixture
def app(two_programs: Path) -> Any:
    app = create_app(load_settings(two_programs))
    yield app
    app.extensions["points_gateway"].close()


def gateway_of(app: Flask, name: str) -> Any:
    return app.extensions["points_gateway_programs"].named(name)


def call(app: Flask, path: str, body: dict[str, Any], **headers: str) -> Any:
    return app.test_client().post(path, json=body, headers=headers)


def auth(app: Flask, program: str, unique_id: str = "DB123") -> dict[str, str]:
    return {"unique_id": unique_id, "auth_token": gateway_of(app, program).tokens.issue(unique_id)}


def test_each_program_answers_on_its_prefix_with_its_own_points(app):
    default = call(app, "/v1/points/balance", auth(app, "default")).get_json()
    india = call(app, "/p/india/v1/points/balance", auth(app, "india")).get_json()
    assert default["points_info"]["points_received"] == "2000"
    assert india["points_info"]["points_received"] == "300"
    by_host = call(
        app, "/v1/points/balance", auth(app, "india"), Host="points.india.example.com:443"
    )
    assert by_host.get_json()["points_info"]["points_received"] == "300"


def test_a_token_of_one_program_is_refused_by_the_other_same_user_same_secret(app):
    for path, program in (
        ("/p/india/v1/points/balance", "default"),
        ("/v1/points/balance", "india"),
    ):
        answer = call(app, path, auth(app, program))
        assert answer.status_code == 401 and answer.get_json()["error_code"] == "unauthorized"


def test_an_api_key_of_one_program_is_refused_by_the_other(app):
    body = {"employee_id": "DB123"}
    assert call(app, "/p/india/v1/profile", {**body, "api_key": PROFILE_KEY}).status_code == 401
    assert call(app, "/v1/profile", {**body, "api_key": INDIA_KEY}).status_code == 401
    assert call(app, "/p/india/v1/profile", {**body, "api_key": INDIA_KEY}).status_code == 200


def test_the_same_order_id_is_two_orders_and_balances_never_mix(app):
    redeem = {"order_id": "SAME-1", "total_points_redeemed": 100}
    assert call(app, "/v1/points/redeem", {**auth(app, "default"), **redeem}).status_code == 200
    india = call(app, "/p/india/v1/points/redeem", {**auth(app, "india"), **redeem})
    assert india.status_code == 200 and india.get_json()["status"] == "1"
    default = call(app, "/v1/points/balance", auth(app, "default")).get_json()["points_info"]
    there = call(app, "/p/india/v1/points/balance", auth(app, "india")).get_json()["points_info"]
    assert (default["points_available"], there["points_available"]) == ("1900", "200")
    # a refund of India's order through the default program finds nothing to refund
    refund = {"transactionid": "SAME-1", "redemption_amount": 100}
    call(app, "/v1/points/refund", {**auth(app, "default"), **refund})
    there = call(app, "/p/india/v1/points/balance", auth(app, "india")).get_json()["points_info"]
    assert there["points_available"] == "200"


def test_an_unknown_program_is_a_json_404(app):
    answer = call(app, "/p/nope/v1/points/balance", auth(app, "default"))
    assert answer.status_code == 404 and answer.get_json()["error_code"] == "program_not_found"
    hostile = call(app, "/p/..%2Fdefault/v1/points/balance", auth(app, "default"))
    assert hostile.status_code == 404 and hostile.is_json


def test_a_busy_program_is_refused_quickly_and_slows_no_other(two_programs, monkeypatch):
    """India's HR system hangs: with max_concurrent_requests = 1, a second India request is
    answered 503 program_busy at once, and the default program answers meanwhile."""
    from connectors.csv_source import CsvConnector

    text = two_programs.read_text().replace(
        'hosts = ["points.india.example.com"]',
        'hosts = ["points.india.example.com"]\nmax_concurrent_requests = 1',
    )
    two_programs.write_text(text)
    app = create_app(load_settings(two_programs))
    release = threading.Event()
    real = CsvConnector.find

    def slow_for_india(self, by, value):  # type: ignore[no-untyped-def]
        if self.path.name == "india.csv":
            release.wait(10)
        return real(self, by, value)

    monkeypatch.setattr(CsvConnector, "find", slow_for_india)
    try:
        first = threading.Thread(
            target=call, args=(app, "/p/india/v1/points/balance", auth(app, "india"))
        )
        first.start()
        time.sleep(0.3)
        started = time.monotonic()
        busy = call(app, "/p/india/v1/points/balance", auth(app, "india"))
        default = call(app, "/v1/points/balance", auth(app, "default"))
        took = time.monotonic() - started
        release.set()
        first.join(10)
        assert busy.status_code == 503 and busy.get_json()["error_code"] == "program_busy"
        assert default.status_code == 200 and took < 2
    finally:
        release.set()
        app.extensions["points_gateway"].close()


def test_metrics_and_logs_say_which_program(app):
    call(app, "/p/india/v1/points/balance", auth(app, "india"))
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'endpoint="points.balance",outcome="ok",program="india"' in text


def test_a_program_s_mistakes_are_one_line_naming_it(tmp_path, employees_csv):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}")
    base = config.read_text()
    config.write_text(base + program_table(tmp_path, "india", identty="email"))
    with pytest.raises(
        ConfigError, match=r"programs\.india\.identty: Unknown field\. Did you mean `identity`"
    ):
        load_settings(config)
    config.write_text(base + program_table(tmp_path, "India"))
    with pytest.raises(ConfigError, match=r"programs\.India: a program's name"):
        load_settings(config)
    twice = program_table(tmp_path, "a", hosts=["x.example.com"])
    twice += program_table(tmp_path, "b", hosts=["x.example.com"])
    config.write_text(base + twice)
    with pytest.raises(ConfigError, match=r"x\.example\.com is program 'a'"):
        load_settings(config)


def test_programs_from_a_folder_are_read_again_without_a_restart(
    tmp_path, employees_csv, monkeypatch
):
    from gateway import programs as runtime

    monkeypatch.setattr(runtime, "RELOAD_SECONDS", 0.0)
    folder = tmp_path / "programs.d"
    folder.mkdir()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}", programs_dir="programs.d")
    app = create_app(load_settings(config))
    try:
        assert call(app, "/p/india/v1/points/balance", {}).status_code == 404
        table = program_table(tmp_path, "india").replace("[programs.india]\n", "")
        table = table.replace("[programs.india.", "[").replace(
            'path = "india.csv"', f'path = "{tmp_path}/india.csv"'
        )
        (folder / "india.toml").write_text(table)
        answer = call(app, "/p/india/v1/points/balance", auth(app, "india"))
        assert answer.get_json()["points_info"]["points_received"] == "300"
        (folder / "india.toml").unlink()
        assert call(app, "/p/india/v1/points/balance", {}).status_code == 404
    finally:
        app.extensions["points_gateway"].close()


def test_the_command_line_acts_on_the_program_it_is_told(app, two_programs):
    from tests.test_cli import run

    token = run("token", "--program", "india", "DB123", "--config", str(two_programs))
    assert token.returncode == 0, token.stderr
    body = {"unique_id": "DB123", "auth_token": token.stdout.strip()}
    assert call(app, "/p/india/v1/points/balance", body).status_code == 200
    assert call(app, "/v1/points/balance", body).status_code == 401
    redeem = {"order_id": "ONLY-INDIA", "total_points_redeemed": 5}
    assert call(app, "/p/india/v1/points/redeem", {**body, **redeem}).status_code == 200
    india = run("journal", "export", "--program", "india", "--config", str(two_programs))
    default = run("journal", "export", "--config", str(two_programs))
    assert "ONLY-INDIA" in india.stdout and "ONLY-INDIA" not in default.stdout
    nope = run("journal", "export", "--program", "nope", "--config", str(two_programs))
    assert nope.returncode == 2 and nope.stderr.count("\n") == 1
    assert "'nope' is not one of this configuration's programs (default, india)" in nope.stderr


def test_the_journal_s_metrics_are_per_program_when_there_are_several(app):
    redeem = {"order_id": "M-1", "total_points_redeemed": 7}
    assert (
        call(app, "/p/india/v1/points/redeem", {**auth(app, "india"), **redeem}).status_code == 200
    )
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'points_gateway_points_total{kind="debited",program="india"} 7.0' in text
    assert 'points_gateway_points_total{kind="debited",program="default"} 0.0' in text


def test_serve_runs_a_deployment_of_named_programs_only(tmp_path):
    """Found running 50 programs: serve built the default program's connectors before its
    workers started, and a config of [programs.<name>] tables alone has none ("unknown
    connector 'none'")."""
    import requests

    from tests.servers import serving

    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    text = config.read_text().split("[profile]")[0] + program_table(tmp_path, "india")
    config.write_text(text)
    with serving(config, "--workers", "1") as server:
        settings = load_settings(config)
        token = token_authority(settings.programs["india"]).issue("DB123")
        body = {"unique_id": "DB123", "auth_token": token}
        answer = requests.post(f"{server.base}/p/india/v1/points/balance", json=body, timeout=10)
        assert answer.json()["points_info"]["points_received"] == "300"
        unprefixed = requests.post(f"{server.base}/v1/points/balance", json=body, timeout=10)
        assert unprefixed.status_code == 404


def folder_program(tmp_path: Path, name: str, **more: Any) -> str:
    """program_table as a programs_dir file: its tables without the [programs.<name>] prefix."""
    table = program_table(tmp_path, name, **more).replace(f"[programs.{name}]\n", "")
    table = table.replace(f"[programs.{name}.", "[")
    return table.replace(f'path = "{name}.csv"', f'path = "{tmp_path}/{name}.csv"')


@pytest.fixture
def folder_app(tmp_path: Path, employees_csv: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from gateway import programs as runtime

    monkeypatch.setattr(runtime, "RELOAD_SECONDS", 0.0)
    (tmp_path / "programs.d").mkdir()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}", programs_dir="programs.d")
    (tmp_path / "programs.d" / "india.toml").write_text(
        folder_program(tmp_path, "india", hosts=["points.india.example.com"])
    )
    app = create_app(load_settings(config))
    yield app
    app.extensions["points_gateway"].close()


def test_a_program_being_reloaded_is_served_throughout(folder_app, tmp_path, monkeypatch):
    """Reloading a changed file removed the program, then built it again: requests meanwhile
    found no program (404), and one looking it up by host could meet the table changing
    under it (RuntimeError, a 500)."""
    from gateway import programs as runtime

    # As served: the probe's lookups do not look at the folder (it was looked at just now);
    # each change below is read once its look is due (_looked set back).
    monkeypatch.setattr(runtime, "RELOAD_SECONDS", 3600.0)
    programs = folder_app.extensions["points_gateway_programs"]
    file = tmp_path / "programs.d" / "india.toml"
    missed: list[str] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            try:
                if programs.for_host("points.india.example.com") is None:
                    missed.append("by host")
                if programs.by_name.get("india") is None:
                    missed.append("by name")
            except RuntimeError as exc:
                missed.append(repr(exc))

    prober = threading.Thread(target=probe)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # the probe gets its turn inside any gap a reload leaves
    prober.start()
    try:
        for ttl in range(3601, 3611):
            file.write_text(folder_program(tmp_path, "india", hosts=["points.india.example.com"],
                                           token_ttl_seconds=ttl))  # fmt: skip
            programs._looked = float("-inf")  # the next lookup looks at the folder
            programs.named("india")  # and reloads the changed file
            assert programs.by_name["india"].settings.token_ttl_seconds == ttl
    finally:
        done.set()
        prober.join(10)
        sys.setswitchinterval(switch)
    assert sorted(set(missed)) == []


def test_a_request_admitted_before_its_program_is_reloaded_gives_its_slot_back(
    folder_app, tmp_path
):
    """The request slots were the program name's: a request admitted by the old program gave
    its slot back to the new one, past its bound (ValueError, a 500 at the request's end)."""
    programs = folder_app.extensions["points_gateway_programs"]
    file = tmp_path / "programs.d" / "india.toml"
    file.write_text(folder_program(tmp_path, "india", max_concurrent_requests=1))
    old = programs.named("india")
    assert programs.admit(old)
    file.write_text(
        folder_program(tmp_path, "india", max_concurrent_requests=1, token_ttl_seconds=60)
    )
    new = programs.named("india")
    assert new is not old
    programs.release(old)
    assert programs.admit(new) and not programs.admit(new)
    programs.release(new)


def test_a_file_naming_another_program_s_host_is_refused_at_reload(folder_app, tmp_path, caplog):
    """At start two programs may not share a host name; a file added later was not checked,
    and the host went to whichever program came first."""
    programs = folder_app.extensions["points_gateway_programs"]
    programs._looked = float("-inf")
    (tmp_path / "programs.d" / "uk.toml").write_text(
        folder_program(tmp_path, "uk", hosts=["points.india.example.com", "points.uk.example.com"])
    )
    assert programs.named("uk") is None
    assert programs.for_host("points.india.example.com") is programs.named("india")
    assert programs.for_host("points.uk.example.com") is None
    assert "programs.uk.hosts: points.india.example.com is program 'india''s already" in caplog.text
