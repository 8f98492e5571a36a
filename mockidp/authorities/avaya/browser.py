"""The browser side of an Avaya account realm: Keycloak's authorization endpoint (a login form with one-click demo
users and a Deny button; PKCE plain / S256, state, nonce) and RP-initiated logout.

Errors about the client or its redirect_uri show an error page and never redirect (RFC 6749 §4.1.2.1); every
later error goes back to the client with `error`, `error_description`, `state` and `iss` (RFC 9207), as Keycloak does."""

from __future__ import annotations

import uuid

from mockidp.authorities.avaya.context import AvayaContext
from mockidp.authorities.avaya.realm import Realm, granted_scopes
from mockidp.authorities.avaya.tokens import CODE
from mockidp.authorities.avaya.world import AvayaClient, AvayaUser
from mockidp.errors import OAuthError
from mockidp.oauth import pkce
from mockidp.oauth.pages import SignIn, error_page, error_redirect, redirect_debug, redirect_with
from mockidp.oauth.redirects import allowed
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, verify


class AvayaBrowser:
    def __init__(self, ctx: AvayaContext) -> None:
        self.ctx = ctx

    def authorize(self, req: Request) -> Reply:
        auth = self.ctx
        realm = auth.realm_of(req)
        params = dict(req.query) if req.method == "GET" else dict(req.form)
        client = realm.clients.get(params.get("client_id", "").lower())
        if client is None or not client.enabled:
            return error_page(auth.title, "Client not found.", debug=[
                ("client_id sent", params.get("client_id", "") or "(none)"),
                ("clients of this realm", "\n".join(f"{c.client_id}{'' if c.enabled else ' (disabled)'}" for c in realm.clients.values()) or "(none)")])
        redirect_uri = params.get("redirect_uri") or ""
        # Keycloak's RedirectUtils.verifyRedirectUri, and nothing mockidp never redirects to (oauth/redirects.py)
        if not allowed(redirect_uri, client.redirect_uris, confidential=not realm.is_public(client)):
            # before any login page, never a redirect
            return error_page(auth.title, "Invalid parameter: redirect_uri", debug=redirect_debug(client.client_id, redirect_uri, client.redirect_uris))
        state = params.get("state")
        iss = realm.issuer(req.base)

        def fail(error: str, description: str) -> Reply:
            return error_redirect(redirect_uri, error, description, state, iss)

        if params.get("response_type") != "code":
            return fail("unsupported_response_type", "Client is not allowed to initiate browser login with given response_type.")
        if not client.standard_flow:
            return fail("unauthorized_client", "Client is not allowed to initiate browser login with given response_type. Standard flow is disabled for the client.")
        # the client's `pkce.code.challenge.method` attribute makes PKCE required, with that method
        # (Keycloak's AuthorizationEndpointChecker.checkPKCEParams: method, then that method, then the challenge)
        if client.pkce_method is not None:
            if not params.get("code_challenge_method"):
                return fail("invalid_request", "Missing parameter: code_challenge_method")
            if params["code_challenge_method"] != client.pkce_method:
                return fail("invalid_request", "Invalid parameter: code challenge method is not configured one")
        method = params.get("code_challenge_method") or ("plain" if params.get("code_challenge") else None)
        if method is not None and method not in pkce.METHODS:
            return fail("invalid_request", "Invalid parameter: code_challenge_method")
        if method is not None and not params.get("code_challenge"):
            return fail("invalid_request", "Missing parameter: code_challenge")
        try:
            scopes = granted_scopes(client, params.get("scope"))
        except OAuthError:
            return fail("invalid_scope", "Invalid scopes: " + params.get("scope", ""))
        typed = req.form.get("password", "")

        def typed_if_right(user: AvayaUser) -> str:  # the realm judges the password (plain, or an imported hash)
            return typed if realm.user_by_password(user.username, typed) is not None else uuid.uuid4().hex

        signed_in = SignIn(auth.title, lambda name: realm.users.get(name.lower()), typed_if_right, lambda u: u.enabled,
                           [u.username for u in realm.config.users if u.enabled],
                           disabled="Account is disabled, contact your administrator.").step(req, params)
        if signed_in is None:
            return fail("access_denied", "User denied the request")
        if isinstance(signed_in, Reply):
            return signed_in
        user = signed_in
        session = auth.tokens.new_session(realm, client, user, browser=True)
        code = f"{uuid.uuid4()}.{session['sid']}.{uuid.uuid4()}"  # Keycloak's code shape: uuid.session.uuid
        auth.services.store.put(CODE, code, {
            "realm": realm.name, "client_id": client.client_id, "redirect_uri": redirect_uri, "scopes": scopes,
            "nonce": params.get("nonce"), "code_challenge": params.get("code_challenge"), "code_challenge_method": method,
            "username": user.username, "sid": session["sid"], "session": session,
        }, auth.now + realm.config.code_lifespan)
        return redirect_with(redirect_uri, {"state": state, "session_state": session["sid"], "iss": iss, "code": code})

    def logout_page(self, realm: Realm, req: Request) -> Reply:
        """RP-initiated logout (GET), in the order of Keycloak's LogoutEndpoint.logout (texts: the login theme's
        messages_en.properties, missingParameterMessage / invalidParameterMessage / invalidRedirectUriMessage): a post_logout_redirect_uri
        needs a client (`client_id` or `id_token_hint`, else "Missing parameters: id_token_hint"); a hint must be an
        ID token of this realm (else "Invalid parameter: id_token_hint"), for the client_id if both are given; the
        URI must match the client's post-logout redirect URIs (else "Invalid redirect uri"). Only then does the
        session the hint names end, and the browser go back. (Keycloak also shows a logout confirmation page where
        there is no hint; mockidp has no browser session to confirm, so it logs out at once.)"""
        auth = self.ctx
        target, hint, client_id = (req.query.get(k) or None for k in ("post_logout_redirect_uri", "id_token_hint", "client_id"))
        if target and not hint and not client_id:
            return error_page(auth.title, "Missing parameters: id_token_hint")
        client = realm.clients.get(client_id.lower()) if client_id else None
        claims = None
        if hint:
            try:
                _, claims = verify(hint, realm.keyset, now=auth.now, require_exp=False)
            except TokenInvalid:
                return error_page(auth.title, "Invalid parameter: id_token_hint")
            azp = claims.get("azp")
            if claims.get("typ") != "ID" or (client_id and azp is not None and azp != client_id):
                return error_page(auth.title, "Invalid parameter: id_token_hint")
            if client is None and not client_id and isinstance(azp, str):
                client = realm.clients.get(azp.lower())
        if target and (client is None or not self.post_logout_ok(realm, client, target)):
            return error_page(auth.title, "Invalid redirect uri")
        if claims is not None and "sid" in claims:  # the id token names the session; it ends whatever its state
            auth.tokens.end_session({"sid": str(claims["sid"]), "expires": auth.now + realm.config.refresh_token_lifespan})
        if target:
            return redirect_with(target, {"state": req.query.get("state")})
        return Reply(html="<!doctype html><title>Logged out</title><p id='logged-out'>You are logged out.</p>")

    @staticmethod
    def post_logout_ok(realm: Realm, client: AvayaClient, target: str) -> bool:
        return client.enabled and allowed(target, client.post_logout_uris(), confidential=not realm.is_public(client))
