"""Managed identities' token endpoints: Azure IMDS (`GET /metadata/identity/oauth2/token`, a VM or AKS node) and the
App Service / Functions endpoint (`GET /msi/token`, IDENTITY_ENDPOINT), each in its own wire format.

Wire facts (shared/reference/entra-identities.md §2-4), read in the clients that call them:
- msal `managed_identity.py` `_obtain_token_on_azure_vm` and `_obtain_token_on_app_service`: the query
  (`api-version`, `resource`, one of `client_id` / `object_id` / `msi_res_id`, App Service: `mi_res_id`), the headers
  (`Metadata: true`; `X-IDENTITY-HEADER`), and what each answer must hold (IMDS: `access_token` + `expires_in`;
  App Service: `access_token` + `expires_on`, errors `{"statusCode", "message"}`);
- azure-identity `_credentials/imds.py`: a 400 means "no identity assigned" (CredentialUnavailableError, so
  DefaultAzureCredential moves on); the availability probe is the same request without the Metadata header, and
  any answer counts as "available", so it is answered at once (400, as IMDS does);
- entra-docs `how-to-use-vm-token.md`: every value of the IMDS answer is a string; its error table.

The host's identities are every managed identity of the world; a request that names none gets the system-assigned
one (of the first tenant that has one). The token is an app-only token of the identity's tenant, in the shape the
resource accepts (v1/v2), with `idtyp: app`, `oid`, `xms_mirid` and the app roles granted to the identity."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from mockidp.authorities.entra.context import EntraContext
from mockidp.authorities.entra.tenant import v1_issuer
from mockidp.authorities.entra.tokens import common_claims, sign_access_token
from mockidp.authorities.entra.world import EntraManagedIdentity, EntraTenant, assigned_roles, find_resource
from mockidp.errors import OAuthError
from mockidp.request import Reply, Request

IMDS_HOST = "169.254.169.254"  # azure-identity `imds.py` IMDS_AUTHORITY, msal `_obtain_token_on_azure_vm`
# Managed-identity tokens are long lived (about 24 hours) and refreshed at half-life by the clients (msal
# `acquire_token_for_client`: refresh_in = expires_in / 2 when it is at least 7200) [exact lifetime unconfirmed].
LIFETIME = 86399
NO_CACHE = {"cache-control": "no-store, no-cache", "pragma": "no-cache"}


class NoIdentity(Exception):
    """The request names no identity of this host, or a resource no tenant holds: each endpoint's own 400."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error, self.message = error, message


class ManagedIdentities:
    def __init__(self, entra: EntraContext) -> None:
        self.entra = entra

    # --- the two endpoints ---------------------------------------------------------------------------------

    def imds(self, req: Request) -> Reply:
        # The Metadata header first: the availability probe sends none and must get an answer at once.
        if req.headers.get("metadata", "") != "true":  # lower-case "true" only (how-to-use-vm-token.md)
            return imds_error(400, "bad_request_102", "Required metadata header not specified")
        try:
            self.need(req, "api-version", "resource")
            mi, tenant = self.identity(req, ("client_id", "object_id", "msi_res_id"))
            token, resource = self.token(req, mi, tenant)
        except NoIdentity as exc:
            return imds_error(400, exc.error, exc.message)
        now = int(self.entra.now)
        return Reply(json={  # every value a string, as IMDS sends them
            "access_token": token, "refresh_token": "", "expires_in": str(LIFETIME), "expires_on": str(now + LIFETIME),
            "ext_expires_in": str(LIFETIME), "not_before": str(now), "resource": resource, "token_type": "Bearer",
        }, headers=NO_CACHE, issued=[token])

    def app_service(self, req: Request) -> Reply:
        secret = req.headers.get("x-identity-header")
        if secret is None or not hmac.compare_digest(secret.encode(), self.entra.config.identity_header.encode()):
            # The platform's endpoint refuses a caller without the app's secret [status and text unconfirmed].
            return app_service_error(401, "Unauthorized: the X-IDENTITY-HEADER request header is missing or wrong.")
        try:
            self.need(req, "api-version", "resource")
            mi, tenant = self.identity(req, ("client_id", "object_id", "principal_id", "mi_res_id"))
            token, resource = self.token(req, mi, tenant)
        except NoIdentity as exc:
            return app_service_error(400, exc.message)
        now = int(self.entra.now)
        # overview-managed-identity.md "REST endpoint reference": expires_on in epoch seconds, as a string.
        return Reply(json={"access_token": token, "expires_on": str(now + LIFETIME), "resource": resource, "token_type": "Bearer",
                           "client_id": mi.client_id}, headers=NO_CACHE, issued=[token])

    # --- what both share ------------------------------------------------------------------------------------

    @staticmethod
    def need(req: Request, *names: str) -> None:
        for name in names:
            if not req.query.get(name):
                raise NoIdentity("invalid_request", f"Required query variable '{name}' is missing")  # [text unconfirmed]

    def identity(self, req: Request, selectors: tuple[str, ...]) -> tuple[EntraManagedIdentity, EntraTenant]:
        """The identity the query names (one selector at most), else the host's system-assigned identity."""
        named = [(k, req.query[k]) for k in selectors if req.query.get(k)]
        if len(named) > 1:
            raise NoIdentity("invalid_request", "Only one of " + ", ".join(selectors) + " may be given")  # [text unconfirmed]
        for tenant in self.entra.config.tenants:
            for mi in tenant.managed_identities:
                if named and matches(mi, *named[0]):
                    return mi, tenant
                if not named and mi.kind == "system":
                    return mi, tenant
        # IMDS answers 400 for an identity the VM does not have [body unconfirmed]; azure-identity then says
        # "The requested identity has not been assigned to this resource."
        text = f"Identity not found ({named[0][0]}={named[0][1]})" if named else "No managed identity is assigned to this resource"
        raise NoIdentity("invalid_request", text)

    def token(self, req: Request, mi: EntraManagedIdentity, tenant: EntraTenant) -> tuple[str, str]:
        resource_name = req.query["resource"]
        api = find_resource(tenant, resource_name)
        if api is None:  # how-to-use-vm-token.md, error table: 400 invalid_resource, AADSTS50001
            raise NoIdentity("invalid_resource", f"AADSTS50001: The application named {resource_name} was not found in the tenant named {tenant.tenant_id}.")
        claims = common_claims(int(self.entra.now), LIFETIME, tenant, mi.object_id, mi.object_id)
        claims.update({"idtyp": "app", "xms_mirid": mi.resource_id})
        roles = assigned_roles(mi.granted_roles, api)
        if roles:
            claims["roles"] = roles
        # Through the IMDS address the request's base names no Entra host: such tokens carry the engine's issuer.
        base = self.entra.default_base() if urlsplit(req.base).hostname == IMDS_HOST else req.base
        token = sign_access_token(self.entra, base, tenant, claims, v1=api.accept_v1_tokens, client_id=mi.client_id, acr="2",
                                  v1_claims={"aud": resource_name, "idp": v1_issuer(tenant)}, v2_claims={"aud": api.app_id})
        return token, resource_name


def matches(mi: EntraManagedIdentity, selector: str, value: str) -> bool:
    if selector == "client_id":
        return mi.client_id.lower() == value.lower()
    if selector in ("object_id", "principal_id"):
        return (mi.object_id or "").lower() == value.lower()
    return (mi.resource_id or "").lower() == value.lower()  # ARM ids compare case-insensitively


def imds_error(status: int, error: str, description: str) -> Reply:
    return Reply(status, json={"error": error, "error_description": description}, headers=NO_CACHE, error=error)


def app_service_error(status: int, message: str) -> Reply:
    return Reply(status, json={"statusCode": status, "message": message}, headers=NO_CACHE, error="managed_identity_error")


def render_imds_error(err: OAuthError, req: Request | None) -> Reply:
    """The glue's errors (a malformed query) in IMDS's shape."""
    return imds_error(err.status, err.error, err.description or err.error)


def render_app_service_error(err: OAuthError, req: Request | None) -> Reply:
    return app_service_error(err.status, err.description or err.error)
