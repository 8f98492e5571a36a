"""Entra's device code flow on the shared state machine (mockidp/oauth/device.py): the device authorization endpoint
`POST /{tenant}/oauth2/v2.0/devicecode`, the verification page (`/{tenant}/oauth2/deviceauth`, where
microsoft.com/devicelogin leads: enter the code, then sign in), and the grant
`urn:ietf:params:oauth:grant-type:device_code` at the token endpoint, in Entra's words.

Wire facts: entra-docs `v2-oauth2-device-code.md` (the response, `expires_in` 900, `interval` 5, the `message`, the
polling errors), msal `oauth2cli/oauth2.py` `initiate_device_flow` / `obtain_token_by_device_flow` (what the client
reads and sends; it keeps polling on authorization_pending and slow_down only), shared/reference/entra-identities.md §6.
Texts seen from the real service: "To sign in, use a web browser to open the page https://microsoft.com/devicelogin
and enter the code BPPVYQZMA to authenticate." and "The provided value for the input parameter
'device_code' is not valid. This device code has expired." (Azure/azure-sdk-for-python#32375, Azure/azure-cli#22251).
Entra never answers slow_down; its user codes are 9 letters without a separator."""

from __future__ import annotations

import html
import uuid
from typing import Any

from mockidp.authorities.aad import aad_error
from mockidp.authorities.entra.clientauth import Client
from mockidp.authorities.entra.context import EntraContext
from mockidp.authorities.entra.errors import invalid_grant, missing
from mockidp.authorities.entra.grants import UserGrants, grants
from mockidp.authorities.entra.scopes import parse_scope
from mockidp.authorities.entra.tenant import app_of
from mockidp.authorities.entra.world import EntraTenant, EntraUser
from mockidp.errors import OAuthError
from mockidp.oauth import device
from mockidp.oauth.pages import SignIn, error_page
from mockidp.oauth.token_endpoint import NO_STORE_NO_CACHE
from mockidp.request import Reply, Request
from mockidp.store import Record

EXPIRES_IN, INTERVAL = 900, 5  # v2-oauth2-device-code.md: 15 minutes, poll every 5 seconds


def device_error(error: str, text: str, code: int | None) -> OAuthError:
    """A polling error: 400 with Entra's envelope. Rows without a confirmed AADSTS number carry none [unconfirmed]."""
    if code is None:
        return OAuthError(error, text, 400)
    return aad_error(error, code, text)


class EntraDevice:
    def __init__(self, entra: EntraContext, users: UserGrants) -> None:
        self.entra, self.users = entra, users

    @property
    def flow(self) -> device.DeviceFlow:
        return device.DeviceFlow(self.entra.services, "entra", slow_down=False, length=9, group=0)

    # --- the device authorization endpoint -------------------------------------------------------------------

    def authorize(self, req: Request) -> Reply:
        tenant = self.entra.tenant_of(req, "invalid_request")
        client_id, scope = req.form.get("client_id"), req.form.get("scope")
        if not client_id:
            raise missing("client_id")
        if not scope:
            raise missing("scope")
        app = app_of(tenant, client_id)
        parse_scope(tenant, app, scope).single()  # the scope is checked now, as Entra does
        rec = self.flow.start(client_id=app.app_id, scope=scope, expires_in=EXPIRES_IN, interval=INTERVAL,
                              context={"tenant_id": tenant.tenant_id})
        uri = f"{req.base}/common/oauth2/deviceauth"
        return Reply(json={
            "user_code": rec["user_code"], "device_code": rec["device_code"], "verification_uri": uri, "expires_in": EXPIRES_IN,
            "interval": INTERVAL,
            "message": f"To sign in, use a web browser to open the page {uri} and enter the code {rec['user_code']} to authenticate.",
        }, headers=dict(NO_STORE_NO_CACHE))

    # --- the grant ----------------------------------------------------------------------------------------------

    def grant(self, tenant: EntraTenant, client: Client, req: Request) -> Reply:
        code = req.param("device_code")
        if not code:
            raise missing("device_code")
        rec, outcome = self.flow.poll(code, client.app.app_id)
        if outcome == "authorization_pending":
            raise device_error("authorization_pending", "OAuth 2.0 device flow error. Authorization is pending. Continue polling.", 70016)
        if outcome == "expired_token":
            raise device_error("expired_token", "The provided value for the input parameter 'device_code' is not valid. This device code has expired.", 70020)
        if outcome == "access_denied":  # v2-oauth2-device-code.md: "The end user denied the authorization request."
            raise device_error("authorization_declined", "The end user denied the authorization request.", None)
        if outcome == "invalid_grant:redeemed":
            raise invalid_grant(90120, "InvalidDeviceFlowRequest - The request was already authorized or declined.")
        if outcome == "invalid_grant:client":
            raise invalid_grant(70000, "Provided grant is invalid or malformed.")
        if rec is None or outcome != "token" or rec["context"].get("tenant_id") != tenant.tenant_id:
            # v2-oauth2-device-code.md: "The device_code sent to the /token endpoint wasn't recognized."
            raise device_error("bad_verification_code", "The device_code sent to the /token endpoint wasn't recognized.", None)
        user = self.users.user(tenant, str(rec["user"]))
        app = client.app
        asked = parse_scope(tenant, app, str(rec["scope"]))
        now = self.entra.now
        family = grants(self.entra).start_family({"oidc": list(asked.oidc), "sid": str(uuid.uuid4()), "upn": user.user_principal_name,
                                                  "auth_time": int(now)}, now + tenant.refresh_token_lifetime)
        return self.users.issue(req, tenant, app, client.acr, user, asked, family)

    # --- who approves: the control surface and the verification page -------------------------------------------

    def approver(self, user: str | None, rec: Record) -> str:
        """device.USERS: the tenant's user to approve as (None: its first enabled user)."""
        tenant = self.entra.tenants.get(str(rec["context"].get("tenant_id", "")).lower())
        users = [u for u in (tenant.users if tenant else []) if u.account_enabled]
        if user is None:
            if not users:
                raise ValueError("unknown user: the tenant has no enabled user")
            return users[0].user_principal_name
        found = next((u for u in users if u.user_principal_name.lower() == user.lower()), None)
        if found is None:
            raise ValueError(f"unknown user {user!r} in tenant {rec['context'].get('tenant_id')}")
        return found.user_principal_name

    def enter_code(self, req: Request) -> Reply:
        """The code page: a person types the code the device shows (the form field is `otc`, as on Entra's page)."""
        if req.method == "POST":
            typed = req.form.get("otc", "")
            if self.flow.find(typed) is not None:
                return Reply.redirect(f"{req.base}{req.path}/{device.normalise(typed)}", 303)
            return code_page(self.entra.title, req.base + req.path, "That code didn't work. Check the code and try again.")
        return code_page(self.entra.title, req.base + req.path, None)

    def verify(self, req: Request) -> Reply:
        """Sign in for the device request behind the code in the path, then allow (sign in) or deny it."""
        title = self.entra.title
        rec = self.flow.find(req.path_params.get("user_code", ""))
        if rec is None or rec["state"] != device.PENDING:
            return error_page(title, "That code didn't work, or it has expired. Start the sign-in on your device again.", look="entra")
        tenant = self.entra.tenants[str(rec["context"]["tenant_id"]).lower()]
        signed_in = SignIn[EntraUser](title, lambda name: next((u for u in tenant.users if u.user_principal_name.lower() == name.lower()), None),
                                      lambda u: u.password, lambda u: u.account_enabled,
                                      [u.user_principal_name for u in tenant.users if u.account_enabled]).step(req, {"client_id": rec["client_id"], "scope": rec["scope"]})
        if isinstance(signed_in, Reply):
            return signed_in
        try:
            if signed_in is None:
                self.flow.deny(rec["user_code"])
                return message_page(title, "You declined to sign in to the application on your device. You may now close this window.")
            self.flow.approve(rec["user_code"], signed_in.user_principal_name)
        except ValueError:  # decided meanwhile (the control surface, another tab)
            return error_page(title, "That code has already been used. Start the sign-in on your device again.", look="entra")
        return message_page(title, "You have signed in to the application on your device. You may now close this window.")


def code_page(title: str, action: str, error: str | None) -> Reply:
    problem = f'<p class="error" id="code-error">{html.escape(error)}</p>' if error else ""
    body = (f'<h1>Enter code</h1>{problem}<form method="post" action="{html.escape(action)}" id="code-form">'
            '<label for="otc">Enter the code displayed on your app or device.</label>'
            '<input type="text" id="otc" name="otc" autofocus><button type="submit" id="code-next">Next</button></form>')
    return page(title, body, 400 if error else 200)


def message_page(title: str, message: str) -> Reply:
    return page(title, f'<h1>{html.escape(title)}</h1><p id="device-message">{html.escape(message)}</p>', 200)


def page(title: str, body: str, status: int) -> Reply:
    head: dict[str, Any] = {"cache-control": "no-store"}
    return Reply(status, html=f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head><body>{body}</body></html>',
                 headers=head)
