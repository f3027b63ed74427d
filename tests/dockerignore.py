"""What `docker build` sends of a folder: .dockerignore's patterns applied as docker applies
them (moby's patternmatcher: a pattern matches a path or any of its parent folders, the last
matching pattern decides, `!` makes an exception), so the build context can be measured
without docker. tests/test_container.py checks this against a real build where docker runs."""

from __future__ import annotations

import os
import re
from pathlib import Path


def _regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1  # "**/" is "**"
            out += ".*" if i >= len(pattern) else "(.*/)?"
            continue
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":  # a class, as is
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(f"^{out}$")


class DockerIgnore:
    def __init__(self, text: str) -> None:
        self.patterns: list[tuple[bool, str, re.Pattern[str]]] = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            cleaned = os.path.normpath(line.lstrip("!").strip().lstrip("/"))
            self.patterns.append((exception, cleaned, _regex(cleaned)))

    def excluded(self, path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for exception, _, regex in self.patterns:
            if any(regex.match(p) for p in prefixes):
                excluded = not exception
        return excluded

    def may_hold_exceptions(self, folder: str) -> bool:
        """Whether an exception might take back something inside an excluded folder (docker
        walks into such a folder; it skips the others whole)."""
        return any(e and (p + "/").startswith(folder + "/") for e, p, _ in self.patterns)


def context(root: Path) -> dict[str, int]:
    """The files a build of `root` can COPY (relative path -> size), as docker sends them."""
    ignore = root / ".dockerignore"
    rules = DockerIgnore(ignore.read_text() if ignore.is_file() else "")
    sent: dict[str, int] = {}
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root).as_posix()
        base = "" if rel == "." else rel + "/"
        dirs[:] = [
            d for d in dirs if not rules.excluded(base + d) or rules.may_hold_exceptions(base + d)
        ]
        for name in files:
            path = base + name
            if not rules.excluded(path):
                sent[path] = (Path(folder) / name).lstat().st_size
    return sent
