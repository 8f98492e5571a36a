"""What an account realm publishes: Keycloak's realm info, OpenID discovery document (field order of Keycloak's
OIDCWellKnownProvider) and JWKS."""

from __future__ import annotations

from collections.abc import Sequence

from mockidp.authorities.avaya.context import AvayaContext
from mockidp.oauth import pkce
from mockidp.request import Reply, Request


class AvayaMetadata:
    def __init__(self, ctx: AvayaContext, grant_types: Sequence[str]) -> None:
        self.ctx = ctx
        self.grant_types = list(grant_types)

    def discovery(self, req: Request) -> Reply:
        realm = self.ctx.realm_of(req)
        iss = realm.issuer(req.base)
        oidc = iss + "/protocol/openid-connect"
        methods = ["private_key_jwt", "client_secret_basic", "client_secret_post"]
        return Reply(json={
            "issuer": iss,
            "authorization_endpoint": oidc + "/auth",
            "token_endpoint": oidc + "/token",
            "introspection_endpoint": oidc + "/token/introspect",
            "userinfo_endpoint": oidc + "/userinfo",
            "end_session_endpoint": oidc + "/logout",
            "jwks_uri": oidc + "/certs",
            "revocation_endpoint": oidc + "/revoke",
            "device_authorization_endpoint": oidc + "/auth/device",  # RFC 8628 §4
            "grant_types_supported": list(self.grant_types),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [realm.config.alg],
            "userinfo_signing_alg_values_supported": ["none"],
            "token_endpoint_auth_methods_supported": methods,
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "introspection_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": methods,
            "code_challenge_methods_supported": list(pkce.METHODS),
            "claims_supported": ["aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username",
                                 "email", "email_verified", "acr", "azp", "sid"],
            "scopes_supported": ["openid", "profile", "email", "offline_access", *realm.scopes],
            "request_parameter_supported": False,
            "claims_parameter_supported": False,
        })

    def certs(self, req: Request) -> Reply:
        return Reply(json=self.ctx.realm_of(req).keyset.jwks())

    def realm_info(self, req: Request) -> Reply:
        realm = self.ctx.realm_of(req)
        iss = realm.issuer(req.base)
        return Reply(json={
            "realm": realm.name,
            "public_key": realm.keyset.active.public_key_der_b64(),
            "token-service": iss + "/protocol/openid-connect",
            "account-service": iss + "/account",
            "tokens-not-before": 0,
        })
