"""Entra's v1 token endpoint, `POST /{tenant}/oauth2/token`: the client credentials grant names a `resource` (an App
ID URI or app id) rather than a `{resource}/.default` scope, and answers in v1's fields, every number a string
(`expires_in`, `ext_expires_in`, `expires_on`, `not_before`) and the `resource` echoed.

Wire facts: entra-docs v1 `v1-oauth2-client-creds-grant-flow.md` [shape unconfirmed, shared/reference/entra-identities.md
§8]; msal `token_cache.py` ("AADv1-like endpoint returns a string" for expires_in). The token's version is the
resource's (`accessTokenAcceptedVersion`, access-token-claims-reference.md), as at the v2 endpoint: an API that takes
v1 tokens gets `ver 1.0` and the sts.windows.net issuer, one that takes v2 tokens a v2 token, from either endpoint."""

from __future__ import annotations

from mockidp.authorities.entra.client_credentials import ClientCredentialsGrant
from mockidp.authorities.entra.clientauth import Client
from mockidp.authorities.entra.errors import resource_not_found
from mockidp.authorities.entra.world import EntraTenant, find_resource
from mockidp.oauth.token_endpoint import NO_STORE_NO_CACHE, token_reply
from mockidp.request import Reply, Request


class V1ClientCredentials(ClientCredentialsGrant):
    def __call__(self, tenant: EntraTenant, client: Client, req: Request) -> Reply:
        name = req.param("resource") or ""  # present: ClientAuth(names_resource=True) asks for it first
        api = find_resource(tenant, name) if name else None
        if api is None:
            raise resource_not_found(tenant, name)
        token = self.app_token(req, tenant, client, name, api)
        now, lifetime = int(self.entra.now), tenant.token_lifetime
        body = {"token_type": "Bearer", "expires_in": str(lifetime), "ext_expires_in": str(lifetime), "expires_on": str(now + lifetime),
                "not_before": str(now), "resource": name, "access_token": token}
        return token_reply(body, issued=[token], headers=NO_STORE_NO_CACHE)
