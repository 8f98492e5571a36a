"""Lumen APIs (api.lumen.com): its paths, issuers and error shape at a glance. Seed 000; wire facts:
shared/reference/lumen-b2c.md.

Four mechanisms, each its own issuer and keys: LIAM (liam.py), the go-forward token service backed by Azure AD
B2C; the legacy APIGEE token service (apigee.py); the deprecated App Key + Digest (digest.py); and PFW, another
authority (authorities/pfw/). The API stand-in (api.py) accepts a token only from a mechanism a route lists.
One Control Center registration (`[[lumen.apps]]`, world.py) is both a B2C app (authorities/b2c/ reads these) and
the LIAM user record for its client id.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from mockidp.authorities.base import Authority, Endpoint, Issuer
from mockidp.authorities.lumen.api import LumenApi
from mockidp.authorities.lumen.apigee import Apigee, render_apigee_error
from mockidp.authorities.lumen.digest import Digest
from mockidp.authorities.lumen.errors import lumen_error, render_lumen_error
from mockidp.authorities.lumen.liam import ISSUER_PATH, LIAM_AUDIENCE, Liam
from mockidp.authorities.lumen.world import LumenApp, LumenWorld
from mockidp.errors import OAuthError
from mockidp.request import Reply, Request


class Lumen(Authority):
    name = "lumen"
    title = "Lumen LIAM (api.lumen.com)"
    prefix = "/lumen"
    host_patterns = (r"api\.lumen\.com", r"api-test\.lumen\.com")
    cert_hostnames = ('api.lumen.com', 'api-test.lumen.com')
    config: LumenWorld
    world_type = LumenWorld

    def load(self) -> None:
        self.liam, self.apigee, self.digest = Liam(self), Apigee(self), Digest(self)
        self.api = LumenApi(self, {"LIAM": self.liam.verify, "APIGEE": self.apigee.verify}, self.digest)

    @property
    def apps(self) -> dict[str, LumenApp]:
        return self.liam.apps

    def register_app(
        self, bans: list[str], customer_number: str, *, token_lifetime: int = 3600, environment: str | None = None,
        client_id: str | None = None, secret: str | None = None,
    ) -> LumenApp:
        """What a Control Center developer does at runtime: create an API application with BANs and a lifetime;
        the app appears in B2C and its credentials are returned. The same as adding to `lumen/apps` through the
        control surface (`POST /_mockidp/world/lumen/apps`); reset drops it."""
        item = {"client_id": client_id or str(uuid.uuid4()), "secret": secret or secrets.token_urlsafe(24), "bans": list(bans),
                "customer_number": customer_number, "environment": environment or self.config.environment, "token_lifetime": token_lifetime}
        self.services.world_add("lumen/apps", item)
        return self.apps[str(item["client_id"]).lower()]

    def issuers(self) -> list[Issuer]:
        return [
            Issuer("liam", self.keyset("liam"), ISSUER_PATH, None, f"{ISSUER_PATH}/jwks", f"{ISSUER_PATH}/token"),
            Issuer("apigee", self.keyset("apigee"), Apigee.ISSUER_PATH, None, "/oauth/jwks", "/oauth/token"),
            Issuer("digest", self.keyset("digest"), Digest.ISSUER_PATH, None, "/digest/jwks"),  # signs the Digest nonces
        ]

    def demo_lines(self) -> list[str]:
        return [f"LIAM app {a.client_id} / {a.secret}: BANs {', '.join(a.bans)}, customer {a.customer_number}, env {a.environment}" for a in self.config.apps] + [
            f"APIGEE app {a.consumer_key} / {a.consumer_secret}: BANs {', '.join(a.bans)}" for a in self.config.apigee_apps] + [
            f"Digest app key {a.app_key}, user {a.username} / {a.password} ({', '.join(a.algorithms)})" for a in self.config.digest_apps]

    def render_error(self, err: OAuthError, req: Request | None) -> Reply:
        return render_lumen_error(err, req)

    def named_error(self, name: str, description: str | None = None) -> OAuthError:
        known = {
            "missingCredentials": (401, "Missing or no credentials provided"),
            "invalidCredentials": (401, "Invalid credentials"),
            "invalidToken": (401, "Invalid access token"),
            "unsupportedGrantType": (400, "Unsupported grant type"),
            "temporarily_unavailable": (503, "Service temporarily unavailable"),
        }
        status, reason = known.get(name, (400, name))
        return lumen_error(status, name, reason, description or reason)

    def endpoints(self) -> list[Endpoint]:
        # Through self: load() (at reset, on a world change) builds the helpers anew, the routes stay.
        return [
            Endpoint("/oauth/v2/token", "token", lambda req: self.liam.token(req), ("POST",)),
            Endpoint("/oauth/v2/jwks", "jwks", self.jwks),
            Endpoint("/oauth/token", "apigee-token", lambda req: self.apigee.token(req), ("POST",), render_error=render_apigee_error),
            Endpoint("/oauth/jwks", "apigee-jwks", lambda req: self.apigee.jwks(req)),
            Endpoint("/digest/jwks", "digest-jwks", lambda req: self.digest.jwks(req)),
            # Last: the APIs live at the root of api.lumen.com, beside /oauth.
            Endpoint("/{path:path}", "api", lambda req: self.api.handle(req), ("GET", "POST", "PUT", "PATCH", "DELETE")),
        ]

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.liam.keyset.jwks())

    def mint_defaults(self, issuer: Issuer, base: str) -> dict[str, Any]:
        return {"aud": LIAM_AUDIENCE} if issuer.id == "liam" else {"aud": Apigee.AUDIENCE} if issuer.id == "apigee" else {}
