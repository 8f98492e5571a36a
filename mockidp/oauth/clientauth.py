"""RFC 6749 §2.3 / RFC 7523 §2.2: which credentials a client presented, and how. Judging them is the authority's.

RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request." A request with HTTP
Basic and a secret or assertion in the body too, or Basic for one client and another `client_id` in the body, or
both a client_secret and a client_assertion, raises MixedCredentials; the authority answers it in its own shape. The
same `client_id` in the body beside Basic is one client and one method, and common (authlib, python-keycloak)."""

from __future__ import annotations

from dataclasses import dataclass

from mockidp.request import Request

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class MixedCredentials(ValueError):
    """More than one client authentication in one request (RFC 6749 §2.3)."""


@dataclass(frozen=True)
class ClientCredentials:
    method: str  # client_secret_basic | client_secret_post | private_key_jwt | none
    client_id: str | None
    secret: str | None = None
    assertion: str | None = None
    assertion_type: str | None = None


def presented_credentials(req: Request, *, body_overrides_basic: bool = False) -> ClientCredentials:
    """The one set of credentials the request carries; raises MixedCredentials for more than one.

    `body_overrides_basic` is Keycloak's reading instead (ClientIdAndSecretAuthenticator.authenticateClient: Basic
    first, then a form `client_id` / `client_secret` replaces it), which never raises: the client judged is the
    body's when it names one, with the body's secret when it has one, else Basic's; that client is the one the
    journal records (the body's `client_id` first), so what it says stays true."""
    basic = req.basic
    body_id, secret = req.param("client_id"), req.param("client_secret")
    assertion, assertion_type = req.param("client_assertion"), req.param("client_assertion_type")
    if body_overrides_basic:
        client_id = body_id or (basic[0] if basic else None)
        if assertion is not None or assertion_type is not None:
            return ClientCredentials("private_key_jwt", client_id, assertion=assertion, assertion_type=assertion_type)
        if secret is not None:
            return ClientCredentials("client_secret_post", client_id, secret=secret)
        if basic is not None:
            return ClientCredentials("client_secret_basic", client_id, secret=basic[1])
        return ClientCredentials("none", client_id)
    if basic is not None:
        if secret is not None or assertion is not None or assertion_type is not None:
            raise MixedCredentials("client credentials were sent both in the Authorization header and in the request body")
        if body_id is not None and basic[0] and body_id != basic[0]:
            raise MixedCredentials("the client_id in the request body is not the client of the Authorization header")
        return ClientCredentials("client_secret_basic", basic[0] or body_id, secret=basic[1])
    if assertion is not None or assertion_type is not None:
        if secret is not None:
            raise MixedCredentials("both a client_secret and a client_assertion were sent")
        return ClientCredentials("private_key_jwt", body_id, assertion=assertion, assertion_type=assertion_type)
    if secret is not None:
        return ClientCredentials("client_secret_post", body_id, secret=secret)
    return ClientCredentials("none", body_id)
