"""Configuration: one clear line naming the key, relative paths, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import DEMO_CONFIG, ConfigError, load_settings, resolve_database_url
from tests.conftest import EMPLOYEES, write_csv


def config_text(tmp_path, text):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    path = tmp_path / "c.toml"
    path.write_text(text, "utf-8")
    return path


MINIMAL = """[gateway]
secret_key = "k"
{extra}
[profile]
connector = "{profile}"
options = {{ path = "employees.csv" }}
[points]
connector = "csv"
options = {{ {points_options} }}
"""


def minimal(tmp_path, extra="", profile="csv", points_options='path = "employees.csv"'):
    text = MINIMAL.format(extra=extra, profile=profile, points_options=points_options)
    return config_text(tmp_path, text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"extra": 'token_ttl_seconds = "soon"'},
            "gateway.token_ttl_seconds: Not a valid integer.",
        ),
        ({"extra": "token_ttl_seconds = 0"}, "gateway.token_ttl_seconds:"),
        ({"extra": 'identity = "name"'}, "gateway.identity: Must be one of"),
        ({"extra": 'secret_kye = "typo"'}, "gateway.secret_kye: Unknown field."),
        ({"extra": "max_decimals = 9"}, "gateway.max_decimals:"),
        ({"extra": 'profile_api_keys = ["short"]'}, "gateway.profile_api_keys.0:"),
        ({"extra": 'database_url = "mysql://x/y"'}, "gateway.database_url:"),
        ({"profile": "sap"}, "profile.connector: unknown connector 'sap'"),
        ({"points_options": ""}, "points.options.path: Missing data for required field."),
        (
            {"points_options": 'path = "e.csv", colour = "red"'},
            "points.options.colour: Unknown field.",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path, kwargs, message):
    with pytest.raises(ConfigError) as err:
        load_settings(minimal(tmp_path, **kwargs))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"extra": "token_ttl_second = 60"},
            "gateway.token_ttl_second: Unknown field. Did you mean `token_ttl_seconds`?",
        ),
        (
            {"extra": "[server]\nworker = 2"},
            "server.worker: Unknown field. Did you mean `workers`?",
        ),
        (
            {"extra": "[sever]\nworkers = 2"},
            "sever: Unknown field. Did you mean `server`?",
        ),
        (
            {"extra": "[network]\nallow_list = []"},
            "network.allow_list: Unknown field. Did you mean `allowlist`?",
        ),
        (
            {"extra": "[network.proxy_fix]\nx_protocol = 1"},
            "network.proxy_fix.x_protocol: Unknown field. Did you mean `x_proto`?",
        ),
        (
            {"points_options": 'path = "employees.csv", delimeter = ";"'},
            "points.options.delimeter: Unknown field. Did you mean `delimiter`?",
        ),
        (
            {"points_options": 'path = "employees.csv", colour = "red"'},
            "points.options.colour: Unknown field.",
        ),
    ],
)
def test_an_unknown_key_is_told_the_nearest_known_one(tmp_path, kwargs, message):
    with pytest.raises(ConfigError) as err:
        load_settings(minimal(tmp_path, **kwargs))
    assert str(err.value) == message


def test_an_unknown_option_of_a_nested_connector_table_is_told_the_nearest(tmp_path):
    from tests.test_darwinbox import write_darwinbox_config

    config = write_darwinbox_config(tmp_path)
    config.write_text(config.read_text().replace("breaker_failures = 2", "atempts = 2"))
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert str(err.value) == (
        "profile.options.http.atempts: Unknown field. Did you mean `attempts`?"
    )


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_text(tmp_path, "[gateway\n"))
    with pytest.raises(ConfigError, match="profile: Missing data"):
        load_settings(config_text(tmp_path, '[gateway]\nsecret_key = "k"\n'))


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    settings = load_settings(minimal(tmp_path))
    assert settings.profile.options["path"] == str(tmp_path / "employees.csv")
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'journal.db'}"


def test_defaults(tmp_path):
    s = load_settings(minimal(tmp_path))
    assert (s.token_ttl_seconds, s.identity, s.max_decimals, s.max_body_bytes) == (
        86400,
        "employee_id",
        2,
        65536,
    )
    assert s.demo is False


def test_environment_overrides(tmp_path):
    env = {
        "GATEWAY_DATABASE_URL": "postgresql://postgres@db/points",
        "GATEWAY_SECRET_KEY": "env-key",
    }
    s = load_settings(minimal(tmp_path), env)
    assert s.database_url == "postgresql+psycopg://postgres@db/points"
    assert s.secret_keys == ("env-key",)


def test_gateway_config_variable_and_no_default(tmp_path):
    path = minimal(tmp_path)
    assert load_settings(None, {"GATEWAY_CONFIG": str(path)}).source == path
    with pytest.raises(ConfigError, match="no configuration"):
        load_settings(None, {})


def test_database_urls():
    base = Path("/srv/gw")
    assert resolve_database_url("sqlite:///j.db", base) == "sqlite:////srv/gw/j.db"
    assert resolve_database_url("sqlite:////abs/j.db", base) == "sqlite:////abs/j.db"
    assert resolve_database_url("postgres://u:p@h/d", base) == "postgresql+psycopg://u:p@h/d"
    with pytest.raises(ConfigError, match="database_url"):
        resolve_database_url("::nonsense::", base)


def test_the_example_config_is_valid(tmp_path):
    example = Path(DEMO_CONFIG).parent / "example.toml"
    text = example.read_text("utf-8")
    assert load_settings(config_text(tmp_path, text)).identity == "employee_id"
