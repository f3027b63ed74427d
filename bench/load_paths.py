"""bench/load.py's closed loop, each request one of a list of (path, body), at random: many
programs' calls, each on its own /p/<name>/ path, in one load."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import threading
import time
from typing import Any

from bench import load

WARMUP = 0.5
#: (path, body) of one request
Call = tuple[str, bytes]


def _client(
    port: int, calls: list[Call], threads: int, until: tuple[float, float], out: Any
) -> None:
    warmup_until, deadline = until
    lock, counts, latencies = threading.Lock(), [0, 0], []

    def loop(seed: int) -> None:
        rng = random.Random(seed)
        while (now := time.monotonic()) < deadline:
            path, body = calls[rng.randrange(len(calls))]
            start = time.perf_counter()
            try:
                ok = load._http("127.0.0.1", port, path, body) == 200
            except OSError:
                ok = False
            elapsed = (time.perf_counter() - start) * 1000
            if now >= warmup_until:
                with lock:
                    latencies.append(elapsed)
                    counts[0 if ok else 1] += 1

    workers = [threading.Thread(target=loop, args=(os.getpid() * 100 + t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((counts[0], counts[1], latencies))


def run(
    port: int, calls: list[Call], seconds: float, processes: int = 2, threads: int = 4
) -> load.Result:
    """Load `calls` for WARMUP + `seconds`; count what completes after the warm-up."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    now = time.monotonic()
    until = (now + WARMUP, now + WARMUP + seconds)
    procs = [
        ctx.Process(target=_client, args=(port, calls, threads, until, out))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    parts = [out.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = [x for part in parts for x in part[2]]
    return load.Result(sum(p[0] for p in parts), sum(p[1] for p in parts), seconds, latencies)
