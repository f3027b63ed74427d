"""The code blocks of docs/writing-a-connector.md, as the tests that run them read them."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "writing-a-connector.md"


def guide_blocks(marker: str, count: int = 2) -> list[str]:
    """The first `count` python blocks after `<!-- marker: ... -->` in the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    after = text[text.index(f"<!-- {marker}:") :]
    return re.findall(r"```python\n(.*?)```", after, flags=re.S)[:count]


def as_module(name: str, code: str, source: str) -> types.ModuleType:
    """`code` run as the module `name` (`package.module`), which is not registered anywhere."""
    module = types.ModuleType(name)
    module.__file__ = source
    exec(compile(code, source, "exec"), module.__dict__)
    return module


def install(name: str, module: types.ModuleType) -> None:
    """`module` importable as `name`, in a package of its own (kept if there already)."""
    package_name = name.rpartition(".")[0]
    package = types.ModuleType(package_name)
    package.__path__ = []
    sys.modules.setdefault(package_name, package)
    sys.modules.setdefault(name, module)
