"""The engine: the loaded world, one clock, one key store, one state store, the journal and the fault plan,
and every authority built on them. One engine per server; nothing of it lives in module globals."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from mockidp.authorities.avaya import Avaya
from mockidp.authorities.b2c import B2C
from mockidp.authorities.base import Authority
from mockidp.authorities.entra import Entra
from mockidp.authorities.lumen import Lumen
from mockidp.authorities.opengateway import OpenGateway
from mockidp.authorities.pfw import Pfw
from mockidp.clock import Clock
from mockidp.faults import FaultPlan
from mockidp.identities import Identities
from mockidp.journal import Journal
from mockidp.keys import KeyStore
from mockidp.store import MemoryStore, Store
from mockidp.world import World, load_world

log = logging.getLogger("mockidp")

AUTHORITY_CLASSES: tuple[type[Authority], ...] = (Avaya, Entra, B2C, Lumen, Pfw, OpenGateway)
REPO_KEYS = Path(__file__).resolve().parent.parent / "keys"


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
        self.world = world or load_world()
        self.state_dir = state_dir or default_state_dir()
        self.clock = Clock()
        self.store: Store = store or MemoryStore()
        self.keys = KeyStore(key_dirs if key_dirs is not None else [REPO_KEYS], self.state_dir / "keys")
        self.journal = Journal(self.store, self.world.server.journal_size)
        self.faults = FaultPlan()
        self.identities = Identities(self.world.server.seed)
        self.server_errors: list[str] = []  # tracebacks of unhandled exceptions: a test suite fails on any
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
        """Back to the loaded world: time, state, journal, faults, rotated keys and runtime world changes."""
        self.clock.reset()
        self.store.clear()
        self.faults.clear()
        self.keys.reset()
        self.server_errors.clear()
        for authority in self.authorities.values():
            authority.reset()

    def record_server_error(self, text: str) -> None:
        log.error("unhandled error in mockidp:\n%s", text)
        self.server_errors.append(text)
