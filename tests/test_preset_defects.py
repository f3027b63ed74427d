"""Three presets that were wrong about their vendor, each against its fake answering as the
vendor does (the fakes cite where): Keka's `employmentStatus` is an integer, greytHR's list
records say `leftorg` in lower case, Workday's `search` finds names and worker ids but never an
email. A wrong active rule shows through `points-gateway check --person` as "(active)" or
"(inactive)" on the lookup line, whatever the command's exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.hr import HrApi
from tests.fakes.hr.registry import System
from tests.test_hr_presets import STAFF, SYSTEMS, build


def fake(name: str, mock: Any) -> HrApi:
    api = SYSTEMS[name].fake(list(STAFF))
    api.mount(mock)
    return api


def check_person(system: System, tmp_path: Path, person: str) -> str:
    """What `points-gateway check --person` prints for `person` (an email) through the preset."""
    from click.testing import CliRunner

    from gateway.cli import main
    from tests.conftest import toml, write_config

    options = {"preset": system.preset, "index_path": str(tmp_path / "check.index")}
    options |= system.options
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}", identity="email")
    section = "\n".join(f"{k} = {toml(v)}" for k, v in options.items())
    path.write_text(
        path.read_text().replace(
            '[profile]\nconnector = "csv"\noptions = { path = "employees.csv" }',
            f'[profile]\nconnector = "rest_directory"\n[profile.options]\n{section}\n',
        )
    )
    return CliRunner().invoke(main, ["check", "--config", str(path), "--person", person]).output


# -- Keka: employmentStatus 0 (Working) or 1 (Relieved) ------------------------------------------
def test_a_relieved_keka_employee_is_inactive(mock, tmp_path):
    fake("keka", mock)
    gone = build(SYSTEMS["keka"], tmp_path).find("email", "gone@example.com")
    assert gone is not None and gone.raw["employmentStatus"] == 1
    assert gone.active is False


def test_a_working_keka_employee_is_active(mock, tmp_path):
    fake("keka", mock)
    jim = build(SYSTEMS["keka"], tmp_path).find("email", "jim@example.com")
    assert jim is not None and jim.raw["employmentStatus"] == 0 and jim.active is True


def test_check_person_shows_a_relieved_keka_employee_inactive(mock, tmp_path, employees_csv):
    fake("keka", mock)
    output = check_person(SYSTEMS["keka"], tmp_path, "gone@example.com")
    assert "lookup   found E1004 (inactive)" in output, output


# -- greytHR: leftorg on /employee/v2/employees ---------------------------------------------------
def test_greythr_people_still_there_are_active_and_leavers_are_not(mock, tmp_path):
    fake("greythr", mock)
    connector = build(SYSTEMS["greythr"], tmp_path)
    jim = connector.find("email", "jim@example.com")
    assert jim is not None and "leftorg" in jim.raw and "leftOrg" not in jim.raw
    assert jim.active is True
    assert connector.find("email", "gone@example.com").active is False


def test_check_person_shows_a_greythr_employee_active(mock, tmp_path, employees_csv):
    fake("greythr", mock)
    output = check_person(SYSTEMS["greythr"], tmp_path, "jim@example.com")
    assert "lookup   found E1002 (active)" in output, output


# -- Workday: search finds names and worker ids, not emails ---------------------------------------
def test_the_workday_fake_s_search_finds_no_email(mock):
    """The fake as documented: `search` by an email finds nobody; by a name, the worker."""
    import requests

    api = fake("workday", mock)
    api.tokens.add("t")
    headers = {"Authorization": "Bearer t"}
    by_email = requests.get(f"{api.base}/workers?search=jim@example.com", headers=headers)
    assert by_email.json()["data"] == []
    by_name = requests.get(f"{api.base}/workers?search=halpert", headers=headers)
    assert [w["workerId"] for w in by_name.json()["data"]] == ["E1002"]


def test_workday_finds_a_worker_by_email(mock, tmp_path):
    fake("workday", mock)
    jim = build(SYSTEMS["workday"], tmp_path).find("email", "JIM@example.com")
    assert jim is not None and jim.employee_id == "E1002"


def test_workday_finds_a_worker_by_id_with_one_search(mock, tmp_path):
    api = fake("workday", mock)
    pam = build(SYSTEMS["workday"], tmp_path).find("employee_id", "E1001")
    assert pam is not None and pam.email == "Pam.Beesly@Example.com"
    assert [c.split("?")[0] for c in api.calls] == ["GET /workers"]
    assert "search=E1001" in api.calls[0]
