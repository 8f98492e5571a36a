"""Scaling benchmarks (issue 18): tokens/s with the memory store (one process), with the Redis store and one worker,
and with the Redis store and two workers (`--workers 2`); RS256 and ES256; the raw signing rate in the same run; and
what the store costs one token, measured in-process.

    .venv/bin/python benchmarks/scaling.py [--quick]     # or: ./run bench --scaling

Loopback only: a redis-server it starts on a free port (Debian's, which ./run bench installs), mockidp processes it
starts, wrk (run.py's, installed the same way). Prints one table: measured, target, met/missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from run import AVAYA_TOKEN, FORM, HERE, PY, ensure_wrk, free_port, machine, print_table, raw_sign_rate, row, wait_ready, wrk  # type: ignore[import-not-found]


@contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port, workdir = free_port(), tempfile.mkdtemp(prefix="mockidp-bench-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}/0?prefix=bench"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def served(world: str | None, store: str | None, workers: int) -> Iterator[str]:
    port, state = free_port(), tempfile.mkdtemp(prefix="mockidp-bench-")
    cmd = [PY, "-m", "mockidp", "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--workers", str(workers)]
    cmd += ["--world", world] if world else []
    cmd += ["--store", store] if store else []
    proc = subprocess.Popen(cmd, env={**os.environ, "MOCKIDP_STATE_DIR": state}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"https://127.0.0.1:{port}"
    try:
        wait_ready(url + "/healthz", proc)
        time.sleep(0.5 * (workers - 1))  # the further workers start after the first answers
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(state, ignore_errors=True)


def store_cost(redis_url: str, n: int) -> None:
    """What a client_credentials token asks of the store, without HTTP or signing: the per-request sync (one
    pipelined read), the planned claims, and the journal entry (queued, sent in batches)."""
    from mockidp.engine import Engine
    from mockidp.journal import Entry
    from mockidp.redis_store import RedisStore
    from mockidp.workers import open_store

    probe = RedisStore(redis_url)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        probe.ping()
        times.append(time.perf_counter() - started)
    times.sort()
    row("Redis PING round trip on loopback (redis-py, hiredis)", f"p50 {times[len(times) // 2] * 1e6:,.0f} µs, p99 {times[len(times) * 99 // 100] * 1e6:,.0f} µs")
    for name, url in (("memory", None), ("redis", redis_url)):
        engine = Engine(store=open_store(url))
        engine.reset()
        started = time.perf_counter()
        for _ in range(n):
            engine.begin_request()
            engine.claims.take_for("avaya", "demo-client")
            engine.faults.take_for("avaya", "token", {})
            engine.journal.record(Entry(seq=engine.journal.next_seq(), time=0.0, authority="avaya", endpoint="token", method="POST",
                                        path=AVAYA_TOKEN, status=200, client_id="demo-client"))
            engine.end_request()
        engine.journal.entries()  # waits for the queued entries
        per = (time.perf_counter() - started) / n * 1e6
        row(f"store work per token, in-process, {name} store", f"{per:,.1f} µs (sync, plans, journal; {n:,} tokens)")
        engine.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    seconds = 5 if args.quick else 10
    print("machine:", machine(), flush=True)
    wrk_bin = ensure_wrk()
    if wrk_bin is None or not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        print("wrk or redis-server is missing (./run bench installs both when run as root)", file=sys.stderr)
        sys.exit(1)
    with redis_server() as redis_url:
        store_cost(redis_url, 2000 if args.quick else 10000)
        for alg, world in (("RS256", None), ("ES256", str(HERE / "es256_world.toml"))):
            rates: dict[str, float] = {}
            for label, store, workers in (("memory store, 1 process", None, 1), ("Redis store, 1 worker", redis_url, 1),
                                          ("Redis store, 2 workers", redis_url, 2)):
                with served(world, store, workers) as url:
                    wrk(wrk_bin, url + AVAYA_TOKEN, 2)  # warm-up
                    before = raw_sign_rate(alg, 2)
                    result = wrk(wrk_bin, url + AVAYA_TOKEN, seconds, body=FORM)
                    after = raw_sign_rate(alg, 2)
                assert result["non2xx"] == 0, result
                rates[label] = result["rate"]
                raw = (before + after) / 2
                row(f"{alg} tokens/s, {label}", f"{result['rate']:,.0f} tokens/s (p50 {result['p50_us'] / 1000:.1f} ms; raw signing {raw:,.0f}/s around it)")
            memory, one, two = rates["memory store, 1 process"], rates["Redis store, 1 worker"], rates["Redis store, 2 workers"]
            row(f"{alg}: Redis 1 worker / memory", f"{one / memory:.2f}x ({1000 / one - 1000 / memory:+.3f} ms per token)", "≥ 0.90x (issue 18)", one / memory >= 0.9)
            row(f"{alg}: Redis 2 workers / 1 worker", f"{two / one:.2f}x", "≥ 1.7x (issue 18)", two / one >= 1.7)
    print_table()


if __name__ == "__main__":
    main()
