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
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from run import AVAYA_TOKEN, FORM, HERE, PY, ensure_wrk, free_port, machine, print_table, raw_sign_rate, row, wait_ready, wrk  # type: ignore[import-not-found]


@contextmanager
def redis_server() -> Iterator[tuple[str, int]]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port, workdir = free_port(), tempfile.mkdtemp(prefix="mockidp-bench-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}/0?prefix=bench", proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def served(world: str | None, store: str | None, workers: int) -> Iterator[tuple[str, int]]:
    port, state = free_port(), tempfile.mkdtemp(prefix="mockidp-bench-")
    cmd = [PY, "-m", "mockidp", "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--workers", str(workers)]
    cmd += ["--world", world] if world else []
    cmd += ["--store", store] if store else []
    proc = subprocess.Popen(cmd, env={**os.environ, "MOCKIDP_STATE_DIR": state}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"https://127.0.0.1:{port}"
    try:
        wait_ready(url + "/healthz", proc)
        time.sleep(0.5 * (workers - 1))  # the further workers start after the first answers
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(state, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants (a server's worker processes), from /proc."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    children: dict[int, list[tuple[int, float]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append((int(entry.name), (int(fields[11]) + int(fields[12])) / tick))
    stack = [pid]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / tick
    except OSError:
        return 0.0
    while stack:
        for child, cpu in children.get(stack.pop(), []):
            total += cpu
            stack.append(child)
    return total


def measured_run(wrk_bin: str, url: str, seconds: int, pids: dict[str, int]) -> dict[str, Any]:
    """One wrk run, with the cores each party used meanwhile: wrk (a child of ours: its rusage once waited),
    the mockidp processes, redis-server."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    wrk_before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    result = wrk(wrk_bin, url, seconds, body=FORM)
    wall, wrk_after = time.monotonic() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cores"] = {name: (cpu_seconds(pid) - before[name]) / wall for name, pid in pids.items()}
    result["cores"]["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime - wrk_before.ru_utime - wrk_before.ru_stime) / wall
    return result


def store_cost(redis_url: str, n: int) -> None:
    """What a client_credentials token asks of the store, without HTTP or signing: the per-request sync (the
    control state, read again only after a change was announced), the planned claims and faults, and the journal
    entry (queued, sent in batches by a background thread, whose work is in the figure too: it is CPU time of this
    process, including the final send)."""
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
        started = time.process_time()
        for _ in range(n):
            engine.begin_request()
            engine.claims.take_for("avaya", "demo-client")
            engine.faults.take_for("avaya", "token", {})
            engine.journal.record(Entry(seq=engine.journal.next_seq(), time=0.0, authority="avaya", endpoint="token", method="POST",
                                        path=AVAYA_TOKEN, status=200, client_id="demo-client"))
            engine.end_request()
        engine.journal.entries()  # waits for the queued entries
        per = (time.process_time() - started) / n * 1e6
        row(f"store work per token, in-process, {name} store", f"{per:,.1f} µs of CPU (sync, plans, journal; {n:,} tokens)")
        engine.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args()
    seconds, rounds = (3, 4) if args.quick else (5, 8)
    print("machine:", machine(), flush=True)
    wrk_bin = ensure_wrk()
    if wrk_bin is None or not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        print("wrk or redis-server is missing (./run bench installs both when run as root)", file=sys.stderr)
        sys.exit(1)
    with redis_server() as (redis_url, redis_pid):
        store_cost(redis_url, 2000 if args.quick else 10000)
        setups = (("memory store, 1 process", None, 1), ("Redis store, 1 worker", redis_url, 1), ("Redis store, 2 workers", redis_url, 2))
        for alg, world in (("RS256", None), ("ES256", str(HERE / "es256_world.toml"))):
            # All three up at once, measured in turn, in rounds: the machine's drift (benchmarks/RESULTS.md) falls on all alike.
            with served(world, None, 1) as memory, served(world, redis_url, 1) as one, served(world, redis_url, 2) as two:
                servers = dict(zip([label for label, _, _ in setups], (memory, one, two), strict=True))
                for url, _ in servers.values():
                    wrk(wrk_bin, url + AVAYA_TOKEN, 2)  # warm-up
                before = raw_sign_rate(alg, 2)
                runs: dict[str, list[dict[str, Any]]] = {label: [] for label in servers}
                order = list(servers.items())
                for turn in range(rounds):  # ABC, CBA, ...: a drift that is linear in time falls on each alike
                    for label, (url, pid) in order if turn % 2 == 0 else order[::-1]:
                        runs[label].append(measured_run(wrk_bin, url + AVAYA_TOKEN, seconds, {"mockidp": pid, "redis": redis_pid}))
                after = raw_sign_rate(alg, 2)
            rates: dict[str, float] = {}
            for label, results in runs.items():
                assert all(r["non2xx"] == 0 for r in results), results
                rates[label] = sum(r["rate"] for r in results) / len(results)
                cores = {name: sum(r["cores"][name] for r in results) / len(results) for name in ("mockidp", "redis", "wrk")}
                each = ", ".join(f"{r['rate']:,.0f}" for r in results)
                cpu = cores["mockidp"] / rates[label] * 1e6
                row(f"{alg} tokens/s, {label}", f"{rates[label]:,.0f} tokens/s (runs {each}); mockidp CPU {cpu:,.0f} µs per token; "
                    f"cores used: mockidp {cores['mockidp']:.2f}, redis {cores['redis']:.2f}, wrk {cores['wrk']:.2f}")
            row(f"{alg}: raw signing rate, one core (before / after)", f"{before:,.0f} / {after:,.0f} tokens/s")
            memory_runs, one_runs, two_runs = (runs[label] for label, _, _ in setups)
            # Each ratio is the median of the rounds' own ratios: a round's runs are seconds apart, rounds minutes.
            one_ratio = statistics.median(o["rate"] / m["rate"] for o, m in zip(one_runs, memory_runs, strict=True))
            two_ratio = statistics.median(t["rate"] / o["rate"] for t, o in zip(two_runs, one_runs, strict=True))
            left = 2 - sum(r["cores"]["wrk"] + r["cores"]["redis"] for r in two_runs) / len(two_runs)
            extra = 1000 / rates["Redis store, 1 worker"] - 1000 / rates["memory store, 1 process"]
            row(f"{alg}: Redis 1 worker / memory (median of {rounds} rounds)", f"{one_ratio:.2f}x ({extra:+.3f} ms per token, from the mean rates)",
                "≥ 0.90x (issue 18)", one_ratio >= 0.9)
            row(f"{alg}: Redis 2 workers / 1 worker (median of {rounds} rounds)", f"{two_ratio:.2f}x (wrk and redis-server left the workers {left:.2f} of 2 cores)",
                "≥ 1.7x (issue 18)", two_ratio >= 1.7)
    print_table()


if __name__ == "__main__":
    main()
