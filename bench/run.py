"""`make bench`: run every benchmark in bench/ and print its table."""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{__import__('os').cpu_count()} cores"
    )
    for path in sorted((REPO / "bench").glob("bench_*.py")):
        module = importlib.import_module(f"bench.{path.stem}")
        print(f"\n## {path.stem}: {module.__doc__.strip().splitlines()[0]}")
        module.print_table(module.main())


if __name__ == "__main__":
    main()
