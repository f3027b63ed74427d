"""`points-gateway serve`: the gateway under gunicorn."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import click

from gateway.cli.base import _settings, config_option, main, operator_errors, saying_progress
from gateway.config import Settings

#: Shared memory, where the host has it: prometheus_client maps its files into memory, and a
#: page it cannot get on a full disk is a SIGBUS that kills the worker mid-request.
SHARED_MEMORY = Path("/dev/shm")
METRICS_PREFIX = "points-gateway-metrics-"


def _metrics_directory() -> None:
    """Workers share their metrics through files (prometheus_client's multiprocess mode): set
    the folder before any worker imports prometheus_client, and start it empty. One made here
    is in memory when the host allows, apart from the journal's disk, and removed at exit."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        memory = SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK | os.X_OK)
        where = SHARED_MEMORY if memory else Path(tempfile.gettempdir())
        _remove_folders_of_dead_servers(where)
        made = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-", dir=where)
        atexit.register(shutil.rmtree, made, ignore_errors=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
        return
    # A folder nobody made yet (a container's volume, say): without it every request is a 500.
    Path(folder).mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


def _remove_folders_of_dead_servers(where: Path) -> None:
    """A server killed outright (SIGKILL, the OOM killer) ran no exit handler: its folder,
    named by its pid, is removed by the next start once no such process lives."""
    for folder in where.glob(f"{METRICS_PREFIX}*-*"):
        pid = folder.name.removeprefix(METRICS_PREFIX).split("-", 1)[0]
        try:
            if folder.stat().st_uid != os.getuid() or not pid.isdecimal():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # vanished meanwhile, or a live process of another user
            continue


@main.command()
@config_option
@click.option("--bind", default=None, help="HOST:PORT to listen on (default: [server] bind).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes.")
@click.option(
    "--threads", type=click.IntRange(1, 256), default=None, help="Threads per worker process."
)
@click.option(
    "--check-port",
    is_flag=True,
    help="Only check the configuration and that HOST:PORT is free, then exit (2: it is not).",
)
@operator_errors
def serve(
    config_path: str | None,
    bind: str | None,
    workers: int | None,
    threads: int | None,
    check_port: bool,
) -> None:
    """Run the gateway under gunicorn."""
    from gateway.server import GatewayServer

    settings = _settings(config_path, serving=True)
    address = bind or settings.bind
    _refuse_a_taken_address(address)
    if check_port:  # `make run` asks before it prints its banner
        return
    # Fail here, once, with one line, rather than in every worker with a traceback.
    _build_every_program(settings)
    click.echo(f"points-gateway: serving {settings.source}", err=True)
    _metrics_directory()
    GatewayServer(
        settings,
        bind=address,
        workers=workers or settings.workers,
        threads=threads or settings.threads,
        timeout=settings.timeout,
        **({"certfile": settings.tls[0], "keyfile": settings.tls[1]} if settings.tls else {}),
    ).run()


def _build_every_program(settings: Settings) -> None:
    """Each program the deployment serves, built once and closed (its connectors checked, its
    source indexed), on the journal whose schema is checked first: the default program alone
    when there are no others, and none when [programs.<name>] tables are all there is."""
    from gateway.app import build_gateway
    from gateway.journal import Journal
    from gateway.programs import Programs

    shared = Journal(settings.database_url, settings.database_schema)
    try:
        shared.require_schema(settings.auto_migrate)
        with saying_progress():
            programs = Programs(
                settings, lambda each: build_gateway(each, shared.for_program(each.program))
            )
        for gateway in programs.by_name.values():
            gateway.close()
    finally:
        shared.dispose()


def _refuse_a_taken_address(address: str) -> None:
    """One line and exit 2 when nothing can listen on `address`, before gunicorn starts (it
    would retry for five seconds, then print a traceback-like error per attempt)."""
    if address.startswith(("unix:", "fd://")):
        return
    host, _, port = address.rpartition(":")
    try:
        found = socket.getaddrinfo(host.strip("[]") or None, int(port), type=socket.SOCK_STREAM)
    except (ValueError, OSError):
        return  # not an address we understand: gunicorn says what is wrong with it
    family, kind, proto, _, where = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(where)
        except OSError as exc:
            click.echo(
                f"points-gateway: cannot listen on {address}: {exc.strerror or exc} (is another "
                "server there? give --bind HOST:PORT, or make run PORT=...)",
                err=True,
            )
            sys.exit(2)
