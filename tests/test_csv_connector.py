"""The CSV connector on real files: lookups, column mapping, live replacement, bad files."""

from __future__ import annotations

import logging
import os
from decimal import Decimal

import pytest

from connectors.base import ConnectorConfigError, Profile
from connectors.csv_source import CsvConnector
from tests.conftest import EMPLOYEES, write_csv


@pytest.fixture
def csv_path(tmp_path):
    return write_csv(tmp_path / "employees.csv", EMPLOYEES)


def elsewhere(employee_id):
    """A profile found by another connector (profile and points from different sources)."""
    return Profile(employee_id=employee_id, email="", first_name="", last_name="")


def replace(path, rows, header=None):
    """Replace the file as HR's upload would: a new file renamed over the old one."""
    tmp = path.with_suffix(".new")
    write_csv(tmp, rows, *([header] if header else []))
    os.replace(tmp, path)


def test_lookup_by_each_identity(csv_path):
    c = CsvConnector(str(csv_path))
    assert c.find("employee_id", "U1000").first_name == "Kelly"
    assert c.find("email", "mixed.case@example.COM").employee_id == "U1000"
    assert c.find("mobile", "9876543215").employee_id == "U1000"
    assert c.find("employee_id", "u1000") is None  # ids are exact; only emails fold case
    assert c.find("mobile", "") is None
    assert c.granted(c.find("employee_id", "TTE032S99ERCL")) == Decimal("1651.5")
    assert c.granted(elsewhere("TTE032S99ERCL")) == Decimal("1651.5")
    assert c.granted(elsewhere("nobody")) is None


def test_profile_keeps_the_raw_row(csv_path):
    profile = CsvConnector(str(csv_path)).find("employee_id", "22816281")
    assert profile.raw["designation"] == "Assistant Regional Manager"
    assert profile.mobile == ""


def test_column_mapping_and_bom(tmp_path):
    path = tmp_path / "hr.csv"
    path.write_text(
        "\ufeffEmp ID;Work Email;Given;Family;Points\nX1;x1@example.com;Ann;Lee;12.5\n", "utf-8"
    )
    columns = {
        "employee_id": "Emp ID",
        "email": "Work Email",
        "first_name": "Given",
        "last_name": "Family",
        "points": "Points",
    }
    c = CsvConnector(str(path), columns=columns, delimiter=";")
    assert c.find("email", "X1@example.com").last_name == "Lee"
    assert c.granted(elsewhere("X1")) == Decimal("12.5")


def test_a_replaced_file_is_seen_by_the_next_call(csv_path):
    c = CsvConnector(str(csv_path))
    assert c.find("employee_id", "NEW1") is None
    replace(csv_path, [*EMPLOYEES, "NEW1,new1@example.com,New,Person,,,,,42"])
    assert c.find("employee_id", "NEW1").email == "new1@example.com"
    assert c.granted(c.find("employee_id", "NEW1")) == Decimal(42)


def test_points_of_another_sources_profile_follow_a_replaced_file(csv_path):
    c = CsvConnector(str(csv_path))
    assert c.granted(elsewhere("U1000")) == Decimal(1000)
    replace(csv_path, [row.replace(",1000", ",1250") for row in EMPLOYEES])
    assert c.granted(elsewhere("U1000")) == Decimal(1250)


def test_a_found_profile_gets_the_points_of_the_same_file(csv_path):
    """One request reads the person and their points from one version of the file, even when
    HR replaces it in between; the request after sees the new file."""
    c = CsvConnector(str(csv_path))
    kelly = c.find("employee_id", "U1000")
    replace(csv_path, [row.replace(",1000", ",1250") for row in EMPLOYEES])
    assert c.granted(kelly) == Decimal(1000)
    assert c.granted(c.find("employee_id", "U1000")) == Decimal(1250)


@pytest.mark.parametrize(
    ("rows", "header", "why"),
    [
        (EMPLOYEES, "employee_id,first_name,last_name,points", "missing column"),
        ([*EMPLOYEES, "U1000,other@example.com,A,B,,,,,1"], None, "duplicate"),
        ([*EMPLOYEES, "U9,mixed.case@example.com,A,B,,,,,1"], None, "duplicate"),
        ([*EMPLOYEES, "U9,u9@example.com,A,B,,,,,lots"], None, "not a number"),
        ([*EMPLOYEES, "U9,u9@example.com,A,B,,,,,-1"], None, ">= 0"),
        ([*EMPLOYEES, ",u9@example.com,A,B,,,,,1"], None, "empty"),
    ],
    ids=[
        "no-email-column",
        "duplicate-id",
        "duplicate-email-any-case",
        "bad-points",
        "negative",
        "empty-id",
    ],
)
def test_a_malformed_replacement_is_refused_and_old_data_serves(
    csv_path, caplog, rows, header, why
):
    c = CsvConnector(str(csv_path))
    replace(csv_path, rows, header)
    with caplog.at_level(logging.ERROR):
        assert c.find("employee_id", "U1000").first_name == "Kelly"
        assert c.granted(c.find("employee_id", "U1000")) == Decimal(1000)
    assert why in caplog.text and "refused" in caplog.text
    # Refused once, not re-read on every call until the file changes again.
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        c.find("employee_id", "U1000")
    assert caplog.text == ""
    replace(csv_path, [*EMPLOYEES, "NEW1,new1@example.com,New,Person,,,,,42"])
    assert c.find("employee_id", "NEW1") is not None


def test_not_utf8_is_refused(csv_path, caplog):
    c = CsvConnector(str(csv_path))
    csv_path.write_bytes(b"employee_id,email,first_name,last_name\n1,\xff@x,A,B\n")
    with caplog.at_level(logging.ERROR):
        assert c.find("employee_id", "U1000") is not None
    assert "not utf-8-sig text" in caplog.text


def test_a_missing_or_bad_file_at_start_is_a_config_error(tmp_path):
    with pytest.raises(ConnectorConfigError, match="No such file"):
        CsvConnector(str(tmp_path / "absent.csv"))
    bad = write_csv(tmp_path / "bad.csv", ["1,a@x,A,B"], header="employee_id,email,first_name")
    with pytest.raises(ConnectorConfigError, match="missing column"):
        CsvConnector(str(bad))


def test_a_vanished_file_keeps_serving_but_fails_the_check(csv_path):
    c = CsvConnector(str(csv_path))
    csv_path.unlink()
    assert c.find("employee_id", "U1000") is not None
    with pytest.raises(ConnectorConfigError):
        c.check()


def test_no_points_column(tmp_path):
    path = write_csv(
        tmp_path / "p.csv", ["1,a@x.com,A,B"], header="employee_id,email,first_name,last_name"
    )
    c = CsvConnector(str(path))
    assert c.find("employee_id", "1") is not None
    with pytest.raises(ConnectorConfigError, match="points"):
        c.granted(c.find("employee_id", "1"))


def test_replacing_the_csv_keeps_the_journal(api, employees_csv):
    """HR uploads a new file: grants change, redemptions stay, nothing is re-applied."""
    assert api.redeem("U1000", "O-1", 300).status_code == 200
    replace(
        employees_csv,
        [r.replace(",1000", ",1500") if r.startswith("U1000") else r for r in EMPLOYEES],
    )
    assert api.balance("U1000") == {
        "points_received": "1500",
        "points_redeemed": "300",
        "points_available": "1200",
    }
    assert api.redeem("U1000", "O-1", 300).status_code == 200  # a replay, still
    assert api.balance("U1000")["points_redeemed"] == "300"
