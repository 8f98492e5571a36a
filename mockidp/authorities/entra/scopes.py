"""The scopes of a user's sign-in and tokens: `openid profile email offline_access`, and resource scopes
`{resource}/{name}` (a bare name is Microsoft Graph's, `.default` every scope the API exposes).

Wire facts: entra-docs `scopes-oidc.md`, `v2-permissions-and-consent.md`, `reference-error-codes.md`."""

from __future__ import annotations

from dataclasses import dataclass

from mockidp.authorities.aad import aad_error
from mockidp.authorities.entra.errors import resource_not_found
from mockidp.authorities.entra.world import EntraApp, EntraTenant, find_resource

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
GRAPH, GRAPH_APP_ID = "https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"


@dataclass(frozen=True)
class ResourceScopes:
    name: str  # the resource as the request named it (identifier URI or app id); GRAPH for Microsoft Graph
    app: EntraApp | None  # None: Microsoft Graph, which no tenant of the world holds
    scopes: tuple[str, ...]  # short names: Api.Read, User.Read

    @property
    def audience(self) -> str:
        return self.app.app_id if self.app else GRAPH_APP_ID

    def full(self) -> list[str]:
        return [f"{self.name}/{s}" for s in self.scopes]


@dataclass(frozen=True)
class ScopeRequest:
    text: str
    oidc: tuple[str, ...]
    resources: tuple[ResourceScopes, ...]

    def single(self) -> ResourceScopes:
        """A token is for one resource; consent may cover several (v2-permissions-and-consent.md)."""
        if len(self.resources) > 1:
            raise aad_error("invalid_request", 28000, (
                "Provided value for the input parameter scope is not valid because it contains more than one resource. "
                f"Scope {self.text} is not valid."
            ))
        return self.resources[0]


def parse_scope(tenant: EntraTenant, app: EntraApp, scope: str) -> ScopeRequest:
    """`openid profile email offline_access` and resource scopes `{resource}/{name}` (a bare name is Microsoft
    Graph's, `.default` every scope the API exposes). Only OIDC scopes: a Graph token, as Entra issues."""
    oidc: list[str] = []
    named: dict[str, tuple[str, EntraApp | None, list[str]]] = {}
    for item in scope.split():
        if item.lower() in OIDC_SCOPES:
            oidc += [item.lower()] if item.lower() not in oidc else []
            continue
        name, _, short = item.rpartition("/")
        if not short:
            raise aad_error("invalid_scope", 70011, f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.")
        resource = None if not name or name.rstrip("/").lower() in (GRAPH, GRAPH_APP_ID) else find_resource(tenant, name)
        if resource is None and name and name.rstrip("/").lower() not in (GRAPH, GRAPH_APP_ID):
            raise resource_not_found(tenant, name)
        key = resource.app_id if resource else GRAPH_APP_ID
        _, _, shorts = named.setdefault(key, (name.rstrip("/") if resource else GRAPH, resource, []))
        for s in expand(app, resource, short):
            shorts += [s] if s not in shorts else []
    resources = [ResourceScopes(n, r, tuple(s)) for n, r, s in named.values()]
    if not resources:
        resources = [ResourceScopes(GRAPH, None, ("User.Read",))]
    return ScopeRequest(scope, tuple(oidc), tuple(resources))


def expand(app: EntraApp, resource: EntraApp | None, short: str) -> list[str]:
    if resource is None:  # Graph's permissions are not modelled: any name is taken, `.default` is User.Read
        return ["User.Read"] if short == ".default" else [short]
    if short == ".default":
        return list(resource.scopes)
    known = next((s for s in resource.scopes if s.lower() == short.lower()), None)
    if known is None:
        raise aad_error("invalid_client", 650053, (
            f"The application '{app.display_name or app.app_id}' asked for scope '{short}' that doesn't exist on the resource "
            f"'{resource.app_id}'. Contact the app vendor."
        ))
    return [known]
