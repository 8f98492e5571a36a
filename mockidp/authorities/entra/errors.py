"""Entra's AADSTS errors that more than one endpoint answers, and its words for the token endpoint's own checks.
Every row: shared/reference/entra.md (entra-docs `reference-error-codes.md`)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from mockidp.authorities.aad import aad_error
from mockidp.authorities.entra.world import EntraTenant
from mockidp.errors import OAuthError

MALFORMED = (9002313, "Invalid request. Request is malformed or invalid.")


def missing(name: str) -> OAuthError:
    return aad_error("invalid_request", 900144, f"The request body must contain the following parameter: '{name}'.")


def malformed(detail: str | None = None) -> OAuthError:
    code, text = MALFORMED
    return aad_error("invalid_request", code, f"{text} ({detail})" if detail is not None else text)


def invalid_client(code: int, text: str) -> OAuthError:
    return aad_error("invalid_client", code, text, 401)


def invalid_grant(code: int, text: str) -> OAuthError:
    return aad_error("invalid_grant", code, text)


def revoked() -> OAuthError:
    return invalid_grant(50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed.")


def resource_not_found(tenant: EntraTenant, name: str) -> OAuthError:
    return aad_error("invalid_resource", 500011, (
        f"The resource principal named {name} was not found in the tenant named {tenant.display_name or tenant.tenant_id}. "
        "This can happen if the application has not been installed by the administrator of the tenant or consented to by "
        "any user in the tenant. You might have sent your authentication request to the wrong tenant."
    ))


def stamp(value: Any) -> str:
    """A time in an AADSTS text: 'MM/DD/YYYY HH:MM:SS' (UTC)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "(none)"
    return datetime.datetime.fromtimestamp(value, datetime.UTC).strftime("%m/%d/%Y %H:%M:%S")


class TokenErrors:
    """The token endpoint's checks in Entra's words (mockidp.oauth.token_endpoint.TokenErrors)."""

    def duplicated(self, names: Sequence[str]) -> OAuthError:
        return malformed()  # Entra does not name the repeated parameter

    def missing_grant_type(self) -> OAuthError:
        return missing("grant_type")

    def unsupported_grant_type(self, grant_type: str) -> OAuthError:
        return aad_error("unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'.")
