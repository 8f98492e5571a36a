"""The frontend flow (CAMARA IdentityAndConsentManagement, OIDC authorization code): `GET /apigateway/authorize`
identifies the subscriber by the device's network address, asks for consent when it is pending, and redirects with
a code that `POST /apigateway/token` (HTTP Basic) exchanges for tokens of a line the network authenticated.

Sources: Telefonica/opengateway-developers-website `v0/callflows/authorization/frontend.md` and
`authorization_openapi.yaml` (the parameters; `scope` or the older `purpose` carries `dpv:<Purpose>#<scope>`);
Telefonica/opengateway-aggregation-poc `aggregator/telco-router` (the device address is the first X-Forwarded-For
entry, then the socket's; an address no operator knows is a redirect with `access_denied` "Unknown user"); ICM
Appendix A (never redirect for a bad client_id or redirect_uri; every other error goes back to the redirect_uri)."""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from typing import Any

from mockidp.authorities.opengateway.context import FrontendContext
from mockidp.authorities.opengateway.world import OgApp, OgSubscriber
from mockidp.errors import OAuthError
from mockidp.oauth import ciba, pkce, redirects
from mockidp.oauth.codes import Grants
from mockidp.oauth.pages import error_page, error_redirect, page, redirect_debug, redirect_with
from mockidp.oauth.token_endpoint import token_reply
from mockidp.request import Reply, Request
from mockidp.tokens import at_hash

CONSENTS = "og-consent"  # store kind: an authorization request waiting on the consent page
CONSENT_LIFETIME = 600
NETWORK_AUTH = ["nbma"]  # network-based mobile authentication (the PoC operator authserver's amr)
TITLE = "Telefonica Open Gateway"


class FrontendFlow:
    def __init__(self, ctx: FrontendContext) -> None:
        self.ctx = ctx
        self.grants = Grants(ctx.services.store, "og")

    # --- GET /apigateway/authorize ---------------------------------------------------------------------

    def authorize(self, req: Request) -> Reply:
        q = req.query
        app = self.ctx.apps.get(q.get("client_id", ""))
        if app is None:
            return error_page(TITLE, "Unknown client_id: no application of the channel partner has it.", look="plain",
                              debug=[("client_id sent", q.get("client_id", "") or "(none)"), ("applications registered", ", ".join(self.ctx.apps) or "(none)")])
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri or redirects.unsafe(redirect_uri) is not None or redirect_uri not in app.redirect_uris:
            return error_page(TITLE, "redirect_uri is missing or not registered for this application.", look="plain",
                              debug=redirect_debug(app.client_id, redirect_uri, list(app.redirect_uris)))
        state = q.get("state")
        if req.duplicates:
            return error_redirect(redirect_uri, "invalid_request", f"Duplicate {min(req.duplicates)} parameter.", state)
        if q.get("response_type") != "code":
            return error_redirect(redirect_uri, "unsupported_response_type", "response_type must be code", state)
        method = q.get("code_challenge_method", "plain" if q.get("code_challenge") else None)
        if q.get("code_challenge") and (method not in pkce.METHODS or not 43 <= len(q["code_challenge"]) <= 128):
            return error_redirect(redirect_uri, "invalid_request", "code_challenge must be 43-128 characters, code_challenge_method S256 or plain", state)
        if not q.get("scope") and not q.get("purpose"):
            return error_redirect(redirect_uri, "invalid_request", "scope (dpv:<Purpose>#<scope>) is required", state)
        try:
            purpose = ciba.parse_purpose(q.get("purpose"), q.get("scope"))
        except ciba.ScopeError as exc:
            return error_redirect(redirect_uri, "invalid_scope", str(exc), state)
        if not purpose.covered_by(self.ctx.subscriptions[app.client_id]):
            return error_redirect(redirect_uri, "unauthorized_client", f"the application is not subscribed to {purpose}", state)
        sub = self.subscriber_at(self.device_address(req)) or self.mock_line(q.get("login_hint"))
        if sub is None:
            return error_redirect(redirect_uri, "access_denied", "Unknown user", state)
        rule = self.ctx.rule_for(sub, purpose)
        pending = {"client_id": app.client_id, "redirect_uri": redirect_uri, "state": state, "nonce": q.get("nonce"),
                   "login_hint": sub.login_hint, "phone_number": sub.phone_number or ciba.parse_login_hint(sub.login_hint).phone_number,
                   "purpose": str(purpose), "dpv": purpose.dpv, "scopes": list(purpose.scopes), "openid": purpose.openid,
                   "code_challenge": q.get("code_challenge"), "code_challenge_method": method}
        if rule["consent"] in ("deny", "refuse"):
            return error_redirect(redirect_uri, "access_denied", "the subscriber denied consent", state)
        if rule["consent"] == "grant" and not rule["after_polls"] and not rule["after_seconds"]:
            return self.code_redirect(pending)
        consent_id = secrets.token_urlsafe(24)  # consent pending: the person answers on the operator's page
        self.ctx.services.store.put(CONSENTS, consent_id, pending, self.ctx.now + CONSENT_LIFETIME)
        return page("og_consent.html", title=TITLE, client_id=app.client_id, purpose=str(purpose),
                    line=pending["phone_number"] or sub.login_hint, consent_id=consent_id, action=req.base + "/apigateway/authorize/consent")

    def consent(self, req: Request) -> Reply:
        """The consent page's answer: Allow -> the code, Deny -> access_denied, both back to the client."""
        pending = self.ctx.services.store.take(CONSENTS, req.form.get("consent_id", ""), self.ctx.now)
        if pending is None:
            return error_page(TITLE, look="plain", message="This consent request is unknown, was already answered or has expired.")
        if req.form.get("action") != "allow":
            return error_redirect(pending["redirect_uri"], "access_denied", "the subscriber denied consent", pending["state"])
        return self.code_redirect(pending)

    def code_redirect(self, pending: dict[str, Any]) -> Reply:
        expires = self.ctx.now + self.ctx.config.code_lifetime
        family = self.grants.start_family({"client_id": pending["client_id"]}, expires + self.ctx.config.access_token_lifetime)
        code = self.grants.issue("code", family, {**pending, "auth_time": self.ctx.now}, expires)
        return redirect_with(pending["redirect_uri"], {"code": code, "state": pending["state"]})

    def device_address(self, req: Request) -> str:
        forwarded = req.headers.get("x-forwarded-for", "")
        if self.ctx.config.trust_forwarded_for and forwarded.strip():
            return forwarded.split(",")[0].strip()
        return req.client_host

    def mock_line(self, login_hint: str | None) -> OgSubscriber | None:
        """In the sandbox's mock mode no real device is on the network: a phone-number login_hint names the line
        (Telefonica's sandbox takes login_hint on /authorize, usethesandbox.md). Elsewhere login_hint is ignored, as
        CAMARA allows: the network address decides."""
        if not self.ctx.config.mock_mode or not login_hint:
            return None
        try:
            hint = ciba.parse_login_hint(login_hint)
        except ciba.HintError:
            return None
        return self.ctx.subscriber(hint) if hint.phone_number else None

    def subscriber_at(self, address: str) -> OgSubscriber | None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        for hint, sub in self.ctx.subscribers:
            if any(ipaddress.ip_address(a) == ip for a in sub.addresses):
                return sub
            if hint.kind == "ipport" and ipaddress.ip_address(hint.address()[0]) == ip:
                return sub
        return None

    # --- POST /apigateway/token, grant_type=authorization_code -----------------------------------------

    def code_grant(self, base: str, app: OgApp, req: Request) -> Reply:
        code = req.param("code")
        if code is None:
            raise OAuthError("invalid_request", "code is required")
        rec = self.grants.spend("code", code, self.ctx.now)
        if rec is None or rec["client_id"] != app.client_id:
            raise OAuthError("invalid_grant", "the authorization code is invalid, expired, already used or issued to another client")
        # RFC 6749 §4.1.3. Not in mock mode: Telefonica's own sandbox SDK sends redirect_uri=whatever
        # (opengateway-sandbox-sdk 1.1.0, httpclient.token), so the sandbox cannot be checking it.
        if req.param("redirect_uri") != rec["redirect_uri"] and not self.ctx.config.mock_mode:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        failure = pkce.failure(rec.get("code_challenge"), rec.get("code_challenge_method"), req.param("code_verifier"))
        if failure is not None:
            raise OAuthError("invalid_grant", failure)
        body = self.issue(rec, base)
        return token_reply(body, issued=[t for k, t in body.items() if k in ("access_token", "id_token")])

    def issue(self, rec: dict[str, Any], base: str) -> dict[str, Any]:
        lifetime = self.ctx.config.access_token_lifetime
        sub = str(uuid.uuid5(uuid.NAMESPACE_URL, "opengateway:" + rec["login_hint"]))
        scope = " ".join((["openid"] if rec["openid"] else []) + rec["scopes"])
        claims = {"sub": sub, "aud": base, "client_id": rec["client_id"], "azp": rec["client_id"], "scope": scope,
                  "purpose": f"dpv:{rec['dpv']}", "amr": NETWORK_AUTH, **({"phone_number": rec["phone_number"]} if rec["phone_number"] else {}),
                  **self.ctx.planned_claims(rec["client_id"])}
        access = self.ctx.sign_token(claims, base, lifetime, typ="at+jwt")
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}
        if rec["openid"]:
            id_claims = {"sub": sub, "aud": rec["client_id"], "auth_time": int(rec["auth_time"]), "amr": NETWORK_AUTH, "at_hash": at_hash(access)}
            body["id_token"] = self.ctx.sign_token({**id_claims, **({"nonce": rec["nonce"]} if rec["nonce"] else {})}, base, lifetime)
        return body

