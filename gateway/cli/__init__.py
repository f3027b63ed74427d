"""The `points-gateway` command. Each module adds its commands to `main`."""

from gateway.cli import (  # noqa: F401  (they register commands)
    backup,
    checks,
    db,
    handover,
    journal,
    operators,
    serve,
    xoxoday,
)
from gateway.cli.base import main

__all__ = ["main"]
