"""No serving with a guessable key: placeholders, short keys and the demo's public keys.

With `secret_key = "change-me"` anyone could sign a token offline and credit themselves; with
Xoxoday's sample api_key anyone could read every profile. Each command that serves or signs
refuses such a configuration with one line naming the key, unless it says it is a demo.
"""

from __future__ import annotations

import pytest

from gateway.app import create_app
from gateway.config import DEMO_CONFIG, ConfigError, load_settings
from gateway.keys import MIN_KEY_LENGTH, key_problem, new_key, weak_keys
from tests.conftest import PROFILE_KEY, SEED_API_KEY, write_config
from tests.test_cli import run

STRONG = "k" + new_key()[:40]


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("change-me", "placeholder"),
        ("CHANGE-ME ", "placeholder"),
        ("replace-with-a-long-random-key", "placeholder"),
        ("replace-with-something-else-entirely-0123456789", "placeholder"),
        (SEED_API_KEY, "placeholder"),
        ("a", "shorter than 32"),
        ("x" * 40, "different characters"),
        ("ab" * 20, "different characters"),
    ],
)
def test_what_counts_as_guessable(key, problem):
    assert problem in key_problem(key)


def test_a_fresh_key_passes():
    key = new_key()
    assert len(key) >= MIN_KEY_LENGTH and key_problem(key) is None
    assert new_key() != key


def config(tmp_path, employees_csv, **gateway):
    return write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}", **gateway)


@pytest.mark.parametrize(
    "command", ["serve", "token U1000", "check", "worker --once", "journal resolve"]
)
@pytest.mark.parametrize("key", ["change-me", "a", "short-but-not-a-placeholder"])
def test_every_serving_command_refuses_a_guessable_secret(tmp_path, employees_csv, command, key):
    path = config(tmp_path, employees_csv, secret_key=key)
    out = run(*command.split(), "--config", str(path))
    assert out.returncode == 2, out.stdout + out.stderr
    said = out.stdout + out.stderr
    assert "gateway.secret_key" in said and "Traceback" not in said
    if command != "check":
        assert out.stderr.strip().count("\n") == 0, out.stderr  # one line
    assert key not in said.replace("gateway.secret_key", "") or key == "a"


def test_check_says_why_for_every_weak_key(tmp_path, employees_csv):
    path = config(
        tmp_path,
        employees_csv,
        old_secret_keys=["changeme"],
        profile_api_keys=[PROFILE_KEY, SEED_API_KEY],
    )
    out = run("check", "--config", str(path))
    assert out.returncode == 2
    assert "refused: gateway.old_secret_keys[0] is a placeholder" in out.stdout
    assert "refused: gateway.profile_api_keys[1] is a placeholder" in out.stdout
    assert "gateway.secret_key" not in out.stdout  # the test's own key is strong


def test_the_environment_key_is_the_one_checked(tmp_path, employees_csv):
    path = config(tmp_path, employees_csv, secret_key="change-me")
    out = run("token", "--config", str(path), "U1000", env={"GATEWAY_SECRET_KEY": STRONG})
    assert out.returncode == 0, out.stderr


def test_a_demo_may_serve_its_public_keys(tmp_path, employees_csv):
    path = config(tmp_path, employees_csv, secret_key="change-me", demo=True)
    assert run("token", "--config", str(path), "U1000").returncode == 0
    out = run("check", "--config", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "says it is a demo" in out.stdout


def test_the_bundled_demo_says_it_is_one():
    settings = load_settings(DEMO_CONFIG)
    assert settings.demo and list(weak_keys(settings))  # public keys, allowed only as a demo


def test_portal_keys_and_xoxoday_secrets_follow_the_rule(tmp_path, employees_csv):
    path = config(tmp_path, employees_csv)
    path.write_text(
        path.read_text()
        + '[xoxoday]\nclient_id = "c"\nclient_secret = "change-me"\n'
        + '[sso]\nportal_api_keys = ["replace-with-a-portal-key"]\n'
    )
    problems = list(weak_keys(load_settings(path)))
    assert problems == [
        "sso.portal_api_keys[0] is a placeholder from an example",
        "xoxoday.client_secret is a placeholder from an example",
    ]


def test_no_silent_fallback_to_the_demo(tmp_path):
    out = run("token", "U1000")
    assert out.returncode == 2
    assert "no configuration" in out.stderr and "GATEWAY_CONFIG" in out.stderr
    with pytest.raises(ConfigError, match="no configuration"):
        load_settings(None, {})


def test_wsgi_refuses_a_guessable_secret(tmp_path, employees_csv, monkeypatch):
    monkeypatch.setenv("GATEWAY_CONFIG", str(config(tmp_path, employees_csv, secret_key="secret")))
    with pytest.raises(ConfigError, match=r"gateway\.secret_key is a placeholder"):
        create_app()


@pytest.mark.slow
def test_serve_says_which_configuration_it_uses(tmp_path, employees_csv):
    from tests.servers import serving

    path = config(tmp_path, employees_csv)
    with serving(path, "--workers", "1", log=tmp_path / "serve.log") as server:
        assert f"serving {path}" in server.log_text()


def test_token_refuses_an_unknown_user_unless_told(tmp_path, employees_csv):
    path = config(tmp_path, employees_csv)
    out = run("token", "--config", str(path), "NOSUCHUSER")
    assert out.returncode == 1 and "NOSUCHUSER" in out.stderr and out.stdout == ""
    assert run("token", "--config", str(path), "--any", "NOSUCHUSER").returncode == 0


@pytest.mark.parametrize("command", ["worker --once", "journal pending", "journal resolve"])
def test_ledger_commands_on_a_journal_setup_have_nothing_to_do(tmp_path, employees_csv, command):
    out = run(*command.split(), "--config", str(config(tmp_path, employees_csv)))
    assert out.returncode == 0, out.stderr
    assert "nothing to do: points are kept in the journal" in out.stderr
