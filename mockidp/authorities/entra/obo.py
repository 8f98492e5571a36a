"""The on-behalf-of flow (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, `requested_token_use=on_behalf_of`):
a middle-tier API exchanges the access token a user sent it (`assertion`, whose audience is the middle tier) for a
token to a downstream API, for the same user, within what was consented for the middle tier.

Wire facts: entra-docs `v2-oauth2-on-behalf-of-flow.md` (request, response, AADSTS65001 with
`suberror: consent_required`), `reference-error-codes.md` (50013 InvalidAssertion, 500133 assertion outside its
time range, 65001 DelegationDoesNotExist); clients: msal `acquire_token_on_behalf_of`, azure-identity
`_internal/aad_client_base.py` `_get_on_behalf_of_request` (shared/reference/entra-identities.md §7)."""

from __future__ import annotations

import uuid
from typing import Any

from mockidp.authorities.entra.clientauth import Client
from mockidp.authorities.entra.context import EntraContext
from mockidp.authorities.entra.errors import invalid_grant, missing, stamp
from mockidp.authorities.entra.grants import UserGrants, grants
from mockidp.authorities.entra.scopes import ResourceScopes, ScopeRequest, parse_scope
from mockidp.authorities.entra.world import EntraApp, EntraTenant, EntraUser
from mockidp.errors import OAuthError
from mockidp.oauth.token_endpoint import NO_STORE_NO_CACHE, token_reply
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, peek, verify

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class OnBehalfOf:
    def __init__(self, entra: EntraContext, users: UserGrants) -> None:
        self.entra, self.users = entra, users

    def __call__(self, tenant: EntraTenant, client: Client, req: Request) -> Reply:
        app = client.app
        for name in ("requested_token_use", "assertion", "scope"):
            if not req.param(name):
                raise missing(name)
        if req.param("requested_token_use") != "on_behalf_of":
            raise invalid_grant(50013, "Assertion failed signature validation. The requested_token_use must be 'on_behalf_of'.")  # [text unconfirmed]
        claims = self.incoming(req, tenant, app, req.param("assertion") or "")
        user = self.user(tenant, claims)
        asked = parse_scope(tenant, app, req.param("scope") or "")
        resource = asked.single()
        if resource.app is not None:
            consented = consented_scopes(app, resource.app)
            if any(s.endswith("/.default") for s in asked.text.split()):  # `.default`: what was consented
                resource = ResourceScopes(resource.name, resource.app, tuple(consented))
            if not resource.scopes or any(s not in consented for s in resource.scopes):
                err = invalid_grant(65001, (
                    f"The user or administrator has not consented to use the application with ID '{app.app_id}' named "
                    f"'{app.display_name or app.app_id}'. Send an interactive authorization request for this user and resource."
                ))
                err.extra["suberror"] = "consent_required"
                raise err
        if asked.oidc:
            # offline_access / openid (msal adds both to every request): the middle tier gets a refresh token for the
            # scopes resolved here, and an id token, from a grant of its own (Entra's OBO answers so).
            now = self.entra.now
            family = grants(self.entra).start_family({"oidc": list(asked.oidc), "sid": str(claims.get("sid") or uuid.uuid4()),
                                                      "upn": user.user_principal_name, "auth_time": int(claims.get("iat", now))},
                                                     now + tenant.refresh_token_lifetime)
            resolved = ScopeRequest(" ".join([*resource.full(), *asked.oidc]), asked.oidc, (resource,))
            return self.users.issue(req, tenant, app, client.acr, user, resolved, family)
        access = self.users.access_token(req, tenant, app, client.acr, user, resource, [])
        body: dict[str, Any] = {"token_type": "Bearer", "scope": " ".join(resource.full()), "expires_in": tenant.token_lifetime,
                                "ext_expires_in": tenant.token_lifetime, "access_token": access}
        return token_reply(body, issued=[access], headers=NO_STORE_NO_CACHE)

    def incoming(self, req: Request, tenant: EntraTenant, app: EntraApp, assertion: str) -> dict[str, Any]:
        """The user's token: signed by this tenant, in time, for the middle tier, and a user's (not app-only)."""
        try:
            _, claims = verify(assertion, self.entra.tenant_keyset(tenant), now=self.entra.now)
        except TokenInvalid as exc:
            raise self.invalid(exc, assertion) from exc
        if claims.get("iss") not in self.entra.known_issuers(req, tenant):
            raise invalid_grant(50013, f"Assertion failed signature validation. [Reason - The issuer '{claims.get('iss')}' is not this tenant's.]")
        aud = claims.get("aud")
        if aud != app.app_id and aud not in app.identifier_uris:
            raise invalid_grant(50013, (
                f"Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '{aud}' "
                f"and the expected audience is '{app.app_id}' or one of the Application Uris of this application with App ID "
                f"'{app.app_id}'({app.display_name or app.app_id})."
            ))
        if claims.get("idtyp") == "app" or "scp" not in claims:
            # An app-only token in place of a user's: Entra's exact row is not pinned down; InvalidAssertion says it.
            raise invalid_grant(50013, "Assertion is not a user's token: the on-behalf-of flow exchanges a token issued to a user.")
        return claims

    def invalid(self, exc: TokenInvalid, assertion: str) -> OAuthError:
        if exc.reason in ("expired", "not_yet_valid"):
            _, claims = peek(assertion)
            return invalid_grant(500133, (
                "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user "
                f"assertion, or request a new token. Current time: {stamp(self.entra.now)}, expiry time of assertion {stamp(claims.get('exp'))}."
            ))
        if exc.reason == "malformed":
            return invalid_grant(50013, "Assertion failed signature validation. [Reason - The assertion is malformed.]")
        return invalid_grant(50013, "Assertion failed signature validation. [Reason - The key was not found.]")

    @staticmethod
    def user(tenant: EntraTenant, claims: dict[str, Any]) -> EntraUser:
        found = next((u for u in tenant.users if u.object_id == claims.get("oid")), None)
        if found is None or not found.account_enabled:
            raise invalid_grant(50057, "The user account is disabled.")
        return found


def consented_scopes(app: EntraApp, resource: EntraApp) -> list[str]:
    """The delegated permissions granted to `app` on `resource` (admin consent), by identifier URI or app id."""
    names = {resource.app_id.lower(), *(u.rstrip("/").lower() for u in resource.identifier_uris)}
    return [s for key, scopes in app.delegated_permissions.items() if key.rstrip("/").lower() in names for s in scopes]
