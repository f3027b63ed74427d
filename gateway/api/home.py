"""GET /: what answers here, and where to go from it (for whoever opens the address first)."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Blueprint, current_app

bp = Blueprint("home", __name__)


@functools.cache
def _version() -> str:
    try:
        return version("points-gateway")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


@bp.get("/")
def home() -> dict[str, Any]:
    links = {"health": "/healthz", "openapi": "/openapi.json"}
    if current_app.extensions["points_gateway"].settings.console["enabled"]:
        links["console"] = "/console/"
    return {"name": "points-gateway", "version": _version(), "links": links}
