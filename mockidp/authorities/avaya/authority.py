"""Avaya Experience Platform A&A: a Keycloak server (with the legacy `/auth` path) holding one realm per account.

Seed 001 is the product's contract and wins over stock Keycloak where they differ: 404 for an unknown account,
400 for an invalid client_id, "Invalid client secret", `expires_in` 900 / `refresh_expires_in` 9000,
lower-case `"token_type": "bearer"`, and a refresh token with client credentials.
Wire facts otherwise follow Keycloak (shared/reference/keycloak.md, and Keycloak's TokenManager /
AuthorizationCodeGrantType / PkceUtils for the order of the checks and their texts).
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

from mockidp.authorities.avaya import exchange
from mockidp.authorities.avaya.admin import AvayaAdmin
from mockidp.authorities.avaya.api import AvayaApi
from mockidp.authorities.avaya.browser import AvayaBrowser
from mockidp.authorities.avaya.clientauth import authenticate_client
from mockidp.authorities.avaya.device import AvayaDevice
from mockidp.authorities.avaya.errors import INVALID_CLIENT, KeycloakTokenErrors, kc_error
from mockidp.authorities.avaya.introspection import AvayaIntrospection
from mockidp.authorities.avaya.metadata import AvayaMetadata
from mockidp.authorities.avaya.realm import Realm, granted_scopes
from mockidp.authorities.avaya.realm_import import import_realm
from mockidp.authorities.avaya.tokens import CODE, CODE_SPENT, AvayaTokens
from mockidp.authorities.avaya.world import AvayaApiRoute, AvayaClient, AvayaRealm, AvayaScope, AvayaUser, AvayaWorld
from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.errors import OAuthError
from mockidp.oauth import device, pkce
from mockidp.oauth.token_endpoint import Grant, Step, TokenEndpoint
from mockidp.request import Reply, Request

__all__ = ["Avaya", "AvayaApiRoute", "AvayaClient", "AvayaRealm", "AvayaScope", "AvayaUser", "AvayaWorld", "Realm"]

# Keycloak's order (TokenEndpoint.java): the realm, grant_type, client authentication, duplicated parameters, then
# the grant's own checks.
KEYCLOAK_ORDER: tuple[Step, ...] = ("grant_type", "client", "duplicates")
ERRORS = KeycloakTokenErrors()


class Avaya(Authority):
    name = "avaya"
    title = "Avaya Experience Platform (Keycloak)"
    prefix = "/avaya"
    host_patterns = (r"[a-z0-9-]+\.cc\.avayacloud\.com",)  # seed 001: https://REGION.cc.avayacloud.com
    cert_hostnames = ("*.cc.avayacloud.com",)
    # Any REGION routes here; these are the names docker-compose gives as aliases (a DNS alias is no wildcard).
    alias_regions: ClassVar[tuple[str, ...]] = ("eu1", "na1")
    config: AvayaWorld
    world_type = AvayaWorld
    realms: dict[str, Realm]
    tokens: AvayaTokens

    def real_hostnames(self) -> list[str]:
        return [f"{region}.cc.avayacloud.com" for region in self.alias_regions]

    def load(self) -> None:
        self.realms = {r.account_id: Realm(r, partial(self.keyset, f"realm-{r.account_id}", r.alg, "thumbprint")) for r in self.config.realms}
        self.tokens = AvayaTokens(self.services, self.planned_claims, self.default_base)

    def issuers(self) -> list[Issuer]:
        return [
            Issuer(r.name, r.keyset, f"/auth/realms/{r.name}", f"/auth/realms/{r.name}/.well-known/openid-configuration",
                   f"/auth/realms/{r.name}/protocol/openid-connect/certs", f"/auth/realms/{r.name}/protocol/openid-connect/token")
            for r in self.realms.values()
        ]

    def demo_lines(self) -> list[str]:
        lines = []
        for r in self.config.realms:
            for c in r.clients:
                cred = c.secret or ("private_key_jwt" if c.certificate or c.jwks else "(public)")
                lines.append(f"realm {r.account_id}: client {c.client_id} / {cred}")
            for u in r.users:
                lines.append(f"realm {r.account_id}: user {u.username} / {u.password or '(a hashed password)'}")
        return lines

    def capabilities(self) -> dict[str, Any]:
        # POST /_mockidp/world/avaya/realms takes a Keycloak realm export as well as a world-file table
        return {"world-import:avaya/realms": import_realm, device.USERS: AvayaDevice(self).approver}

    def render_error(self, err: OAuthError, req: Request | None) -> Reply:
        if err.status == 500 and err.error == "server_error":
            err = OAuthError("unknown_error", "For more on this error consult the server log.", 500)
        return super().render_error(err, req)

    def named_error(self, name: str, description: str | None = None) -> OAuthError:
        known = {
            "invalid_grant": ("Invalid refresh token", 400),
            "invalid_client": (INVALID_CLIENT, 401),
            "unauthorized_client": ("Invalid client secret", 401),
            "invalid_scope": ("Invalid scopes", 400),
            "unsupported_grant_type": ("Unsupported grant_type", 400),
            "invalid_request": ("Invalid request", 400),
            "temporarily_unavailable": ("Service temporarily unavailable", 503),
        }
        text, status = known.get(name, (name, 400))
        return kc_error(name, description or text, status)

    def endpoints(self) -> list[Endpoint]:
        realm = "/auth/realms/{realm}"
        oidc = realm + "/protocol/openid-connect"
        browser, metadata, introspection = AvayaBrowser(self), AvayaMetadata(self, list(self.token_grants())), AvayaIntrospection(self)
        admin, device_flow = AvayaAdmin(self), AvayaDevice(self)
        return [
            Endpoint(realm, "realm", metadata.realm_info),
            Endpoint(realm + "/.well-known/openid-configuration", "discovery", metadata.discovery),
            Endpoint(oidc + "/token", "token", self.token, ("POST",)),
            Endpoint(oidc + "/auth", "auth", browser.authorize, ("GET", "POST")),
            Endpoint(oidc + "/auth/device", "device_authorization", device_flow.authorize, ("POST",)),  # RFC 8628
            Endpoint(realm + "/device", "device", device_flow.page, ("GET", "POST")),
            Endpoint(oidc + "/userinfo", "userinfo", introspection.userinfo, ("GET", "POST")),
            Endpoint(oidc + "/certs", "certs", metadata.certs),
            Endpoint(oidc + "/token/introspect", "introspect", introspection.introspect, ("POST",)),
            Endpoint(oidc + "/revoke", "revoke", introspection.revoke, ("POST",)),
            Endpoint(oidc + "/logout", "logout", introspection.logout, ("GET", "POST")),
            Endpoint("/api/{path:path}", "api", AvayaApi(self).handle, ("GET", "POST", "PUT", "PATCH", "DELETE")),
            # Keycloak's admin REST API (admin.py), the subset KeycloakAdmin uses
            Endpoint("/auth/admin/realms", "admin", admin.handle, ("GET", "POST", "PUT", "DELETE")),
            Endpoint("/auth/admin/realms/{path:path}", "admin", admin.handle, ("GET", "POST", "PUT", "DELETE")),
        ]

    # --- the realm -----------------------------------------------------------------------------------

    def realm_of(self, req: Request) -> Realm:
        realm = self.realms.get(req.path_params.get("realm", ""))
        if realm is None:
            raise OAuthError("Realm does not exist", None, 404)  # Keycloak's body: {"error":"Realm does not exist"}
        if not realm.config.enabled:
            raise kc_error("access_denied", "Realm not enabled", 403)
        return realm

    # --- the token endpoint --------------------------------------------------------------------------

    def token(self, req: Request) -> Reply:
        # Built per request, so the grants are the methods as they are now (a test may replace one to make it fail).
        if req.form.get("grant_type") == exchange.GRANT_TYPE:
            req = exchange.without_multivalued(req)
        return TokenEndpoint(self.realm_of, self.token_grants(), self.authenticate_client, ERRORS, order=KEYCLOAK_ORDER)(req)

    def token_grants(self) -> dict[str, Grant[Realm, AvayaClient]]:
        """Keycloak's grants, in the order discovery lists them."""
        return {
            "authorization_code": self.grant_authorization_code,
            "password": self.grant_password,
            "client_credentials": self.grant_client_credentials,
            "refresh_token": self.grant_refresh_token,
            exchange.GRANT_TYPE: exchange.TokenExchange(self),  # Keycloak 26.2+: standard token exchange is on by default
            device.GRANT_TYPE: AvayaDevice(self).grant,
        }

    def authenticate_client(self, realm: Realm, req: Request, grant_type: str) -> AvayaClient:
        return authenticate_client(self.services, realm, req)  # the same for every grant

    def grant_client_credentials(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        if realm.is_public(client):
            raise kc_error("unauthorized_client", "Public client not allowed to retrieve service account", 401)
        if not client.service_account:
            raise kc_error("unauthorized_client", "Client not enabled to retrieve service account", 401)
        scopes = granted_scopes(client, req.param("scope"))
        session = self.tokens.new_session(realm, client, None) if realm.config.refresh_tokens_for_client_credentials else None
        return self.tokens.issue(realm, req, client, None, scopes, session)

    def grant_password(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        if not client.direct_access:
            raise kc_error("unauthorized_client", "Client not allowed for direct access grants")
        scopes = granted_scopes(client, req.param("scope"))  # Keycloak checks the scope before the user
        username = req.param("username")
        if username is None:
            raise kc_error("invalid_request", "Missing parameter: username", 401)  # Keycloak's ValidateUsername
        user = realm.users.get(username.lower())
        if user is None:
            raise kc_error("invalid_grant", "Invalid user credentials", 401)  # seed 001: 401
        if not user.enabled:
            raise kc_error("invalid_grant", "Account disabled")  # judged before the password, as Keycloak does
        if realm.user_by_password(username, req.param("password") or "") is None:
            raise kc_error("invalid_grant", "Invalid user credentials", 401)
        if user.required_actions:  # e.g. UPDATE_PASSWORD after a temporary password (ResourceOwnerPasswordCredentialsGrantType)
            raise kc_error("invalid_grant", "Account is not fully set up")
        return self.tokens.issue(realm, req, client, user, scopes, self.tokens.new_session(realm, client, user))

    def grant_authorization_code(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        code = req.form.get("code")  # an empty code= reaches the lookup (Keycloak 26, measured)
        if code is None:
            raise kc_error("invalid_request", "Missing parameter: code")
        grant = self.services.store.take(CODE, code, self.now)
        if grant is None or grant["realm"] != realm.name:
            spent = self.services.store.get(CODE_SPENT, code, self.now)
            if spent is not None:
                self.tokens.detach(spent["sid"], spent["expires"])  # a replayed code ends what the first exchange started
            raise kc_error("invalid_grant", "Code not valid")
        self.services.store.put(CODE_SPENT, code, {"sid": grant["sid"], "expires": grant["session"]["expires"]}, self.now + realm.config.refresh_token_lifespan)
        user = realm.users.get(grant["username"].lower())
        if user is None or not user.enabled:
            raise kc_error("invalid_grant", "User disabled")
        if req.param("redirect_uri") != grant["redirect_uri"]:  # compared before the client, as Keycloak does
            raise kc_error("invalid_grant", "Incorrect redirect_uri")
        if grant["client_id"] != client.client_id:
            raise kc_error("invalid_grant", "Auth error: Found different client_id in clientSession")
        session = self.tokens.live_session(grant["session"])
        if session is None:
            raise kc_error("invalid_grant", "Session not active")
        self.check_pkce(grant, req.form.get("code_verifier"))
        return self.tokens.issue(realm, req, client, user, grant["scopes"], session, nonce=grant.get("nonce"))

    @staticmethod
    def check_pkce(grant: dict[str, Any], verifier: str | None) -> None:
        """Keycloak 26's four PKCE answers (PkceUtils)."""
        challenge = grant.get("code_challenge")
        if not challenge:
            if verifier is not None:
                raise kc_error("invalid_grant", "PKCE code verifier specified but challenge not present in authorization")
            return
        if verifier is None:
            raise kc_error("invalid_grant", "PKCE code verifier not specified")
        if not pkce.valid_verifier(verifier):
            raise kc_error("invalid_grant", "PKCE verification failed: Invalid code verifier")
        if not pkce.verify(verifier, challenge, grant["code_challenge_method"]):
            raise kc_error("invalid_grant", "PKCE verification failed: Code mismatch")

    def grant_refresh_token(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        token = req.param("refresh_token")
        if token is None:
            raise kc_error("invalid_request", "Missing parameter: refresh_token")
        # TokenManager.refreshAccessToken's order: token, expiry, client, session, reuse.
        claims = self.tokens.refresh_claims(realm, token)
        if claims["exp"] <= self.now:
            raise kc_error("invalid_grant", "Token is not active")
        if claims.get("azp") != client.client_id:
            raise kc_error("invalid_grant", "Invalid refresh token. Token client and authorized client don't match")
        session = self.tokens.session_of(claims)
        state = self.tokens.session_state(session)
        if state in ("ended", "expired"):
            raise kc_error("invalid_grant", "Session not active")
        if state == "detached":
            raise kc_error("invalid_grant", "Session doesn't have required client")
        if realm.config.revoke_refresh_token:  # Keycloak's default is off: then an old refresh token keeps working
            refusal = self.tokens.use_refresh(realm, claims, session)
            if refusal is not None:
                # TokenManager.validateTokenReuseForRefresh: a refused reuse detaches the client session
                self.tokens.detach(session["sid"], session["expires"])
                raise kc_error("invalid_grant", refusal)
        user = realm.users.get(session["username"].lower()) if session.get("username") else None
        if session.get("username") and (user is None or not user.enabled):
            raise kc_error("invalid_grant", "User disabled")
        scopes = claims["scope"].split()
        asked = req.param("scope")
        if asked and any(s not in scopes for s in asked.split()):
            raise kc_error("invalid_scope", f"Invalid scopes: {asked}")
        if asked:
            scopes = [s for s in scopes if s in asked.split()]  # a refresh may narrow the scope, never widen it
        return self.tokens.issue(realm, req, client, user, scopes, session)
