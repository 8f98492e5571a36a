"""Keycloak's JSON representations (ClientRepresentation, UserRepresentation, CredentialRepresentation) read into
world-file items of an account realm, for the admin API and realm-export import. Pure, and free of the world's
dataclasses (world.py reads realm exports at load through realm_import.py, which uses this module).

Field names and defaults follow Keycloak's `org.keycloak.representations.idm` classes and RepresentationToModel
(a new client: standard flow on, direct access grants, service accounts and public off); attribute values are
strings ("true"). Every field mockidp models is mapped; others are named in `ignored`, never a reason to fail."""

from __future__ import annotations

import copy
import secrets
import textwrap
from typing import Any

from mockidp.authorities.avaya.errors import RepresentationError
from mockidp.authorities.avaya.passwords import hash_from_export

# Attributes with a field of their own on AvayaClient (ClientRepresentation.attributes)
PKCE, EXCHANGE, DEVICE = "pkce.code.challenge.method", "standard.token.exchange.enabled", "oauth2.device.authorization.grant.enabled"
POST_LOGOUT, JWT_CERT = "post.logout.redirect.uris", "jwt.credential.certificate"
MASKED = "**********"  # what a partial export writes instead of a client secret


def listed(value: Any) -> list[Any]:
    """A field that should be a list, read as one whatever came (a realm export is hostile input)."""
    return value if isinstance(value, list) else []


def mapped(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def generate_secret() -> str:
    return secrets.token_urlsafe(24)  # 32 characters, as long as Keycloak's SecretGenerator's


def is_public(item: dict[str, Any]) -> bool:
    return item.get("secret") is None and not item.get("certificate") and not item.get("jwks")


def client_from_rep(known_scopes: set[str], rep: Any, base: dict[str, Any] | None, ignored: list[str], where: str = "client") -> dict[str, Any]:
    """A world-file item for an AvayaClient: a new client (`base` None) or an update of `base` (a world item;
    fields left out keep their value). `known_scopes`: the realm's client scopes; others are ignored."""
    if not isinstance(rep, dict):
        raise RepresentationError("Cannot parse the JSON")
    out: dict[str, Any] = copy.deepcopy(base) if base else {
        "standard_flow": True, "direct_access": False, "service_account": False, "redirect_uris": [], "default_scopes": ["profile", "email"]}
    client_id = rep.get("clientId", base["client_id"] if base else None)
    if not isinstance(client_id, str) or not client_id:
        raise RepresentationError("Client id is missing")  # [text unconfirmed]
    out["client_id"] = client_id
    simple = {"enabled": "enabled", "standardFlowEnabled": "standard_flow", "directAccessGrantsEnabled": "direct_access",
              "serviceAccountsEnabled": "service_account", "redirectUris": "redirect_uris", "name": "name"}
    out.update({name: rep[key] for key, name in simple.items() if key in rep})
    for key, name in (("defaultClientScopes", "default_scopes"), ("optionalClientScopes", "optional_scopes")):
        if isinstance(rep.get(key), list):
            names = [s for s in rep[key] if isinstance(s, str)]
            out[name] = [s for s in names if s in known_scopes]
            ignored += [f"client scope {s} (not modelled)" for s in names if s not in known_scopes]
    public = flag(rep.get("publicClient", base is not None and is_public(base)))
    attributes = rep.get("attributes")
    attributes = {str(k): v for k, v in attributes.items()} if isinstance(attributes, dict) else dict(out.get("attributes") or {})
    certificate = attributes.pop(JWT_CERT, None)
    if isinstance(certificate, str) and certificate and rep.get("clientAuthenticatorType") == "client-jwt":
        pem_body = "\n".join(textwrap.wrap(certificate.strip(), 64))  # Keycloak keeps the DER certificate in base64
        out["certificate"], out["secret"] = f"-----BEGIN CERTIFICATE-----\n{pem_body}\n-----END CERTIFICATE-----\n", None
    elif public:
        out["secret"], out["certificate"], out["jwks"] = None, None, None
    elif isinstance(rep.get("secret"), str) and rep["secret"] and rep["secret"] != MASKED:
        out["secret"] = rep["secret"]
    elif not out.get("secret") and not out.get("certificate") and not out.get("jwks"):
        if rep.get("secret") == MASKED:
            ignored.append(f"{where}.secret: masked in the export, a new one was generated")
        out["secret"] = generate_secret()  # Keycloak generates a confidential client's secret when none is given
    if PKCE in attributes:
        out["pkce_method"] = attributes.pop(PKCE) or None
    for attribute, name in ((EXCHANGE, "token_exchange"), (DEVICE, "device_grant")):
        if attribute in attributes:
            out[name] = flag(attributes.pop(attribute))
    if POST_LOGOUT in attributes:
        out["post_logout_redirect_uris"] = [u for u in str(attributes.pop(POST_LOGOUT)).split("##") if u] or ["+"]
    out["attributes"] = {k: v for k, v in attributes.items() if isinstance(v, str)}
    for key in ("bearerOnly", "implicitFlowEnabled", "consentRequired", "protocolMappers", "webOrigins"):
        if rep.get(key):
            ignored.append(f"{where}.{key}")
    return out


def user_from_rep(rep: Any, base: dict[str, Any] | None, ignored: list[str], where: str = "user") -> dict[str, Any]:
    """A world-file item for an AvayaUser from a UserRepresentation (with `credentials`, `realmRoles` and
    `clientRoles` as a realm export or `POST users` has them); `base`: the world item it updates."""
    if not isinstance(rep, dict):
        raise RepresentationError("Cannot parse the JSON")
    out: dict[str, Any] = copy.deepcopy(base) if base else {}
    username = rep.get("username", base["username"] if base else None)
    if not isinstance(username, str) or not username.strip():
        raise RepresentationError("User name is missing")  # UsersResource
    out["username"] = username.strip().lower()  # Keycloak stores user names in lower case
    for key, name in (("firstName", "first_name"), ("lastName", "last_name"), ("email", "email"), ("enabled", "enabled"),
                      ("emailVerified", "email_verified"), ("requiredActions", "required_actions")):
        if key in rep:
            out[name] = rep[key]
    if isinstance(rep.get("attributes"), dict):
        out["attributes"] = {str(k): v if isinstance(v, list) else [v] for k, v in rep["attributes"].items()}
    if "realmRoles" in rep:
        out["roles"] = rep["realmRoles"]
    if "clientRoles" in rep:
        out["client_roles"] = rep["clientRoles"]
    credentials = rep.get("credentials")
    if isinstance(credentials, list):
        for n, credential in enumerate(credentials):
            apply_credential(out, credential, f"{where}.credentials[{n}]")
    for key in ("groups", "federatedIdentities", "clientConsents", "federationLink"):
        if rep.get(key):
            ignored.append(f"{where}.{key}")
    return out


def apply_credential(out: dict[str, Any], credential: Any, where: str) -> None:
    """A CredentialRepresentation: a plain password (`value`, `temporary`) or an exported hash (`secretData`,
    `credentialData`). Anything else is refused rather than dropped: a user without their credential would fail
    to sign in for no visible reason."""
    if not isinstance(credential, dict) or credential.get("type", "password") != "password":
        kind = credential.get("type") if isinstance(credential, dict) else credential
        raise RepresentationError(f"{where}: credential type {kind!r} is not supported (only password)")
    if isinstance(credential.get("value"), str):
        out["password"], out["password_hash"] = credential["value"], None
    elif "secretData" in credential:
        out["password_hash"], out["password"] = hash_from_export(credential, where), None
    else:
        raise RepresentationError(f"{where}: a password credential needs a value or secretData")
    if flag(credential.get("temporary")) and "UPDATE_PASSWORD" not in out.get("required_actions", []):
        out["required_actions"] = [*out.get("required_actions", []), "UPDATE_PASSWORD"]
