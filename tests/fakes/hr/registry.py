"""Every preset's fake and the options a company would write for it: each vendor module in this
package says its own as `SYSTEM = System(...)`, so a new preset adds one file, and the preset
tests (tests/test_hr_presets.py and others) run it with the rest."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

#: The credentials every fake is given (their values only have to differ from one another).
ID, SECRET, KEY, REFRESH = "client-7", "client-secret-5f4e3d", "api-key-2c1b0a", "refresh-9z8y7x"


@dataclass
class System:
    """A preset, its fake, and the options a company would write for it."""

    preset: str
    fake: Callable[[list[Any]], Any]  # the staff -> an HrApi
    options: dict[str, Any]
    secrets: list[str]  # what must never appear in a log or an error
    oauth2: bool = True
    keeps_leavers: bool = True  # the system still returns people who left
    pages: bool = True


@cache
def systems() -> dict[str, System]:
    """Every vendor module's SYSTEM, by preset name."""
    from tests.fakes import hr

    found = {}
    for info in pkgutil.iter_modules(hr.__path__):
        module = importlib.import_module(f"{hr.__name__}.{info.name}")
        system = getattr(module, "SYSTEM", None)
        if isinstance(system, System):
            found[system.preset] = system
    return found
