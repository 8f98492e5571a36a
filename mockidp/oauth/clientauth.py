"""RFC 6749 §2.3 / RFC 7523 §2.2: which credentials a client presented, and how. Judging them is the authority's."""

from __future__ import annotations

from dataclasses import dataclass

from mockidp.request import Request

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientCredentials:
    method: str  # client_secret_basic | client_secret_post | private_key_jwt | none
    client_id: str | None
    secret: str | None = None
    assertion: str | None = None
    assertion_type: str | None = None


def presented_credentials(req: Request) -> ClientCredentials:
    """Basic wins over the body (as Keycloak and Entra do); a client_assertion wins over a body secret."""
    basic = req.basic
    if basic is not None:
        return ClientCredentials("client_secret_basic", basic[0] or req.param("client_id"), secret=basic[1])
    assertion = req.param("client_assertion")
    if assertion is not None or req.param("client_assertion_type") is not None:
        return ClientCredentials(
            "private_key_jwt",
            req.param("client_id"),
            assertion=assertion,
            assertion_type=req.param("client_assertion_type"),
        )
    secret = req.param("client_secret")
    if secret is not None:
        return ClientCredentials("client_secret_post", req.param("client_id"), secret=secret)
    return ClientCredentials("none", req.param("client_id"))
