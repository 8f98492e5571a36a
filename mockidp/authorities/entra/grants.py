"""Entra's grants for users at `/{tenant}/oauth2/v2.0/token`: `authorization_code` (a code from the login page of
browser.py: single use, 10 minutes, redirect_uri and PKCE checked) and `refresh_token` (opaque, rotated), and
the user tokens they issue: the access token (`scp`, `roles`, pairwise `sub`) and the id_token.

Wire facts: entra-docs `v2-oauth2-auth-code-flow.md`, `access-token-claims-reference.md`, `id-token-claims-reference.md`,
`scopes-oidc.md`, `reference-error-codes.md`. Codes and refresh tokens are opaque secrets in the store, in grant
families (mockidp/oauth/codes.py): a replayed code or refresh token ends its sign-in."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from mockidp.authorities.entra.clientauth import Client
from mockidp.authorities.entra.context import EntraContext
from mockidp.authorities.entra.errors import MALFORMED, invalid_grant, malformed, missing, revoked, stamp
from mockidp.authorities.entra.scopes import ResourceScopes, ScopeRequest, parse_scope
from mockidp.authorities.entra.tenant import v2_issuer
from mockidp.authorities.entra.tokens import common_claims, opaque, sign_access_token
from mockidp.authorities.entra.world import EntraApp, EntraTenant, EntraUser, assigned_roles
from mockidp.oauth import pkce
from mockidp.oauth.codes import Grants
from mockidp.oauth.token_endpoint import NO_STORE_NO_CACHE, token_reply
from mockidp.request import Reply, Request
from mockidp.tokens import sign

CODE_LIFETIME = 600  # v2-oauth2-auth-code-flow.md: codes are short lived, "typically after about 10 minutes"
REMEMBER = 3600  # how long a spent or expired code / refresh token is kept, to answer 54005 / 70008, not "malformed"
ID_TOKEN_LIFETIME = 3600
USED_CODE, USED_REFRESH = "entra-code-used", "entra-refresh-used"


def grants(entra: EntraContext) -> Grants:
    return Grants(entra.services.store, "entra")


class UserGrants:
    """`authorization_code` and `refresh_token`, entries of the token endpoint's grant map (authority.py)."""

    def __init__(self, entra: EntraContext) -> None:
        self.entra = entra

    @staticmethod
    def required(req: Request, name: str) -> str:
        """The secret a user grant redeems (`code`, `refresh_token`): AADSTS900144 when it is not sent."""
        value = req.param(name)
        if value is None:
            raise missing(name)
        return value

    def redeem_code(self, tenant: EntraTenant, client: Client, req: Request) -> Reply:
        app, acr, code = client.app, client.acr, self.required(req, "code")
        now, store = self.entra.now, self.entra.services.store
        grant = grants(self.entra).spend("code", code, now)  # spent whatever follows: a code is tried once
        if grant is None:
            if store.get(USED_CODE, code, now) is not None:  # replayed: spend() has ended its sign-in too
                raise invalid_grant(54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
            raise invalid_grant(*MALFORMED)
        store.put(USED_CODE, code, {}, now + REMEMBER)
        if now >= grant["valid_until"]:
            raise invalid_grant(70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
        if grant["tenant_id"] != tenant.tenant_id or grant["client_id"] != app.app_id:
            raise invalid_grant(70000, "Provided grant is invalid or malformed.")
        redirect_uri = req.param("redirect_uri")
        if redirect_uri is None:
            raise missing("redirect_uri")
        if redirect_uri != grant["redirect_uri"]:
            raise invalid_grant(500112, f"The reply address '{redirect_uri}' does not match the reply address '{grant['redirect_uri']}' provided when requesting Authorization code.")
        verifier = req.param("code_verifier")
        failure = pkce.failure(grant["code_challenge"], grant["code_challenge_method"], verifier)
        if failure is not None:
            if verifier is None or not grant["code_challenge"]:  # no verifier, or a verifier for no challenge (RFC 9700 §2.1.1)
                raise malformed(failure)
            raise invalid_grant(501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
        user = self.user(tenant, grant["upn"])
        asked = parse_scope(tenant, app, req.param("scope") or grant["scope"])
        return self.issue(req, tenant, app, acr, user, asked, grant["family"], nonce=grant.get("nonce"))

    def refresh(self, tenant: EntraTenant, client: Client, req: Request) -> Reply:
        app, acr, token = client.app, client.acr, self.required(req, "refresh_token")
        now, store = self.entra.now, self.entra.services.store
        held = grants(self.entra).peek("refresh", token, now)
        if held is not None and (held["tenant_id"] != tenant.tenant_id or held["client_id"] != app.app_id):
            raise invalid_grant(70000, "Provided grant is invalid or malformed.")  # not this client's to spend
        grant = grants(self.entra).spend("refresh", token, now)
        if grant is None:
            if held is not None or store.get(USED_REFRESH, token, now) is not None:  # its sign-in was ended by a replay
                raise revoked()
            raise invalid_grant(*MALFORMED)
        store.put(USED_REFRESH, token, {}, float(grant["expires_at"]) + REMEMBER)
        if now >= grant["valid_until"]:
            raise invalid_grant(700082, f"The refresh token has expired due to inactivity. The token was issued on {stamp(grant['issued_at'])}.")
        user = self.user(tenant, grant["upn"])
        # Entra's refresh tokens are multi-resource: a refresh may name any resource (scopes-oidc.md, offline_access).
        asked = parse_scope(tenant, app, req.param("scope") or grant["scope"])
        return self.issue(req, tenant, app, acr, user, asked, grant["family"])

    @staticmethod
    def user(tenant: EntraTenant, upn: str) -> EntraUser:
        user = next((u for u in tenant.users if u.user_principal_name.lower() == upn.lower()), None)
        if user is None or not user.account_enabled:
            raise invalid_grant(50057, "The user account is disabled.")
        return user

    # --- the tokens --------------------------------------------------------------------------------------

    def issue(self, req: Request, tenant: EntraTenant, app: EntraApp, acr: str, user: EntraUser, asked: ScopeRequest,
              family: str, nonce: str | None = None) -> Reply:
        entra = self.entra
        session = grants(entra).family(family, entra.now)
        if session is None:
            raise revoked()
        resource = asked.single()
        granted_oidc = [s for s in session["oidc"] if s != "offline_access"]  # what the user consented to on the page
        access = self.access_token(req, tenant, app, acr, user, resource, granted_oidc)
        scope = (granted_oidc if resource.app is None else []) + resource.full()
        body: dict[str, Any] = {"token_type": "Bearer", "scope": " ".join(scope), "expires_in": tenant.token_lifetime,
                                "ext_expires_in": tenant.token_lifetime, "access_token": access}
        issued = [access]
        if "offline_access" in session["oidc"]:
            now = entra.now
            valid_until = now + tenant.refresh_token_lifetime
            body["refresh_token"] = grants(entra).issue("refresh", family, {
                "tenant_id": tenant.tenant_id, "client_id": app.app_id, "upn": user.user_principal_name, "scope": asked.text,
                "valid_until": valid_until, "issued_at": now,
            }, valid_until + REMEMBER)
        if "openid" in session["oidc"]:
            body["id_token"] = self.id_token(req, tenant, app, user, session, nonce)
            issued.append(body["id_token"])
        if req.param("client_info") == "1":  # MSAL asks for it to key its cache (home account id = uid.utid)
            info = json.dumps({"uid": user.object_id, "utid": tenant.tenant_id}, separators=(",", ":")).encode()
            body["client_info"] = base64.urlsafe_b64encode(info).rstrip(b"=").decode()
        return token_reply(body, issued=issued, headers=NO_STORE_NO_CACHE)

    def access_token(self, req: Request, tenant: EntraTenant, app: EntraApp, acr: str, user: EntraUser, resource: ResourceScopes,
                     granted_oidc: list[str]) -> str:
        scp = resource.scopes if resource.app else (*granted_oidc, *resource.scopes)
        claims = common_claims(int(self.entra.now), tenant.token_lifetime, tenant, user.object_id, pairwise(tenant, user, app))
        claims.update({"name": user.display_name, "scp": " ".join(scp)})
        roles = assigned_roles(user.app_roles, resource.app) if resource.app else []
        if roles:
            claims["roles"] = roles
        if user.groups:
            claims["groups"] = list(user.groups)
        # v1 (access-token-claims-reference.md): aud as named, the STS issuer, appid/appidacr, upn and unique_name.
        v1 = resource.app is not None and resource.app.accept_v1_tokens
        return sign_access_token(self.entra, req.base, tenant, claims, v1=v1, client_id=app.app_id, acr=acr,
                                 v1_claims={"aud": resource.name, "upn": user.user_principal_name, "unique_name": user.user_principal_name,
                                            "amr": ["pwd"], "given_name": user.given_name, "family_name": user.surname},
                                 v2_claims={"aud": resource.audience, "preferred_username": user.user_principal_name})

    def id_token(self, req: Request, tenant: EntraTenant, app: EntraApp, user: EntraUser, session: dict[str, Any], nonce: str | None) -> str:
        entra = self.entra
        now = int(entra.now)
        oidc = session["oidc"]
        claims: dict[str, Any] = {
            "aud": app.app_id, "iss": v2_issuer(req.base, tenant), "iat": now, "nbf": now, "exp": now + ID_TOKEN_LIFETIME,
            "aio": opaque(48), "oid": user.object_id, "rh": opaque(32) + ".", "sid": session["sid"], "sub": pairwise(tenant, user, app),
            "tid": tenant.tenant_id, "uti": opaque(16), "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        if "profile" in oidc:  # id-token-claims-reference.md: name and preferred_username need the profile scope
            claims.update({"name": user.display_name, "preferred_username": user.user_principal_name})
        if "email" in oidc and user.mail:
            claims["email"] = user.mail
        return sign(entra.tenant_keyset(tenant), dict(sorted(claims.items())))


def pairwise(tenant: EntraTenant, user: EntraUser, app: EntraApp) -> str:
    """`sub`: "a pairwise identifier, unique to a particular application ID" (id-token-claims-reference.md), in
    Entra's 43-character base64url shape."""
    digest = hashlib.sha256(f"{tenant.tenant_id}:{user.object_id}:{app.app_id.lower()}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
