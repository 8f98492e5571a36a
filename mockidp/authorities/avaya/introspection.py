"""What a client or a token's holder asks an account realm about tokens it issued: userinfo, introspection
(RFC 7662), revocation (RFC 7009) and logout (a back-channel POST with the refresh token, or the browser's GET),
with Keycloak's answers."""

from __future__ import annotations

from mockidp.authorities.avaya.browser import AvayaBrowser
from mockidp.authorities.avaya.clientauth import authenticate_client
from mockidp.authorities.avaya.context import AvayaContext
from mockidp.authorities.avaya.errors import kc_error
from mockidp.authorities.avaya.realm import Realm
from mockidp.authorities.avaya.world import AvayaClient
from mockidp.errors import OAuthError
from mockidp.oauth.token_endpoint import NO_STORE
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid


class AvayaIntrospection:
    def __init__(self, ctx: AvayaContext) -> None:
        self.ctx = ctx

    def userinfo(self, req: Request) -> Reply:
        realm = self.ctx.realm_of(req)
        token = req.bearer or req.param("access_token")
        if token is None:
            return Reply(401, headers={"www-authenticate": f'Bearer realm="{realm.name}"'}, error="invalid_token")
        try:
            claims = self.ctx.tokens.verify_access_token(realm, req, token)
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
        realm = self.ctx.realm_of(req)
        client = authenticate_client(self.ctx.services, realm, req)
        if realm.is_public(client):
            raise OAuthError("invalid_request", "Client not allowed.", 403)
        token = req.param("token")
        if token is None:
            raise kc_error("invalid_request", "Missing token parameter")
        try:
            claims = self.ctx.tokens.verify_access_token(realm, req, token)
        except TokenInvalid:
            refresh = self.ctx.tokens.live_refresh_claims(realm, token)
            if refresh is None:
                return Reply(json={"active": False})
            claims = refresh
        out = {k: v for k, v in claims.items() if not k.startswith("mockidp.")}  # not Keycloak's: mockidp's own bookkeeping
        out.update({"client_id": claims.get("azp"), "username": claims.get("preferred_username"), "token_type": claims.get("typ"), "active": True})
        return Reply(json=out)

    def _client_and(self, req: Request, name: str, missing: str) -> tuple[Realm, AvayaClient, str]:
        """Revocation and logout both start so: the realm, the client authenticated, a required parameter."""
        realm = self.ctx.realm_of(req)
        client = authenticate_client(self.ctx.services, realm, req)
        value = req.param(name)
        if value is None:
            raise kc_error("invalid_request", missing)
        return realm, client, value

    def revoke(self, req: Request) -> Reply:
        realm, client, token = self._client_and(req, "token", "Missing token parameter")
        tokens = self.ctx.tokens
        refresh = tokens.live_refresh_claims(realm, token)
        if refresh is not None and refresh["azp"] == client.client_id:
            tokens.take_refresh(refresh)
            # Keycloak's TokenRevocationEndpoint.revokeClient detaches the client's session: its tokens stop working
            session = tokens.session_of(refresh)
            tokens.detach(session["sid"], session["expires"])
        else:
            try:
                claims = tokens.verify_access_token(realm, req, token)
                if claims.get("azp") == client.client_id:
                    tokens.revoke_access_token(claims)
            except TokenInvalid:
                pass  # RFC 7009 §2.2: an invalid token is not an error
        return Reply(200, headers=dict(NO_STORE))

    def logout(self, req: Request) -> Reply:
        realm = self.ctx.realm_of(req)
        if req.method == "GET":
            return AvayaBrowser(self.ctx).logout_page(realm, req)
        realm, client, token = self._client_and(req, "refresh_token", "No refresh token")  # LogoutEndpoint.logoutToken
        tokens = self.ctx.tokens
        claims = tokens.refresh_claims(realm, token)
        if claims.get("azp") != client.client_id or not tokens.end_session(tokens.session_of(claims)):
            raise kc_error("invalid_grant", "Invalid refresh token")
        tokens.take_refresh(claims)
        return Reply.empty(204)
