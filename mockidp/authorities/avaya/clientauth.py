"""Keycloak's client authentication for an account realm, as the token, introspection, revocation and logout
endpoints share it: client_secret_basic / client_secret_post, private_key_jwt, or a public client. The order of
the checks and their texts are Keycloak's (ClientAuthenticator), seed 001 where it differs."""

from __future__ import annotations

import contextlib
import hmac

from mockidp.authorities.avaya.errors import INVALID_CLIENT, kc_error
from mockidp.authorities.avaya.realm import Realm
from mockidp.authorities.avaya.world import CLIENT_ID, AvayaClient
from mockidp.oauth.assertions import verify_assertion
from mockidp.oauth.clientauth import JWT_BEARER, presented_credentials
from mockidp.request import Request
from mockidp.tokens import TokenInvalid, peek
from mockidp.types import Services


def authenticate_client(services: Services, realm: Realm, req: Request) -> AvayaClient:
    creds = presented_credentials(req, body_overrides_basic=True)  # Keycloak: a form client_id / client_secret replaces Basic's
    client_id = creds.client_id
    if not client_id and creds.assertion:
        with contextlib.suppress(TokenInvalid):
            client_id = peek(creds.assertion)[1].get("sub")  # Keycloak takes the client from the assertion
    if not client_id:
        raise kc_error("invalid_client", "Missing client_id parameter", 400)
    client = realm.clients.get(client_id.lower()) if isinstance(client_id, str) and CLIENT_ID.fullmatch(client_id) else None
    if client is None:
        raise kc_error("invalid_client", INVALID_CLIENT, 400)  # seed 001: 400 when client_id is invalid
    if not client.enabled:
        raise kc_error("invalid_client", INVALID_CLIENT, 401)
    keys = realm.client_keys[client.client_id.lower()]
    if creds.method == "private_key_jwt":
        if creds.assertion_type != JWT_BEARER:
            raise kc_error("invalid_client", "Parameter client_assertion_type is missing or invalid", 400)
        if not keys or not creds.assertion:
            raise kc_error("unauthorized_client", "Client authentication with signed JWT failed: no key registered for the client", 401)
        issuer = realm.issuer(req.base)
        try:
            verify_assertion(creds.assertion, keys, client_id=client.client_id, now=services.clock.now(), store=services.store,
                             audiences={issuer, issuer + "/protocol/openid-connect/token", req.base + req.path})
        except TokenInvalid as exc:
            raise kc_error("unauthorized_client", f"Client authentication with signed JWT failed: {exc}", 401) from exc
        return client
    if client.secret is None:
        if keys:
            raise kc_error("unauthorized_client", "Client authentication with signed JWT failed: client_assertion missing", 401)
        return client  # a public client
    if creds.secret is None:
        raise kc_error("unauthorized_client", "Client secret not provided in request", 401)
    if not hmac.compare_digest(creds.secret.encode(), client.secret.encode()):
        raise kc_error("unauthorized_client", "Invalid client secret", 401)  # seed 001's body
    return client
