"""The token endpoint, once: find the issuer, make the vendor's checks in the vendor's order, dispatch on
`grant_type` to one grant, and reply with no-store headers. An authority supplies only what differs: its grants
(a map, as navikt's mock-oauth2-server `grantHandlers`), its client authentication, the order of its checks and
its error texts. A grant validates, then issues, and returns data (authlib's `rfc6749/grants` design); the HTTP
glue lives elsewhere (app.py), so nothing here imports Starlette.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from mockidp.errors import OAuthError
from mockidp.request import Reply, Request

Issuer = TypeVar("Issuer")  # what the request's path names: a realm, a tenant, a policy, the one LIAM...
Client = TypeVar("Client")  # what client authentication returns: the registered client, or None where a grant judges

Step = Literal["duplicates", "grant_type", "client"]
Grant = Callable[[Issuer, Client, Request], Reply]

# RFC 6749 §5.1: "Cache-Control: no-store" and "Pragma: no-cache" on every response with tokens or credentials.
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
NO_STORE_NO_CACHE = {"cache-control": "no-store, no-cache", "pragma": "no-cache"}  # what Microsoft's endpoints send


class TokenErrors(Protocol):
    """The vendor's words for the checks every token endpoint makes."""

    def duplicated(self, names: Sequence[str]) -> OAuthError: ...

    def missing_grant_type(self) -> OAuthError: ...

    def unsupported_grant_type(self, grant_type: str) -> OAuthError: ...


@dataclass(frozen=True)
class TokenEndpoint(Generic[Issuer, Client]):
    issuer_of: Callable[[Request], Issuer]
    grants: Mapping[str, Grant[Issuer, Client]]
    authenticate: Callable[[Issuer, Request, str], Client]  # (issuer, request, grant_type)
    errors: TokenErrors
    order: tuple[Step, ...] = ("duplicates", "grant_type", "client")  # e.g. Keycloak: grant_type, client, duplicates
    grant_type_from: Callable[[Request], str | None] = lambda req: req.param("grant_type")  # Apigee: query too

    def __call__(self, req: Request) -> Reply:
        issuer = self.issuer_of(req)
        grant: Grant[Issuer, Client] | None = None
        grant_type = ""
        client: Any = None
        for step in self.order:
            if step == "duplicates":
                if req.duplicates:
                    raise self.errors.duplicated(sorted(req.duplicates))
            elif step == "grant_type":
                grant_type, grant = self.grant_of(req)
            else:
                client = self.authenticate(issuer, req, grant_type)
        if grant is None:  # an order without "grant_type" still dispatches on it, last
            grant_type, grant = self.grant_of(req)
        return grant(issuer, client, req)

    def grant_of(self, req: Request) -> tuple[str, Grant[Issuer, Client]]:
        grant_type = self.grant_type_from(req)
        if grant_type is None:
            raise self.errors.missing_grant_type()
        grant = self.grants.get(grant_type)
        if grant is None:
            raise self.errors.unsupported_grant_type(grant_type)
        return grant_type, grant


def token_reply(body: dict[str, Any], *, issued: Sequence[str], headers: Mapping[str, str] = NO_STORE) -> Reply:
    """A successful token response: JSON, the vendor's no-store headers, and the tokens it carries (for the journal)."""
    return Reply(json=body, headers=dict(headers), issued=list(issued))
