"""`python -m tests.torture [--seconds N] [--kills K]`: the long form, every variant, one table.

PostgreSQL variants run when GATEWAY_TEST_DATABASE_URL is set (its database is emptied)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tests.torture.rig import Variant
from tests.torture.run import table, torture


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180, help="of traffic per variant")
    parser.add_argument("--kills", type=int, default=12, help="SIGKILLs per variant")
    args = parser.parse_args()
    pg_url = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    variants = [Variant("sqlite", False), Variant("sqlite", True)]
    if pg_url:
        variants += [Variant("postgres", False), Variant("postgres", True)]
    else:
        print("GATEWAY_TEST_DATABASE_URL is not set: PostgreSQL variants skipped", file=sys.stderr)
    runs = []
    for variant in variants:
        folder = Path(tempfile.mkdtemp(prefix="points-gateway-torture-"))
        try:
            print(f"{variant.name}: {args.seconds:.0f} s, {args.kills} kills...", file=sys.stderr)
            runs.append(torture(variant, args.seconds, folder, args.kills, pg_url))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for problem in runs[-1].problems[:20]:
            print(f"  {problem}", file=sys.stderr)
    print(table(runs))
    return 1 if any(run.problems or run.lost for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
