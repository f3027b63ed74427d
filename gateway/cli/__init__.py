"""The `points-gateway` command. Each module adds its commands to `main`."""

from gateway.cli import backup, checks, db, journal, operators, serve, xoxoday  # noqa: F401  (they register commands)
from gateway.cli.base import main

__all__ = ["main"]
