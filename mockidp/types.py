"""The vocabulary shared by the engine and the authorities: the services an authority may use. Authorities
depend on this protocol, never on `Engine`, so imports flow one way (glue -> engine -> authorities -> oauth -> core)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from mockidp.claims import ClaimsPlan
from mockidp.clock import Clock
from mockidp.journal import Journal
from mockidp.keys import KeyStore
from mockidp.store import Store

T = TypeVar("T")


class Services(Protocol):
    """What the engine lends every authority. State a request leaves behind goes to `store`; nothing of it is
    kept on the authority (so several workers over one store act as one mockidp)."""

    store: Store
    clock: Clock
    keys: KeyStore
    claims: ClaimsPlan
    journal: Journal

    @property
    def base_url(self) -> str:
        """scheme://host:port for issuers outside a request (CLI minting, the plugin)."""

    @property
    def hostnames(self) -> list[str]:
        """Extra hostnames the world serves (`[server] hostnames`)."""

    def record_server_error(self, text: str) -> None:
        """An unhandled exception in the server: the plugin fails the test that caused it."""

    def world_section(self, name: str) -> Any:
        """A section of the world in force (or being loaded), for the rare authority that mirrors another's data."""

    def capability(self, name: str) -> Any:
        """What another authority offers by name (e.g. Lumen asks for "b2c.client-credentials"); KeyError if none."""

    def world_add(self, path: str, item: dict[str, Any]) -> dict[str, Any]:
        """Add an item to the world at runtime, validated and atomic, as `POST /_mockidp/world/{path}` does."""

    def world_change(self, section: str, change: Callable[[Any], T]) -> T:
        """Change a world section at runtime: `change` edits a copy of it in place; the changed world is validated
        and loaded all-or-nothing (as `world_add`), and undone by the reset. ControlError if it does not validate."""
