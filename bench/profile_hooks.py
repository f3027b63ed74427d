"""gunicorn hooks (`-c bench/profile_hooks.py`): sample each sync worker's stack as it uses
CPU, and write the samples to $BENCH_PROFILE_DIR/<pid>.json at exit.

A sampler, not cProfile: cProfile's cost per Python call (a clock read each) tripled a
request's time and inflated most what makes many small calls (Flask, marshmallow), so its
shares said more about the profiler than the gateway. SIGPROF ticks with the process's CPU
time, so waiting (for the database, a client, a core) is never sampled. A sync worker handles
each request on its main thread, where Python runs signal handlers; the request's code is the
same under the gthread workers `serve` runs.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from types import CodeType, FrameType
from typing import Any

worker_class = "sync"
INTERVAL = 0.0005  # seconds of CPU between samples

_samples: Counter[tuple[CodeType, ...]] = Counter()


def _sample(_signum: int, frame: FrameType | None) -> None:
    stack = []
    while frame is not None:
        stack.append(frame.f_code)
        frame = frame.f_back
    _samples[tuple(stack)] += 1


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def post_worker_init(worker: Any) -> None:
    worker.cpu_at_start = _cpu()
    signal.signal(signal.SIGPROF, _sample)
    signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)


def worker_exit(_server: Any, worker: Any) -> None:
    signal.setitimer(signal.ITIMER_PROF, 0, 0)
    stacks = [
        {"count": n, "stack": [[c.co_filename, c.co_name] for c in codes]}
        for codes, n in _samples.items()
    ]
    # The timer ticks with the kernel's clock (often 4 ms, not INTERVAL): the samples give the
    # shares, the process's own CPU time the total.
    cpu = _cpu() - worker.cpu_at_start
    out = {"cpu_seconds": cpu, "requests": worker.nr, "stacks": stacks}
    path = os.path.join(os.environ["BENCH_PROFILE_DIR"], f"{os.getpid()}.json")
    with open(path, "w") as f:
        json.dump(out, f)
