"""The container (deploy/container/Dockerfile), built and run for real: a base made here with
debootstrap (no image can be pulled on these machines) and imported into docker, the image
built from it, started as a non-root user with its config mounted and its secret in the
environment, and balance called through it. Slow (about three minutes; most of it is
debootstrap and pip), and skipped where docker or debootstrap cannot run.

The build commands are read from deploy/container/README.md and run as written there, so the
README cannot drift from what works; and the build context .dockerignore leaves is measured
(as docker applies it, and against a real build where docker runs)."""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gateway.auth import TokenAuthority
from tests.dockerignore import context
from tests.servers import REPO, free_port

README = REPO / "deploy" / "container" / "README.md"
#: The tags the README's commands give; the tests build under tags of their own.
BASE_TAG, IMAGE_TAG = "points-gateway-base:bookworm", "-t points-gateway ."
#: What must never be sent to the daemon: virtualenvs, caches, the journal, the docs site.
NEVER_SENT = {".venv", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}
NEVER_SENT |= {"site", "var", "build", "__pycache__", "tests", "docs"}
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


def readme_commands(section: str) -> list[str]:
    """The command lines of the README section's ```sh block, continuations joined."""
    text = README.read_text()
    start = text.index(f"## {section}\n")
    block = re.search(r"^```sh\n(.*?)^```", text[start:], re.M | re.S)
    assert block, f"deploy/container/README.md: no sh block under {section!r}"
    lines = block.group(1).replace("\\\n", " ").splitlines()
    return [" ".join(line.split()) for line in lines if line.strip()]


def command(lines: list[str], starts: str) -> str:
    found = [line for line in lines if line.startswith(starts)]
    assert len(found) == 1, f"deploy/container/README.md: one {starts!r} line, not {found}"
    return found[0]


def offline_recipe() -> list[str]:
    return readme_commands("Build it where no image can be pulled")


def sh(line: str, timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
    """One of the README's command lines, run by bash as written (from the repository)."""
    script = f"set -euo pipefail; {line}"
    return run("bash", "-c", script, timeout=timeout, cwd=REPO, env={**os.environ, **env})


def retagged(line: str, old: str, new: str) -> str:
    assert line.count(old) == 1, f"{old!r} is not in the README's line: {line}"
    return line.replace(old, new)


def docker_daemon() -> str | None:
    """Why docker cannot be used here, or None (dockerd is started if it is there)."""
    if shutil.which("docker") is None:
        return "docker is absent (Debian: apt-get install docker.io)"
    if run("docker", "info", timeout=30).returncode == 0:
        return None
    if os.geteuid() != 0:
        return "no docker daemon, and only root may start one"
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


def docker_ready() -> str | None:
    """Why the image cannot be built and run here, or None."""
    if shutil.which("debootstrap") is None:
        return "debootstrap is absent (Debian: apt-get install debootstrap)"
    if os.geteuid() != 0:
        return "debootstrap needs root"
    return docker_daemon()


@pytest.fixture(scope="module")
def base_image() -> Iterator[str]:
    """A debootstrapped bookworm with python3, imported as an image (removed afterwards)."""
    why = docker_ready()
    if why:
        pytest.skip(why)
    tag = f"points-gateway-test-base:{uuid.uuid4().hex[:8]}"
    recipe = offline_recipe()
    with tempfile.TemporaryDirectory(prefix="pg-base-") as folder:
        made = sh(command(recipe, "debootstrap "), 900, ROOTFS=folder)
        if made.returncode != 0:
            pytest.skip(f"debootstrap could not build a base here: {made.stderr[-300:]}")
        # This network's TLS may be intercepted: pip in the build trusts the host's CA bundle.
        copied = sh(command(recipe, "cp /etc/ssl/certs/"), 60, ROOTFS=folder)
        assert copied.returncode == 0, copied.stderr
        importing = retagged(command(recipe, "tar -C "), BASE_TAG, tag)
        imported = sh(importing, 600, ROOTFS=folder)
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
    build = command(offline_recipe(), "docker build ")
    build = retagged(retagged(build, BASE_TAG, base_image), IMAGE_TAG, f"-t {tag} .")
    built = sh(build, 1200)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    # The legacy builder says what it sent; BuildKit does not.
    sent = re.search(r"Sending build context to Docker daemon\s+([\d.]+)([kM]?B)", built.stdout)
    if sent:
        size = float(sent.group(1)) * {"B": 1, "kB": 1e3, "MB": 1e6}[sent.group(2)]
        assert size < 2e6, f"the build context is {sent.group(1)} {sent.group(2)}"
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


# -- the README's recipe and the build context -----------------------------------------------


def test_the_readme_builds_as_the_test_does():
    """The ordinary build is the offline one without its base and network; the offline recipe
    runs debootstrap into $ROOTFS, imports it and builds on it, in that order."""
    recipe = offline_recipe()
    starts = ["ROOTFS=", "debootstrap ", "cp /etc/ssl/certs/", "tar -C ", "docker build ", "rm "]
    assert [next(s for s in starts if line.startswith(s)) for line in recipe] == starts
    debootstrap = shlex.split(command(recipe, "debootstrap "))
    assert debootstrap[1:4] == [
        "--variant=minbase",
        "--include=python3,python3-venv,ca-certificates",
        "bookworm",
    ]
    assert BASE_TAG in command(recipe, "tar -C ")
    offline = command(recipe, "docker build ")
    assert f"--build-arg BASE={BASE_TAG} " in offline
    assert "--build-arg PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt " in offline
    ordinary = readme_commands("Build it on an ordinary machine")
    assert ordinary == [re.sub(r" --(network|build-arg) \S+", "", offline)]
    assert ordinary[0] == "docker build -f deploy/container/Dockerfile -t points-gateway ."


def test_the_build_context_holds_the_image_s_sources_and_nothing_else():
    """What `docker build .` sends from the repository (.dockerignore applied as docker does):
    every file the Dockerfile copies, and no virtualenv, cache, journal or docs; under 2 MB
    (it was 25 MB with mypy's, hypothesis' and setuptools' folders)."""
    sent = context(REPO)
    copied = re.findall(
        r"^COPY (?!--from)(.+) /src/", (REPO / "deploy/container/Dockerfile").read_text(), re.M
    )
    sources = [name for line in copied for name in line.split()]
    assert sources == ["pyproject.toml", "README.md", "LICENSE", "gateway", "connectors"]
    for name in sources:
        assert name in sent or any(path.startswith(name + "/") for path in sent), name
    assert "gateway/app.py" in sent and "connectors/sql_ledger.py" in sent
    leaked = {p for p in sent if set(p.split("/")) & NEVER_SENT or ".egg-info" in p}
    assert leaked == set()
    assert sum(sent.values()) < 2_000_000, f"{sum(sent.values())} bytes"


def test_docker_sends_exactly_the_files_the_test_counts(tmp_path):
    """The count above, checked against docker itself: an image FROM scratch holding the
    whole build context, on a copy of the repository with caches planted in it."""
    why = docker_daemon()
    if why:
        pytest.skip(why)
    tree = tmp_path / "repo"
    shutil.copytree(REPO, tree, ignore=shutil.ignore_patterns(".venv", ".git", "var"))
    for planted in (
        "gateway/__pycache__/app.cpython-311.pyc",
        ".mypy_cache/3.11/x.json",
        "connectors/x.egg-info/PKG-INFO",
        "gateway/.emp.index.1",
    ):
        (tree / planted).parent.mkdir(parents=True, exist_ok=True)
        (tree / planted).write_text("cache")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY . /ctx\n")
    tag = f"points-gateway-test-context:{uuid.uuid4().hex[:8]}"
    built = run("docker", "build", "-q", "-f", str(tmp_path / "Dockerfile"), "-t", tag, str(tree))
    assert built.returncode == 0, built.stderr
    try:
        made = run("docker", "create", tag, "none")
        assert made.returncode == 0, made.stderr
        exported = subprocess.run(
            ["docker", "export", made.stdout.strip()], capture_output=True, timeout=120
        )
        run("docker", "rm", made.stdout.strip())
        with tarfile.open(fileobj=io.BytesIO(exported.stdout)) as tar:
            real = {
                m.name.removeprefix("ctx/"): m.size
                for m in tar.getmembers()
                if m.name.startswith("ctx/") and m.isfile()
            }
    finally:
        run("docker", "rmi", "-f", tag)
    assert real == context(tree)
