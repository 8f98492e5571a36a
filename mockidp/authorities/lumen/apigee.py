"""APIGEE: the legacy OAuth2 token service Apigee itself hosts on api.lumen.com, "only supported for legacy app
integrations" (seed 000). Its own issuer and keys: an APIGEE token is no LIAM token.

Wire facts:
- Path `POST /oauth/token`: Lumen's own Terraform provider (LumenTech/terraform-provider-lumen,
  lumen/client/bare_metal_client.go) posts HTTP Basic consumerKey:consumerSecret, form `grant_type=client_credentials`,
  `Accept: application/json` to `<api>/oauth/v2/token` (LIAM) and falls back to `<api>/oauth/token` (this one).
  The same client parses `issued_at` (epoch ms) and `expires_in` from strings.
- The response is Apigee's client-credentials answer (Apigee Edge docs, "Client credentials grant type"): every
  value a string, `token_type "BearerToken"`, `status "approved"`, the API products of the app.
- Errors are Apigee OAuthV2's `{"ErrorCode": ..., "Error": ...}` (Apigee docs, "OAuth HTTP error response
  reference"): `ClientId is Invalid`, `Required param : grant_type`, `Unsupported grant type : ...`; a request
  with no client at all gets `Client identifier is required`.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mockidp.errors import OAuthError
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, sign, verify

if TYPE_CHECKING:
    from mockidp.authorities.lumen.authority import Lumen

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


@dataclass
class ApigeeApp:
    """A legacy developer app in Apigee: consumer key + secret, its API products, and what the APIs authorize."""

    consumer_key: str
    consumer_secret: str
    application_name: str = "legacy-app"
    developer_email: str = "legacy.developer@example.com"
    api_products: list[str] = field(default_factory=lambda: ["LegacyAPIs"])
    bans: list[str] = field(default_factory=list)
    customer_number: str = ""
    token_lifetime: int = 3599  # Apigee's usual answer: an hour less a second
    status: str = "approved"  # "revoked": refused like an unknown key


def apigee_error(error_code: str, error: str, status: int) -> OAuthError:
    return OAuthError(error_code, error, status, headers=dict(NO_STORE))


def render_apigee_error(err: OAuthError, req: Request | None) -> Reply:
    """Apigee OAuthV2's error body: `ErrorCode` and `Error`, nothing else."""
    return Reply(err.status, json={"ErrorCode": err.error, "Error": err.description or err.error}, headers=dict(err.headers), error=err.error)


class Apigee:
    """The APIGEE issuer of the Lumen authority: token endpoint and the API's verifier."""

    ISSUER_PATH = "/oauth"
    AUDIENCE = "api.lumen.com"  # what every APIGEE token is for: the Lumen APIs

    def __init__(self, authority: Lumen) -> None:
        self.authority = authority

    @property
    def apps(self) -> dict[str, ApigeeApp]:
        return {a.consumer_key: a for a in self.authority.config.apigee_apps}

    @property
    def keyset(self) -> Any:
        return self.authority.keyset("apigee")

    def token(self, req: Request) -> Reply:
        params = req.params  # Apigee's policies read grant_type from the query as readily as from the form
        if req.basic is not None:
            key, secret = req.basic
        else:
            key, secret = params.get("client_id") or "", params.get("client_secret") or ""
        if not key:
            raise apigee_error("invalid_client", "Client identifier is required", 401)
        if req.duplicates:
            raise apigee_error("invalid_request", f"Duplicate param : {', '.join(sorted(req.duplicates))}", 400)
        grant_type = params.get("grant_type")
        if not grant_type:
            raise apigee_error("invalid_request", "Required param : grant_type", 400)
        if grant_type != "client_credentials":
            raise apigee_error("unsupported_grant_type", f"Unsupported grant type : {grant_type}", 400)
        app = self.apps.get(key)
        if app is None or app.status != "approved" or not hmac.compare_digest(secret.encode(), app.consumer_secret.encode()):
            raise apigee_error("invalid_client", "ClientId is Invalid", 401)  # Apigee tells no key, secret or status apart
        return self.issue(req, app)

    def issue(self, req: Request, app: ApigeeApp) -> Reply:
        now = self.authority.now
        claims = {
            "iss": req.base + self.ISSUER_PATH, "sub": app.consumer_key, "aud": self.AUDIENCE, "client_id": app.consumer_key,
            "application_name": app.application_name, "api_product_list": list(app.api_products), "bans": list(app.bans),
            "customerNumber": app.customer_number, "iat": int(now), "nbf": int(now), "exp": int(now) + app.token_lifetime,
            "jti": str(uuid.uuid4()), **self.authority.planned_claims(app.consumer_key),
        }
        token = sign(self.keyset, claims)
        body = {
            "refresh_token_expires_in": "0",
            "api_product_list": "[" + ", ".join(app.api_products) + "]",
            "api_product_list_json": list(app.api_products),
            "organization_name": "lumen",
            "developer.email": app.developer_email,
            "token_type": "BearerToken",
            "issued_at": str(int(now * 1000)),
            "client_id": app.consumer_key,
            "access_token": token,
            "application_name": app.application_name,
            "scope": "",
            "expires_in": str(app.token_lifetime),
            "refresh_count": "0",
            "status": "approved",
        }
        return Reply(json=body, headers=dict(NO_STORE), issued=[token])

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.keyset.jwks())

    def verify(self, req: Request, token: str) -> dict[str, Any]:
        """The Lumen API's verifier: APIGEE's signature, expiry, an APIGEE issuer, an app still approved."""
        _, claims = verify(token, self.keyset, now=self.authority.now)
        if claims.get("iss") not in (req.base + self.ISSUER_PATH, self.authority.default_base() + self.ISSUER_PATH):
            raise TokenInvalid("issuer", "token issued by another APIGEE issuer")
        if claims.get("aud") != self.AUDIENCE:  # found by the JWT attack catalogue: a token of another audience was taken
            raise TokenInvalid("audience", f"aud {claims.get('aud')!r} is not {self.AUDIENCE}")
        app = self.apps.get(str(claims.get("client_id")))
        if app is None or app.status != "approved":
            raise TokenInvalid("revoked", "the Apigee app is unknown or revoked")
        return {**claims, "clientId": app.consumer_key, "mechanism": "APIGEE"}

