"""What Entra's access tokens share, app-only (client_credentials.py) or for a user (grants.py): the opaque
claims, the v1 or v2 shape, the planned claims of a test, and the signature by the tenant's key.

Wire facts: entra-docs `access-token-claims-reference.md` (summarised in shared/reference/entra.md)."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from mockidp.authorities.entra.context import EntraContext
from mockidp.authorities.entra.tenant import v1_issuer, v2_issuer
from mockidp.authorities.entra.world import EntraTenant
from mockidp.tokens import sign


def opaque(size: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode()


def common_claims(now: int, lifetime: int, tenant: EntraTenant, oid: str | None, sub: str | None) -> dict[str, Any]:
    """The claims of every Entra token: times, the tenant, the principal, and Entra's opaque `aio`, `rh`, `uti`."""
    return {"iat": now, "nbf": now, "exp": now + lifetime, "aio": opaque(48), "oid": oid, "rh": opaque(32) + ".", "sub": sub,
            "tid": tenant.tenant_id, "uti": opaque(16)}


def sign_access_token(entra: EntraContext, base: str, tenant: EntraTenant, claims: dict[str, Any], *, v1: bool, client_id: str,
                      acr: str, v1_claims: dict[str, Any], v2_claims: dict[str, Any]) -> str:
    """v1 (the resource accepts v1 tokens): the STS issuer, appid/appidacr and an `x5t` header; v2: the tenant's v2
    issuer, azp/azpacr. The test's planned claims go last, so they win."""
    keyset = entra.tenant_keyset(tenant)
    header: dict[str, Any] = {}
    if v1:
        claims.update({"iss": v1_issuer(tenant), "appid": client_id, "appidacr": acr, "ver": "1.0", **v1_claims})
        header["x5t"] = keyset.active.x5t
    else:
        claims.update({"iss": v2_issuer(base, tenant), "azp": client_id, "azpacr": acr, "ver": "2.0", **v2_claims})
    claims.update(entra.planned_claims(client_id))
    return sign(keyset, dict(sorted(claims.items())), header)
