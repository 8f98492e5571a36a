"""Keycloak's error bodies as an Avaya account realm sends them: `{"error", "error_description"}`, always with the
no-store headers Keycloak puts on every token-endpoint answer, and the texts its token endpoint checks use."""

from __future__ import annotations

from collections.abc import Sequence

from mockidp.errors import OAuthError
from mockidp.oauth.token_endpoint import NO_STORE

INVALID_CLIENT = "Invalid client or Invalid client credentials"


def kc_error(error: str, description: str | None, status: int = 400) -> OAuthError:
    return OAuthError(error, description, status, headers=dict(NO_STORE))


class KeycloakTokenErrors:
    """The token endpoint's own checks, in Keycloak's words (TokenEndpoint.java)."""

    def duplicated(self, names: Sequence[str]) -> OAuthError:
        return kc_error("invalid_request", "duplicated parameter")

    def missing_grant_type(self) -> OAuthError:
        return kc_error("invalid_request", "Missing form parameter: grant_type")

    def unsupported_grant_type(self, grant_type: str) -> OAuthError:
        return kc_error("unsupported_grant_type", "Unsupported grant_type")


class RepresentationError(ValueError):
    """A Keycloak representation (admin API, realm export) mockidp cannot take: the admin API's 400
    `{"errorMessage": ...}`."""
