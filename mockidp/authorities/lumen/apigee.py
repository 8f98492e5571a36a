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
from collections.abc import Sequence
from typing import Any

from mockidp.authorities.lumen.context import LumenContext
from mockidp.authorities.lumen.world import ApigeeApp
from mockidp.errors import OAuthError
from mockidp.keys import KeySet
from mockidp.oauth.token_endpoint import NO_STORE, TokenEndpoint, token_reply
from mockidp.request import Reply, Request
from mockidp.tokens import TokenInvalid, sign, verify

Presented = tuple[str, str]  # (consumer key, consumer secret) as the request carries them, not yet judged


def apigee_error(error_code: str, error: str, status: int) -> OAuthError:
    return OAuthError(error_code, error, status, headers=dict(NO_STORE))


def render_apigee_error(err: OAuthError, req: Request | None) -> Reply:
    """Apigee OAuthV2's error body: `ErrorCode` and `Error`, nothing else."""
    return Reply(err.status, json={"ErrorCode": err.error, "Error": err.description or err.error}, headers=dict(err.headers), error=err.error)


class ApigeeTokenErrors:
    def duplicated(self, names: Sequence[str]) -> OAuthError:
        return apigee_error("invalid_request", f"Duplicate param : {', '.join(names)}", 400)

    def missing_grant_type(self) -> OAuthError:
        return apigee_error("invalid_request", "Required param : grant_type", 400)

    def unsupported_grant_type(self, grant_type: str) -> OAuthError:
        if not grant_type:  # `grant_type=` is as missing as no grant_type at all
            return self.missing_grant_type()
        return apigee_error("unsupported_grant_type", f"Unsupported grant type : {grant_type}", 400)


class Apigee:
    """The APIGEE issuer of the Lumen authority: token endpoint and the API's verifier."""

    ISSUER_PATH = "/oauth"
    AUDIENCE = "api.lumen.com"  # what every APIGEE token is for: the Lumen APIs

    def __init__(self, context: LumenContext) -> None:
        self.context = context
        # Apigee names a missing client first, then duplicates and grant_type, and judges the key and secret last
        # (in the grant): "client" here only reads the credentials. Its policies read grant_type from the query
        # as readily as from the form.
        self.token = TokenEndpoint[str, Presented](
            issuer_of=lambda req: req.base + self.ISSUER_PATH, grants={"client_credentials": self.client_credentials},
            authenticate=self.presented, errors=ApigeeTokenErrors(), order=("client", "duplicates", "grant_type"),
            grant_type_from=lambda req: req.params.get("grant_type"),
        )

    @property
    def apps(self) -> dict[str, ApigeeApp]:
        return {a.consumer_key: a for a in self.context.config.apigee_apps}

    @property
    def keyset(self) -> KeySet:
        return self.context.keyset("apigee")

    def presented(self, issuer: str, req: Request, grant_type: str) -> Presented:
        if req.basic is not None:
            key, secret = req.basic
        else:
            params = req.params
            key, secret = params.get("client_id") or "", params.get("client_secret") or ""
        if not key:
            raise apigee_error("invalid_client", "Client identifier is required", 401)
        return key, secret

    def client_credentials(self, issuer: str, presented: Presented, req: Request) -> Reply:
        key, secret = presented
        app = self.apps.get(key)
        if app is None or app.status != "approved" or not hmac.compare_digest(secret.encode(), app.consumer_secret.encode()):
            raise apigee_error("invalid_client", "ClientId is Invalid", 401)  # Apigee tells no key, secret or status apart
        return self.issue(issuer, app)

    def issue(self, issuer: str, app: ApigeeApp) -> Reply:
        now = self.context.now
        claims = {
            "iss": issuer, "sub": app.consumer_key, "aud": self.AUDIENCE, "client_id": app.consumer_key,
            "application_name": app.application_name, "api_product_list": list(app.api_products), "bans": list(app.bans),
            "customerNumber": app.customer_number, "iat": int(now), "nbf": int(now), "exp": int(now) + app.token_lifetime,
            "jti": str(uuid.uuid4()), **self.context.planned_claims(app.consumer_key),
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
        return token_reply(body, issued=[token])

    def jwks(self, req: Request) -> Reply:
        return Reply(json=self.keyset.jwks())

    def verify(self, req: Request, token: str) -> dict[str, Any]:
        """The Lumen API's verifier: APIGEE's signature, expiry, an APIGEE issuer, an app still approved."""
        _, claims = verify(token, self.keyset, now=self.context.now)
        if claims.get("iss") not in (req.base + self.ISSUER_PATH, self.context.default_base() + self.ISSUER_PATH):
            raise TokenInvalid("issuer", "token issued by another APIGEE issuer")
        if claims.get("aud") != self.AUDIENCE:  # found by the JWT attack catalogue: a token of another audience was taken
            raise TokenInvalid("audience", f"aud {claims.get('aud')!r} is not {self.AUDIENCE}")
        app = self.apps.get(str(claims.get("client_id")))
        if app is None or app.status != "approved":
            raise TokenInvalid("revoked", "the Apigee app is unknown or revoked")
        return {**claims, "clientId": app.consumer_key, "mechanism": "APIGEE"}
