"""Standard token exchange (RFC 8693) as Keycloak 26.2+ does it ("token exchange V2", on by default): a
confidential client in the audience of a user's access token of the same realm exchanges it for a token of its
own, optionally narrowed to other clients (`audience`, repeatable). The checks, their order and their texts are
Keycloak's StandardTokenExchangeProvider / AbstractTokenExchangeProvider (services/src/main/java/org/keycloak/
protocol/oidc/tokenexchange/) and the "Standard token exchange" chapter of the Securing Applications guide."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from mockidp.authorities.avaya.context import AvayaContext
from mockidp.authorities.avaya.errors import kc_error
from mockidp.authorities.avaya.realm import Realm, granted_scopes
from mockidp.authorities.avaya.tokens import subject_id
from mockidp.authorities.avaya.world import AvayaClient, AvayaUser
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
TYPE = "urn:ietf:params:oauth:token-type:"
ACCESS, REFRESH, ID = TYPE + "access_token", TYPE + "refresh_token", TYPE + "id_token"
MULTIVALUED = frozenset({"audience", "resource"})  # the grant's getSupportedMultivaluedRequestParameters
# Client attribute: may the exchange answer a refresh token ("Allow refresh token in Standard Token Exchange")
REFRESH_SETTING = "standard.token.exchange.enableRefreshRequestedTokenType"


def without_multivalued(req: Request) -> Request:
    """Keycloak's duplicated-parameter check skips the parameters this grant takes repeated."""
    return replace(req, duplicates=set(req.duplicates) - MULTIVALUED)


def audiences(req: Request) -> list[str]:
    """Every `audience` of the form (the parsed form keeps one value per name)."""
    try:
        pairs = parse_qsl(req.body.decode(), keep_blank_values=False)
    except UnicodeDecodeError:
        return [req.form["audience"]] if req.form.get("audience") else []
    return list(dict.fromkeys(value for name, value in pairs if name == "audience" and value))


class TokenExchange:
    def __init__(self, ctx: AvayaContext) -> None:
        self.ctx = ctx

    def __call__(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        for name in ("requested_subject", "requested_issuer", "subject_issuer"):  # present even if empty (python-keycloak's async client)
            if name in req.form:
                raise kc_error("invalid_request", f"Parameter '{name}' is not supported for standard token exchange")
        if not client.token_exchange:
            raise kc_error("invalid_request", "Standard token exchange is not enabled for the requested client")
        token = req.param("subject_token")
        if token is None:
            raise kc_error("invalid_request", "Parameter 'subject_token' required for standard token exchange")
        token_type = req.param("subject_token_type")
        if token_type is None:
            raise kc_error("invalid_request", "Parameter 'subject_token_type' required for standard token exchange")
        if token_type != ACCESS:
            raise kc_error("invalid_request", "Parameter 'subject_token' supports access tokens only")
        claims, user, acting_for = self.subject(realm, req, token)
        requested = req.param("requested_token_type") or ACCESS
        refresh_allowed = client.attributes.get(REFRESH_SETTING, "NO").upper() == "SAME_SESSION"
        if requested not in (ACCESS, REFRESH, ID) or (requested == REFRESH and not refresh_allowed):
            raise kc_error("invalid_request", "requested_token_type unsupported")
        wanted = audiences(req)
        if any(realm.clients.get(a.lower()) is None for a in wanted):
            raise kc_error("invalid_client", "Audience not found")
        if realm.is_public(client):
            raise kc_error("invalid_client", "Public client is not allowed to exchange token")
        if any(not realm.clients[a.lower()].enabled for a in wanted):
            raise kc_error("invalid_client", "Client disabled")
        aud = claims.get("aud")
        in_audience = client.client_id in (aud if isinstance(aud, list) else [aud])
        if not in_audience and claims.get("azp") != client.client_id:
            raise kc_error("access_denied", "Client is not within the token audience", 403)
        scopes = granted_scopes(client, req.param("scope"))  # "Invalid scopes: ..." as for any grant
        if requested == REFRESH and "offline_access" in scopes:
            raise kc_error("invalid_request", "Scope offline_access not allowed for token exchange")
        if requested == ID and "openid" not in scopes:
            scopes = ["openid", *scopes]
        audience: list[str] | None = wanted or None
        if audience:
            issued = self.ctx.tokens.access_claims(realm, req, client, user, scopes, None, audience, acting_for)["aud"]
            missing = [a for a in audience if a not in (issued if isinstance(issued, list) else [issued])]
            if missing:
                raise kc_error("invalid_request", "Requested audience not available: " + ", ".join(missing))
        session = self.session_of(realm, client, user, claims)
        reply = self.ctx.tokens.issue(realm, req, client, user, scopes, session, audience=audience, refresh=requested == REFRESH,
                                      acting_for=acting_for)
        return self.answer(reply, requested)

    def subject(self, realm: Realm, req: Request, token: str) -> tuple[dict[str, Any], AvayaUser | None, AvayaClient | None]:
        """The subject token's claims and whose it is: an enabled user's, or a client's service account's; an
        access token of this realm, live."""
        try:
            claims = self.ctx.tokens.verify_access_token(realm, req, token)
        except TokenInvalid:
            raise kc_error("invalid_request", "Invalid token") from None
        sub = claims.get("sub")
        user = next((u for u in realm.config.users if subject_id(realm.name, u.username) == sub), None)
        if user is not None and user.enabled:
            return claims, user, None
        account = next((c for c in realm.config.clients if c.service_account and c.enabled
                        and subject_id(realm.name, "service-account-" + c.client_id.lower()) == sub), None)
        if user is not None or account is None:
            raise kc_error("invalid_request", "Invalid token")
        return claims, None, account

    def session_of(self, realm: Realm, client: AvayaClient, user: AvayaUser | None, claims: dict[str, Any]) -> dict[str, Any] | None:
        """The subject's user session, now with a client session of the requester (SAME_SESSION)."""
        if "sid" not in claims:
            return None
        session = self.ctx.tokens.new_session(realm, client, user)
        session["sid"] = claims["sid"]
        session["auth_time"] = claims.get("auth_time", claims.get("iat", session["auth_time"]))
        return session

    @staticmethod
    def answer(reply: Reply, requested: str) -> Reply:
        """The token response plus `issued_token_type`; for an ID token, the ID token in `access_token` and
        `token_type` "N_A" (RFC 8693 §2.2.1)."""
        body = dict(reply.json)
        if requested == ID:
            body = {"access_token": body["id_token"], "expires_in": body["expires_in"], "refresh_expires_in": 0, "token_type": "N_A",
                    "not-before-policy": 0, **({"session_state": body["session_state"]} if "session_state" in body else {}),
                    "scope": body["scope"]}
        body["issued_token_type"] = requested
        return replace(reply, json=body)
