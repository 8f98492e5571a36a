"""What every authority shares: a name, a path prefix and real hostnames, issuers with their own key sets,
endpoints, and the way errors are rendered on the wire."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from mockidp.errors import OAuthError
from mockidp.keys import KeySet, SigningKey
from mockidp.request import Reply, Request
from mockidp.tokens import sign
from mockidp.types import Services

Handler = Callable[[Request], Reply | Awaitable[Reply]]


@dataclass(frozen=True)
class Endpoint:
    path: str  # Starlette path below the prefix, e.g. "/auth/realms/{realm}/protocol/openid-connect/token"
    name: str  # journal / fault name, e.g. "token"
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
    render_error: Callable[[OAuthError, Request | None], Reply] | None = None  # else the authority's render_error


@dataclass(frozen=True)
class Issuer:
    """One issuer of an authority (a realm, a tenant, a policy...) and where it publishes its metadata."""

    id: str
    keyset: KeySet
    path: str  # issuer path below the authority base, e.g. "/auth/realms/demo-account"
    discovery_path: str | None
    jwks_path: str
    token_path: str | None = None

    def url(self, base: str) -> str:
        return base + self.path


class Authority:
    name: ClassVar[str]
    title: ClassVar[str]
    prefix: ClassVar[str]
    host_patterns: ClassVar[tuple[str, ...]] = ()  # real hostnames (regex, full match) that route here at the root
    cert_hostnames: ClassVar[tuple[str, ...]] = ()  # the same names for the TLS certificate (wildcards allowed)

    world_type: ClassVar[type[Any]]  # this authority's section of a world file (a dataclass)

    def __init__(self, services: Services, config: Any) -> None:
        self.services = services
        self.config = config
        self.load()

    # --- what an authority defines -------------------------------------------------------------
    def load(self) -> None:
        """Build lookup tables from self.config (called at start and by reset)."""

    def endpoints(self) -> list[Endpoint]:
        raise NotImplementedError

    def issuers(self) -> list[Issuer]:
        raise NotImplementedError

    def render_error(self, err: OAuthError, req: Request | None) -> Reply:
        return Reply(err.status, json=err.body(), headers=dict(err.headers), error=err.error)

    def named_error(self, name: str, description: str | None = None) -> OAuthError:
        """An error of this authority by name, for faults (e.g. `invalid_grant`)."""
        return OAuthError(name, description or name.replace("_", " "), 400)

    def capabilities(self) -> dict[str, Any]:
        """What this authority offers others by name (`Services.capability`), e.g. B2C's token verifier for LIAM."""
        return {}

    def demo_lines(self) -> list[str]:
        return []

    def claims_root_segment(self, segment: str) -> bool:
        """Whether a path at the root whose first segment is `segment` is served by this authority, as if under its
        prefix (e.g. Entra's `/{tenant}/...`, which clients key their caches by). Never asked about another
        authority's prefix, `_mockidp` or `healthz` (app.HostRouting)."""
        return False

    # --- shared helpers ---------------------------------------------------------------------------
    def keyset(self, issuer_id: str, alg: str = "RS256", kid_style: str = "thumbprint", given: SigningKey | None = None) -> KeySet:
        return self.services.keys.keyset(f"{self.name}-{issuer_id}", alg, kid_style, given)

    def default_base(self) -> str:
        """The base URL outside of a request (CLI minting, the plugin): the engine's, plus the prefix."""
        return self.services.base_url.rstrip("/") + self.prefix

    def real_hostnames(self) -> list[str]:
        """Concrete real hostnames routed here, e.g. for docker-compose network aliases (a DNS alias cannot be a
        wildcard): the fixed names; an authority with a wildcard adds the names its world makes concrete."""
        return [h for h in self.cert_hostnames if not h.startswith("*.")]

    def matches_host(self, host: str) -> bool:
        return any(re.fullmatch(p, host, re.IGNORECASE) for p in self.host_patterns)

    @property
    def now(self) -> float:
        return self.services.clock.now()

    def planned_claims(self, client_id: str | None) -> dict[str, Any]:
        """Claims a test planned for this client's next token (merge them last, so they override)."""
        return self.services.claims.take_for(self.name, client_id)

    def mint_defaults(self, issuer: Issuer, base: str) -> dict[str, Any]:
        """Claims a minted token carries unless the caller sets them, so this authority's own APIs accept it
        (e.g. the audience they check)."""
        return {}

    def issuer_by_id(self, issuer_id: str | None = None) -> Issuer:
        """One of this authority's issuers by id (a realm, a tenant...), or its first."""
        issuers = self.issuers()
        issuer = next((i for i in issuers if i.id == issuer_id), None) if issuer_id else (issuers[0] if issuers else None)
        if issuer is None:
            raise KeyError(f"{self.name} has no issuer {issuer_id!r}; known: {', '.join(i.id for i in issuers)}")
        return issuer

    def minted_claims(self, issuer: Issuer, base: str, claims: dict[str, Any], lifetime: int = 3600) -> dict[str, Any]:
        """The claims of a token minted outside a flow (the plugin's `mint`, the control API's forgeries, the CLI):
        iss/iat/nbf/exp/jti and this authority's `mint_defaults`, overridden by `claims`. Built here only."""
        now = int(self.now)
        return {"iss": issuer.url(base), "iat": now, "nbf": now, "exp": now + lifetime, "jti": str(uuid.uuid4()),
                **self.mint_defaults(issuer, base), **claims}

    def mint(self, claims: dict[str, Any], issuer_id: str | None = None, base: str | None = None, lifetime: int = 3600) -> str:
        """A token from one of this authority's issuers with the given claims (iss/iat/exp/jti filled in when absent)."""
        issuer = self.issuer_by_id(issuer_id)
        return sign(issuer.keyset, self.minted_claims(issuer, base or self.default_base(), claims, lifetime))

    def serving(self, loop: asyncio.AbstractEventLoop) -> None:
        """A server's event loop is running (once per server): start background work on it, if any."""
        return None

    def reset(self) -> None:
        """Back to the loaded world (runtime changes to the registries are dropped)."""
        self.load()
