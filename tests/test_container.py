"""The container (deploy/container/Dockerfile), built and run for real: a base made here with
debootstrap (no image can be pulled on these machines) and imported into docker, the image
built from it, started as a non-root user with its config mounted and its secret in the
environment, and balance called through it. Slow (about three minutes; most of it is
debootstrap and pip), and skipped where docker or debootstrap cannot run."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gateway.auth import TokenAuthority
from tests.servers import REPO, free_port

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
SECRET = "container-test-secret-key-0123456789abcdefg"
CONFIG = """\
[gateway]
secret_key = "GATEWAY_SECRET_KEY-overrides-this"
profile_api_keys = ["container-profile-key-0123456789abcdef0123"]
database_url = "sqlite:////var/lib/points-gateway/journal.db"
[profile]
connector = "csv"
[profile.options]
path = "employees.csv"
index_path = "/var/lib/points-gateway/employees.index"
[points]
connector = "csv"
[points.options]
path = "employees.csv"
index_path = "/var/lib/points-gateway/employees.index"
"""


def run(*argv: str, timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]


def docker_ready() -> str | None:
    """Why the test cannot run here, or None."""
    if shutil.which("docker") is None or shutil.which("debootstrap") is None:
        return "docker or debootstrap is absent (Debian: apt-get install docker.io debootstrap)"
    if os.geteuid() != 0:
        return "debootstrap needs root"
    if run("docker", "info", timeout=30).returncode == 0:
        return None
    if shutil.which("dockerd") is None:
        return "no docker daemon, and no dockerd to start"
    subprocess.Popen(
        ["dockerd"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    for _ in range(30):
        if run("docker", "info", timeout=30).returncode == 0:
            return None
        time.sleep(1)
    return "dockerd did not start"


@pytest.fixture(scope="module")
def base_image() -> Iterator[str]:
    """A debootstrapped bookworm with python3, imported as an image (removed afterwards)."""
    why = docker_ready()
    if why:
        pytest.skip(why)
    tag = f"points-gateway-test-base:{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="pg-base-") as folder:
        made = run(
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            "bookworm",
            folder,
            "http://deb.debian.org/debian",
            timeout=900,
        )
        if made.returncode != 0:
            pytest.skip(f"debootstrap could not build a base here: {made.stderr[-300:]}")
        # This network's TLS may be intercepted: pip in the build trusts the host's CA bundle.
        shutil.copy(HOST_CA, Path(folder) / "etc/ssl/certs/host-ca-bundle.crt")
        tar = subprocess.Popen(["tar", "-C", folder, "-c", "."], stdout=subprocess.PIPE)
        imported = run("docker", "import", "-", tag, stdin=tar.stdout)
        tar.wait()
        assert imported.returncode == 0, imported.stderr
    try:
        yield tag
    finally:
        run("docker", "rmi", "-f", tag, timeout=120)


def dangling() -> set[str]:
    listed = run("docker", "images", "-q", "--filter", "dangling=true", timeout=60)
    return set(listed.stdout.split())


@pytest.fixture(scope="module")
def image(base_image: str) -> Iterator[str]:
    tag = f"points-gateway-test:{uuid.uuid4().hex[:8]}"
    before = dangling()
    built = run(
        "docker",
        "build",
        "--network",
        "host",
        "-f",
        "deploy/container/Dockerfile",
        "--build-arg",
        f"BASE={base_image}",
        "--build-arg",
        "PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt",
        "-t",
        tag,
        ".",
        cwd=REPO,
        timeout=1200,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        yield tag
    finally:
        # The image, and the build stage's image the build leaves untagged.
        run("docker", "rmi", "-f", tag, *(dangling() - before), timeout=120)


@pytest.mark.slow
def test_the_image_serves_balance_as_a_non_root_user(image: str, tmp_path: Path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "gateway.toml").write_text(CONFIG)
    shutil.copy(REPO / "config" / "demo" / "employees.csv", config / "employees.csv")
    config.chmod(0o755)
    port = free_port()
    name = f"points-gateway-test-{uuid.uuid4().hex[:8]}"
    started = run(
        "docker",
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "-v",
        f"{config}:/etc/points-gateway:ro",
        "-e",
        f"GATEWAY_SECRET_KEY={SECRET}",
        image,
        "serve",
        "--bind",
        f"127.0.0.1:{port}",
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, run("docker", "logs", name).stderr[-3000:]
            time.sleep(0.5)
        token = TokenAuthority((SECRET,), 3600).issue("DB123")
        answer = requests.post(
            f"{base}/v1/points/balance",
            json={"unique_id": "DB123", "auth_token": token},
            timeout=10,
        ).json()
        assert answer["points_info"]["points_available"] == "2000"
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 200
        assert run("docker", "exec", name, "id", "-u").stdout.strip() != "0"
        logs = run("docker", "logs", name)
        assert SECRET not in logs.stdout + logs.stderr
    finally:
        run("docker", "rm", "-f", name, timeout=120)


def test_the_compose_file_runs_the_migration_before_the_gateway_and_the_worker():
    """compose itself cannot run here (no image can be pulled, no compose plugin): its
    structure is checked, and the config it mounts loads through the real loader."""
    yaml = pytest.importorskip("yaml")
    from gateway.config import load_settings

    folder = REPO / "deploy" / "container"
    compose = yaml.safe_load((folder / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "gateway", "worker"}
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ("gateway", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
        assert (REPO / services[name]["build"]["dockerfile"]).is_file()
        mounts = {m.split(":")[1] for m in services[name]["volumes"]}
        assert "/etc/points-gateway/gateway.toml" in mounts
    settings = load_settings(
        folder / "gateway.toml",
        {"GATEWAY_DATABASE_URL": services["gateway"]["environment"]["GATEWAY_DATABASE_URL"]},
    )
    assert settings.database_url.startswith("postgresql") and not settings.ledger["worker_in_serve"]
