"""The gateway's error texts: its token endpoint's (the skeleton's checks and the CIBA poll answers) and, for
faults, the CIBA Core errors it never produces by itself."""

from __future__ import annotations

from collections.abc import Sequence

from mockidp.authorities.opengateway.world import OgApp
from mockidp.errors import OAuthError
from mockidp.oauth import ciba
from mockidp.oauth.token_endpoint import NO_STORE

# User codes, binding messages and login_hint_token are never asked for here; a fault naming one still gets
# CIBA Core's meaning and status, so a test can exercise its handling.
FAULT_ERRORS = {
    "invalid_client": ("Client authentication failed", 401),
    "missing_user_code": ("user_code is required for this client", 400),
    "invalid_user_code": ("the user_code was invalid", 400),
    "invalid_binding_message": ("the binding_message is invalid or unacceptable", 400),
    "expired_login_hint_token": ("the login_hint_token has expired", 400),
    "transaction_failed": ("the transaction failed at the operator", 400),
}


def named_error(name: str, description: str | None = None) -> OAuthError:
    text, status = FAULT_ERRORS.get(name, (name.replace("_", " "), 400))
    return OAuthError(name, description or text, status)


def duplicated(names: Sequence[str]) -> OAuthError:
    return OAuthError("invalid_request", f"parameter(s) sent more than once: {', '.join(names)}")


class TokenErrors:
    """The skeleton's checks in the gateway's words (mockidp.oauth.token_endpoint.TokenErrors)."""

    def duplicated(self, names: Sequence[str]) -> OAuthError:
        return duplicated(names)

    def missing_grant_type(self) -> OAuthError:
        return OAuthError("invalid_request", "grant_type is required")

    def unsupported_grant_type(self, grant_type: str) -> OAuthError:
        return OAuthError("unsupported_grant_type", f"this gateway issues tokens for {ciba.GRANT_TYPE} (backend flow) and authorization_code (frontend flow) only")


def poll_error(result: str, rec: ciba.Record | None, app: OgApp) -> OAuthError:
    """What a token request hears for a CIBA poll that issued nothing (`ciba.poll`'s result)."""
    texts = {
        "invalid_grant:unknown": "auth_req_id is unknown",
        "invalid_grant:client": "auth_req_id was issued to another client",
        "invalid_grant:redeemed": "auth_req_id was already redeemed",
        "authorization_pending": "the subscriber has not given consent yet",
        "slow_down": f"polling too fast: wait at least {rec['interval'] if rec else 0} s between token requests",
        "expired_token": "auth_req_id has expired; send a new authentication request",
        "access_denied": "the subscriber denied consent",
    }
    error = result.split(":")[0]
    # Telefonica's sequence diagram answers 403 while consent is missing (reference: "Token endpoint"); CIBA says 400.
    status = 403 if app.consent_403 and error in ("authorization_pending", "slow_down", "access_denied") else 400
    return OAuthError(error, texts[result], status, headers=dict(NO_STORE))
