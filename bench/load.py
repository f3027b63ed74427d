"""A small closed-loop HTTP load generator: processes x threads, one connection per request.

gunicorn's sync workers close every connection, so each request opens its own, exactly as
Xoxoday's calls would arrive. Requests are pre-rendered bytes: the client costs the same
whichever server it measures, so the ratio between two servers is what counts.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: makes the body of request number `n` of client `client`: unique order ids for redeems.
BodyMaker = Callable[[str, int], bytes]
#: makes the (path, body) of request number `n` of client `client`.
RequestMaker = Callable[[str, int], tuple[str, bytes]]


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(q) - 1]


def _http(host: str, port: int, path: str, body: bytes) -> int:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(head + body)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    status_line = b"".join(chunks).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def _client(host, port, make_request, threads, deadline, warmup_until, queue) -> None:
    lock = threading.Lock()
    latencies: list[float] = []
    counts = [0, 0]

    def loop(tid: int) -> None:
        client = f"{os.getpid()}-{tid}"
        n = 0
        while (now := time.monotonic()) < deadline:
            n += 1
            start = time.perf_counter()
            try:
                ok = _http(host, port, *make_request(client, n)) == 200
            except OSError:
                ok = False
            elapsed = (time.perf_counter() - start) * 1000
            if now >= warmup_until:
                with lock:
                    latencies.append(elapsed)
                    counts[0 if ok else 1] += 1

    workers = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    queue.put((counts[0], counts[1], latencies))


def run(
    host: str,
    port: int,
    path: str,
    make_body: BodyMaker,
    seconds: float = 5.0,
    warmup: float = 1.0,
    processes: int = 2,
    threads: int = 4,
) -> Result:
    """Load `path` for `warmup` + `seconds`; count only what completes after the warm-up."""
    return run_requests(
        host,
        port,
        lambda client, n: (path, make_body(client, n)),
        seconds,
        warmup,
        processes,
        threads,
    )


def run_requests(
    host: str,
    port: int,
    make_request: RequestMaker,
    seconds: float = 5.0,
    warmup: float = 1.0,
    processes: int = 2,
    threads: int = 4,
) -> Result:
    """run, each request's path chosen by `make_request` too."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    start = time.monotonic()
    warmup_until, deadline = start + warmup, start + warmup + seconds
    procs = [
        ctx.Process(
            target=_client,
            args=(host, port, make_request, threads, deadline, warmup_until, queue),
        )
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    parts = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    ok = sum(p[0] for p in parts)
    errors = sum(p[1] for p in parts)
    latencies = [x for p in parts for x in p[2]]
    return Result(ok, errors, seconds, latencies)
