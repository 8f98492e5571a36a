"""Entra's grants for users at `/{tenant}/oauth2/v2.0/token`: `authorization_code` (a code from the login page of
entra_browser.py: single use, 10 minutes, redirect_uri and PKCE checked) and `refresh_token` (opaque, rotated), and
the v2 user tokens they issue: the access token (`scp`, `roles`, pairwise `sub`) and the id_token.

Wire facts: entra-docs `v2-oauth2-auth-code-flow.md`, `access-token-claims-reference.md`, `id-token-claims-reference.md`,
`scopes-oidc.md`, `reference-error-codes.md`. Codes and refresh tokens are opaque secrets in the store, in grant
families (mockidp/oauth/codes.py): a replayed code or refresh token ends its sign-in."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockidp.authorities.aad import aad_error
from mockidp.authorities.entra.authority import EntraApp, EntraTenant, EntraUser, find_resource
from mockidp.authorities.entra.tokens import NO_STORE, _missing, _opaque, assigned_roles
from mockidp.errors import OAuthError
from mockidp.oauth import pkce
from mockidp.oauth.codes import Grants
from mockidp.request import Reply, Request
from mockidp.tokens import sign

if TYPE_CHECKING:
    from mockidp.authorities.entra.authority import Entra
    from mockidp.authorities.entra.tokens import EntraTokens

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
GRAPH, GRAPH_APP_ID = "https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"
CODE_LIFETIME = 600  # v2-oauth2-auth-code-flow.md: codes are short lived, "typically after about 10 minutes"
REMEMBER = 3600  # how long a spent or expired code / refresh token is kept, to answer 54005 / 70008, not "malformed"
ID_TOKEN_LIFETIME = 3600
USED_CODE, USED_REFRESH = "entra-code-used", "entra-refresh-used"
MALFORMED = (9002313, "Invalid request. Request is malformed or invalid.")


def grants(entra: Entra) -> Grants:
    return Grants(entra.services.store, "entra")


def invalid_grant(code: int, text: str) -> OAuthError:
    return aad_error("invalid_grant", code, text)


# --- scopes ------------------------------------------------------------------------------------------


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
            raise aad_error("invalid_resource", 500011, (
                f"The resource principal named {name} was not found in the tenant named {tenant.display_name or tenant.tenant_id}. "
                "This can happen if the application has not been installed by the administrator of the tenant or consented to by "
                "any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ))
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


# --- the grants --------------------------------------------------------------------------------------


class UserGrants:
    def __init__(self, tokens: EntraTokens) -> None:
        self.tokens = tokens
        self.entra = tokens.entra

    def token(self, req: Request, tenant: EntraTenant, app: EntraApp, grant_type: str) -> Reply:
        acr = self.authenticate(req, tenant, app)
        if grant_type == "authorization_code":
            return self.redeem_code(req, tenant, app, acr)
        return self.refresh(req, tenant, app, acr)

    def authenticate(self, req: Request, tenant: EntraTenant, app: EntraApp) -> str:
        """`azpacr`: "0" for a public client, else the confidential client's credential (entra_tokens.py)."""
        if not app.public_client:
            return self.tokens.authenticate(req, tenant, app)
        creds = self.tokens.credentials(req)
        if creds.secret is not None or creds.assertion is not None:
            raise aad_error("invalid_client", 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.", 401)
        return "0"

    def redeem_code(self, req: Request, tenant: EntraTenant, app: EntraApp, acr: str) -> Reply:
        code = req.param("code")
        if code is None:
            raise _missing("code")
        now = self.entra.now
        store = self.entra.services.store
        grant = grants(self.entra).spend("code", code, now)  # spent whatever follows: a code is tried once
        if grant is None:
            if store.get(USED_CODE, code, now) is not None:  # replayed: spend() has ended its sign-in too
                raise invalid_grant(54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
            raise aad_error("invalid_grant", *MALFORMED)
        store.put(USED_CODE, code, {}, now + REMEMBER)
        if now >= grant["valid_until"]:
            raise invalid_grant(70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
        if grant["tenant_id"] != tenant.tenant_id or grant["client_id"] != app.app_id:
            raise invalid_grant(70000, "Provided grant is invalid or malformed.")
        redirect_uri = req.param("redirect_uri")
        if redirect_uri is None:
            raise _missing("redirect_uri")
        if redirect_uri != grant["redirect_uri"]:
            raise invalid_grant(500112, f"The reply address '{redirect_uri}' does not match the reply address '{grant['redirect_uri']}' provided when requesting Authorization code.")
        verifier = req.param("code_verifier")
        failure = pkce.failure(grant["code_challenge"], grant["code_challenge_method"], verifier)
        if failure is not None:
            if verifier is None or not grant["code_challenge"]:  # no verifier, or a verifier for no challenge (RFC 9700 §2.1.1)
                raise aad_error("invalid_request", MALFORMED[0], f"{MALFORMED[1]} ({failure})")
            raise invalid_grant(501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
        user = self.user(tenant, grant["upn"])
        asked = parse_scope(tenant, app, req.param("scope") or grant["scope"])
        return self.issue(req, tenant, app, acr, user, asked, grant["family"], nonce=grant.get("nonce"))

    def refresh(self, req: Request, tenant: EntraTenant, app: EntraApp, acr: str) -> Reply:
        token = req.param("refresh_token")
        if token is None:
            raise _missing("refresh_token")
        now = self.entra.now
        store = self.entra.services.store
        held = grants(self.entra).peek("refresh", token, now)
        if held is not None and (held["tenant_id"] != tenant.tenant_id or held["client_id"] != app.app_id):
            raise invalid_grant(70000, "Provided grant is invalid or malformed.")  # not this client's to spend
        grant = grants(self.entra).spend("refresh", token, now)
        if grant is None:
            if held is not None or store.get(USED_REFRESH, token, now) is not None:  # its sign-in was ended by a replay
                raise invalid_grant(50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed.")
            raise aad_error("invalid_grant", *MALFORMED)
        store.put(USED_REFRESH, token, {}, float(grant["expires_at"]) + REMEMBER)
        if now >= grant["valid_until"]:
            raise invalid_grant(700082, f"The refresh token has expired due to inactivity. The token was issued on {self.tokens.stamp(grant['issued_at'])}.")
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
            raise invalid_grant(50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed.")
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
        return Reply(json=body, headers=dict(NO_STORE), issued=issued)

    def access_token(self, req: Request, tenant: EntraTenant, app: EntraApp, acr: str, user: EntraUser, resource: ResourceScopes,
                     granted_oidc: list[str]) -> str:
        entra = self.entra
        now = int(entra.now)
        scp = resource.scopes if resource.app else (*granted_oidc, *resource.scopes)
        claims: dict[str, Any] = {
            "iat": now, "nbf": now, "exp": now + tenant.token_lifetime, "aio": _opaque(48), "name": user.display_name,
            "oid": user.object_id, "rh": _opaque(32) + ".", "scp": " ".join(scp), "sub": pairwise(tenant, user, app),
            "tid": tenant.tenant_id, "uti": _opaque(16),
        }
        roles = assigned_roles(user.app_roles, resource.app) if resource.app else []
        if roles:
            claims["roles"] = roles
        if user.groups:
            claims["groups"] = list(user.groups)
        keyset = entra.tenant_keyset(tenant)
        header: dict[str, Any] = {}
        if resource.app is not None and resource.app.accept_v1_tokens:
            # v1 (access-token-claims-reference.md): aud as named, the STS issuer, appid/appidacr, upn and unique_name.
            claims.update({"aud": resource.name, "iss": entra.v1_issuer(tenant), "appid": app.app_id, "appidacr": acr, "ver": "1.0",
                           "upn": user.user_principal_name, "unique_name": user.user_principal_name, "amr": ["pwd"],
                           "given_name": user.given_name, "family_name": user.surname})
            header["x5t"] = keyset.active.x5t
        else:
            claims.update({"aud": resource.audience, "iss": entra.v2_issuer(req.base, tenant), "azp": app.app_id, "azpacr": acr,
                           "preferred_username": user.user_principal_name, "ver": "2.0"})
        claims.update(entra.planned_claims(app.app_id))
        return sign(keyset, dict(sorted(claims.items())), header)

    def id_token(self, req: Request, tenant: EntraTenant, app: EntraApp, user: EntraUser, session: dict[str, Any], nonce: str | None) -> str:
        entra = self.entra
        now = int(entra.now)
        oidc = session["oidc"]
        claims: dict[str, Any] = {
            "aud": app.app_id, "iss": entra.v2_issuer(req.base, tenant), "iat": now, "nbf": now, "exp": now + ID_TOKEN_LIFETIME,
            "aio": _opaque(48), "oid": user.object_id, "rh": _opaque(32) + ".", "sid": session["sid"], "sub": pairwise(tenant, user, app),
            "tid": tenant.tenant_id, "uti": _opaque(16), "ver": "2.0",
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
