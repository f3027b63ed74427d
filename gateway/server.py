"""gunicorn, run from Python: `points-gateway serve` without a separate config file."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from gateway.config import Settings


class GatewayServer(BaseApplication):  # gunicorn ships no type hints: BaseApplication is Any
    def __init__(self, settings: Settings, **options: Any) -> None:
        self.settings = settings
        self.options = {
            # Each request is logged by the gateway itself (gateway.request), with its outcome.
            "accesslog": None,
            "errorlog": "-",
            "graceful_timeout": 10,
            "post_worker_init": _start_ledger_worker,
            "child_exit": _worker_exited,
            **options,
        }
        # gunicorn >= 25.1 opens a control socket at one path per user (~/.gunicorn/gunicorn.ctl):
        # a second `serve` on the host would take it over from the first. The gateway does not
        # use it (gunicornc); each server goes without.
        self.options.setdefault("control_socket_disable", True)
        if self.options.get("threads", 1) > 1:
            self.options["worker_class"] = "gthread"
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # an older gunicorn lacks some (the control socket)
                self.cfg.set(key, value)

    def load(self) -> Flask:
        # Called in each worker after fork: every worker opens its own database connections.
        from gateway.app import create_app

        return create_app(self.settings)


def _worker_exited(_server: Any, worker: Any) -> None:
    from gateway.metrics import worker_exited

    worker_exited(worker.pid)


def _start_ledger_worker(worker: Any) -> None:
    """With a points ledger, each worker process runs the ledger worker in a thread; the
    journal's lease lets one of them (across hosts too) poll at a time."""
    worker.wsgi.extensions["points_gateway_programs"].start_workers()
