"""Keycloak's JSON representations (ClientRepresentation, UserRepresentation, RoleRepresentation) of an account
realm's world data, both ways, as the admin REST API and realm-export import use them. Pure functions: no HTTP,
no store. Field names and defaults follow Keycloak's `org.keycloak.representations.idm` classes and
RepresentationToModel (services/.../models/utils); attribute values are strings there ("true"), here too.

The other way (a representation into world items) is from_keycloak.py."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from mockidp.authorities.avaya.from_keycloak import DEVICE, EXCHANGE, PKCE, POST_LOGOUT
from mockidp.authorities.avaya.tokens import subject_id
from mockidp.authorities.avaya.world import BUILTIN_SCOPES, AvayaClient, AvayaRealm, AvayaRole, AvayaScope, AvayaUser

# The realm-management client's roles (Keycloak's AdminRoles); realm-admin holds them all.
ADMIN_ROLES = ("realm-admin", "manage-realm", "view-realm", "manage-users", "view-users", "query-users", "query-groups",
               "manage-clients", "view-clients", "query-clients", "create-client", "manage-events", "view-events",
               "manage-identity-providers", "view-identity-providers", "manage-authorization", "view-authorization",
               "query-realms", "impersonation")
REALM_MANAGEMENT = "realm-management"


def stable_id(realm: str, kind: str, name: str) -> str:
    """A Keycloak-like UUID for a client or role, name-based so every process and restart gives the same one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{realm}/{kind}/{name.lower()}"))


def client_uuid(realm: str, client_id: str) -> str:
    return stable_id(realm, "client", client_id)


def user_uuid(realm: str, username: str) -> str:
    return subject_id(realm, username)  # Keycloak's user id is the `sub` of the user's tokens


# --- clients ---------------------------------------------------------------------------------------------


def client_rep(realm: AvayaRealm, c: AvayaClient) -> dict[str, Any]:
    public = c.secret is None and not c.certificate and not c.jwks
    attributes = dict(c.attributes)
    attributes[POST_LOGOUT] = "##".join(c.post_logout_redirect_uris)
    if c.pkce_method:
        attributes[PKCE] = c.pkce_method
    attributes[EXCHANGE] = str(c.token_exchange).lower()
    attributes[DEVICE] = str(c.device_grant).lower()
    rep: dict[str, Any] = {"id": client_uuid(realm.account_id, c.client_id), "clientId": c.client_id}
    if c.name:
        rep["name"] = c.name
    rep.update({
        "surrogateAuthRequired": False, "enabled": c.enabled, "alwaysDisplayInConsole": False,
        "clientAuthenticatorType": "client-jwt" if (c.certificate or c.jwks) else "client-secret",
        "redirectUris": list(c.redirect_uris), "webOrigins": [], "notBefore": 0, "bearerOnly": False, "consentRequired": False,
        "standardFlowEnabled": c.standard_flow, "implicitFlowEnabled": False, "directAccessGrantsEnabled": c.direct_access,
        "serviceAccountsEnabled": c.service_account, "publicClient": public, "frontchannelLogout": True,
        "protocol": "openid-connect", "attributes": attributes, "fullScopeAllowed": True,
        "defaultClientScopes": list(c.default_scopes), "optionalClientScopes": list(c.optional_scopes),
    })
    return rep


def world_item(c: AvayaClient | AvayaUser) -> dict[str, Any]:
    return dataclasses.asdict(c)


def known_scopes(realm: AvayaRealm) -> set[str]:
    return {*BUILTIN_SCOPES, *(s.name for s in realm.scopes)}


def secret_rep(c: AvayaClient) -> dict[str, Any]:
    return {"type": "secret", "value": c.secret}


# --- users -------------------------------------------------------------------------------------------------


def user_rep(realm: AvayaRealm, u: AvayaUser) -> dict[str, Any]:
    rep: dict[str, Any] = {"id": user_uuid(realm.account_id, u.username), "username": u.username.lower()}
    for key, value in (("firstName", u.first_name), ("lastName", u.last_name), ("email", u.email)):
        if value is not None:
            rep[key] = value
    rep["emailVerified"] = u.email_verified
    if u.attributes:
        rep["attributes"] = {k: list(v) for k, v in u.attributes.items()}
    rep.update({"createdTimestamp": 0, "enabled": u.enabled, "totp": False, "disableableCredentialTypes": [],
                "requiredActions": list(u.required_actions), "notBefore": 0,
                "access": {"manageGroupMembership": True, "view": True, "mapRoles": True, "impersonate": False, "manage": True}})
    return rep


def service_account_rep(realm: AvayaRealm, c: AvayaClient) -> dict[str, Any]:
    username = "service-account-" + c.client_id.lower()
    return {"id": user_uuid(realm.account_id, username), "username": username, "emailVerified": False, "createdTimestamp": 0,
            "enabled": True, "totp": False, "serviceAccountClientId": c.client_id, "disableableCredentialTypes": [],
            "requiredActions": [], "notBefore": 0}


# --- roles -------------------------------------------------------------------------------------------------


def roles_of(realm: AvayaRealm, client_id: str | None) -> list[AvayaRole]:
    """The realm's roles (client_id None) or a client's: those defined, then those only named on users, clients
    and scopes, in first-seen order. realm-management's are Keycloak's AdminRoles."""
    found: dict[str, AvayaRole] = {}
    if client_id is not None and client_id.lower() == REALM_MANAGEMENT:
        found = {r: AvayaRole(r, f"${{role_{r}}}", REALM_MANAGEMENT) for r in ADMIN_ROLES}
    for role in realm.roles:
        if (role.client_id or "").lower() == (client_id or "").lower():
            found.setdefault(role.name, role)
    holders: list[AvayaUser | AvayaClient | AvayaScope] = [*realm.users, *realm.clients, *realm.scopes]
    for holder in holders:
        if client_id is None:
            names = holder.roles
        else:
            names = next((v for k, v in holder.client_roles.items() if k.lower() == client_id.lower()), [])
        for name in names:
            found.setdefault(name, AvayaRole(name, "", client_id))
    if client_id is None:
        found.setdefault(f"default-roles-{realm.account_id}", AvayaRole(f"default-roles-{realm.account_id}", "${role_default-roles}"))
    return list(found.values())


def role_rep(realm: AvayaRealm, role: AvayaRole) -> dict[str, Any]:
    container = client_uuid(realm.account_id, role.client_id) if role.client_id else stable_id(realm.account_id, "realm", realm.account_id)
    kind = f"client-role/{role.client_id}" if role.client_id else "realm-role"
    return {"id": stable_id(realm.account_id, kind, role.name), "name": role.name, "description": role.description,
            "composite": role.name in ("realm-admin", f"default-roles-{realm.account_id}"), "clientRole": role.client_id is not None,
            "containerId": container}
