"""A newcomer's path, tried as one would: `make run PORT=...` and the curl it prints, a taken
port, `make demo-reset`, `--version`, `gunicorn gateway.wsgi:app` from anywhere, and two
`serve` processes on one host."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import write_config
from tests.servers import REPO, clean_env, free_port, running

NO_MAKE = "make is absent"


def test_the_version_is_the_installed_package_s():
    from importlib.metadata import version

    out = subprocess.run(
        [sys.executable, "-m", "gateway", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    assert out.stdout.strip() == f"points-gateway, version {version('points-gateway')}"


def test_a_taken_port_is_one_clear_line_before_gunicorn_starts(tmp_path, employees_csv):
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--config",
                str(path),
                "--bind",
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
        )
        seconds = time.monotonic() - started
        # `make run` on it (its install step left out): that one line first, and nothing else
        # of ours, no banner with a curl to a server that never started.
        made = None
        if shutil.which("make") is not None:
            make = ["make", "--no-print-directory", "run", f"PORT={port}", "RUN_STAMP="]
            made = subprocess.run(
                [*make, f"BIN={Path(sys.executable).parent}"],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
                env=clean_env(GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}"),
            )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in lines[0]
    assert "Traceback" not in out.stderr and "Booting" not in out.stderr
    assert seconds < 10  # gunicorn alone retries for five seconds
    if made is not None:
        assert made.returncode == 2
        assert made.stdout == ""
        # make's own closing line ("make: *** [Makefile:N: run] Error 2", "make[1]: ***" when
        # make runs inside make, as `make test` runs this) is make's to print.
        makes = re.compile(r"^make(\[\d+\])?: \*\*\* ")
        ours = [line for line in made.stderr.splitlines() if not makes.match(line)]
        assert ours == [lines[0]], made.stderr


@pytest.mark.slow
def test_serve_leaves_no_control_socket_for_a_second_serve_to_take_over(tmp_path, employees_csv):
    """gunicorn >= 25.1 puts one control socket per user at ~/.gunicorn/gunicorn.ctl, so a
    second `serve` on the host took it over from the first."""
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env("XDG_RUNTIME_DIR", HOME=str(home))
    servers = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "employees.csv").write_bytes(employees_csv.read_bytes())
        path = write_config(folder, f"sqlite:///{folder / 'journal.db'}")
        port = free_port()
        argv = [sys.executable, "-m", "gateway", "serve", "--config", str(path)]
        servers.append(([*argv, "--bind", f"127.0.0.1:{port}", "--workers", "1"], port))
    with (
        running(servers[0][0], f"http://127.0.0.1:{servers[0][1]}", env=env) as one,
        running(servers[1][0], f"http://127.0.0.1:{servers[1][1]}", env=env) as two,
    ):
        assert not (home / ".gunicorn").exists()
        for server in (one, two):
            assert requests.get(server.base + "/healthz", timeout=5).status_code == 200


@pytest.mark.slow
def test_gunicorn_serves_the_installed_package_s_wsgi_app_from_any_folder(tmp_path, employees_csv):
    path = write_config(tmp_path, f"sqlite:///{tmp_path / 'journal.db'}")
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "gateway.wsgi:app"]
    argv += ["--bind", f"127.0.0.1:{port}", "--chdir", str(tmp_path)]
    env = clean_env(GATEWAY_CONFIG=str(path))
    with running(argv, f"http://127.0.0.1:{port}", env=env) as server:
        assert requests.get(server.base + "/readyz", timeout=5).json()["status"] == "1"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason=NO_MAKE)
def test_make_run_on_another_port_prints_a_curl_that_works_as_pasted(tmp_path):
    port = free_port()
    # The demo's own journal stays as it is: this run writes elsewhere.
    env = clean_env(GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path / 'journal.db'}")
    proc = subprocess.Popen(
        # RUN_STAMP=: the suite's venv is installed; a pyproject.toml changed since would
        # reinstall it here, mid-test.
        ["make", "--no-print-directory", "run", f"PORT={port}", "RUN_STAMP="],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        hint = [proc.stdout.readline() for _ in range(4)]
        assert hint[0].startswith(f"Demo gateway on http://127.0.0.1:{port} "), hint
        command = (hint[1].rstrip().removesuffix("\\") + hint[2]).strip()
        console = f"http://127.0.0.1:{port}/console/"
        assert hint[3].startswith(f"The console: {console} "), hint
        login = re.search(r"log in as (\S+), password (\S+)\)", hint[3])
        assert login is not None, hint
        assert command.startswith(f"curl -s http://127.0.0.1:{port}/v1/points/balance")
        deadline = time.monotonic() + 60
        while True:
            answer = subprocess.run(command, shell=True, capture_output=True, text=True)
            if answer.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert '"points_available":"2000"' in answer.stdout.replace(" ", "")
        # ...and the console's login, as printed, opens the console.
        browser = requests.Session()
        page = browser.get(console + "login", timeout=10).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token is not None, page[:300]
        body = {"name": login[1], "password": login[2], "csrf_token": token[1]}
        assert browser.post(console + "login", data=body, timeout=10).url == console
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.skipif(shutil.which("make") is None, reason=NO_MAKE)
def test_make_demo_reset_empties_the_demo_journal(tmp_path):
    journal = tmp_path / "journal.db"
    for name in ("journal.db", "journal.db-wal", "journal.db-shm", "journal.db.writelock"):
        (tmp_path / name).write_text("x")
    (tmp_path / "keep.txt").write_text("x")
    out = subprocess.run(
        ["make", "--no-print-directory", "demo-reset", f"DEMO_JOURNAL={journal}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "tmp") == ["keep.txt"]


def test_make_run_does_not_need_the_test_tools():
    makefile = (REPO / "Makefile").read_text()
    run_stamp = makefile.split("$(RUN_STAMP): pyproject.toml", 1)[1].split("\n\n", 1)[0]
    assert "$(PIP) install --quiet -e ." in run_stamp and "[test]" not in run_stamp
    assert "\nrun: $(RUN_STAMP)\n" in makefile


def test_the_package_declares_its_licence_and_bounds_gunicorn():
    pyproject = (REPO / "pyproject.toml").read_text()
    # An SPDX expression and the file (PEP 639): the table form made setuptools print its
    # deprecation box on every install, three times.
    assert '\nlicense = "Apache-2.0"\n' in pyproject
    assert '\nlicense-files = ["LICENSE"]\n' in pyproject
    assert '"gunicorn>=22,<28"' in pyproject
    assert "Apache License" in (REPO / "LICENSE").read_text()
    assert Path(REPO / "CHANGELOG.md").read_text().startswith("# Changelog")


@pytest.mark.slow
def test_make_run_s_install_step_prints_nothing(tmp_path):
    """The install `make run` begins with, as its Makefile runs it: setuptools has nothing to
    say (it printed its licence deprecation box three times, then a notice about editable
    installs), and the metadata carries the licence as an SPDX expression with its file."""
    import re
    import shlex

    makefile = (REPO / "Makefile").read_text()
    pip = re.search(r"^PIP\s*=\s*(.*)$", makefile, re.M)
    assert pip is not None and "$(PIP) install --quiet -e ." in makefile
    settings = dict(word.split("=", 1) for word in shlex.split(pip.group(1).split("$(BIN)")[0]))
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    for package in ("gateway", "connectors"):
        shutil.copytree(
            REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip_into_venv = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    installed = subprocess.run(
        [*pip_into_venv, "install", "--quiet", "--no-deps", "-e", str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean_env(), **settings},
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    assert installed.stdout + installed.stderr == ""
    [metadata] = venv.glob("lib/python*/site-packages/points_gateway-*.dist-info/METADATA")
    text = metadata.read_text()
    assert "License-Expression: Apache-2.0" in text and "License-File: LICENSE" in text
