"""`make bench`: run every benchmark in bench/, then print one table of all their results."""

from __future__ import annotations

import importlib
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    """Every bench_*.py in turn; then one table of all their results."""
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{__import__('os').cpu_count()} cores"
    )
    lines: list[dict[str, object]] = []
    for path in sorted((REPO / "bench").glob("bench_*.py")):
        module = importlib.import_module(f"bench.{path.stem}")
        print(f"running {path.stem}: {module.__doc__.strip().splitlines()[0]}", flush=True)
        lines += module.summary(module.main())
    print()
    print("| benchmark | baseline (same run) | measured | target | |")
    print("|---|---|---|---|---|")
    for line in lines:
        print(
            f"| {line['benchmark']} | {line['baseline']} | {line['measured']} "
            f"| {line['target']} | {line['verdict']} |"
        )


if __name__ == "__main__":
    main()
