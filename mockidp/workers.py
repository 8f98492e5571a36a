"""`--store` and `--workers`: the state store a server uses, and worker processes serving one port over it.

Workers are processes (each its own GIL: RS256 signing scales with cores, benchmarks/RESULTS.md), each binding the
port with SO_REUSEPORT so the kernel spreads connections over them, each with its own engine over the one shared
store. They start one after another (the first made the CA and the development state in the state dir; the next
ones reuse it) and stop with the process that started them."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from mockidp.store import MemoryStore, Store

MEMORY = ("", "memory", "memory://")


def open_store(url: str | None) -> Store:
    """The store a URL names: `memory` (the default: one process) or `redis://host:6379/0?prefix=NAME`.
    ValueError with one line a user can act on: an unknown scheme, redis-py missing, a Redis that does not answer."""
    if url is None or url.strip() in MEMORY:
        return MemoryStore()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"--store is memory or redis://HOST:PORT/DB[?prefix=NAME], got {url!r}")
    try:
        from mockidp.redis_store import RedisStore
    except ImportError as exc:
        raise ValueError(f"--store {url} needs redis-py: pip install 'mockidp[redis]' ({exc})") from exc
    from mockidp.store import StoreUnavailable

    store = RedisStore(url)
    try:
        store.ping()
    except StoreUnavailable as exc:
        raise ValueError(str(exc)) from exc
    return store


def spawn(args: argparse.Namespace, port: int, count: int, serve: Callable[[argparse.Namespace], int]) -> list[Any]:
    """Start `count` more worker processes on `port`, one after another, each ready before the next starts."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of this process's threads or loops
    procs = []
    for n in range(count):
        ready = ctx.Event()
        child = argparse.Namespace(**{**vars(args), "port": port, "workers": 1, "worker": n + 2, "func": None})
        proc = ctx.Process(target=_worker, args=(child, ready, serve), name=f"mockidp-worker-{n + 2}", daemon=True)
        proc.start()
        procs.append(proc)
        while not ready.wait(0.2):
            if not proc.is_alive():
                stop(procs)
                raise RuntimeError(f"worker {n + 2} exited ({proc.exitcode}) before serving")
    return procs


def _worker(args: argparse.Namespace, ready: Any, serve: Callable[[argparse.Namespace], int]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the first process, which stops the others
    parent = os.getppid()

    def orphaned() -> None:  # the first process was killed outright (no chance to stop us): stop too
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    args.ready = ready
    os._exit(serve(args))


def stop(procs: list[Any]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(10)
