"""Workload identity federation: a `client_assertion` issued by an external OIDC issuer (a Kubernetes cluster, GitHub
Actions) authenticates an app that holds a matching federated identity credential (FIC) instead of a secret.

Wire facts (shared/reference/entra-identities.md §5): azure-identity `_internal/aad_client_base.py`
`_get_jwt_assertion_request` posts the token it read from AZURE_FEDERATED_TOKEN_FILE as a jwt-bearer client
assertion on the client credentials grant; Entra matches `iss`, `sub` and `aud` against the app's FICs exactly and
case-sensitively (entra-docs reference-breaking-changes.md, "Federated identity credentials now use case-sensitive
matching"). The error texts are those real servers answered in Azure/azure-workload-identity#340 (70021) and #1200
(700211, 700213), Azure/login#482 (700213) and #515 (7002138); 700212 from the reference sheet [issue-grade]; all
401 invalid_client (microsoft/Agents#202).

Order [not pinned down]: issuer, subject, audience, then the signature and lifetime: Entra must trust the issuer
before it fetches that issuer's keys. Here the keys are never fetched: mockidp's own stand-in issuers (the
`workload` authority) verify the token through the `workload.verify` capability. A token is not refused as
replayed: a client presents the same projected token for up to ten minutes (azure-identity
`_credentials/workload_identity.py` TokenFileMixin)."""

from __future__ import annotations

from typing import Any

from mockidp.authorities.entra.context import EntraContext
from mockidp.authorities.entra.errors import invalid_client, stamp
from mockidp.authorities.entra.world import EntraApp, EntraFederatedCredential
from mockidp.request import Request
from mockidp.tokens import TokenInvalid, peek

VERIFY = "workload.verify"  # offered by mockidp.authorities.workload (never imported: a named capability)
DOCS = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
CHECK = "Check your federated identity credential Subject, Audience and Issuer against the presented assertion."


def is_federated(assertion: str) -> bool:
    """A certificate assertion is the app's own (`iss` = `sub` = its client id); a federated one names an issuer URL."""
    try:
        _, claims = peek(assertion)
    except TokenInvalid:
        return False  # the certificate path answers a malformed assertion
    iss = claims.get("iss")
    return isinstance(iss, str) and iss.startswith(("https://", "http://"))


class Federation:
    def __init__(self, entra: EntraContext) -> None:
        self.entra = entra

    def verify(self, req: Request, tenant_bases: list[str], app: EntraApp, assertion: str) -> None:
        _, claims = peek(assertion)
        iss, sub = claims.get("iss"), claims.get("sub")
        aud = claims.get("aud")
        auds: list[Any] = aud if isinstance(aud, list) else [aud]
        if not app.federated_credentials:
            raise invalid_client(70021, "No matching federated identity record found for presented assertion.")
        by_issuer = [f for f in app.federated_credentials if iss in issuers(f, tenant_bases)]
        if not by_issuer:
            raise invalid_client(700211, f"No matching federated identity record found for presented assertion issuer '{iss}'. Please c{CHECK[1:]} {DOCS}")
        by_subject = [f for f in by_issuer if f.subject == sub]
        if not by_subject:
            if isinstance(sub, str) and any(f.subject.lower() == sub.lower() for f in by_issuer):
                raise invalid_client(7002138, (
                    f"No matching federated identity record found for presented assertion subject '{sub}'. The subject matches with "
                    f"case-insensitive comparison, but not with case-sensitive comparison. {CHECK} See documentation at: {DOCS}."
                ))
            raise invalid_client(700213, f"No matching federated identity record found for presented assertion subject '{sub}'. {CHECK} {DOCS}")
        if not any(a in f.audiences for f in by_subject for a in auds):
            shown = ",".join(str(a) for a in auds)
            raise invalid_client(700212, f"No matching federated identity record found for presented assertion audience '{shown}'. Please c{CHECK[1:]} {DOCS}")
        try:
            self.entra.services.capability(VERIFY)(assertion, tenant_bases)
        except KeyError as exc:  # no workload authority in this server: nobody to vouch for the token
            raise invalid_client(70021, "No matching federated identity record found for presented assertion.") from exc
        except TokenInvalid as exc:
            raise self.invalid(exc, claims) from exc

    def invalid(self, exc: TokenInvalid, claims: dict[str, Any]) -> Exception:
        if exc.reason in ("expired", "not_yet_valid"):
            return invalid_client(700024, (
                f"Client assertion is not within its valid time range. Current time: {stamp(self.entra.now)}, assertion valid from "
                f"{stamp(claims.get('nbf', claims.get('iat')))}, expiry time of assertion {stamp(claims.get('exp'))}. {DOCS}"
            ))
        if exc.reason == "issuer":  # a FIC names an issuer mockidp does not host: its keys cannot be had [code unconfirmed]
            return invalid_client(70021, "No matching federated identity record found for presented assertion.")
        return invalid_client(700027, "Client assertion failed signature validation.")


def issuers(fic: EntraFederatedCredential, bases: list[str]) -> set[str]:
    """The issuer the FIC names; `{base}` stands for this server's root URL under any name a request used."""
    if "{base}" not in fic.issuer:
        return {fic.issuer}
    return {fic.issuer.replace("{base}", b.rstrip("/")) for b in bases}
