"""A million employees: the CSV directory index under a real `serve --workers 2`.

Generates its own 1,000,000-row CSV (and a 50-row one for the baseline), then measures, each
against its target: cold start (no index yet) to the first correct answer; the processes' RSS
after 1,000 random lookups; a restart with the same file; a replacement (one employee's points
changed, 1,000 rows added) answered while other calls keep going; and balance throughput with
the 1M directory against the same gateway on 50 rows, same run, by employee id, email and mobile.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import load  # noqa: E402
from bench.bench_gateway import SECRET, free_port, gateway_config, median, start  # noqa: E402

ROWS = 1_000_000
HEADER = "employee_id,email,first_name,last_name,mobile,designation,department,company,points\n"
ROUNDS, SECONDS = 3, 3.0


def write_people(path: Path, count: int, changed: str | None = None, extra: int = 0) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as out:
        out.write(HEADER)
        for i in range(count + extra):
            points = 777 if f"E{i}" == changed else 1000
            out.write(f"E{i},p{i}@example.com,F{i},L{i},9{i:09d},Dev,Eng,Acme,{points}\n")
    os.replace(tmp, path)


def config(folder: Path, csv: Path, identity: str) -> Path:
    path = folder / f"gateway-{csv.stem}-{identity}.toml"
    return gateway_config(path, str(csv), f"sqlite:///journal-{csv.stem}-{identity}.db", identity)


def unique_id(i: int, identity: str) -> str:
    return {"employee_id": f"E{i}", "email": f"p{i}@example.com", "mobile": f"9{i:09d}"}[identity]


class Gateway:
    """A `points-gateway serve --workers 2` of one config."""

    def __init__(self, path: Path) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "gateway", "serve", "--config", str(path)]
        argv += ["--bind", f"127.0.0.1:{self.port}", "--workers", "2"]
        self.proc = start(argv, {}, REPO, f"http://127.0.0.1:{self.port}/healthz")

    def rss_mb(self) -> list[float]:
        """Master first, then each worker."""
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        sizes = []
        for pid in [self.proc.pid, *map(int, kids)]:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        return sizes

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def balance(port: int, tokens: Any, who: str, timeout: float = 10) -> dict[str, Any] | None:
    body = {"unique_id": who, "auth_token": tokens.issue(who)}
    try:
        r = requests.post(f"http://127.0.0.1:{port}/v1/points/balance", json=body, timeout=timeout)
    except requests.RequestException:
        return None
    return r.json() if r.status_code == 200 else None


def first_answer(path: Path, tokens: Any, who: str) -> tuple[Gateway, float]:
    started = time.monotonic()
    gateway = Gateway(path)
    while balance(gateway.port, tokens, who) is None:
        time.sleep(0.05)
    return gateway, time.monotonic() - started


def throughput(port: int, tokens: Any, ids: list[str]) -> float:
    bodies = [f'{{"unique_id": "{u}", "auth_token": "{tokens.issue(u)}"}}'.encode() for u in ids]
    result = load.run(
        "127.0.0.1", port, "/v1/points/balance", lambda c, n: bodies[n % len(bodies)], SECONDS, 0.5
    )
    return result.rps if not result.errors else 0.0


def row(name: str, baseline: str, measured: str, target: str, ok: bool) -> dict[str, object]:
    return {
        "benchmark": name,
        "baseline": baseline,
        "measured": measured,
        "target": target,
        "verdict": "ok" if ok else "MISS",
    }


def main() -> list[dict[str, object]]:
    from gateway.auth import TokenAuthority

    tokens = TokenAuthority([SECRET], 86400)
    rows: list[dict[str, object]] = []
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        big, small = tmp / "million.csv", tmp / "fifty.csv"
        made = time.monotonic()
        write_people(big, ROWS)
        write_people(small, 50)
        print(f"  generated {big.stat().st_size / 1e6:.0f} MB in {time.monotonic() - made:.1f} s")

        gateway, cold = first_answer(config(tmp, big, "employee_id"), tokens, "E123456")
        rows.append(
            row("1M cold start to first answer", "-", f"{cold:.1f} s", "<= 10 s", cold <= 10)
        )
        for _ in range(1000):
            balance(gateway.port, tokens, f"E{rng.randrange(ROWS)}")
        rss = gateway.rss_mb()
        text = f"master {rss[0]:.0f} MB, workers " + ", ".join(f"{r:.0f}" for r in rss[1:])
        rows.append(row("1M RSS after 1,000 lookups", "-", text, "<= 300 MB each", max(rss) <= 300))

        gateway.stop()
        gateway, warm = first_answer(config(tmp, big, "employee_id"), tokens, "E123456")
        rows.append(row("1M restart, same file", "-", f"{warm:.1f} s", "<= 3 s", warm <= 3))
        rows.append(replacement(gateway, big, tokens))
        gateway.stop()

        for identity in ("employee_id", "email", "mobile"):
            rows.append(compare(tmp, big, small, identity, tokens, rng))
    return rows


def replacement(gateway: Gateway, big: Path, tokens: Any) -> dict[str, object]:
    """Replace the file while 4 threads keep calling; when do the new points answer?"""
    failures, stop = [0], threading.Event()
    before = max(gateway.rss_mb()[1:])

    def keep_calling(seed: int) -> None:
        pick = random.Random(seed)
        while not stop.is_set():
            if balance(gateway.port, tokens, f"E{pick.randrange(ROWS)}", timeout=30) is None:
                failures[0] += 1

    callers = [threading.Thread(target=keep_calling, args=(i,)) for i in range(4)]
    for t in callers:
        t.start()
    peak = before
    try:
        write_people(big, ROWS, changed="E424242", extra=1000)
        replaced = time.monotonic()
        while True:
            answer = balance(gateway.port, tokens, "E424242", timeout=30)
            peak = max(peak, *gateway.rss_mb()[1:])
            if answer and answer["points_info"]["points_received"] == "777":
                break
            time.sleep(0.1)
        took = time.monotonic() - replaced
    finally:
        stop.set()
        for t in callers:
            t.join()
    added = balance(gateway.port, tokens, f"E{ROWS + 999}") is not None
    ok = took <= 15 and failures[0] == 0 and peak < 2 * before and added
    measured = (
        f"{took:.1f} s, {failures[0]} failed calls, worker RSS {before:.0f} -> peak {peak:.0f} MB"
    )
    return row("1M replaced while serving", "-", measured, "<= 15 s, 0 failed, RSS < 2x", ok)


def compare(
    tmp: Path, big: Path, small: Path, identity: str, tokens: Any, rng: random.Random
) -> dict[str, object]:
    """Balance req/s with the 1M directory against 50 rows, in turn, paired by round."""
    gateways = {
        "1M": Gateway(config(tmp, big, identity)),
        "50": Gateway(config(tmp, small, identity)),
    }
    ids = {
        "1M": [unique_id(rng.randrange(ROWS), identity) for _ in range(2000)],
        "50": [unique_id(i, identity) for i in range(50)],
    }
    try:
        for name, gw in gateways.items():  # indexed and warm before measuring
            while balance(gw.port, tokens, ids[name][0]) is None:
                time.sleep(0.05)
        ratios, rates = [], {"1M": [], "50": []}
        for _ in range(ROUNDS):
            small_rps = throughput(gateways["50"].port, tokens, ids["50"])
            big_rps = throughput(gateways["1M"].port, tokens, ids["1M"])
            rates["50"].append(small_rps)
            rates["1M"].append(big_rps)
            ratios.append(big_rps / small_rps if small_rps else 0.0)
    finally:
        for gw in gateways.values():
            gw.stop()
    ratio = median(ratios)
    return row(
        f"1M balance by {identity}",
        f"50 rows: {median(rates['50']):.0f} req/s",
        f"{median(rates['1M']):.0f} req/s; ratio {ratio:.2f}",
        "ratio >= 0.9",
        ratio >= 0.9,
    )


def summary(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Lines of `make bench`'s one table: the rows are in its shape already."""
    return [{**r, "benchmark": f"directory: {r['benchmark']}"} for r in rows]


if __name__ == "__main__":
    for line in summary(main()):
        print(line["benchmark"], "|", line["measured"], "| target", line["target"], line["verdict"])
