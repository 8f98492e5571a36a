"""The OAuth 2.0 device authorization grant (RFC 8628) as a Keycloak realm runs it, on the shared state machine
(oauth/device.py): the device authorization endpoint, the token grant's answers in Keycloak's words, and the
verification page a person opens (`/realms/{realm}/device`: the code, sign-in, consent).
Texts, defaults and order: Keycloak's DeviceEndpoint, DeviceGrantType and OAuth2DeviceConfig
(services/src/main/java/org/keycloak/protocol/oidc/grants/device/), the client attribute
`oauth2.device.authorization.grant.enabled`, and `oauth2.device.code.lifespan` / `oauth2.device.polling.interval`."""

from __future__ import annotations

import html
import secrets
from dataclasses import replace

from mockidp.authorities.avaya.clientauth import authenticate_client
from mockidp.authorities.avaya.context import AvayaContext
from mockidp.authorities.avaya.errors import kc_error
from mockidp.authorities.avaya.realm import Realm, granted_scopes
from mockidp.authorities.avaya.world import AvayaClient, AvayaUser
from mockidp.oauth import device
from mockidp.oauth.pages import SignIn
from mockidp.request import Reply, Request
from mockidp.store import Record

CONSENT = "avaya-device-consent"  # a signed-in person's pending Yes / No, keyed by a one-time ticket
# DeviceGrantType's answers to each poll outcome (all HTTP 400)
POLL_ERRORS = {
    "authorization_pending": ("authorization_pending", "The authorization request is still pending"),
    "slow_down": ("slow_down", "Slow down"),
    "access_denied": ("access_denied", "The end user denied the authorization request"),
    "expired_token": ("expired_token", "Device code is expired"),
}


class AvayaDevice:
    def __init__(self, ctx: AvayaContext) -> None:
        self.ctx = ctx
        self.flow = device.DeviceFlow(ctx.services, "avaya")  # holds no state: the requests are in the store

    @staticmethod
    def setting(client: AvayaClient, attribute: str, default: int) -> int:
        value = client.attributes.get(attribute, "")
        return int(value) if value.isdigit() and int(value) > 0 else default

    # --- the device's side -------------------------------------------------------------------------------

    def authorize(self, req: Request) -> Reply:
        """`POST .../protocol/openid-connect/auth/device` (DeviceEndpoint.handleDeviceRequest)."""
        realm = self.ctx.realm_of(req)
        client = authenticate_client(self.ctx.services, realm, req)
        if not client.device_grant:
            raise kc_error("invalid_grant", "Client not allowed for OAuth 2.0 Device Authorization Grant")
        scopes = granted_scopes(client, req.param("scope"))
        expires_in = self.setting(client, "oauth2.device.code.lifespan", realm.config.device_code_lifespan)
        interval = self.setting(client, "oauth2.device.polling.interval", realm.config.device_polling_interval)
        rec = self.flow.start(client_id=client.client_id, scope=" ".join(scopes), expires_in=expires_in, interval=interval,
                              context={"realm": realm.name, "nonce": req.param("nonce")})
        uri = realm.issuer(req.base) + "/device"
        return Reply(json={"device_code": rec["device_code"], "user_code": rec["user_code"], "verification_uri": uri,
                           "verification_uri_complete": f"{uri}?user_code={rec['user_code']}", "expires_in": expires_in,
                           "interval": interval}, headers={"cache-control": "no-store", "pragma": "no-cache"})

    def grant(self, realm: Realm, client: AvayaClient, req: Request) -> Reply:
        """`grant_type=urn:ietf:params:oauth:grant-type:device_code` (DeviceGrantType.process)."""
        if not client.device_grant:
            raise kc_error("invalid_grant", "Client not allowed OAuth 2.0 Device Authorization Grant")  # sic: no "for"
        device_code = req.param("device_code")
        if device_code is None:
            raise kc_error("invalid_request", "Missing parameter: device_code")
        peeked = self.ctx.services.store.get(device.REQUESTS, device_code, self.ctx.now)
        if peeked is None or peeked.get("context", {}).get("realm") != realm.name:
            raise kc_error("invalid_grant", "Device code not valid")
        rec, outcome = self.flow.poll(device_code, client.client_id)
        if outcome in POLL_ERRORS:
            raise kc_error(*POLL_ERRORS[outcome])
        if outcome != "token" or rec is None:
            raise kc_error("invalid_grant", "Device code not valid")
        user = realm.users.get(str(rec["user"]).lower())
        if user is None or not user.enabled:
            raise kc_error("invalid_grant", "User disabled")
        session = self.ctx.tokens.new_session(realm, client, user, browser=True)
        return self.ctx.tokens.issue(realm, req, client, user, rec["scope"].split(), session, nonce=rec["context"].get("nonce"))

    def approver(self, user: str | None, rec: Record) -> str:
        """The `device.users` capability: whom the control route approves as (None: the realm's first demo user)."""
        realm = self.ctx.realms.get(str(rec.get("context", {}).get("realm")))
        if realm is None:
            raise ValueError("the device request's realm is gone")
        if user is None:
            first = next((u for u in realm.config.users if u.enabled), None)
            if first is None:
                raise ValueError(f"realm {realm.name} has no enabled user to approve as")
            return first.username
        found = realm.users.get(user.lower())
        if found is None:
            raise ValueError(f"unknown user {user!r} in realm {realm.name}")
        return found.username

    # --- the person's side: /realms/{realm}/device ---------------------------------------------------------

    def page(self, req: Request) -> Reply:
        realm = self.ctx.realm_of(req)
        params = {**req.query, **req.form}
        code = params.get("device_user_code") or params.get("user_code")
        if "ticket" in req.form:
            return self.consent(req, realm)
        if not code:
            return self.code_form(realm, req)
        rec = self.flow.find(code)
        if rec is None or rec["context"].get("realm") != realm.name or rec["state"] != device.PENDING:
            return self.code_form(realm, req, "Invalid code, please try again", 400)  # Keycloak: "invalid user code"
        if "device_user_code" in req.form:  # the code was just entered: show the sign-in form
            req = replace(req, method="GET")
        signed_in = SignIn(self.ctx.title, lambda name: realm.users.get(name.lower()), lambda u: self.typed_if_right(realm, u, req),
                           lambda u: u.enabled, [u.username for u in realm.config.users if u.enabled],
                           disabled="Account is disabled, contact your administrator.").step(req, {"user_code": rec["user_code"]})
        if signed_in is None:
            self.flow.deny(rec["user_code"])
            return self.result(realm, "Consent denied", "You denied the device access. You may close this window.", 200)
        if isinstance(signed_in, Reply):
            return signed_in
        return self.consent_page(realm, req, rec, signed_in)

    @staticmethod
    def typed_if_right(realm: Realm, user: AvayaUser, req: Request) -> str:
        typed = req.form.get("password", "")
        return typed if realm.user_by_password(user.username, typed) is not None else secrets.token_hex(16)

    def consent_page(self, realm: Realm, req: Request, rec: Record, user: AvayaUser) -> Reply:
        """Keycloak asks the signed-in person to grant the device access (its consent screen)."""
        ticket = secrets.token_urlsafe(24)
        self.ctx.services.store.put(CONSENT, ticket, {"user_code": rec["user_code"], "username": user.username, "realm": realm.name},
                                    float(rec["expires_at"]))
        action = html.escape(req.base + req.path)
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in rec["scope"].split())
        body = (f'<h1>Grant access to {html.escape(rec["client_id"])}</h1><p>Signed in as <b>{html.escape(user.username)}</b>. '
                f"Do you grant these access privileges?</p><ul>{scopes}</ul>"
                f'<form method="post" action="{action}"><input type="hidden" name="ticket" value="{ticket}">'
                '<button type="submit" name="accept" value="yes" id="kc-login">Yes</button> '
                '<button type="submit" name="cancel" value="no" id="kc-cancel">No</button></form>')
        return self.html(realm, "Grant access", body, 200)

    def consent(self, req: Request, realm: Realm) -> Reply:
        held = self.ctx.services.store.take(CONSENT, req.form["ticket"], self.ctx.now)
        if held is None or held["realm"] != realm.name:
            return self.code_form(realm, req, "Invalid code, please try again", 400)
        try:
            if req.form.get("accept") == "yes":
                self.flow.approve(held["user_code"], held["username"])
                return self.result(realm, "Device Login Successful", "Device Login Successful. You may close this window and go back to your device.", 200)
            self.flow.deny(held["user_code"])
        except ValueError:  # expired or decided meanwhile
            return self.code_form(realm, req, "The code has expired or was already used", 400)
        return self.result(realm, "Consent denied", "You denied the device access. You may close this window.", 200)

    def code_form(self, realm: Realm, req: Request, error: str | None = None, status: int = 200) -> Reply:
        message = f'<p class="error" id="input-error">{html.escape(error)}</p>' if error else ""
        body = (f"<h1>Device Login</h1>{message}<p>Enter the code provided by your device and click Submit</p>"
                f'<form method="post" action="{html.escape(req.base + req.path)}"><input name="device_user_code" id="device-user-code" '
                'autofocus> <button type="submit" id="kc-login">Submit</button></form>')
        return self.html(realm, "Device Login", body, status)

    def result(self, realm: Realm, title: str, message: str, status: int) -> Reply:
        return self.html(realm, title, f'<h1>{html.escape(title)}</h1><p id="device-result">{html.escape(message)}</p>', status)

    def html(self, realm: Realm, title: str, body: str, status: int) -> Reply:
        page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}: {html.escape(realm.name)}</title>'
                '<style>body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; } .error { color: #b00020; }</style>'
                f"</head><body>{body}</body></html>")
        return Reply(status, html=page, headers={"cache-control": "no-store"})
