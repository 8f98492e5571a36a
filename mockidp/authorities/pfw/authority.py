"""Lumen Portal Framework (PFW): OAuth2 for people signing in to Control Center, with its own issuer and keys
(seed 000: "an oauth2 based authentication flow used by Control Center for human interactions"; "the 4 JWT flows
are distinct and generate tokens independently, signed by different authorities").

PFW's wire details are not public, so it speaks plain RFC 6749 / OIDC: authorization code with PKCE (S256) through
a login page, rotating single-use refresh tokens, userinfo, discovery, JWKS. Errors: RFC 6749 §5.2 bodies.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from typing import Any

from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.authorities.pfw.world import PfwClient, PfwUser, PfwWorld
from mockidp.errors import OAuthError
from mockidp.oauth import pkce
from mockidp.oauth.clientauth import MixedCredentials, presented_credentials
from mockidp.oauth.codes import Grants
from mockidp.oauth.pages import SignIn, error_page, error_redirect, redirect_debug, redirect_with
from mockidp.oauth.redirects import allowed
from mockidp.oauth.token_endpoint import NO_STORE, TokenEndpoint, token_reply
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, sign, verify

SCOPES = ("openid", "profile", "email", "offline_access")
AUDIENCE = "control-center"  # what every PFW access token is for


def pfw_error(error: str, description: str, status: int = 400, **headers: str) -> OAuthError:
    return OAuthError(error, description, status, headers={**NO_STORE, **headers})


class PfwTokenErrors:
    def duplicated(self, names: Sequence[str]) -> OAuthError:
        return pfw_error("invalid_request", f"Parameters sent more than once: {', '.join(names)}")

    def missing_grant_type(self) -> OAuthError:
        return pfw_error("invalid_request", "grant_type is required")

    def unsupported_grant_type(self, grant_type: str) -> OAuthError:
        return pfw_error("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}")


class Pfw(Authority):
    name = "pfw"
    title = "Lumen Portal Framework"
    prefix = "/pfw"
    config: PfwWorld
    world_type = PfwWorld

    def load(self) -> None:
        self.clients = {c.client_id: c for c in self.config.clients}
        self.users = {u.username.lower(): u for u in self.config.users}
        self.token = TokenEndpoint[str, PfwClient](
            issuer_of=lambda req: req.base, authenticate=self.authenticate_client, errors=PfwTokenErrors(),
            grants={"authorization_code": self.grant_authorization_code, "refresh_token": self.grant_refresh_token},
        )

    @property
    def grants(self) -> Grants:
        return Grants(self.services.store, "pfw")

    def issuers(self) -> list[Issuer]:
        return [Issuer("pfw", self.keyset("pfw"), "", "/.well-known/openid-configuration", "/jwks", "/oauth2/token")]

    def mint_defaults(self, issuer: Issuer, base: str) -> dict[str, Any]:
        return {"aud": AUDIENCE}

    def demo_lines(self) -> list[str]:
        return [f"client {c.client_id} / {c.secret or '(public)'}" for c in self.config.clients] + [
            f"user {u.username} / {u.password}" for u in self.config.users
        ]

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("/.well-known/openid-configuration", "discovery", self.discovery),
            Endpoint("/jwks", "jwks", self.jwks),
            Endpoint("/oauth2/authorize", "authorize", self.authorize, ("GET", "POST")),
            Endpoint("/oauth2/token", "token", lambda req: self.token(req), ("POST",)),
            Endpoint("/oauth2/userinfo", "userinfo", self.userinfo, ("GET", "POST")),
        ]

    def discovery(self, req: Request) -> Reply:
        iss = req.base
        return Reply(json={
            "issuer": iss,
            "authorization_endpoint": iss + "/oauth2/authorize",
            "token_endpoint": iss + "/oauth2/token",
            "userinfo_endpoint": iss + "/oauth2/userinfo",
            "jwks_uri": iss + "/jwks",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": list(SCOPES),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "email", "preferred_username", "accounts"],
            "authorization_response_iss_parameter_supported": True,
        })

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.issuers()[0].keyset.jwks())

    # --- the login page ------------------------------------------------------------------------------

    def authorize(self, req: Request) -> Reply:
        params = dict(req.query) if req.method == "GET" else dict(req.form)
        client = self.clients.get(params.get("client_id", ""))
        if client is None:  # RFC 6749 §4.1.2.1: never redirect to an unverified client
            return error_page(self.title, "Unknown client_id.", look="plain", debug=[
                ("client_id sent", params.get("client_id", "") or "(none)"), ("clients registered", "\n".join(self.clients) or "(none)")])
        redirect_uri = params.get("redirect_uri") or ""
        if not allowed(redirect_uri, client.redirect_uris, confidential=client.secret is not None):
            return error_page(self.title, "Invalid parameter: redirect_uri", look="plain",
                              debug=redirect_debug(client.client_id, redirect_uri, client.redirect_uris))
        state, iss = params.get("state"), req.base

        def fail(error: str, description: str) -> Reply:
            return error_redirect(redirect_uri, error, description, state, iss)

        if params.get("response_type") != "code":
            return fail("unsupported_response_type", "response_type must be code")
        challenge, method = params.get("code_challenge"), params.get("code_challenge_method") or "plain"
        if challenge is None and client.require_pkce:
            return fail("invalid_request", "code_challenge is required (PKCE, S256)")
        if challenge is not None and method != "S256":
            return fail("invalid_request", "code_challenge_method must be S256")
        scopes = (params.get("scope") or "openid").split()
        if any(s not in SCOPES for s in scopes):
            return fail("invalid_scope", f"Unknown scope: {' '.join(s for s in scopes if s not in SCOPES)}")
        signed_in = SignIn(self.title, lambda name: self.users.get(name.lower()), lambda u: u.password, lambda u: u.enabled,
                           [u.username for u in self.config.users if u.enabled]).step(req, params)
        if signed_in is None:
            return fail("access_denied", "The user denied the request")
        if isinstance(signed_in, Reply):
            return signed_in
        user = signed_in
        now = self.now
        family = self.grants.start_family({"username": user.username, "client_id": client.client_id, "auth_time": int(now)},
                                          now + self.config.refresh_token_lifetime)
        code = self.grants.issue("code", family, {
            "client_id": client.client_id, "redirect_uri": redirect_uri, "scope": " ".join(scopes), "nonce": params.get("nonce"),
            "code_challenge": challenge, "code_challenge_method": method if challenge else None, "username": user.username,
        }, now + self.config.code_lifetime)
        return redirect_with(redirect_uri, {"code": code, "state": state, "iss": iss})

    # --- the token endpoint --------------------------------------------------------------------------

    def authenticate_client(self, issuer: str, req: Request, grant_type: str) -> PfwClient:
        try:
            creds = presented_credentials(req)
        except MixedCredentials as exc:  # RFC 6749 §2.3
            raise pfw_error("invalid_request", str(exc)) from exc
        client = self.clients.get(creds.client_id or "")
        challenge = {"www-authenticate": 'Basic realm="pfw"'} if req.basic else {}
        if client is None:
            raise pfw_error("invalid_client", "Unknown client", 401, **challenge)
        if client.secret is None:
            if creds.secret is not None:
                raise pfw_error("invalid_client", "A public client has no secret", 401, **challenge)
            return client
        if creds.secret is None or not hmac.compare_digest(creds.secret.encode(), client.secret.encode()):
            raise pfw_error("invalid_client", "Client authentication failed", 401, **challenge)
        return client

    def grant_authorization_code(self, issuer: str, client: PfwClient, req: Request) -> Reply:
        code = req.param("code")
        if code is None:
            raise pfw_error("invalid_request", "code is required")
        grant = self.grants.spend("code", code, self.now)
        if grant is None:
            raise pfw_error("invalid_grant", "The authorization code is invalid, expired or already used")
        if grant["client_id"] != client.client_id:
            raise pfw_error("invalid_grant", "The authorization code was issued to another client")
        if req.param("redirect_uri") != grant["redirect_uri"]:  # RFC 6749 §4.1.3
            raise pfw_error("invalid_grant", "redirect_uri does not match the authorization request")
        failure = pkce.failure(grant["code_challenge"], grant["code_challenge_method"], req.param("code_verifier"))
        if failure is not None:
            raise pfw_error("invalid_grant", f"PKCE verification failed: {failure}")
        return self.issue(req, client, self.user(grant["username"]), grant["scope"], grant["family"], nonce=grant.get("nonce"))

    def grant_refresh_token(self, issuer: str, client: PfwClient, req: Request) -> Reply:
        token = req.param("refresh_token")
        if token is None:
            raise pfw_error("invalid_request", "refresh_token is required")
        held = self.grants.peek("refresh", token, self.now)
        if held is not None and held["client_id"] != client.client_id:  # checked before spending: not this client's to spend
            raise pfw_error("invalid_grant", "The refresh token was issued to another client")
        grant = self.grants.spend("refresh", token, self.now)  # rotation: a spent token replayed ends the family
        if grant is None:
            raise pfw_error("invalid_grant", "The refresh token is invalid, expired or already used")
        scopes, asked = grant["scope"].split(), (req.param("scope") or "").split()
        if any(s not in scopes for s in asked):
            raise pfw_error("invalid_scope", "A refresh may narrow the scope, never widen it")
        return self.issue(req, client, self.user(grant["username"]), " ".join(asked) or grant["scope"], grant["family"])

    def user(self, username: str) -> PfwUser:
        user = self.users.get(username.lower())
        if user is None or not user.enabled:
            raise pfw_error("invalid_grant", "The user no longer exists or is disabled")
        return user

    def subject(self, user: PfwUser) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pfw/{user.username.lower()}"))

    def issue(self, req: Request, client: PfwClient, user: PfwUser, scope: str, family: str, nonce: str | None = None) -> Reply:
        now = int(self.now)
        session = self.grants.family(family, self.now) or {}
        lifetime = self.config.access_token_lifetime
        claims: dict[str, Any] = {
            "iss": req.base, "sub": self.subject(user), "aud": AUDIENCE, "azp": client.client_id, "scope": scope,
            "preferred_username": user.username, "accounts": list(user.accounts), "bans": list(user.bans), "sid": family,
            "iat": now, "nbf": now, "exp": now + lifetime, "jti": str(uuid.uuid4()), **self.planned_claims(client.client_id),
        }
        access = sign(self.issuers()[0].keyset, claims, typ="at+jwt")  # RFC 9068's type: never mistaken for an ID token
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}
        body["refresh_token"] = self.grants.issue("refresh", family, {"client_id": client.client_id, "username": user.username, "scope": scope},
                                                  self.now + self.config.refresh_token_lifetime)
        issued = [access]
        if "openid" in scope.split():
            id_claims = {"iss": req.base, "sub": claims["sub"], "aud": client.client_id, "azp": client.client_id,
                         "auth_time": session.get("auth_time", now), "iat": now, "exp": now + lifetime, "sid": family,
                         **({"nonce": nonce} if nonce else {}), **self.profile(user, scope)}
            body["id_token"] = sign(self.issuers()[0].keyset, id_claims)
            issued.append(body["id_token"])
        return token_reply(body, issued=issued)

    @staticmethod
    def profile(user: PfwUser, scope: str) -> dict[str, Any]:
        out: dict[str, Any] = {"preferred_username": user.username}
        if "profile" in scope.split():
            out["name"] = user.name
        if "email" in scope.split():
            out.update({"email": user.email, "email_verified": True})
        return out

    # --- accepting its tokens ------------------------------------------------------------------------

    def capabilities(self) -> dict[str, Any]:
        return {"pfw.verify-access-token": self.verify_access_token_at}

    def verify_access_token_at(self, token: str, root: str) -> dict[str, Any]:
        """As `verify_access_token`, for a request that reached another authority under `root` (scheme://host)."""
        return self.verify_access_token(token, (root + self.prefix,))

    def verify_access_token(self, token: str, bases: tuple[str, ...] = ()) -> dict[str, Any]:
        """A PFW access token's claims: PFW's signature, expiry, an issuer of PFW, a live sign-in."""
        header, claims = verify(token, self.issuers()[0].keyset, now=self.now)
        if header.get("typ") != "at+jwt":
            raise TokenInvalid("type", "not a PFW access token")
        if claims.get("iss") not in (*bases, self.default_base()):
            raise TokenInvalid("issuer", "token issued by another PFW issuer")
        if claims.get("aud") != AUDIENCE:  # found by the JWT attack catalogue: a token of another audience was taken
            raise TokenInvalid("audience", f"aud {claims.get('aud')!r} is not {AUDIENCE}")
        if self.grants.family(str(claims.get("sid")), self.now) is None:
            raise TokenInvalid("session", "the sign-in ended (a code or refresh token was replayed)")
        return claims

    def userinfo(self, req: Request) -> Reply:
        token = req.bearer or req.param("access_token")
        if token is None:
            return Reply(401, headers={"www-authenticate": 'Bearer realm="pfw"'}, error="invalid_token")
        try:
            claims = self.verify_access_token(token, (req.base,))
        except TokenInvalid as exc:
            raise pfw_error("invalid_token", f"The access token is invalid: {exc}", 401,
                            **{"www-authenticate": f'Bearer realm="pfw", error="invalid_token", error_description="{exc.reason}"'}) from exc
        user = self.user(str(claims["preferred_username"]))
        out = {"sub": claims["sub"], **self.profile(user, str(claims.get("scope", ""))), "accounts": list(user.accounts)}
        return Reply(json=out)
