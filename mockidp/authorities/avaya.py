"""Avaya Experience Platform A&A: a Keycloak server (with the legacy `/auth` path) holding one realm per account.

Seed 001 is the product's contract and wins over stock Keycloak where they differ: 404 for an unknown account,
400 for an invalid client_id, "Invalid client secret", `expires_in` 900 / `refresh_expires_in` 9000,
lower-case `"token_type": "bearer"`, and a refresh token with client credentials.
Wire facts otherwise follow Keycloak (shared/reference/keycloak.md).
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.errors import OAuthError
from mockidp.keys import KeySet
from mockidp.oauth import pkce
from mockidp.oauth.assertions import ClientKey, verify_assertion
from mockidp.oauth.clientauth import JWT_BEARER, presented_credentials
from mockidp.oauth.pages import error_page, login_page, redirect_with
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, peek, sign, sign_hmac, verify

CLIENT_ID = re.compile(r"[A-Za-z0-9-]+")  # seed: letters, numbers and '-'; case-insensitive
GRANTS = ("authorization_code", "password", "client_credentials", "refresh_token")
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


# --- world data ----------------------------------------------------------------------------------


@dataclass
class AvayaClient:
    client_id: str
    secret: str | None = None  # None and no keys: a public client
    enabled: bool = True
    service_account: bool = True  # client_credentials
    direct_access: bool = True  # password grant
    standard_flow: bool = True  # authorization code
    redirect_uris: list[str] = field(default_factory=lambda: ["*"])  # Keycloak patterns: exact, or ending in '*'
    roles: list[str] = field(default_factory=list)  # the service account's realm roles
    client_roles: dict[str, list[str]] = field(default_factory=dict)  # the service account's roles per client
    default_scopes: list[str] = field(default_factory=lambda: ["profile", "email"])
    optional_scopes: list[str] = field(default_factory=list)
    jwks: dict[str, Any] | None = None  # private_key_jwt with a registered JWKS
    certificate: str | None = None  # private_key_jwt with a registered certificate: PEM text or a path


@dataclass
class AvayaUser:
    username: str
    password: str
    enabled: bool = True
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    roles: list[str] = field(default_factory=list)
    client_roles: dict[str, list[str]] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)  # extra claims put in the user's tokens


@dataclass
class AvayaScope:
    """A client scope (an Avaya API): granting it adds its roles to the token."""

    name: str
    roles: list[str] = field(default_factory=list)
    client_roles: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class AvayaRealm:
    account_id: str
    enabled: bool = True
    access_token_lifespan: int = 900
    refresh_token_lifespan: int = 9000
    code_lifespan: int = 60
    alg: Literal["RS256", "PS256", "ES256"] = "RS256"
    refresh_tokens_for_client_credentials: bool = True  # the seed's client-credentials answer has one
    clients: list[AvayaClient] = field(default_factory=list)
    users: list[AvayaUser] = field(default_factory=list)
    scopes: list[AvayaScope] = field(default_factory=list)


@dataclass
class AvayaApiRoute:
    """A route of the stand-in Avaya API under /avaya/api: which roles (any of) and scopes (all of) it needs."""

    path: str
    method: str = "GET"
    roles: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)


@dataclass
class AvayaWorld:
    realms: list[AvayaRealm] = field(default_factory=list)
    api_routes: list[AvayaApiRoute] = field(default_factory=list)

    def finish(self, base_dir: Path, seed: int) -> None:
        from mockidp.identities import Identities

        names = Identities(seed)
        seen: set[str] = set()
        for r, realm in enumerate(self.realms):
            if realm.account_id in seen:
                raise ValueError(f"avaya.realms[{r}].account_id: duplicate realm {realm.account_id!r}")
            seen.add(realm.account_id)
            scope_names = {"openid", "offline_access", "profile", "email"} | {s.name for s in realm.scopes}
            ids: set[str] = set()
            for c, client in enumerate(realm.clients):
                where = f"avaya.realms[{r}].clients[{c}]"
                if not CLIENT_ID.fullmatch(client.client_id):
                    raise ValueError(f"{where}.client_id: only letters, digits and '-' are allowed")
                if client.client_id.lower() in ids:
                    raise ValueError(f"{where}.client_id: duplicate (client ids are case-insensitive)")
                ids.add(client.client_id.lower())
                for s in [*client.default_scopes, *client.optional_scopes]:
                    if s not in scope_names:
                        raise ValueError(f"{where}: scope {s!r} is not defined in the realm's scopes")
                if client.certificate and not client.certificate.lstrip().startswith("-----"):
                    path = (base_dir / client.certificate).resolve()
                    if not path.is_file():
                        raise ValueError(f"{where}.certificate: no file {path}")
                    client.certificate = path.read_text()
            for u, user in enumerate(realm.users):
                if not (user.first_name and user.last_name and user.email):
                    given, family, email = names.person(f"avaya/{realm.account_id}/{user.username}")
                    user.first_name, user.last_name = user.first_name or given, user.last_name or family
                    user.email = user.email or email


# --- runtime --------------------------------------------------------------------------------------


class Realm:
    def __init__(self, config: AvayaRealm, keys: Callable[[], KeySet]) -> None:
        self.config = config
        self.name = config.account_id
        self._keys = keys
        self.refresh_secret = secrets.token_bytes(64)  # HS512 for refresh tokens, as Keycloak signs them
        self.clients = {c.client_id.lower(): c for c in config.clients}
        self.users = {u.username.lower(): u for u in config.users}
        self.scopes = {s.name: s for s in config.scopes}
        self.client_keys: dict[str, list[ClientKey]] = {}
        for c in config.clients:
            keys = ClientKey.from_jwks(c.jwks) if c.jwks else []
            if c.certificate:
                keys.append(ClientKey.from_certificate(c.certificate.encode()))
            self.client_keys[c.client_id.lower()] = keys

    @property
    def keyset(self) -> KeySet:
        """Loaded on first use: a realm nobody calls costs no key load."""
        return self._keys()

    def issuer(self, base: str) -> str:
        return f"{base}/auth/realms/{self.name}"


def _kc_error(error: str, description: str | None, status: int = 400) -> OAuthError:
    return OAuthError(error, description, status, headers=dict(NO_STORE))


INVALID_CLIENT = "Invalid client or Invalid client credentials"


class Avaya(Authority):
    name = "avaya"
    title = "Avaya Experience Platform (Keycloak)"
    prefix = "/avaya"
    host_patterns = (r"[a-z0-9-]+\.cc\.avayacloud\.com",)
    cert_hostnames = ('*.cc.avayacloud.com',)
    config: AvayaWorld

    def load(self) -> None:
        self.realms = {
            r.account_id: Realm(r, partial(self.keyset, f"realm-{r.account_id}", r.alg)) for r in self.config.realms
        }

    def issuers(self) -> list[Issuer]:
        return [
            Issuer(r.name, r.keyset, f"/auth/realms/{r.name}", f"/auth/realms/{r.name}/.well-known/openid-configuration", f"/auth/realms/{r.name}/protocol/openid-connect/certs")
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
        return _kc_error(name, description or text, status)

    def endpoints(self) -> list[Endpoint]:
        from mockidp.gateways.avaya_api import AvayaApi

        realm = "/auth/realms/{realm}"
        oidc = realm + "/protocol/openid-connect"
        api = AvayaApi(self)
        return [
            Endpoint(realm, "realm", self.realm_info),
            Endpoint(realm + "/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint(oidc + "/token", "token", self.token, ("POST",)),
            Endpoint(oidc + "/auth", "auth", self.authorize, ("GET", "POST")),
            Endpoint(oidc + "/userinfo", "userinfo", self.userinfo, ("GET", "POST")),
            Endpoint(oidc + "/certs", "certs", self.certs),
            Endpoint(oidc + "/token/introspect", "introspect", self.introspect, ("POST",)),
            Endpoint(oidc + "/revoke", "revoke", self.revoke, ("POST",)),
            Endpoint(oidc + "/logout", "logout", self.logout, ("GET", "POST")),
            Endpoint("/api/{path:path}", "api", api.handle, ("GET", "POST", "PUT", "PATCH", "DELETE")),
        ]

    # --- helpers ---------------------------------------------------------------------------------

    def realm_of(self, req: Request) -> Realm:
        realm = self.realms.get(req.path_params.get("realm", ""))
        if realm is None:
            raise OAuthError("Realm does not exist", None, 404)  # Keycloak's body: {"error":"Realm does not exist"}
        if not realm.config.enabled:
            raise _kc_error("access_denied", "Realm not enabled", 403)
        return realm

    def authenticate_client(self, realm: Realm, req: Request, endpoint_url: str) -> AvayaClient:
        creds = presented_credentials(req)
        if not creds.client_id and creds.assertion:
            try:
                creds = type(creds)(creds.method, peek(creds.assertion)[1].get("sub"), assertion=creds.assertion, assertion_type=creds.assertion_type)
            except TokenInvalid:
                pass
        if not creds.client_id:
            raise _kc_error("invalid_client", "Missing client_id parameter", 400)
        client = realm.clients.get(creds.client_id.lower()) if CLIENT_ID.fullmatch(creds.client_id) else None
        if client is None:
            raise _kc_error("invalid_client", INVALID_CLIENT, 400)  # seed: 400 when client_id is invalid
        if not client.enabled:
            raise _kc_error("invalid_client", INVALID_CLIENT, 401)
        keys = realm.client_keys[client.client_id.lower()]
        if creds.method == "private_key_jwt":
            if creds.assertion_type != JWT_BEARER:
                raise _kc_error("invalid_client", "Parameter client_assertion_type is missing or invalid", 400)
            if not keys or not creds.assertion:
                raise _kc_error("unauthorized_client", "Client authentication with signed JWT failed: no key registered for the client", 401)
            issuer = realm.issuer(req.base)
            try:
                verify_assertion(
                    creds.assertion, keys, client_id=client.client_id, audiences={issuer, issuer + "/protocol/openid-connect/token", endpoint_url},
                    now=self.now, store=self.engine.store,
                )
            except TokenInvalid as exc:
                raise _kc_error("unauthorized_client", f"Client authentication with signed JWT failed: {exc}", 401) from exc
            return client
        if client.secret is None:
            if keys:
                raise _kc_error("unauthorized_client", "Client authentication with signed JWT failed: client_assertion missing", 401)
            return client  # a public client
        if creds.secret is None:
            raise _kc_error("unauthorized_client", "Client secret not provided in request", 401)
        if not hmac.compare_digest(creds.secret.encode(), client.secret.encode()):
            raise _kc_error("unauthorized_client", "Invalid client secret", 401)  # seed 001's body
        return client

    def granted_scopes(self, client: AvayaClient, requested: str | None) -> list[str]:
        asked = (requested or "").split()
        allowed = {"openid", *client.default_scopes, *client.optional_scopes}
        if any(s not in allowed for s in asked):
            raise _kc_error("invalid_scope", f"Invalid scopes: {requested}")
        granted = [s for s in asked if s == "openid"] + list(client.default_scopes)
        granted += [s for s in asked if s not in granted]
        return granted

    # --- discovery and keys ------------------------------------------------------------------------

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
            "claims_supported": ["aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username", "email", "email_verified", "acr", "azp", "sid"],
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
        realm = self.realm_of(req)
        grant_type = req.param("grant_type")
        if grant_type is None:
            raise _kc_error("invalid_request", "Missing form parameter: grant_type")
        if grant_type not in GRANTS:
            raise _kc_error("unsupported_grant_type", "Unsupported grant_type")
        client = self.authenticate_client(realm, req, req.base + req.path)
        if req.duplicates:
            raise _kc_error("invalid_request", "duplicated parameter")
        grant = {
            "client_credentials": self.grant_client_credentials,
            "password": self.grant_password,
            "authorization_code": self.grant_authorization_code,
            "refresh_token": self.grant_refresh_token,
        }[grant_type]
        return grant(realm, client, req)

    def grant_client_credentials(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        if client.secret is None and not realm.client_keys[client.client_id.lower()]:
            raise _kc_error("unauthorized_client", "Public client not allowed to retrieve service account", 401)
        if not client.service_account:
            raise _kc_error("unauthorized_client", "Client not enabled to retrieve service account", 401)
        scopes = self.granted_scopes(client, req.param("scope"))
        session = self.new_session(realm, client, None, scopes) if realm.config.refresh_tokens_for_client_credentials else None
        return self.issue(realm, req, client, None, scopes, session)

    def grant_password(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        if not client.direct_access:
            raise _kc_error("unauthorized_client", "Client not allowed for direct access grants")
        username, password = req.param("username"), req.param("password")
        if username is None:
            raise _kc_error("invalid_request", "Missing parameter: username")
        user = self.check_password(realm, username, password or "")
        if user is None:
            raise _kc_error("invalid_grant", "Invalid user credentials", 401)  # seed: 401
        if not user.enabled:
            raise _kc_error("invalid_grant", "Account disabled")
        scopes = self.granted_scopes(client, req.param("scope"))
        return self.issue(realm, req, client, user, scopes, self.new_session(realm, client, user, scopes))

    def check_password(self, realm: Realm, username: str, password: str) -> AvayaUser | None:
        user = realm.users.get(username.lower())
        if user is None or not hmac.compare_digest(password.encode(), user.password.encode()):
            return None
        return user

    def grant_authorization_code(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        code = req.param("code")
        if code is None:
            raise _kc_error("invalid_request", "Missing parameter: code")
        grant = self.engine.store.take("avaya-code", code, self.now)
        if grant is None or grant["realm"] != realm.name:
            raise _kc_error("invalid_grant", "Code not valid")
        if grant["client_id"] != client.client_id:
            raise _kc_error("invalid_grant", "Auth error")
        if grant.get("redirect_uri") and req.param("redirect_uri") != grant["redirect_uri"]:
            raise _kc_error("invalid_grant", "Incorrect redirect_uri")
        if grant.get("code_challenge"):
            verifier = req.param("code_verifier")
            if verifier is None:
                raise _kc_error("invalid_grant", "PKCE code verifier not specified")
            if not pkce.verify(verifier, grant["code_challenge"], grant["code_challenge_method"]):
                raise _kc_error("invalid_grant", "PKCE verification failed: Code mismatch")
        session = self.engine.store.get("avaya-session", grant["sid"], self.now)
        user = realm.users.get(grant["username"].lower())
        if session is None or user is None:
            raise _kc_error("invalid_grant", "Session not active")
        return self.issue(realm, req, client, user, grant["scopes"], session, nonce=grant.get("nonce"))

    def grant_refresh_token(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        token = req.param("refresh_token")
        if token is None:
            raise _kc_error("invalid_request", "Missing parameter: refresh_token")
        claims = self.refresh_claims(realm, token)
        if claims.get("azp") != client.client_id:
            raise _kc_error("invalid_grant", "Invalid refresh token")
        if claims["exp"] <= self.now:
            raise _kc_error("invalid_grant", "Token is not active")
        session = self.engine.store.get("avaya-session", claims["sid"], self.now)
        if session is None:
            raise _kc_error("invalid_grant", "Session not active")
        if self.engine.store.take("avaya-refresh", claims["jti"], self.now) is None:
            raise _kc_error("invalid_grant", "Maximum allowed refresh token reuse exceeded")
        user = realm.users.get(session["username"].lower()) if session.get("username") else None
        if session.get("username") and (user is None or not user.enabled):
            raise _kc_error("invalid_grant", "Session not active")
        scopes = claims["scope"].split()
        asked = req.param("scope")
        if asked and any(s not in scopes for s in asked.split()):
            raise _kc_error("invalid_scope", f"Invalid scopes: {asked}")
        return self.issue(realm, req, client, user, scopes, session)

    def refresh_claims(self, realm: Realm, token: str) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import OctKey

        try:
            claims = jwt.decode(token, OctKey.import_key(realm.refresh_secret), algorithms=["HS512"]).claims
        except (JoseError, ValueError) as exc:
            raise _kc_error("invalid_grant", "Invalid refresh token") from exc
        if claims.get("typ") not in ("Refresh", "Offline"):
            raise _kc_error("invalid_grant", "Invalid refresh token")
        return claims

    # --- issuing -------------------------------------------------------------------------------------

    def new_session(self, realm: Realm, client: AvayaClient, user: AvayaUser | None, scopes: list[str]) -> dict[str, Any]:
        sid = str(uuid.uuid4())
        session = {"sid": sid, "realm": realm.name, "client_id": client.client_id, "username": user.username if user else None, "auth_time": int(self.now)}
        self.engine.store.put("avaya-session", sid, session, self.now + realm.config.refresh_token_lifespan)
        return session

    def roles(self, realm: Realm, principal: AvayaUser | AvayaClient, scopes: list[str]) -> tuple[list[str], dict[str, list[str]]]:
        realm_roles = list(principal.roles)
        client_roles = {k: list(v) for k, v in principal.client_roles.items()}
        for name in scopes:
            scope = realm.scopes.get(name)
            if scope is None:
                continue
            realm_roles += [r for r in scope.roles if r not in realm_roles]
            for cid, roles in scope.client_roles.items():
                client_roles.setdefault(cid, [])
                client_roles[cid] += [r for r in roles if r not in client_roles[cid]]
        return realm_roles, client_roles

    def access_claims(self, realm: Realm, req: Request, client: AvayaClient, user: AvayaUser | None, scopes: list[str], session: dict[str, Any] | None) -> dict[str, Any]:
        now = int(self.now)
        realm_roles, client_roles = self.roles(realm, user or client, scopes)
        audiences = [cid for cid in client_roles if cid != client.client_id] or ["account"]
        claims: dict[str, Any] = {
            "exp": now + realm.config.access_token_lifespan,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": realm.issuer(req.base),
            "aud": audiences[0] if len(audiences) == 1 else audiences,
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{realm.name}/{user.username if user else 'service-account-' + client.client_id}")),
            "typ": "Bearer",
            "azp": client.client_id,
        }
        if session is not None:
            claims["sid"] = session["sid"]
        claims["acr"] = "1"
        if realm_roles:
            claims["realm_access"] = {"roles": realm_roles}
        if client_roles:
            claims["resource_access"] = {cid: {"roles": roles} for cid, roles in client_roles.items()}
        claims["scope"] = " ".join(scopes)
        if user is None:
            claims.update({"clientHost": req.client_host, "email_verified": False, "preferred_username": f"service-account-{client.client_id.lower()}", "clientAddress": req.client_host, "client_id": client.client_id})
        else:
            claims.update(self.profile(user, scopes))
            claims.update(user.claims)
        return claims

    def profile(self, user: AvayaUser, scopes: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"email_verified": True}
        if "profile" in scopes:
            out.update({"name": f"{user.first_name} {user.last_name}", "preferred_username": user.username.lower(), "given_name": user.first_name, "family_name": user.last_name})
        else:
            out["preferred_username"] = user.username.lower()
        if "email" in scopes and user.email:
            out["email"] = user.email
        return out

    def issue(self, realm: Realm, req: Request, client: AvayaClient, user: AvayaUser | None, scopes: list[str], session: dict[str, Any] | None, nonce: str | None = None) -> Reply:
        claims = self.access_claims(realm, req, client, user, scopes, session)
        access = sign(realm.keyset, claims)
        body: dict[str, Any] = {"access_token": access, "expires_in": realm.config.access_token_lifespan, "refresh_expires_in": 0}
        issued = [access]
        if session is not None:
            body["refresh_expires_in"] = realm.config.refresh_token_lifespan
            body["refresh_token"] = self.refresh_token(realm, claims, session)
        body["token_type"] = "bearer"  # seed 001: lower case
        if "openid" in scopes:
            body["id_token"] = self.id_token(realm, claims, client, user, session, nonce, access)
            issued.append(body["id_token"])
        body["not-before-policy"] = 0
        if session is not None:
            body["session_state"] = session["sid"]
        body["scope"] = claims["scope"]
        return Reply(json=body, headers=dict(NO_STORE), issued=issued)

    def refresh_token(self, realm: Realm, access: dict[str, Any], session: dict[str, Any]) -> str:
        now = int(self.now)
        claims = {
            "exp": now + realm.config.refresh_token_lifespan, "iat": now, "jti": str(uuid.uuid4()), "iss": access["iss"], "aud": access["iss"],
            "sub": access["sub"], "typ": "Refresh", "azp": access["azp"], "sid": session["sid"], "scope": access["scope"],
        }
        self.engine.store.put("avaya-refresh", claims["jti"], {"sid": session["sid"]}, float(claims["exp"]))
        return sign_hmac(realm.refresh_secret, claims)

    def id_token(self, realm: Realm, access: dict[str, Any], client: AvayaClient, user: AvayaUser | None, session: dict[str, Any] | None, nonce: str | None, access_token: str) -> str:
        import base64
        import hashlib

        digest = hashlib.sha256(access_token.encode()).digest()
        claims: dict[str, Any] = {
            "exp": access["exp"], "iat": access["iat"], "auth_time": (session or {}).get("auth_time", access["iat"]), "jti": str(uuid.uuid4()),
            "iss": access["iss"], "aud": client.client_id, "sub": access["sub"], "typ": "ID", "azp": client.client_id,
        }
        if nonce:
            claims["nonce"] = nonce
        if session is not None:
            claims["sid"] = session["sid"]
        claims["at_hash"] = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
        claims["acr"] = "1"
        claims.update({k: v for k, v in access.items() if k in ("email_verified", "name", "preferred_username", "given_name", "family_name", "email")})
        return sign(realm.keyset, claims)

    # --- token checks shared by userinfo, introspection and the API ---------------------------------

    def verify_access_token(self, realm: Realm, req: Request, token: str) -> dict[str, Any]:
        _, claims = verify(token, realm.keyset, now=self.now)
        if claims.get("iss") not in (realm.issuer(req.base), realm.issuer(self.default_base())):
            raise TokenInvalid("issuer", "token issued by another issuer")
        if claims.get("typ") != "Bearer":
            raise TokenInvalid("type", "not an access token")
        if self.engine.store.get("avaya-revoked", claims["jti"], self.now) is not None:
            raise TokenInvalid("revoked", "token was revoked")
        if "sid" in claims and self.engine.store.get("avaya-session", claims["sid"], self.now) is None:
            raise TokenInvalid("session", "session not active")
        return claims

    def userinfo(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        token = req.bearer or req.param("access_token")
        if token is None:
            return Reply(401, headers={"www-authenticate": f'Bearer realm="{realm.name}"'}, error="invalid_token")
        try:
            claims = self.verify_access_token(realm, req, token)
        except TokenInvalid:
            return Reply(401, json={"error": "invalid_token", "error_description": "Token verification failed"}, error="invalid_token",
                         headers={"www-authenticate": f'Bearer realm="{realm.name}", error="invalid_token", error_description="Token verification failed"'})
        if "openid" not in claims.get("scope", "").split():
            raise OAuthError("insufficient_scope", "Missing openid scope", 403)
        out = {"sub": claims["sub"]}
        out.update({k: claims[k] for k in ("email_verified", "name", "preferred_username", "given_name", "family_name", "email") if k in claims})
        return Reply(json=out)

    def introspect(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        client = self.authenticate_client(realm, req, req.base + req.path)
        if client.secret is None and not realm.client_keys[client.client_id.lower()]:
            raise OAuthError("invalid_request", "Client not allowed.", 403)
        token = req.param("token")
        if token is None:
            raise _kc_error("invalid_request", "Missing token parameter")
        try:
            claims = self.verify_access_token(realm, req, token)
        except TokenInvalid:
            claims = self.live_refresh_claims(realm, token)
            if claims is None:
                return Reply(json={"active": False})
        out = dict(claims)
        out.update({"client_id": claims.get("azp"), "username": claims.get("preferred_username"), "token_type": claims.get("typ"), "active": True})
        return Reply(json=out)

    def live_refresh_claims(self, realm: Realm, token: str) -> dict[str, Any] | None:
        try:
            claims = self.refresh_claims(realm, token)
        except OAuthError:
            return None
        alive = claims["exp"] > self.now and self.engine.store.get("avaya-refresh", claims["jti"], self.now) is not None
        return claims if alive else None

    def revoke(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        client = self.authenticate_client(realm, req, req.base + req.path)
        token = req.param("token")
        if token is None:
            raise _kc_error("invalid_request", "Missing token parameter")
        refresh = self.live_refresh_claims(realm, token)
        if refresh is not None and refresh["azp"] == client.client_id:
            self.engine.store.take("avaya-refresh", refresh["jti"], self.now)
        else:
            try:
                claims = self.verify_access_token(realm, req, token)
                if claims.get("azp") == client.client_id:
                    self.engine.store.put("avaya-revoked", claims["jti"], {}, float(claims["exp"]))
            except TokenInvalid:
                pass  # RFC 7009 §2.2: an invalid token is not an error
        return Reply(200, headers=dict(NO_STORE))

    def logout(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        if req.method == "GET":
            target = req.query.get("post_logout_redirect_uri")
            hint = req.query.get("id_token_hint")
            if hint:
                try:
                    _, claims = verify(hint, realm.keyset, now=self.now, require_exp=False)
                    if "sid" in claims:
                        self.engine.store.take("avaya-session", claims["sid"], self.now)
                except TokenInvalid:
                    return error_page(self.title, "Invalid parameter: id_token_hint")
            if target:
                return redirect_with(target, {"state": req.query.get("state")})
            return Reply(html="<!doctype html><title>Logged out</title><p id='logged-out'>You are logged out.</p>")
        client = self.authenticate_client(realm, req, req.base + req.path)
        token = req.param("refresh_token")
        if token is None:
            raise _kc_error("invalid_request", "Missing parameter: refresh_token")
        claims = self.refresh_claims(realm, token)
        if claims.get("azp") != client.client_id or self.engine.store.take("avaya-session", claims["sid"], self.now) is None:
            raise _kc_error("invalid_grant", "Invalid refresh token")
        self.engine.store.take("avaya-refresh", claims["jti"], self.now)
        return Reply.empty(204)

    # --- the authorization endpoint (login page) --------------------------------------------------------

    def authorize(self, req: Request) -> Reply:
        realm = self.realm_of(req)
        params = dict(req.query) if req.method == "GET" else dict(req.form)
        client = realm.clients.get(params.get("client_id", "").lower())
        if client is None or not client.enabled:
            return error_page(self.title, "Client not found.")
        redirect_uri = params.get("redirect_uri") or ""
        if not redirect_uri or not any(_redirect_ok(p, redirect_uri) for p in client.redirect_uris):
            return error_page(self.title, "Invalid parameter: redirect_uri")
        state = params.get("state")
        iss = realm.issuer(req.base)

        def fail(error: str, description: str) -> Reply:
            reply = redirect_with(redirect_uri, {"error": error, "error_description": description, "state": state, "iss": iss})
            reply.error = error
            return reply

        if params.get("response_type") != "code":
            return fail("unsupported_response_type", "Client is not allowed to initiate browser login with given response_type.")
        if not client.standard_flow:
            return fail("unauthorized_client", "Client is not allowed to initiate browser login with given response_type. Standard flow is disabled for the client.")
        method = params.get("code_challenge_method") or ("plain" if params.get("code_challenge") else None)
        if method is not None and method not in pkce.METHODS:
            return fail("invalid_request", "Invalid parameter: code_challenge_method")
        if method is not None and not params.get("code_challenge"):
            return fail("invalid_request", "Missing parameter: code_challenge")
        try:
            scopes = self.granted_scopes(client, params.get("scope"))
        except OAuthError:
            return fail("invalid_scope", "Invalid scopes: " + params.get("scope", ""))
        action = req.base + req.path
        demo = [u.username for u in realm.config.users if u.enabled]
        if req.method == "GET":
            return login_page(self.title, action, params, demo)
        if req.form.get("action") == "deny":
            return fail("access_denied", "User denied the request")
        username = req.form.get("demo_user") or req.form.get("username", "")
        user = realm.users.get(req.form["demo_user"].lower()) if req.form.get("demo_user") else self.check_password(realm, username, req.form.get("password", ""))
        if user is None:
            return login_page(self.title, action, params, demo, error="Invalid username or password.", username=username, status=200)
        if not user.enabled:
            return login_page(self.title, action, params, demo, error="Account is disabled, contact your administrator.", username=username)
        session = self.new_session(realm, client, user, scopes)
        code = f"{uuid.uuid4()}.{session['sid']}.{uuid.uuid4()}"
        self.engine.store.put("avaya-code", code, {
            "realm": realm.name, "client_id": client.client_id, "redirect_uri": redirect_uri, "scopes": scopes,
            "nonce": params.get("nonce"), "code_challenge": params.get("code_challenge"), "code_challenge_method": method,
            "username": user.username, "sid": session["sid"],
        }, self.now + realm.config.code_lifespan)
        return redirect_with(redirect_uri, {"state": state, "session_state": session["sid"], "iss": iss, "code": code})


def _redirect_ok(pattern: str, uri: str) -> bool:
    """Keycloak's valid redirect URIs: exact match, or a prefix match when the pattern ends in '*'."""
    return uri.startswith(pattern[:-1]) if pattern.endswith("*") else uri == pattern
