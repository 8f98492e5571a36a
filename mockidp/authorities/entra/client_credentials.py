"""Entra's client credentials grant: `scope` is one `{resource}/.default`, and the token is app-only, in the v1 or
v2 shape the resource accepts, with the app roles granted to the app (`roles`).

Wire facts: entra-docs `v2-oauth2-client-creds-grant-flow.md`, `access-token-claims-reference.md`,
`reference-error-codes.md` (shared/reference/entra.md)."""

from __future__ import annotations

from mockidp.authorities.aad import aad_error
from mockidp.authorities.entra.clientauth import Client
from mockidp.authorities.entra.context import EntraContext
from mockidp.authorities.entra.errors import resource_not_found
from mockidp.authorities.entra.tenant import v1_issuer
from mockidp.authorities.entra.tokens import common_claims, sign_access_token
from mockidp.authorities.entra.world import EntraApp, EntraTenant, assigned_roles, find_resource, object_id
from mockidp.oauth.token_endpoint import NO_STORE_NO_CACHE, token_reply
from mockidp.request import Reply, Request

DEFAULT = "/.default"


def resource(tenant: EntraTenant, scope: str) -> tuple[str, EntraApp]:
    """The resource of `{resource}/.default`: as the client named it, and its app."""
    scopes = scope.split()
    if any(not s.endswith(DEFAULT) for s in scopes):
        raise aad_error("invalid_scope", 1002012, (
            f"The provided value for scope {scope} is not valid. Client credential flows must have a scope value with "
            "/.default suffixed to the resource identifier (application ID URI)."
        ))
    if len(scopes) != 1:
        raise aad_error("invalid_scope", 70011, f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.")
    name = scopes[0][: -len(DEFAULT)]
    found = find_resource(tenant, name) if name else None
    if found is None:
        raise resource_not_found(tenant, name)
    return name, found


class ClientCredentialsGrant:
    def __init__(self, entra: EntraContext) -> None:
        self.entra = entra

    def __call__(self, tenant: EntraTenant, client: Client, req: Request) -> Reply:
        scope = req.param("scope") or ""  # present: ClientAuth asks for it before it looks the app up
        resource_name, api = resource(tenant, scope)
        token = self.app_token(req, tenant, client, resource_name, api)
        body = {"token_type": "Bearer", "expires_in": tenant.token_lifetime, "ext_expires_in": tenant.token_lifetime, "access_token": token}
        return token_reply(body, issued=[token], headers=NO_STORE_NO_CACHE)

    def app_token(self, req: Request, tenant: EntraTenant, client: Client, resource_name: str, api: EntraApp) -> str:
        """The app-only token of `client` for `api` (named `resource_name` by the request), v1 or v2 as `api` accepts."""
        app = client.app
        now = int(self.entra.now)
        oid = object_id(tenant, app)
        claims = common_claims(now, tenant.token_lifetime, tenant, oid, oid)
        claims["idtyp"] = "app"
        roles = assigned_roles(app.granted_roles, api)
        if roles:
            claims["roles"] = roles
        # v1: aud is the resource as the client named it; iss/idp the STS host (claims reference).
        token = sign_access_token(self.entra, req.base, tenant, claims, v1=api.accept_v1_tokens, client_id=app.app_id, acr=client.acr,
                                  v1_claims={"aud": resource_name, "idp": v1_issuer(tenant)}, v2_claims={"aud": api.app_id})
        return token
