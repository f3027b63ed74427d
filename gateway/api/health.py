"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    return {"status": "1", "message": "alive"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    gateway = current_app.extensions["points_gateway"]
    checks = gateway.service.readiness()
    ready = all(v == "ok" for v in checks.values())
    body = {
        "status": "1" if ready else "0",
        "message": "ready" if ready else "not ready",
        "checks": checks,
    }
    if gateway.profile_cache is not None:
        # This worker's own counts (each gunicorn worker keeps its own cache).
        body["profile_cache"] = gateway.profile_cache.stats()
    if not ready:
        body["error_code"] = "not_ready"
    return body, 200 if ready else 503
