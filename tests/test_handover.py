"""`points-gateway xoxoday handover` prints what Xoxoday's onboarding needs, from the
configuration itself: the four URLs and their dialects, the api_key, the identity, how tokens
reach them, the allowlist."""

from __future__ import annotations

from tests.conftest import PROFILE_KEY, write_config
from tests.test_cli import run


def test_the_handover_names_every_endpoint_key_and_address(tmp_path, employees_csv):
    config = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'journal.db'}", dialects={"balance": "current"}
    )
    config.write_text(config.read_text() + '\n[network]\nallowlist = ["xoxoday-production"]\n')
    out = run(
        "xoxoday", "handover", "--config", str(config), "--base-url", "https://points.example.com/"
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for path in ("/v1/points/balance", "/v1/profile", "/v1/points/redeem", "/v1/points/refund"):
        assert f"POST https://points.example.com{path}\n" in text
    assert "dialect current" in text and "dialect legacy" in text
    assert f"GetProfile api_key: {PROFILE_KEY}\n" in text
    assert "1 more configured for rotation" in text
    assert "unique_id is each employee's employee_id" in text
    assert "xoxoday-production: 52.76.120.90, 52.74.39.101, 52.221.42.47, 46.137.196.217" in text


def test_the_handover_refuses_plain_http_and_placeholder_keys(tmp_path, employees_csv):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    plain = run("xoxoday", "handover", "--config", str(config), "--base-url", "http://x.example")
    assert plain.returncode == 2 and "https://" in plain.stderr
    weak = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'j.db'}", profile_api_keys=["change-me-now"]
    )
    out = run("xoxoday", "handover", "--config", str(weak), "--base-url", "https://x.example")
    assert out.returncode == 2 and "change-me-now" not in out.stdout
