"""Avaya Experience Platform A&A: a Keycloak server (with the legacy `/auth` path) holding one realm per account.

Seed 001 is the product's contract and wins over stock Keycloak where they differ: 404 for an unknown account,
400 for an invalid client_id, "Invalid client secret", `expires_in` 900 / `refresh_expires_in` 9000,
lower-case `"token_type": "bearer"`, and a refresh token with client credentials.
Wire facts otherwise follow Keycloak (shared/reference/keycloak.md, and Keycloak's TokenManager /
AuthorizationCodeGrantType / PkceUtils for the order of the checks and their texts).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Callable
from functools import cached_property, partial
from typing import Any, ClassVar

from mockidp.authorities.avaya.browser import AvayaBrowser
from mockidp.authorities.avaya.tokens import CODE, CODE_SPENT, NO_STORE, AvayaTokens, kc_error
from mockidp.authorities.avaya.world import CLIENT_ID, AvayaApiRoute, AvayaClient, AvayaRealm, AvayaScope, AvayaUser, AvayaWorld
from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.errors import OAuthError
from mockidp.keys import KeySet
from mockidp.oauth import pkce
from mockidp.oauth.assertions import ClientKey, verify_assertion
from mockidp.oauth.clientauth import JWT_BEARER, presented_credentials
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, peek

__all__ = ["Avaya", "AvayaApiRoute", "AvayaClient", "AvayaRealm", "AvayaScope", "AvayaUser", "AvayaWorld", "Realm"]

GRANTS = ("authorization_code", "password", "client_credentials", "refresh_token")
INVALID_CLIENT = "Invalid client or Invalid client credentials"


class Realm:
    """One account's realm at runtime: its config, lookup tables and (lazily loaded) keys."""

    def __init__(self, config: AvayaRealm, keys: Callable[[], KeySet]) -> None:
        self.config = config
        self.name = config.account_id
        self._keys = keys
        self.clients = {c.client_id.lower(): c for c in config.clients}
        self.users = {u.username.lower(): u for u in config.users}
        self.scopes = {s.name: s for s in config.scopes}
        self.client_keys: dict[str, list[ClientKey]] = {}
        for c in config.clients:
            keys_of = ClientKey.from_jwks(c.jwks) if c.jwks else []
            if c.certificate:
                keys_of.append(ClientKey.from_certificate(c.certificate.encode()))
            self.client_keys[c.client_id.lower()] = keys_of

    @property
    def keyset(self) -> KeySet:
        """Loaded on first use: a realm nobody calls costs no key load."""
        return self._keys()

    @cached_property
    def refresh_secret(self) -> bytes:
        """Keycloak signs refresh tokens HS512 with a realm secret. Derived from the realm's first signing key, so
        every mockidp process serving the same world and key files accepts the others' refresh tokens."""
        first = self.keyset.published[0]
        return hashlib.sha512(b"avaya-refresh-token:" + self.name.encode() + first.jwk.as_pem(private=True)).digest()

    def issuer(self, base: str) -> str:
        return f"{base}/auth/realms/{self.name}"

    def is_public(self, client: AvayaClient) -> bool:
        return client.secret is None and not self.client_keys[client.client_id.lower()]


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

    def real_hostnames(self) -> list[str]:
        return [f"{region}.cc.avayacloud.com" for region in self.alias_regions]

    def load(self) -> None:
        self.realms = {r.account_id: Realm(r, partial(self.keyset, f"realm-{r.account_id}", r.alg)) for r in self.config.realms}
        self.tokens = AvayaTokens(self)

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
                lines.append(f"realm {r.account_id}: user {u.username} / {u.password}")
        return lines

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
        from mockidp.authorities.avaya.api import AvayaApi

        realm = "/auth/realms/{realm}"
        oidc = realm + "/protocol/openid-connect"
        browser = AvayaBrowser(self)
        return [
            Endpoint(realm, "realm", self.realm_info),
            Endpoint(realm + "/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint(oidc + "/token", "token", self.token, ("POST",)),
            Endpoint(oidc + "/auth", "auth", browser.authorize, ("GET", "POST")),
            Endpoint(oidc + "/userinfo", "userinfo", self.userinfo, ("GET", "POST")),
            Endpoint(oidc + "/certs", "certs", self.certs),
            Endpoint(oidc + "/token/introspect", "introspect", self.introspect, ("POST",)),
            Endpoint(oidc + "/revoke", "revoke", self.revoke, ("POST",)),
            Endpoint(oidc + "/logout", "logout", self.logout, ("GET", "POST")),
            Endpoint("/api/{path:path}", "api", AvayaApi(self).handle, ("GET", "POST", "PUT", "PATCH", "DELETE")),
        ]

    # --- realm and client ----------------------------------------------------------------------------

    def realm_of(self, req: Request) -> Realm:
        realm = self.realms.get(req.path_params.get("realm", ""))
        if realm is None:
            raise OAuthError("Realm does not exist", None, 404)  # Keycloak's body: {"error":"Realm does not exist"}
        if not realm.config.enabled:
            raise kc_error("access_denied", "Realm not enabled", 403)
        return realm

    def authenticate_client(self, realm: Realm, req: Request) -> AvayaClient:
        creds = presented_credentials(req, body_overrides_basic=True)  # Keycloak: a form client_id / client_secret replaces Basic's
        client_id = creds.client_id
        if not client_id and creds.assertion:
            with contextlib.suppress(TokenInvalid):
                client_id = peek(creds.assertion)[1].get("sub")  # Keycloak takes the client from the assertion
        if not client_id:
            raise kc_error("invalid_client", "Missing client_id parameter", 400)
        client = realm.clients.get(client_id.lower()) if isinstance(client_id, str) and CLIENT_ID.fullmatch(client_id) else None
        if client is None:
            raise kc_error("invalid_client", INVALID_CLIENT, 400)  # seed 001: 400 when client_id is invalid
        if not client.enabled:
            raise kc_error("invalid_client", INVALID_CLIENT, 401)
        keys = realm.client_keys[client.client_id.lower()]
        if creds.method == "private_key_jwt":
            if creds.assertion_type != JWT_BEARER:
                raise kc_error("invalid_client", "Parameter client_assertion_type is missing or invalid", 400)
            if not keys or not creds.assertion:
                raise kc_error("unauthorized_client", "Client authentication with signed JWT failed: no key registered for the client", 401)
            issuer = realm.issuer(req.base)
            try:
                verify_assertion(creds.assertion, keys, client_id=client.client_id, now=self.now, store=self.services.store,
                                 audiences={issuer, issuer + "/protocol/openid-connect/token", req.base + req.path})
            except TokenInvalid as exc:
                raise kc_error("unauthorized_client", f"Client authentication with signed JWT failed: {exc}", 401) from exc
            return client
        if client.secret is None:
            if keys:
                raise kc_error("unauthorized_client", "Client authentication with signed JWT failed: client_assertion missing", 401)
            return client  # a public client
        if creds.secret is None:
            raise kc_error("unauthorized_client", "Client secret not provided in request", 401)
        if not hmac.compare_digest(creds.secret.encode(), client.secret.encode()):
            raise kc_error("unauthorized_client", "Invalid client secret", 401)  # seed 001's body
        return client

    def granted_scopes(self, client: AvayaClient, requested: str | None) -> list[str]:
        """`openid` when asked, the client's default scopes always, and the optional ones asked for."""
        asked = (requested or "").split()
        allowed = {"openid", *client.default_scopes, *client.optional_scopes}
        if any(s not in allowed for s in asked):
            raise kc_error("invalid_scope", f"Invalid scopes: {requested}")
        granted = [s for s in asked if s == "openid"] + list(client.default_scopes)
        return granted + [s for s in asked if s not in granted]

    def user_by_password(self, realm: Realm, username: str, password: str) -> AvayaUser | None:
        user = realm.users.get(username.lower())
        if user is None or not hmac.compare_digest(password.encode(), user.password.encode()):
            return None
        return user

    # --- discovery and keys --------------------------------------------------------------------------

    def discovery(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        iss = realm.issuer(req.base)
        oidc = iss + "/protocol/openid-connect"
        methods = ["private_key_jwt", "client_secret_basic", "client_secret_post"]
        return Reply(json={
            "issuer": iss,
            "authorization_endpoint": oidc + "/auth",
            "token_endpoint": oidc + "/token",
            "introspection_endpoint": oidc + "/token/introspect",
            "userinfo_endpoint": oidc + "/userinfo",
            "end_session_endpoint": oidc + "/logout",
            "jwks_uri": oidc + "/certs",
            "revocation_endpoint": oidc + "/revoke",
            "grant_types_supported": list(GRANTS),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [realm.config.alg],
            "userinfo_signing_alg_values_supported": ["none"],
            "token_endpoint_auth_methods_supported": methods,
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "introspection_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": methods,
            "code_challenge_methods_supported": list(pkce.METHODS),
            "claims_supported": ["aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username",
                                 "email", "email_verified", "acr", "azp", "sid"],
            "scopes_supported": ["openid", "profile", "email", "offline_access", *realm.scopes],
            "request_parameter_supported": False,
            "claims_parameter_supported": False,
        })

    def certs(self, req: Request) -> Reply:
        return Reply(json=self.realm_of(req).keyset.jwks())

    def realm_info(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        iss = realm.issuer(req.base)
        return Reply(json={
            "realm": realm.name,
            "public_key": realm.keyset.active.public_key_der_b64(),
            "token-service": iss + "/protocol/openid-connect",
            "account-service": iss + "/account",
            "tokens-not-before": 0,
        })

    # --- the token endpoint --------------------------------------------------------------------------

    def token(self, req: Request) -> Reply:
        # Keycloak's order: realm, grant_type, client authentication, duplicated parameters, the grant's checks.
        realm = self.realm_of(req)
        grant_type = req.param("grant_type")
        if grant_type is None:
            raise kc_error("invalid_request", "Missing form parameter: grant_type")
        if grant_type not in GRANTS:
            raise kc_error("unsupported_grant_type", "Unsupported grant_type")
        client = self.authenticate_client(realm, req)
        if req.duplicates:
            raise kc_error("invalid_request", "duplicated parameter")
        grant = {
            "client_credentials": self.grant_client_credentials,
            "password": self.grant_password,
            "authorization_code": self.grant_authorization_code,
            "refresh_token": self.grant_refresh_token,
        }[grant_type]
        return grant(realm, client, req)

    def grant_client_credentials(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        if realm.is_public(client):
            raise kc_error("unauthorized_client", "Public client not allowed to retrieve service account", 401)
        if not client.service_account:
            raise kc_error("unauthorized_client", "Client not enabled to retrieve service account", 401)
        scopes = self.granted_scopes(client, req.param("scope"))
        session = self.tokens.new_session(realm, client, None) if realm.config.refresh_tokens_for_client_credentials else None
        return self.tokens.issue(realm, req, client, None, scopes, session)

    def grant_password(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        if not client.direct_access:
            raise kc_error("unauthorized_client", "Client not allowed for direct access grants")
        scopes = self.granted_scopes(client, req.param("scope"))  # Keycloak checks the scope before the user
        username = req.param("username")
        if username is None:
            raise kc_error("invalid_request", "Missing parameter: username", 401)  # Keycloak's ValidateUsername
        user = realm.users.get(username.lower())
        if user is None:
            raise kc_error("invalid_grant", "Invalid user credentials", 401)  # seed 001: 401
        if not user.enabled:
            raise kc_error("invalid_grant", "Account disabled")  # judged before the password, as Keycloak does
        if self.user_by_password(realm, username, req.param("password") or "") is None:
            raise kc_error("invalid_grant", "Invalid user credentials", 401)
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
        if not self.tokens.take_refresh(claims):
            self.tokens.detach(session["sid"], session["expires"])  # refresh token reuse: Keycloak detaches the client session
            raise kc_error("invalid_grant", "Maximum allowed refresh token reuse exceeded")
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

    # --- userinfo, introspection, revocation, logout ----------------------------------------------------

    def userinfo(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        token = req.bearer or req.param("access_token")
        if token is None:
            return Reply(401, headers={"www-authenticate": f'Bearer realm="{realm.name}"'}, error="invalid_token")
        try:
            claims = self.tokens.verify_access_token(realm, req, token)
        except TokenInvalid:
            challenge = f'Bearer realm="{realm.name}", error="invalid_token", error_description="Token verification failed"'
            return Reply(401, json={"error": "invalid_token", "error_description": "Token verification failed"},
                         headers={"www-authenticate": challenge}, error="invalid_token")
        if "openid" not in claims.get("scope", "").split():
            raise OAuthError("insufficient_scope", "Missing openid scope", 403)
        out = {"sub": claims["sub"]}
        out.update({k: claims[k] for k in ("email_verified", "name", "preferred_username", "given_name", "family_name", "email") if k in claims})
        return Reply(json=out)

    def introspect(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        client = self.authenticate_client(realm, req)
        if realm.is_public(client):
            raise OAuthError("invalid_request", "Client not allowed.", 403)
        token = req.param("token")
        if token is None:
            raise kc_error("invalid_request", "Missing token parameter")
        try:
            claims = self.tokens.verify_access_token(realm, req, token)
        except TokenInvalid:
            refresh = self.tokens.live_refresh_claims(realm, token)
            if refresh is None:
                return Reply(json={"active": False})
            claims = refresh
        out = {k: v for k, v in claims.items() if not k.startswith("mockidp.")}  # not Keycloak's: mockidp's own bookkeeping
        out.update({"client_id": claims.get("azp"), "username": claims.get("preferred_username"), "token_type": claims.get("typ"), "active": True})
        return Reply(json=out)

    def revoke(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        client = self.authenticate_client(realm, req)
        token = req.param("token")
        if token is None:
            raise kc_error("invalid_request", "Missing token parameter")
        refresh = self.tokens.live_refresh_claims(realm, token)
        if refresh is not None and refresh["azp"] == client.client_id:
            self.tokens.take_refresh(refresh)
        else:
            try:
                claims = self.tokens.verify_access_token(realm, req, token)
                if claims.get("azp") == client.client_id:
                    self.tokens.revoke_access_token(claims)
            except TokenInvalid:
                pass  # RFC 7009 §2.2: an invalid token is not an error
        return Reply(200, headers=dict(NO_STORE))

    def logout(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        if req.method == "GET":
            return AvayaBrowser(self).logout_page(realm, req)
        client = self.authenticate_client(realm, req)
        token = req.param("refresh_token")
        if token is None:
            raise kc_error("invalid_request", "Missing parameter: refresh_token")
        claims = self.tokens.refresh_claims(realm, token)
        if claims.get("azp") != client.client_id or not self.tokens.end_session(self.tokens.session_of(claims)):
            raise kc_error("invalid_grant", "Invalid refresh token")
        self.tokens.take_refresh(claims)
        return Reply.empty(204)
