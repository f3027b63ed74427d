"""Secrets come from the environment or from files, and the shipped examples hold none.

Found from outside: deploy/container/gateway.toml shipped `secret_key =
"set-GATEWAY_SECRET_KEY-in-the-environment"`; without the variable `serve` started and took
tokens forged offline with that public text. Its `profile_api_keys` example also served (`check`
exited 0), and no variable could replace it, so `docker compose up` as documented answered
/v1/profile to a key printed in the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_settings
from gateway.keys import key_problem, new_key
from tests.servers import REPO
from tests.test_cli import run

CONTAINER = REPO / "deploy" / "container"
SECRET, PROFILE_KEY, OTHER_KEY = new_key(), new_key(), new_key()


@pytest.fixture
def container_config(tmp_path: Path) -> Path:
    """The shipped container configuration, its journal in a local file."""
    text = (CONTAINER / "gateway.toml").read_text()
    text = text.replace("/var/lib/points-gateway/", f"{tmp_path}/")
    (tmp_path / "employees.csv").write_bytes((CONTAINER / "employees.csv").read_bytes())
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def local(environ: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {"GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'journal.db'}", **environ}


def test_the_shipped_container_config_holds_no_secret():
    text = (CONTAINER / "gateway.toml").read_text()
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        assert key not in ("secret_key", "profile_api_keys", "old_secret_keys"), line


@pytest.mark.parametrize("command", ["serve", "check", "token DB123"])
def test_without_real_keys_nothing_serves(container_config, tmp_path, command):
    out = run(*command.split(), "--config", str(container_config), env=local({}, tmp_path))
    said = out.stdout + out.stderr
    assert out.returncode == 2, said
    assert "gateway.secret_key is not set" in said and "Traceback" not in said


def test_keys_come_from_the_environment(container_config, tmp_path):
    env = local({"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_PROFILE_API_KEYS": PROFILE_KEY}, tmp_path)
    settings = load_settings(container_config, env)
    assert settings.secret_keys[-1] == SECRET and settings.profile_api_keys == (PROFILE_KEY,)
    out = run("check", "--config", str(container_config), env=env)
    assert out.returncode == 0, out.stdout + out.stderr


def test_keys_come_from_files_as_docker_and_kubernetes_mount_them(container_config, tmp_path):
    secrets = tmp_path / "run-secrets"
    secrets.mkdir()
    (secrets / "key").write_text(SECRET + "\n")  # a trailing newline, as `echo` leaves one
    (secrets / "profile").write_text(f"{PROFILE_KEY}\n{OTHER_KEY}\n")
    (secrets / "db").write_text(f"sqlite:///{tmp_path / 'journal.db'}\n")
    env = {
        "GATEWAY_SECRET_KEY_FILE": str(secrets / "key"),
        "GATEWAY_PROFILE_API_KEYS_FILE": str(secrets / "profile"),
        "GATEWAY_DATABASE_URL_FILE": str(secrets / "db"),
    }
    settings = load_settings(container_config, env)
    assert settings.secret_keys[-1] == SECRET
    assert settings.profile_api_keys == (PROFILE_KEY, OTHER_KEY)
    assert settings.database_url == f"sqlite:///{tmp_path / 'journal.db'}"


def test_a_secret_file_problem_is_one_line_that_never_shows_its_content(container_config, tmp_path):
    with pytest.raises(ConfigError, match="GATEWAY_SECRET_KEY_FILE") as missing:
        load_settings(container_config, {"GATEWAY_SECRET_KEY_FILE": str(tmp_path / "nope")})
    assert "\n" not in str(missing.value)
    (tmp_path / "key").write_text(SECRET)
    both = {"GATEWAY_SECRET_KEY": SECRET, "GATEWAY_SECRET_KEY_FILE": str(tmp_path / "key")}
    with pytest.raises(ConfigError, match="both") as twice:
        load_settings(container_config, both)
    assert SECRET not in str(twice.value)


@pytest.mark.parametrize(
    "key",
    [
        "set-GATEWAY_SECRET_KEY-in-the-environment",
        "set-a-real-profile-api-key-of-32-characters-or-more",
        "replace-this-with-a-key-of-your-own-0123456789",
        "your-profile-api-key-goes-here-0123456789",
        "an-example-key-for-the-documentation-0123456",
        "CHANGEME-please-to-something-long-0123456789",
        "put-your-secret-here-0123456789-abcdefghij",
        "<generate one with points-gateway secret>",
    ],
)
def test_a_key_that_reads_like_an_instruction_is_a_placeholder(key):
    assert key_problem(key) == "is a placeholder from an example"
