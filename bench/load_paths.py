"""bench/load.py's closed loop, each request one of a list of (path, body), at random: many
programs' calls, each on its own /p/<name>/ path, in one load."""

from __future__ import annotations

import random

from bench import load

WARMUP = 0.5
#: (path, body) of one request
Call = tuple[str, bytes]


def run(
    port: int, calls: list[Call], seconds: float, processes: int = 2, threads: int = 4
) -> load.Result:
    """Load `calls` for WARMUP + `seconds`; count what completes after the warm-up."""
    chooser: dict[str, random.Random] = {}  # a generator per client thread, seeded by its name

    def pick(client: str, _n: int) -> Call:
        rng = chooser.get(client) or chooser.setdefault(client, random.Random(client))
        return calls[rng.randrange(len(calls))]

    return load.run_requests("127.0.0.1", port, pick, seconds, WARMUP, processes, threads)
