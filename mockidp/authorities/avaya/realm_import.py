"""A Keycloak realm export (RealmRepresentation JSON: `kc.sh export`, the admin console's partial export, or the
body of `POST /admin/realms`) as an account realm of the world. Pure: JSON in, a world-file item and the list of
what was ignored out. Field names are Keycloak's (org.keycloak.representations.idm.RealmRepresentation,
ClientRepresentation, UserRepresentation, CredentialRepresentation; "Importing and exporting realms" in the Server
Administration Guide). A realm export has hundreds of fields: an unknown one is reported, never an error; a
credential mockidp cannot check is an error, never dropped."""

from __future__ import annotations

from typing import Any

from mockidp.authorities.avaya.errors import RepresentationError
from mockidp.authorities.avaya.from_keycloak import client_from_rep, listed, mapped, user_from_rep
from mockidp.authorities.avaya.realm_keys import export_signing_key

# RealmRepresentation fields mapped to AvayaRealm fields (seconds); Keycloak 26's defaults where a field is absent.
LIFESPANS = {"accessTokenLifespan": ("access_token_lifespan", 300), "accessCodeLifespan": ("code_lifespan", 60)}
ALGORITHMS = ("RS256", "PS256", "ES256", "RS384", "RS512", "PS384", "PS512", "ES384", "ES512")
# Keycloak's built-in clients: every export has them, and mockidp has nothing to do with them.
BUILTIN_CLIENTS = ("account", "account-console", "admin-cli", "broker", "security-admin-console", "realm-management")
BUILTIN_SCOPES = {"openid", "offline_access", "profile", "email"}  # as world.py's
# Fields every export carries that mockidp has no use for, named once as a group rather than one by one.
QUIET = {"id", "notBefore", "defaultRole", "requiredCredentials", "otpPolicyType", "otpPolicyAlgorithm", "otpPolicyInitialCounter",
         "otpPolicyDigits", "otpPolicyLookAheadWindow", "otpPolicyPeriod", "otpPolicyCodeReusable", "otpSupportedApplications",
         "browserFlow", "registrationFlow", "directGrantFlow", "resetCredentialsFlow", "clientAuthenticationFlow",
         "dockerAuthenticationFlow", "firstBrokerLoginFlow", "authenticationFlows", "authenticatorConfig", "requiredActions",
         "keycloakVersion", "userManagedAccessAllowed", "organizationsEnabled", "verifiableCredentialsEnabled",
         "adminPermissionsEnabled", "clientProfiles", "clientPolicies", "webAuthnPolicy", "webAuthnPolicyPasswordless",
         "browserSecurityHeaders", "smtpServer", "eventsEnabled", "eventsListeners", "enabledEventTypes", "adminEventsEnabled",
         "adminEventsDetailsEnabled", "internationalizationEnabled", "supportedLocales", "localizationTexts"}


def realm_from_export(rep: Any, ignored: list[str]) -> dict[str, Any]:
    """The world-file item (an [[avaya.realms]] table) for a realm export; `ignored` gets what was left out."""
    if not isinstance(rep, dict):
        raise RepresentationError("a realm export is a JSON object (RealmRepresentation)")
    name = rep.get("realm")
    if not isinstance(name, str) or not name:
        raise RepresentationError("realm: the realm's name is missing")
    item: dict[str, Any] = {"account_id": name, "enabled": rep.get("enabled", True) is not False,
                            "refresh_tokens_for_client_credentials": False}  # stock Keycloak: none with client credentials
    for key, (field, default) in LIFESPANS.items():
        item[field] = rep.get(key, default)
    # A refresh token lives as long as the session may idle (the client session's idle time when set)
    item["refresh_token_lifespan"] = rep.get("clientSessionIdleTimeout") or rep.get("ssoSessionIdleTimeout", 1800)
    if isinstance(rep.get("displayName"), str):
        item["display_name"] = rep["displayName"]
    item["revoke_refresh_token"] = rep.get("revokeRefreshToken", False)
    item["refresh_token_max_reuse"] = rep.get("refreshTokenMaxReuse", 0)
    alg = rep.get("defaultSignatureAlgorithm", "RS256")
    if alg in ALGORITHMS:
        item["alg"] = alg
    else:
        ignored.append(f"defaultSignatureAlgorithm: {alg} (mockidp signs RS256/384/512, PS256/384/512 or ES256/384/512)")
    attributes: dict[str, Any] = rep["attributes"] if isinstance(rep.get("attributes"), dict) else {}
    for key, field in (("oauth2DeviceCodeLifespan", "device_code_lifespan"), ("oauth2DevicePollingInterval", "device_polling_interval")):
        value = rep.get(key, attributes.get(key))
        if value is not None:
            item[field] = int(value) if isinstance(value, str) and value.isdigit() else value
    item["scopes"] = scopes_of(rep, ignored)
    known = {*BUILTIN_SCOPES, *(s["name"] for s in item["scopes"])}  # judges the clients' scope lists
    item["roles"] = roles_of_export(rep, ignored)
    item["clients"] = []
    for n, client in enumerate(listed(rep.get("clients"))):
        client_id = client.get("clientId") if isinstance(client, dict) else None
        if client_id in BUILTIN_CLIENTS:
            continue
        item["clients"].append(client_from_rep(known, client, None, ignored, f"clients[{n}]"))
    item["users"] = []
    composites = composites_of(rep)
    for n, user in enumerate(listed(rep.get("users"))):
        if isinstance(user, dict):
            user = {**user, **expand(composites, user.get("realmRoles"), user.get("clientRoles"))}
        if isinstance(user, dict) and user.get("serviceAccountClientId"):
            service_account_roles(item["clients"], user, ignored, f"users[{n}]")
            continue
        item["users"].append(user_from_rep(user, None, ignored, f"users[{n}]"))
    # The realm's exported signing key (a full export has its private key; a partial export has none, and mockidp
    # then signs with its own development key): the other key providers are listed as ignored.
    keys = listed(mapped(rep.get("components")).get("org.keycloak.keys.KeyProvider"))
    item.update(export_signing_key(keys, item.get("alg", "RS256"), ignored) or {})
    for key in sorted(set(rep) - set(LIFESPANS) - QUIET - {
            "realm", "enabled", "displayName", "clientSessionIdleTimeout", "ssoSessionIdleTimeout", "revokeRefreshToken",
            "refreshTokenMaxReuse", "defaultSignatureAlgorithm", "attributes", "oauth2DeviceCodeLifespan",
            "oauth2DevicePollingInterval", "clientScopes", "roles", "clients", "users", "components", "scopeMappings",
            "clientScopeMappings", "defaultDefaultClientScopes", "defaultOptionalClientScopes"}):
        value = rep[key]
        if value not in (None, False, [], {}, "", 0):
            ignored.append(key)
    return item


def scopes_of(rep: dict[str, Any], ignored: list[str]) -> list[dict[str, Any]]:
    """Client scopes with the realm roles mapped to them (`scopeMappings`), which granting the scope adds."""
    roles: dict[str, list[str]] = {}
    for mapping in listed(rep.get("scopeMappings")):
        if isinstance(mapping, dict) and isinstance(mapping.get("clientScope"), str):
            roles.setdefault(mapping["clientScope"], []).extend(r for r in listed(mapping.get("roles")) if isinstance(r, str))
    out = []
    for scope in listed(rep.get("clientScopes")):
        name = scope.get("name") if isinstance(scope, dict) else None
        if not isinstance(name, str) or name in BUILTIN_SCOPES:
            continue
        if scope.get("protocol", "openid-connect") != "openid-connect":
            ignored.append(f"clientScopes: {name} ({scope.get('protocol')})")
            continue
        out.append({"name": name, "roles": roles.get(name, [])})
    if rep.get("clientScopeMappings"):
        ignored.append("clientScopeMappings")
    return out


def roles_of_export(rep: dict[str, Any], ignored: list[str]) -> list[dict[str, Any]]:
    roles: dict[str, Any] = rep["roles"] if isinstance(rep.get("roles"), dict) else {}
    out: list[dict[str, Any]] = []

    def take(role: Any, client_id: str | None) -> None:
        if not isinstance(role, dict) or not isinstance(role.get("name"), str):
            return
        out.append({"name": role["name"], "description": role.get("description") or "", "client_id": client_id})

    for role in listed(roles.get("realm")):
        take(role, None)
    for client_id, client_roles in mapped(roles.get("client")).items():
        if client_id in BUILTIN_CLIENTS:
            continue
        for role in listed(client_roles):
            take(role, client_id)
    return out


Role = tuple[str | None, str]  # (client id or None for a realm role, role name)


def composites_of(rep: dict[str, Any]) -> dict[Role, list[Role]]:
    """What each composite role of the export holds (RoleRepresentation.composites: realm names and, per client,
    client role names), so a user's tokens carry the roles Keycloak would expand them to (default-roles-<realm>)."""
    roles: dict[str, Any] = rep["roles"] if isinstance(rep.get("roles"), dict) else {}
    containers = [(None, listed(roles.get("realm")))] + [(cid, listed(v)) for cid, v in mapped(roles.get("client")).items()]
    out: dict[Role, list[Role]] = {}
    for container, entries in containers:
        for role in entries if isinstance(entries, list) else []:
            held = role.get("composites") if isinstance(role, dict) else None
            if not isinstance(held, dict) or not isinstance(role.get("name"), str):
                continue
            members: list[Role] = [(None, r) for r in listed(held.get("realm")) if isinstance(r, str)]
            for cid, names in mapped(held.get("client")).items():
                members += [(cid, r) for r in listed(names) if isinstance(r, str)]
            out[(container, role["name"])] = members
    return out


def expand(composites: dict[Role, list[Role]], realm_roles: Any, client_roles: Any) -> dict[str, Any]:
    """`realmRoles` and `clientRoles` with every composite's members added (depth first, each role once)."""
    seen: list[Role] = []
    todo: list[Role] = [(None, r) for r in listed(realm_roles) if isinstance(r, str)]
    if isinstance(client_roles, dict):
        todo += [(cid, r) for cid, names in client_roles.items() if isinstance(names, list) for r in names if isinstance(r, str)]
    while todo:
        role = todo.pop(0)
        if role not in seen:
            seen.append(role)
            todo += composites.get(role, [])
    out: dict[str, Any] = {"realmRoles": [name for cid, name in seen if cid is None]}
    by_client: dict[str, list[str]] = {}
    for cid, name in seen:
        if cid is not None:
            by_client.setdefault(cid, []).append(name)
    if by_client or client_roles is not None:
        out["clientRoles"] = by_client
    return out


def service_account_roles(clients: list[dict[str, Any]], user: dict[str, Any], ignored: list[str], where: str) -> None:
    """A service-account user's role mappings belong to its client here."""
    client = next((c for c in clients if c["client_id"] == user["serviceAccountClientId"]), None)
    if client is None:
        ignored.append(f"{where}: service account of {user['serviceAccountClientId']}")
        return
    client["roles"] = [r for r in listed(user.get("realmRoles")) if isinstance(r, str)]
    client["client_roles"] = {k: list(v) for k, v in mapped(user.get("clientRoles")).items() if isinstance(v, list)}


def import_realm(item: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
    """The control API's import: a realm export (it has `realm`) as a world-file table and what it ignored, each
    once in first-seen order; None for a body that already is a world-file table (`account_id`)."""
    if "account_id" in item or "realm" not in item:
        return None
    ignored: list[str] = []
    return realm_from_export(item, ignored), list(dict.fromkeys(ignored))
