"""gunicorn, run from Python: `points-gateway serve` without a separate config file."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from gateway.config import Settings


class GatewayServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, settings: Settings, **options: Any) -> None:
        self.settings = settings
        self.options = {"accesslog": "-", "errorlog": "-", "graceful_timeout": 10, **options}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Called in each worker after fork: every worker opens its own database connections.
        from gateway.app import create_app

        return create_app(self.settings)
