"""What a worker of a many-program deployment holds once it has served long enough, in one
process: the parts that grow with use, each driven to its worst case (a serve run of a minute
reaches only the start of it). bench_programs.py runs it on its own programs' CSVs:

    python -m bench.programs_worst FOLDER PROGRAMS EMPLOYEES

- readers: every program's CSV connector (indexes already built), then 16 threads, as many as
  a worker serves with, each making LOOKUPS lookups of a random employee of a random program;
- tokens: every program's TokenAuthority verifies TOKENS distinct tokens (its cache is 10,000).

Prints one JSON object: RSS (MB) after each step, and the lookups' wall time per lookup.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from pathlib import Path

THREADS, LOOKUPS, TOKENS = 16, 10_000, 10_000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main(folder: Path, programs: list[str], employees: int) -> dict[str, float]:
    from connectors.csv_source import CsvConnector
    from gateway.auth import TOKEN_SALT, TokenAuthority

    figures = {"rss_start": rss_mb()}
    connectors = [CsvConnector(str(folder / f"{name}.csv")) for name in programs]
    figures["rss_built"] = rss_mb()

    def lookups(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(LOOKUPS):
            csv = connectors[rng.randrange(len(connectors))]
            profile = csv.find("employee_id", f"E{rng.randrange(employees)}")
            assert profile is not None and csv.granted(profile) is not None

    threads = [threading.Thread(target=lookups, args=(i,)) for i in range(THREADS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    figures["lookups"] = THREADS * LOOKUPS
    figures["us_per_lookup"] = (time.perf_counter() - began) / (THREADS * LOOKUPS) * 1e6
    figures["rss_readers"] = rss_mb()

    secret = "bench-secret-key-0123456789-abcdefghijklmnop"
    authorities = [TokenAuthority([secret], 86400, salt=f"{TOKEN_SALT}/{n}") for n in programs]
    for tokens in authorities:  # each kept, as each program keeps its own
        for i in range(TOKENS):
            who = f"E{i % employees}"
            tokens.verify(tokens.issue(who), who)
    figures["rss_tokens"] = rss_mb()
    return figures


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    names = sys.argv[2].split(",")
    print(json.dumps(main(Path(sys.argv[1]), names, int(sys.argv[3]))))
