"""The browser side of an Entra tenant: `/{tenant}/oauth2/v2.0/authorize` (a sign-in page with one-click demo users
and a Deny button; response_type code, response_mode query / fragment / form_post, PKCE plain and S256, state, nonce,
prompt, login_hint), `/{tenant}/oauth2/v2.0/logout`, and a stand-in for Microsoft Graph's `/oidc/userinfo`.

As Entra does (v2-oauth2-auth-code-flow.md, reply-url.md): an unknown client_id (AADSTS700016) or a redirect_uri the app
did not register (AADSTS50011) is an error page that never redirects; every later error goes back to the client with
`error`, `error_description` (AADSTSnnnn: text) and `state`. Signing in stands for consent too: the tenant's admin
is taken to have consented to every scope an API exposes, so there is no separate consent page; Deny is "the user
declined to consent" (AADSTS65004)."""

from __future__ import annotations

import html
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

from mockidp.authorities.aad import aad_error
from mockidp.authorities.entra.context import EntraContext
from mockidp.authorities.entra.errors import malformed, missing
from mockidp.authorities.entra.grants import CODE_LIFETIME, REMEMBER, grants
from mockidp.authorities.entra.scopes import GRAPH_APP_ID, parse_scope
from mockidp.authorities.entra.tenant import app_of
from mockidp.authorities.entra.world import EntraApp, EntraTenant
from mockidp.errors import OAuthError
from mockidp.oauth import pkce
from mockidp.oauth.pages import SignIn, error_page, redirect_debug, redirect_with
from mockidp.oauth.redirects import allowed
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, peek, verify

LOOPBACK = ("localhost", "127.0.0.1", "::1")
PROMPTS = ("login", "select_account", "consent", "create")
SESSION = "entra-session"  # sid -> grant family, so that logout with an id_token_hint ends the sign-in
BAD_PASSWORD = "Your account or password is incorrect. If you don't remember your password, reset it now."


def redirect_ok(registered: str, uri: str) -> bool:
    """Exact match, except for loopback http URLs, whose port is ignored (reply-url.md: "the port component is
    ignored for matching purposes", RFC 8252 §7.3). An empty path counts as '/'."""
    if registered == uri:
        return True
    want, got = urlsplit(registered), urlsplit(uri)
    if not (want.scheme == got.scheme == "http" and want.hostname in LOOPBACK):
        return False
    return (want.hostname, want.path or "/", want.query) == (got.hostname, got.path or "/", got.query)


def with_debug(err: OAuthError, debug: list[tuple[str, str]]) -> OAuthError:
    err.debug = debug
    return err


class EntraBrowser:
    def __init__(self, entra: EntraContext) -> None:
        self.entra = entra

    def render_page_error(self, err: OAuthError, req: Request | None) -> Reply:
        """Errors of the browser endpoints before a redirect URI is trusted: a page, with the AADSTS text."""
        reply = error_page(self.entra.title, err.description or err.error, err.status, look="entra", debug=err.debug)
        reply.error = err.error
        return reply

    # --- authorize ----------------------------------------------------------------------------------

    def authorize(self, req: Request) -> Reply:
        entra = self.entra
        tenant = entra.tenant_of(req)
        params = dict(req.query) if req.method == "GET" else dict(req.form)
        if req.duplicates:
            raise malformed()
        client_id = params.get("client_id") or None
        if client_id is None:
            raise missing("client_id")
        app = app_of(tenant, client_id)
        redirect_uri = params.get("redirect_uri") or None
        if not app.redirect_uris:
            raise aad_error("invalid_request", 500113, "No reply address is registered for the application.")
        if redirect_uri is None:  # Entra would fall back to a registered one; mockidp asks for it (a test should say which)
            raise missing("redirect_uri")
        # Also refused whatever was registered: userinfo, script schemes, code/state already in the query (oauth/redirects.py)
        if not allowed(redirect_uri, app.redirect_uris, confidential=not app.public_client, match=redirect_ok):
            raise with_debug(aad_error("invalid_request", 50011, (
                f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the "
                f"application '{app.app_id}'. Make sure the redirect URI sent in the request matches one added to your application "
                "in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."
            )), redirect_debug(app.app_id, redirect_uri, app.redirect_uris))
        mode = params.get("response_mode") or "query"
        state = params.get("state")

        def fail(error: str, code: int, text: str) -> Reply:
            reply = self.deliver(redirect_uri, "query" if mode not in ("query", "fragment", "form_post") else mode,
                                 {"error": error, "error_description": f"AADSTS{code}: {text}", "error_uri": f"https://login.microsoftonline.com/error?code={code}", "state": state})
            reply.error = error
            return reply

        if mode not in ("query", "fragment", "form_post"):
            return fail("invalid_request", 9002313, f"Invalid request. The response_mode '{mode}' is not supported.")
        response_type = params.get("response_type")
        if response_type is None:
            return fail("invalid_request", 900144, "The request body must contain the following parameter: 'response_type'.")
        if response_type != "code":  # the implicit and hybrid grants are not enabled for the apps of this world
            return fail("unsupported_response_type", 700054, f"response_type '{response_type}' is not enabled for the application.")
        scope = params.get("scope")
        if not scope:
            return fail("invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
        try:
            asked = parse_scope(tenant, app, scope)
        except OAuthError as err:
            code, _, text = (err.description or "").partition(": ")
            return fail(err.error, int(code.removeprefix("AADSTS") or 0), text)
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method") or ("plain" if challenge else None)
        if method is not None and (method not in pkce.METHODS or not challenge):
            return fail("invalid_request", 9002313, "Invalid request. Request is malformed or invalid. (code_challenge_method)")
        if challenge and not 43 <= len(challenge) <= 128:
            return fail("invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
        if app.public_client and not challenge:
            return fail("invalid_request", 9002325, "Proof Key for Code Exchange is required for cross-origin authorization code redemption.")
        prompt = params.get("prompt")
        if prompt == "none":  # mockidp keeps no browser session: a silent request never finds a signed-in user
            return fail("login_required", 50058, "A silent sign-in request was sent but no user is signed in.")
        if prompt is not None and prompt not in PROMPTS:
            return fail("invalid_request", 9002313, f"Invalid request. Request is malformed or invalid. (prompt '{prompt}')")

        signed_in = SignIn(entra.title, lambda name: next((u for u in tenant.users if u.user_principal_name.lower() == name.lower()), None),
                           lambda u: u.password, lambda u: u.account_enabled, [u.user_principal_name for u in tenant.users if u.account_enabled],
                           invalid=BAD_PASSWORD, disabled="Your account has been locked. Contact your support person to unlock it, then try again.",
                           prefill_login_hint=True).step(req, params)
        if signed_in is None:
            return fail("access_denied", 65004, "User declined to consent to access the app.")
        if isinstance(signed_in, Reply):
            return signed_in
        user = signed_in
        return self.sign_in(tenant, app, user.user_principal_name, redirect_uri, mode, params, asked.oidc, method)

    def sign_in(self, tenant: EntraTenant, app: EntraApp, upn: str, redirect_uri: str, mode: str, params: dict[str, str],
                oidc: tuple[str, ...], method: str | None) -> Reply:
        entra = self.entra
        now = entra.now
        sid = str(uuid.uuid4())
        family = grants(entra).start_family({"oidc": list(oidc), "sid": sid, "upn": upn, "auth_time": int(now)}, now + tenant.refresh_token_lifetime)
        entra.services.store.put(SESSION, sid, {"family": family}, now + tenant.refresh_token_lifetime)
        # Kept past its 10 minutes so that a late redemption answers AADSTS70008 (expired), not "malformed".
        code = grants(entra).issue("code", family, {
            "tenant_id": tenant.tenant_id, "client_id": app.app_id, "redirect_uri": redirect_uri, "scope": params["scope"],
            "nonce": params.get("nonce"), "code_challenge": params.get("code_challenge"), "code_challenge_method": method,
            "upn": upn, "valid_until": now + CODE_LIFETIME,
        }, now + CODE_LIFETIME + REMEMBER)
        return self.deliver(redirect_uri, mode, {"code": code, "state": params.get("state"), "session_state": sid})

    @staticmethod
    def deliver(redirect_uri: str, mode: str, params: dict[str, str | None]) -> Reply:
        """The authorization response in the asked response_mode: a 302 with a query or fragment, or a page that posts
        a form to the redirect URI (OAuth 2.0 Form Post Response Mode)."""
        if mode == "form_post":
            fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items() if v is not None)
            page = (f'<!doctype html><html><head><title>Working...</title></head><body onload="document.forms[0].submit()">'
                    f'<form method="post" name="hiddenform" id="form-post" action="{html.escape(redirect_uri)}">{fields}'
                    '<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript></form></body></html>')
            return Reply(html=page, headers={"cache-control": "no-store"})
        if mode == "fragment":
            return Reply.redirect(redirect_uri.split("#")[0] + "#" + urlencode({k: v for k, v in params.items() if v is not None}))
        return redirect_with(redirect_uri, params)

    # --- logout and userinfo -------------------------------------------------------------------------

    def logout(self, req: Request) -> Reply:
        """Front-channel sign-out: an id_token_hint of this tenant ends its sign-in (its refresh tokens stop working),
        then back to post_logout_redirect_uri only when it is a reply URL of the app the request names (the hint's
        `aud`, or `client_id`): v2-protocols-oidc.md, "Send a sign-out request": "This URL must match one of the
        redirect URIs registered for your application". For any other address Entra stays on its own signed-out
        page rather than redirect, and so does mockidp."""
        entra = self.entra
        tenant = entra.tenant_of(req)
        params = req.params
        hint, client_id = params.get("id_token_hint"), params.get("client_id")
        claims: dict[str, Any] = {}
        if hint:
            try:
                _, claims = verify(hint, entra.tenant_keyset(tenant), now=entra.now, require_exp=False)
            except TokenInvalid as exc:
                raise aad_error("invalid_request", 50061, f"The sign-out request is invalid. ({exc})") from exc
            held = entra.services.store.take(SESSION, str(claims.get("sid")), entra.now)
            if held is not None:
                grants(entra).end_family(held["family"], entra.now)
        named = client_id or claims.get("aud")
        app = next((a for a in tenant.apps if isinstance(named, str) and a.app_id.lower() == named.lower()), None)
        target = params.get("post_logout_redirect_uri")
        if app is not None and allowed(target, app.redirect_uris, confidential=not app.public_client, match=redirect_ok):
            return redirect_with(target or "", {"state": params.get("state")})
        return Reply(html="<!doctype html><title>Signed out</title><p id='signed-out'>You signed out of your account.</p>")

    def userinfo(self, req: Request) -> Reply:
        """Microsoft Graph's OIDC userinfo: a Graph access token (aud 00000003-...: the token for `openid profile
        email` alone) of a tenant here, answered with sub, name, given and family name, email. Graph's errors."""
        entra = self.entra
        token = req.bearer
        if token is None:
            return graph_error("InvalidAuthenticationToken", "Access token is empty.")
        try:
            tenant = entra.tenants.get(str(peek(token)[1].get("tid", "")).lower())
            if tenant is None:
                raise TokenInvalid("issuer", "unknown tenant")
            _, claims = verify(token, entra.tenant_keyset(tenant), now=entra.now)
        except TokenInvalid as exc:
            return graph_error("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired." if exc.reason == "expired" else "Access token validation failure.")
        if claims.get("aud") not in (GRAPH_APP_ID, "https://graph.microsoft.com"):
            return graph_error("InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        if claims.get("iss") not in entra.known_issuers(req, tenant):  # found by the JWT attack catalogue: any iss was taken
            return graph_error("InvalidAuthenticationToken", "Access token validation failure. Invalid issuer.")
        user = next((u for u in tenant.users if u.object_id == claims.get("oid")), None)
        if user is None:
            return graph_error("InvalidAuthenticationToken", "Access token validation failure.")
        out: dict[str, Any] = {"sub": claims.get("sub"), "name": user.display_name, "family_name": user.surname, "given_name": user.given_name,
                               "picture": "https://graph.microsoft.com/v1.0/me/photo/$value"}
        if user.mail and "email" in str(claims.get("scp", "")).split():
            out["email"] = user.mail
        return Reply(json=out)


def render_graph_error(err: OAuthError, req: Request | None) -> Reply:
    """Errors of the userinfo stand-in (bad input, injected faults) in Microsoft Graph's shape, not the AADSTS one."""
    reply = graph_error("InvalidRequest" if err.status < 500 else "ServiceNotAvailable", err.description or err.error)
    reply.status = err.status
    if err.status != 401:
        reply.headers.pop("www-authenticate")
    reply.headers.update(err.headers)
    reply.error = err.error
    return reply


def graph_error(code: str, message: str) -> Reply:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": str(uuid.uuid4())}}}
    return Reply(401, json=body, headers={"www-authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'}, error="invalid_token")
