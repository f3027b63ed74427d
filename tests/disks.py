"""For tests of what the gateway does with its disk: a small file system a test mounts, fills
and frees (a tmpfs: root only, skipped elsewhere; always unmounted on leaving), filled by a file
of the test's own, never by writing into a journal's files (only SQLite opens those); and
commands run side by side against it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest


def mount_tmpfs(where: Path, size: str, remount: bool = False) -> None:
    """A tmpfs of `size` at `where` (`remount`: the one there grows or shrinks to it)."""
    options = f"{'remount,' if remount else ''}size={size},mode=0700"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")


@contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` at the new folder `where` while the block runs."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    where.mkdir()
    mount_tmpfs(where, size)
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=True)  # busy: detach it anyway


def fill(disk: Path) -> Path:
    """A filler file written until the disk refuses another byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 16, 4096, 1):
            with suppress(OSError):
                while os.write(fd, b"\0" * size) == size:
                    pass
    finally:
        os.close(fd)
    assert free_bytes(disk) == 0
    return filler


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def cli_at_once(*commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Each `points-gateway` command in a process of its own, all started together (each costs
    a second of imports): what each wrote and how it exited. One that is still running after a
    minute (a `serve` that started after all) is killed."""
    from tests.servers import clean_env

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gateway", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        for argv in commands
    ]
    done = []
    for argv, proc in zip(commands, procs, strict=True):
        try:
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        done.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return done
