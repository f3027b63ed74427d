"""The getting-started walk (docs/getting-started.md, "From a fresh clone to a deployment of your
own") run as written: its shell blocks, in order, in one shell, from the repository's root.

What stands in for an operator's own things, each a plain substitution listed in SUBSTITUTIONS:
the configuration folder and the HR file are in a temporary folder (the hand edit of step 1
is a `sed` the test adds), the PostgreSQL URL is the test database's, the ports are free ones,
and nginx runs with a certificate made here, reached through `curl --resolve`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import PG_SKIP, PG_URL, reset_postgres
from tests.fakes.certs import self_signed
from tests.servers import REPO, free_port

pytestmark = pytest.mark.slow
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HOST = "points.example.com"


def walk() -> tuple[list[str], str]:
    """The walk's shell blocks and its nginx block, as the page has them."""
    page = (REPO / "docs" / "getting-started.md").read_text()
    start = page.index("## From a fresh clone to a deployment of your own")
    section = page[start : page.index("\n## ", start + 1)]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    (nginx,) = [text for lang, text in blocks if lang == "nginx"]
    return [text for lang, text in blocks if lang == "sh"], nginx


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for HOST: (cert, key)."""
    key_pem, cert_pem = self_signed(ec.generate_private_key(ec.SECP256R1()), HOST, 1, dns=HOST)
    cert_path, key_path = folder / "points.crt", folder / "points.key"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(key_pem)
    return cert_path, key_path


@pytest.mark.skipif(not PG_URL, reason=PG_SKIP)
@pytest.mark.skipif(not Path(NGINX).exists(), reason="no nginx: apt-get install nginx-light")
def test_the_getting_started_walk_runs_as_written(tmp_path: Path) -> None:
    assert PG_URL is not None
    reset_postgres(PG_URL)
    shell_blocks, nginx_block = walk()
    gateway_port, nginx_port = free_port(), free_port()
    cert, key = certificate(tmp_path)
    for folder in ("etc", "hr", "var", "nginx"):
        (tmp_path / folder).mkdir()
    header = "Emp ID,Work Email,first_name,last_name,mobile,designation,department,company,Points"
    (tmp_path / "hr" / "employees.csv").write_text(
        f"{header}\nE1001,pam@example.com,Pam,Beesly,9876543210,Receptionist,Admin,Acme,500\n"
    )
    substitutions = {
        "make install": "true  # the suite's venv is installed",
        'export PATH="$PWD/.venv/bin:$PATH"': f'export PATH="{Path(sys.executable).parent}:$PATH"',
        "/etc/points-gateway": str(tmp_path / "etc"),
        # Step 1's hand edit: the example's HR file and state folder are this test's.
        'cp config/examples/csv.toml "$GW/gateway.toml"': (
            'cp config/examples/csv.toml "$GW/gateway.toml"\n'
            f'sed -i "s#/srv/hr#{tmp_path}/hr#; s#/var/lib/points-gateway#{tmp_path}/var#" '
            '"$GW/gateway.toml"'
        ),
        "postgresql://points_gateway:choose-one@db.internal/points_gateway": PG_URL,
        "--bind 127.0.0.1:8000 &": (
            # its output to a file: a background process holding the pipes would keep them open
            f"--bind 127.0.0.1:{gateway_port} >{tmp_path}/serve.log 2>&1 &\n"
            f"for _ in $(seq 150); do curl -sf http://127.0.0.1:{gateway_port}/healthz "
            ">/dev/null && break; sleep 0.2; done\n"
            f"{NGINX} -p {tmp_path}/nginx -c {tmp_path}/nginx/nginx.conf"
        ),
        f"curl -s https://{HOST}": (
            f"curl -s --cacert {cert} --resolve {HOST}:{nginx_port}:127.0.0.1 "
            f"https://{HOST}:{nginx_port}"
        ),
    }
    script = "set -euo pipefail\n" + "\n".join(shell_blocks)
    for said, instead in substitutions.items():
        assert said in script, f"the walk no longer says {said!r}: update this test"
        script = script.replace(said, instead)
    server = nginx_block.replace("listen 443 ssl;", f"listen 127.0.0.1:{nginx_port} ssl;")
    server = server.replace("/etc/ssl/points.example.com.crt", str(cert))
    server = server.replace("/etc/ssl/points.example.com.key", str(key))
    server = server.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{gateway_port}")
    (tmp_path / "nginx" / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx/nginx.pid;\nerror_log {tmp_path}/nginx/error.log;\n"
        "events {}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path}/nginx;\n"
        f"proxy_temp_path {tmp_path}/nginx;\n{server}\n}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        _stop(proc.pid, tmp_path / "nginx" / "nginx.pid")
    assert proc.returncode == 0, f"{out[-3000:]}\n{err[-3000:]}"
    assert "journal  ok" in out and "found E1001" in out and "(active)" in out, out
    assert f"POST https://{HOST}/v1/points/redeem" in out  # the handover
    assert '{"status":"1","message":"Successfully updated"' in out, out
    last = out.strip().splitlines()[-1]
    assert ",debit,applied,E1001," in last and ",first-1," in last, last


def _stop(group: int, nginx_pid: Path) -> None:
    """The walk's background serve (in the shell's process group) and nginx (a daemon)."""
    if nginx_pid.exists():
        subprocess.run([NGINX, "-s", "stop", "-c", str(nginx_pid.parent / "nginx.conf")],
                       capture_output=True, check=False)  # fmt: skip
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        time.sleep(2)
