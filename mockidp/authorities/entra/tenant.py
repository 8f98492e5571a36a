"""Finding a tenant and its apps, and the issuers a tenant's tokens carry (shared/reference/entra.md)."""

from __future__ import annotations

import re

from mockidp.authorities.aad import aad_error
from mockidp.authorities.entra.world import EntraApp, EntraTenant

# The Microsoft public-cloud hosts MSAL treats as known (msal/authority.py WELL_KNOWN_AUTHORITY_HOSTS, public cloud).
MICROSOFT_HOSTS = ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net")
REAL_BASE = "https://login.microsoftonline.com"
# Tenant names that are not tenants: discovery answers for them, the client credentials grant does not.
MULTI_TENANT = ("common", "organizations", "consumers")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DNS = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def is_guid(name: str) -> bool:
    return _GUID.fullmatch(name) is not None


def find_tenant(tenants: dict[str, EntraTenant], name: str, error: str) -> EntraTenant:
    """The tenant a path names (GUID or domain, any case), or the AADSTS error for that name, as `error`."""
    tenant = tenants.get(name.lower())
    if tenant is not None:
        return tenant
    if name.lower() in MULTI_TENANT:
        raise aad_error("invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials.")
    if not (_GUID.fullmatch(name) or _DNS.fullmatch(name)):
        raise aad_error(error, 900023, f"Specified tenant identifier '{name}' is neither a valid DNS name, nor a valid external domain.")
    raise aad_error(error, 90002, f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.")


def app_of(tenant: EntraTenant, client_id: str) -> EntraApp:
    app = next((a for a in tenant.apps if a.app_id.lower() == client_id.lower()), None)
    if app is None:
        raise aad_error("unauthorized_client", 700016, (
            f"Application with identifier '{client_id}' was not found in the directory '{tenant.display_name or tenant.tenant_id}'. "
            "This can happen if the application has not been installed by the administrator of the tenant or consented to by any user "
            "in the tenant. You may have sent your authentication request to the wrong tenant."
        ))
    return app


def v2_issuer(base: str, tenant: EntraTenant) -> str:
    return f"{base}/{tenant.tenant_id}/v2.0"


def v1_issuer(tenant: EntraTenant) -> str:
    # v1 tokens name the STS host whatever host issued them (access-token-claims-reference.md).
    return f"https://sts.windows.net/{tenant.tenant_id}/"


def known_issuers(tenant: EntraTenant, *bases: str) -> list[str]:
    """Every issuer the tenant's tokens may carry: v2 at each base it is served under (and the real one), and v1."""
    unique = dict.fromkeys((*bases, REAL_BASE))
    return [*(v2_issuer(b, tenant) for b in unique), v1_issuer(tenant)]
