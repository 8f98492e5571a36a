"""The engine: the loaded world, one clock, one key store, one state store, the journal and the fault plan,
and every authority built on them. One engine per server; nothing of it lives in module globals."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import logging
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mockidp import journal, world_edit
from mockidp.authorities.base import Authority
from mockidp.claims import ClaimsPlan
from mockidp.clock import CONTROL, Clock
from mockidp.faults import FaultPlan
from mockidp.journal import Journal
from mockidp.keys import KeyStore
from mockidp.registry import AUTHORITIES
from mockidp.store import MemoryStore, SharedLog, Store
from mockidp.world import World, load_world
from mockidp.world_edit import ControlError

log = logging.getLogger("mockidp")

AUTHORITY_CLASSES = AUTHORITIES  # the name before the registry had a module of its own
T = TypeVar("T")
# Development signing keys ship as package data, so an installed wheel signs with the same keys as a checkout.
PACKAGE_KEYS = Path(__file__).resolve().parent / "data" / "keys"
REPO_KEYS = PACKAGE_KEYS  # the name before the keys moved into the package


class _Trial:
    """The engine as an authority sees it while loading a candidate world: that world, everything else the engine's
    (authorities only read it while loading: tables are built from `world`, key sets are loaded lazily)."""

    def __init__(self, engine: Engine, world: World) -> None:
        self._engine, self.world = engine, world

    def __getattr__(self, name: str) -> object:
        return getattr(self._engine, name)

    @property
    def hostnames(self) -> list[str]:
        return list(self.world.server.hostnames)

    def world_section(self, name: str) -> Any:
        return getattr(self.world, name)


def default_state_dir() -> Path:
    """Where generated keys and the local CA are kept so restarts reuse them ($MOCKIDP_STATE_DIR)."""
    env = os.environ.get("MOCKIDP_STATE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mockidp"


class Engine:
    def __init__(
        self,
        world: World | None = None,
        *,
        key_dirs: list[Path] | None = None,
        state_dir: Path | None = None,
        store: Store | None = None,
        base_url: str = "https://localhost",
    ) -> None:
        self.loaded_world = world or load_world()
        self.world = self.loaded_world  # replaced by a changed copy while runtime world changes are in force
        self._world_changed = False
        self._world_owned = False  # the world in force shares nothing with the loaded one: it may change in place
        self.world_lock = threading.Lock()  # one world change at a time, whichever event loop asks
        self.state_dir = state_dir or default_state_dir()
        self.store: Store = store or MemoryStore()
        # A shared store (Redis: several workers or replicas as one mockidp) holds the control state too: the clock,
        # the plans, rotated and generated keys, world changes and server errors (docs/scaling.md).
        self.shared = bool(getattr(self.store, "shared", False))
        self.clock = Clock(self.store)
        self.keys = KeyStore(key_dirs if key_dirs is not None else [PACKAGE_KEYS], self.state_dir / "keys", store=self.store)
        self.journal = Journal(self.store, self.world.server.journal_size)
        self.faults = FaultPlan(self.store)
        self.claims = ClaimsPlan(self.store)
        # tracebacks of unhandled exceptions: a test suite fails on any
        self.server_errors: list[str] | SharedLog = SharedLog(self.store) if self.shared else []
        # What every request reads of a shared store before it is handled: the clock and the world and key revisions,
        # and both plans (their items are consumed atomically, in the store, only when one matches).
        self.control_kinds = [CONTROL, self.faults.kind, self.claims.kind]
        if self.shared:
            self.store.watch(self.control_kinds, [journal.KIND])
        self._world_revision = ""  # the shared store's world revision this process serves
        self._synced: object = None  # the store's read that begin_request last took
        self._world_base = self.loaded_world  # what shared world changes apply to: the loaded world, or use_world's
        self._base_url = base_url
        self.authorities: dict[str, Authority] = {
            cls.name: cls(self, getattr(self.world, cls.name)) for cls in AUTHORITY_CLASSES
        }

    @property
    def base_url(self) -> str:
        """scheme://host:port used for issuers outside a request; the world's server.base_url wins."""
        return (self.world.server.base_url or self._base_url).rstrip("/")

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value

    def authority(self, name: str) -> Authority:
        try:
            return self.authorities[name]
        except KeyError:
            raise KeyError(f"unknown authority {name!r}; known: {', '.join(self.authorities)}") from None

    def reset(self) -> None:
        """Back to the loaded world: time, state, journal, faults, planned claims, rotated keys, world changes."""
        self.clock.reset()
        self.store.clear()
        self.faults.clear()
        self.claims.clear()
        self.keys.reset()
        self.server_errors.clear()
        self._world_revision = self.keys.revision = ""  # the store was cleared: nothing changed any more
        self._world_base = self.loaded_world
        if self._world_changed:
            self.world = self.loaded_world
            self._world_changed = self._world_owned = False
            self._apply_world()

    def use_world(self, world: World) -> None:
        """Serve another world until the next reset (the pytest marker's per-test world)."""
        self.world = self._world_base = world
        self._apply_world()
        self._world_changed = self._world_owned = True

    def changing_world(self) -> World:
        """The world to change in place at runtime: a copy of the one in force that shares nothing with the loaded
        one, so reset can return to it. Call `world_changed()` after changing it."""
        if not self._world_owned:
            self.world = copy.deepcopy(self.world)
            self._world_changed = self._world_owned = True
        return self.world

    def replace_world(self, world: World) -> None:
        """Serve `world` (a changed copy of the one in force, which may share its unchanged sections) until reset,
        once every authority has loaded from it aside: a world one cannot load raises, and the world in force stays
        exactly as it was (the control API's changes are all-or-nothing)."""
        trial = _Trial(self, world)
        for cls in AUTHORITY_CLASSES:
            cls(trial, getattr(world, cls.name))  # type: ignore[arg-type]
        before = (self.world, self._world_changed, self._world_owned)
        self.world = world
        self._world_changed, self._world_owned = True, False
        try:
            self._apply_world()
        except Exception:
            self.world, self._world_changed, self._world_owned = before
            self._apply_world()
            raise

    def change_world(self, path: str, change: Callable[[World], T]) -> T:
        """All or nothing: `change` edits a copy of the world section `path` is in; the copy is validated as a world
        file is (with no file reads: key material at runtime is inline only), then every authority loads from it
        aside. Only then does it replace the world in force; any failure leaves that world as it was."""
        name = path.strip("/").split("/")[0]
        with self.world_lock:
            current = self.world
            section = getattr(current, name, None)
            if not dataclasses.is_dataclass(section):
                raise ControlError(f"no world section {name!r}", 404)
            candidate = copy.copy(current)  # the other sections are shared: nothing below changes them
            setattr(candidate, name, copy.deepcopy(section))
            result = change(candidate)
            finish = getattr(getattr(candidate, name), "finish", None)
            try:
                if finish is not None:
                    finish(None, candidate.server.seed)
            except ValueError as exc:
                raise ControlError(str(exc)) from exc
            try:
                self.replace_world(candidate)
            except Exception as exc:
                message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
                raise ControlError(f"the changed world does not load: {message}") from exc
            return result

    # --- what authorities see of the engine (types.Services) -------------------------------------------
    @property
    def hostnames(self) -> list[str]:
        return list(self.world.server.hostnames)

    def world_section(self, name: str) -> Any:
        return getattr(self.world, name)

    def capability(self, name: str) -> Any:
        for authority in self.authorities.values():
            offered = authority.capabilities().get(name)
            if offered is not None:
                return offered
        raise KeyError(f"no authority offers {name!r}")

    def world_add(self, path: str, item: dict[str, Any]) -> dict[str, Any]:
        """Add (or replace, by its key) one item in a list of the world at runtime, validated and all-or-nothing."""
        added = dataclasses.asdict(self.change_world(path, lambda world: world_edit.add(world, path, item)))
        self._publish_world({"op": "add", "path": path, "item": item})
        return added

    def world_remove(self, path: str) -> None:
        """Remove one item of the world at runtime (`DELETE /_mockidp/world/{path}`)."""
        self.change_world(path, lambda world: world_edit.remove(world, path))
        self._publish_world({"op": "remove", "path": path})

    # --- several processes over one shared store (docs/scaling.md) ------------------------------------------
    def begin_request(self) -> None:
        """Before a request: take the control state other processes may have changed (one read of the store:
        clock, world and key revisions, the fault and claims plans). Nothing to do over a memory store."""
        if not self.shared:
            return
        read = self.store.begin(self.control_kinds, self.clock.now())
        if read is self._synced:
            return  # the same read as last time: nothing changed since this process took it
        control = read["control"]
        self.clock.load(control.get("clock"))
        world = str((control.get("world") or {}).get("rev", ""))
        if world != self._world_revision:
            self._replay_world(world)
        keys = str((control.get("keys") or {}).get("rev", ""))
        if keys != self.keys.revision:
            self.keys.load_shared(keys)
        self._synced = read

    def serving(self, loop: asyncio.AbstractEventLoop) -> None:
        """A server's (first) event loop is running: each authority may start its background work on it."""
        for authority in self.authorities.values():
            authority.serving(loop)

    def end_request(self) -> None:
        if self.shared:
            self.store.end()

    def _publish_world(self, op: dict[str, Any]) -> None:
        """World changes are kept as the operations that made them, replayed on the loaded world by every process
        (a world's files, e.g. certificates beside it, are each process's own: the operations carry no file)."""
        if self.shared:
            self.store.append("world-ops", op, 100_000)
            self.store.put("control", "world", {"rev": uuid.uuid4().hex})
            self._world_revision = "replay"  # replay on the next request too, in case another process changed it meanwhile

    def _replay_world(self, revision: str) -> None:
        ops = self.store.log("world-ops") if revision else []
        with self.world_lock:
            self.world = self._world_base
            self._world_changed = self._world_base is not self.loaded_world
            self._world_owned = False
        for op in ops:
            path, item = str(op["path"]), dict(op.get("item") or {})
            try:
                if op["op"] == "add":
                    self.change_world(path, functools.partial(world_edit.add, path=path, item=item))
                elif op["op"] == "section":
                    self.change_world(path, functools.partial(world_edit.replace_section, name=path, data=item))
                else:
                    self.change_world(path, functools.partial(world_edit.remove, path=path))
            except ControlError as exc:  # it applied where it was made; here a later change of another process clashed
                log.warning("world change %s %s from another process does not apply here: %s", op["op"], op["path"], exc)
        if not ops:
            self._apply_world()
        self._world_revision = revision

    def world_change(self, section: str, change: Callable[[Any], T]) -> T:
        """Change one section of the world at runtime (an authority's own edits, e.g. Keycloak's admin API). Over a
        shared store the changed section itself is what other processes replay: an arbitrary edit cannot travel."""
        result = self.change_world(section, lambda world: change(getattr(world, section)))
        if self.shared:
            self._publish_world({"op": "section", "path": section, "item": world_edit.as_json(getattr(self.world, section))})
        return result

    def world_changed(self) -> None:
        self._apply_world()

    def _apply_world(self) -> None:
        self.journal.maxlen = self.world.server.journal_size
        for authority in self.authorities.values():
            authority.config = getattr(self.world, authority.name)
            authority.reset()

    def record_server_error(self, text: str) -> None:
        log.error("unhandled error in mockidp:\n%s", text)
        self.server_errors.append(text)
